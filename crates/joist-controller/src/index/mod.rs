//! The cluster index: reflector stores of every object the decisions need, and the
//! [`Snapshot`](joist_core::snapshot::Snapshot) built from them on demand.
//!
//! Each store is a kube-runtime reflector `Store`: a map behind a lock that is only held while
//! an event is applied or while a reader clones the `Arc`s out, never across an await. The
//! NodeClaim and Node stores are the ones the lifecycle and termination controllers own (their
//! watches feed them); the others are fed by watch tasks started here, which also call a hook per
//! changed object (the provisioner's trigger).
//!
//! Those watches drop what no decision reads before an object reaches its store
//! ([`strip_unused`]): `metadata.managedFields` (a few KiB of JSON per pod, written by every
//! client that touches the pod) and kubectl's last-applied annotation (a copy of the object).

mod snapshot;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::objects::{EC2NodeClassObject, NodeClaimObject, NodePoolObject};

pub use snapshot::SnapshotInput;

/// The annotation `kubectl apply` keeps a copy of the applied object in; nothing joist decides
/// reads it.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How often readiness is checked while the watches list.
const READY_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Read access to every watched kind.
#[derive(Clone)]
pub struct Index {
    /// All pods.
    pub pods: Store<Pod>,
    /// All nodes (the termination controller's store).
    pub nodes: Store<Node>,
    /// NodePools.
    pub nodepools: Store<NodePoolObject>,
    /// NodeClaims (the lifecycle controller's store).
    pub nodeclaims: Store<NodeClaimObject>,
    /// DaemonSets, whose pods add overhead to new nodes.
    pub daemonsets: Store<DaemonSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// EC2NodeClasses (the NodeClass kind the kwok provider accepts).
    pub nodeclasses: Store<EC2NodeClassObject>,
    /// The cluster's storage, which pods with volumes are scheduled against.
    pub storage: StorageStores,
}

/// What volume scheduling reads (spec core §2.10): claims and their bound volumes (a bound
/// volume's node affinity pins the pod's zone), StorageClasses (a `WaitForFirstConsumer`
/// class's allowed topologies) and CSINodes (per-driver attach limits of existing nodes).
#[derive(Clone)]
pub struct StorageStores {
    /// PersistentVolumeClaims.
    pub claims: Store<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Store<PersistentVolume>,
    /// StorageClasses.
    pub classes: Store<StorageClass>,
    /// CSINodes, named after their Node.
    pub csinodes: Store<CSINode>,
}

impl std::fmt::Debug for StorageStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageStores")
            .field("claims", &self.claims.len())
            .field("volumes", &self.volumes.len())
            .field("classes", &self.classes.len())
            .field("csinodes", &self.csinodes.len())
            .finish()
    }
}

impl StorageStores {
    /// Whether every storage store has had its initial list.
    fn is_ready(&self) -> bool {
        use futures::FutureExt;
        self.claims.wait_until_ready().now_or_never().is_some()
            && self.volumes.wait_until_ready().now_or_never().is_some()
            && self.classes.wait_until_ready().now_or_never().is_some()
            && self.csinodes.wait_until_ready().now_or_never().is_some()
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("pods", &self.pods.len())
            .field("nodes", &self.nodes.len())
            .field("nodepools", &self.nodepools.len())
            .field("nodeclaims", &self.nodeclaims.len())
            .finish_non_exhaustive()
    }
}

/// A watch that keeps `Store<K>` current, calling a hook for every object it sees change.
pub type Hook<K> = Arc<dyn Fn(&K) + Send + Sync>;

/// Starts a list+watch of `api` into a new store; the returned future runs the watch until it is
/// dropped (it retries with kube-runtime's default backoff on errors).
pub fn watch<K>(api: Api<K>, hook: Option<Hook<K>>) -> (Store<K>, impl Future<Output = ()> + Send)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = cached(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    )
    .touched_objects();
    let run = async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(object) => {
                    if let Some(hook) = &hook {
                        hook(&object);
                    }
                }
                Err(error) => tracing::error!(
                    kind = %K::kind(&()),
                    error = %error,
                    "watch failed, retrying"
                ),
            }
        }
    };
    (reader, run)
}

/// `events` with [`strip_unused`] applied to every object, applied to the store `writer` feeds.
/// Stripping comes first so the store never holds the parts it drops.
fn cached<K, S>(
    writer: reflector::store::Writer<K>,
    events: S,
) -> impl futures::Stream<Item = S::Item> + Send
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    reflector::reflector(writer, events.modify(strip_unused::<K>))
}

/// Drops the metadata no decision reads: `managedFields` and the last-applied annotation.
pub fn strip_unused<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// The watches the index starts itself (everything but Nodes and NodeClaims).
pub struct OwnWatches {
    /// Pods (the hook is the provisioner's trigger).
    pub pods: Store<Pod>,
    /// NodePools.
    pub nodepools: Store<NodePoolObject>,
    /// DaemonSets.
    pub daemonsets: Store<DaemonSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// EC2NodeClasses.
    pub nodeclasses: Store<EC2NodeClassObject>,
    /// PVCs, PVs, StorageClasses and CSINodes.
    pub storage: StorageStores,
    /// The watch futures; the caller spawns them.
    pub tasks: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl std::fmt::Debug for OwnWatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnWatches")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// Creates the watches of pods, NodePools, DaemonSets, PDBs, EC2NodeClasses and storage.
pub fn own_watches(
    client: &Client,
    on_pod: Hook<Pod>,
    on_nodepool: Hook<NodePoolObject>,
) -> OwnWatches {
    let (pods, pods_task) = watch(Api::<Pod>::all(client.clone()), Some(on_pod));
    let (nodepools, nodepools_task) = watch(
        Api::<NodePoolObject>::all(client.clone()),
        Some(on_nodepool),
    );
    let (daemonsets, daemonsets_task) = watch(Api::<DaemonSet>::all(client.clone()), None);
    let (pdbs, pdbs_task) = watch(Api::<PodDisruptionBudget>::all(client.clone()), None);
    let (nodeclasses, nodeclasses_task) =
        watch(Api::<EC2NodeClassObject>::all(client.clone()), None);
    let (claims, claims_task) = watch(Api::<PersistentVolumeClaim>::all(client.clone()), None);
    let (volumes, volumes_task) = watch(Api::<PersistentVolume>::all(client.clone()), None);
    let (classes, classes_task) = watch(Api::<StorageClass>::all(client.clone()), None);
    let (csinodes, csinodes_task) = watch(Api::<CSINode>::all(client.clone()), None);
    OwnWatches {
        pods,
        nodepools,
        daemonsets,
        pdbs,
        nodeclasses,
        storage: StorageStores {
            claims,
            volumes,
            classes,
            csinodes,
        },
        tasks: vec![
            Box::pin(pods_task),
            Box::pin(nodepools_task),
            Box::pin(daemonsets_task),
            Box::pin(pdbs_task),
            Box::pin(nodeclasses_task),
            Box::pin(claims_task),
            Box::pin(volumes_task),
            Box::pin(classes_task),
            Box::pin(csinodes_task),
        ],
    }
}

// === impl Index ===

impl Index {
    /// Whether every store has had its initial list.
    pub fn is_ready(&self) -> bool {
        use futures::FutureExt;
        // A store that listed answers at once; one that has not stays pending.
        self.pods.wait_until_ready().now_or_never().is_some()
            && self.nodes.wait_until_ready().now_or_never().is_some()
            && self.nodepools.wait_until_ready().now_or_never().is_some()
            && self.nodeclaims.wait_until_ready().now_or_never().is_some()
            && self.daemonsets.wait_until_ready().now_or_never().is_some()
            && self.pdbs.wait_until_ready().now_or_never().is_some()
            && self.nodeclasses.wait_until_ready().now_or_never().is_some()
            && self.storage.is_ready()
    }

    /// Waits until every store has had its initial list. Polls [`Index::is_ready`]: several
    /// tasks wait at once, and a polled check cannot miss a wake-up.
    pub async fn wait_until_ready(&self) {
        while !self.is_ready() {
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The NodeClaims whose `status.providerID` is `provider_id`.
    pub fn nodeclaims_with_provider_id(&self, provider_id: &str) -> Vec<Arc<NodeClaimObject>> {
        self.nodeclaims
            .state_filter(|claim| provider_id_of_claim(claim) == Some(provider_id))
    }

    /// The Nodes whose `spec.providerID` is `provider_id`.
    pub fn nodes_with_provider_id(&self, provider_id: &str) -> Vec<Arc<Node>> {
        self.nodes
            .state_filter(|node| provider_id_of_node(node) == Some(provider_id))
    }

    /// The pods bound to the node `node_name`.
    pub fn pods_on_node(&self, node_name: &str) -> Vec<Arc<Pod>> {
        self.pods.state_filter(|pod| {
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name)
        })
    }
}

/// `status.providerID` of a NodeClaim, if set and not empty.
pub fn provider_id_of_claim(claim: &NodeClaimObject) -> Option<&str> {
    claim
        .0
        .status
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .filter(|id| !id.is_empty())
}

/// `spec.providerID` of a Node, if set and not empty.
pub fn provider_id_of_node(node: &Node) -> Option<&str> {
    node.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests;
