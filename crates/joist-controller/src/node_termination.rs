//! `node.termination` (spec core §3.3): a managed Node with a deletionTimestamp and the
//! `karpenter.sh/termination` finalizer is tainted `karpenter.sh/disrupted:NoSchedule`,
//! drained, waited on for its VolumeAttachments, its instance deleted through the
//! [`CloudProvider`], and only then released.
//!
//! The chain with the NodeClaim: deleting a Node deletes its NodeClaim (step 1 here), and
//! deleting a NodeClaim deletes its Node (`lifecycle::finalize`), so either end starts the same
//! teardown and neither waits on the other forever: the NodeClaim's finalizer waits until the
//! Node is gone, the Node's finalizer waits only on its own drain and instance.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use joist_api::nodeclaim::{NodeClaim, NodeClaimSpec, NodeClaimStatus};
use joist_core::labels::{
    DISRUPTED_TAINT_KEY, DO_NOT_DISRUPT, EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS,
    EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS_VALUE, NODECLAIM_TERMINATION_TIMESTAMP, NODEPOOL,
    TERMINATION_FINALIZER,
};
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    DeleteParams, EvictParams, ListParams, ObjectMeta, Patch, PatchParams, Preconditions,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;
use thiserror::Error;

use crate::index::{Index, provider_id_of_node};
use crate::lifecycle::Context;
use crate::objects::NodeClaimObject;
use crate::provider::{CloudProvider, Deletion, ProviderError};

/// How soon a draining node is looked at again (upstream: 1 s).
const DRAIN_REQUEUE: Duration = Duration::from_secs(1);
/// How often a terminating instance is checked (upstream: 5 s).
const INSTANCE_REQUEUE: Duration = Duration::from_secs(5);

/// Why a termination pass failed (it is retried after [`DRAIN_REQUEUE`]).
#[derive(Debug, Error)]
pub enum TerminationError {
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// The cloud provider failed.
    #[error("cloud provider: {0}")]
    Provider(#[from] ProviderError),
}

/// Builds the termination controller over Nodes; returns its Node store (the index's) and the
/// controller, which [`run`] drives.
pub fn controller(client: &Client) -> (Store<Node>, Controller<Node>) {
    let controller = Controller::new(Api::<Node>::all(client.clone()), watcher::Config::default());
    (controller.store(), controller)
}

/// Runs `controller` with `context` until it is dropped.
pub async fn run<P: CloudProvider>(controller: Controller<Node>, context: Arc<Context<P>>) {
    controller
        .run(reconcile::<P>, error_policy::<P>, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(controller = "node.termination", error = %error, "reconcile failed");
            }
        })
        .await;
}

// The signature is kube-runtime's error policy callback.
#[allow(clippy::needless_pass_by_value)]
fn error_policy<P>(node: Arc<Node>, error: &TerminationError, _: Arc<Context<P>>) -> Action {
    tracing::error!(
        controller = "node.termination",
        Node = node.metadata.name.as_deref().unwrap_or_default(),
        error = %error,
        "reconciler error"
    );
    Action::requeue(DRAIN_REQUEUE)
}

/// Whether this controller owns the Node's teardown: deleting, finalized by Karpenter, and
/// launched by a NodePool.
pub fn is_terminating_managed(node: &Node) -> bool {
    node.metadata.deletion_timestamp.is_some()
        && node
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == TERMINATION_FINALIZER)
        && node
            .metadata
            .labels
            .as_ref()
            .is_some_and(|labels| labels.contains_key(NODEPOOL))
}

/// One pass over a Node: the steps of §3.3 in order, each returning early while it waits.
async fn reconcile<P: CloudProvider>(
    node: Arc<Node>,
    context: Arc<Context<P>>,
) -> Result<Action, TerminationError> {
    if !is_terminating_managed(&node) {
        return Ok(Action::await_change());
    }
    let name = node.metadata.name.clone().unwrap_or_default();
    let client = &context.client;
    let claim = nodeclaim_of(&node, &context.index);
    if let Some(claim) = claim
        .as_ref()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
    {
        delete_nodeclaim(client, claim.name()).await?;
    }
    if !is_ready(&node) && instance_gone(&node, context.provider.as_ref()).await? {
        remove_finalizer(client, &node).await?;
        tracing::info!(controller = "node.termination", Node = %name, "deleted node");
        return Ok(Action::await_change());
    }
    let deadline = claim.as_ref().and_then(termination_deadline);
    taint_disrupted(client, &node).await?;
    let now = Utc::now();
    let waiting = drain_once(client, &context.index, &name, now, deadline).await?;
    if waiting > 0 {
        tracing::debug!(controller = "node.termination", Node = %name, waiting, "draining node");
        return Ok(Action::requeue(DRAIN_REQUEUE));
    }
    if deadline.is_none_or(|d| now < d) {
        let attached = volume_attachments(client, &name).await?;
        if !attached.is_empty() {
            tracing::debug!(controller = "node.termination", Node = %name, volumeattachments = ?attached, "awaiting volume detachment");
            return Ok(Action::requeue(DRAIN_REQUEUE));
        }
    }
    let instance = claim.unwrap_or_else(|| synthetic_claim(&node));
    match context.provider.delete(&instance).await {
        Ok(Deletion::Gone) | Err(ProviderError::NotFound { .. }) => {}
        Ok(Deletion::Terminating) => return Ok(Action::requeue(INSTANCE_REQUEUE)),
        Err(error) => return Err(error.into()),
    }
    remove_finalizer(client, &node).await?;
    tracing::info!(controller = "node.termination", Node = %name, "deleted node");
    Ok(Action::await_change())
}

/// The one NodeClaim with the Node's providerID (none, or several, means proceed without).
fn nodeclaim_of(node: &Node, index: &Index) -> Option<NodeClaim> {
    let mut claims = index.nodeclaims_with_provider_id(provider_id_of_node(node)?);
    (claims.len() == 1).then(|| claims.remove(0).0.clone())
}

async fn delete_nodeclaim(client: &Client, name: &str) -> Result<(), kube::Error> {
    match Api::<NodeClaimObject>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Whether the Node's `Ready` condition is `True`.
fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Whether the provider no longer has the Node's instance (a Node without a providerID has none).
async fn instance_gone<P: CloudProvider>(node: &Node, provider: &P) -> Result<bool, ProviderError> {
    let Some(provider_id) = provider_id_of_node(node) else {
        return Ok(true);
    };
    match provider.get(provider_id).await {
        Ok(_) => Ok(false),
        Err(ProviderError::NotFound { .. }) => Ok(true),
        Err(error) => Err(error),
    }
}

/// The TGP deadline the NodeClaim finalizer stamped (`karpenter.sh/nodeclaim-termination-timestamp`).
pub fn termination_deadline(claim: &NodeClaim) -> Option<DateTime<Utc>> {
    let text = claim
        .metadata
        .annotations
        .as_ref()?
        .get(NODECLAIM_TERMINATION_TIMESTAMP)?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Adds `karpenter.sh/disrupted:NoSchedule` (replacing another effect of the same key) and the
/// load-balancer exclusion label; nothing is written when both are already there.
async fn taint_disrupted(client: &Client, node: &Node) -> Result<(), kube::Error> {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let Some(taints) = with_disrupted_taint(taints) else {
        return Ok(());
    };
    let patch = json!({
        "metadata": {
            "labels": {EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS: EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS_VALUE},
            "resourceVersion": node.metadata.resource_version,
        },
        "spec": {"taints": taints},
    });
    let name = node.metadata.name.as_deref().unwrap_or_default();
    Api::<Node>::all(client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(controller = "node.termination", Node = %name, "tainted node");
    Ok(())
}

/// The disrupted taint, `karpenter.sh/disrupted:NoSchedule`.
pub fn disrupted_taint() -> Taint {
    Taint {
        key: DISRUPTED_TAINT_KEY.to_owned(),
        effect: "NoSchedule".to_owned(),
        ..Taint::default()
    }
}

/// `taints` with the disrupted taint in place of any same-key taint, or `None` when it is
/// already exactly there.
pub fn with_disrupted_taint(mut taints: Vec<Taint>) -> Option<Vec<Taint>> {
    let wanted = disrupted_taint();
    if taints
        .iter()
        .any(|t| t.key == wanted.key && t.effect == wanted.effect && t.value.is_none())
        && taints.iter().filter(|t| t.key == wanted.key).count() == 1
    {
        return None;
    }
    taints.retain(|t| t.key != wanted.key);
    taints.push(wanted);
    Some(taints)
}

/// The names of the VolumeAttachments still on `node`. Upstream also ignores attachments of
/// volumes used by pods the drain leaves alone; joist waits on all of them (until the TGP
/// deadline), which only matters for such pods with attached volumes.
async fn volume_attachments(client: &Client, node: &str) -> Result<Vec<String>, kube::Error> {
    let list = Api::<VolumeAttachment>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(|va| va.spec.node_name == node)
        .filter_map(|va| va.metadata.name)
        .collect())
}

/// A NodeClaim carrying only the Node's providerID, for terminating an instance whose NodeClaim
/// is gone (upstream builds the same from the Node).
fn synthetic_claim(node: &Node) -> NodeClaim {
    NodeClaim {
        api_version: joist_api::nodeclaim::API_VERSION.to_owned(),
        kind: joist_api::nodeclaim::KIND.to_owned(),
        metadata: ObjectMeta {
            name: node.metadata.name.clone(),
            labels: node.metadata.labels.clone(),
            ..ObjectMeta::default()
        },
        spec: NodeClaimSpec::default(),
        status: Some(NodeClaimStatus {
            provider_id: provider_id_of_node(node).map(str::to_owned),
            ..NodeClaimStatus::default()
        }),
        extra: Default::default(),
    }
}

/// Releases the Node: its finalizers without `karpenter.sh/termination`, guarded by the
/// resourceVersion so a concurrent finalizer change is not lost.
async fn remove_finalizer(client: &Client, node: &Node) -> Result<(), kube::Error> {
    let finalizers: Vec<&String> = node
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != TERMINATION_FINALIZER)
        .collect();
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": node.metadata.resource_version,
    }});
    let name = node.metadata.name.as_deref().unwrap_or_default();
    match Api::<Node>::all(client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

// === minimal drain ===
//
// controller-ops' `termination` module (all four eviction tiers, the eviction queue's backoff,
// events) replaces this once it lands; until then this drain evicts in two tiers (non-DaemonSet
// pods, then DaemonSet pods), retries on 429, and force-deletes what the TGP deadline requires.

/// Upstream's `kubernetes.io/config.mirror` annotation of static (mirror) pods.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// A terminating pod stops counting as waiting this long after its deletionTimestamp.
const STUCK_TERMINATING_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// One drain pass over `node`'s pods at `now`: force-deletes what the TGP `deadline` requires,
/// evicts the first non-empty tier, and returns how many pods are still waiting eviction.
async fn drain_once(
    client: &Client,
    index: &Index,
    node: &str,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<usize, kube::Error> {
    let waiting: Vec<Arc<Pod>> = index
        .pods_on_node(node)
        .into_iter()
        .filter(|pod| is_waiting_eviction(pod, now))
        .collect();
    let mut evictable = Vec::new();
    for pod in &waiting {
        if let Some(grace) = deadline.and_then(|d| forced_grace_seconds(pod, now, d)) {
            force_delete(client, pod, grace).await?;
        } else if pod.metadata.deletion_timestamp.is_none() && !has_do_not_disrupt(pod) {
            evictable.push(pod);
        }
    }
    let first_tier_is_daemonset = evictable.iter().all(|pod| is_daemonset_pod(pod));
    for pod in evictable
        .into_iter()
        .filter(|pod| is_daemonset_pod(pod) == first_tier_is_daemonset)
    {
        evict(client, pod).await?;
    }
    Ok(waiting.len())
}

/// Whether the drain waits for `pod`: not terminal, not a mirror pod, not tolerating the
/// disrupted taint, and not stuck terminating for more than a minute.
fn is_waiting_eviction(pod: &Pod, now: DateTime<Utc>) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    let annotations = pod.metadata.annotations.as_ref();
    if annotations.is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION)) {
        return false;
    }
    let stuck = pod
        .metadata
        .deletion_timestamp
        .as_ref()
        .and_then(to_chrono)
        .is_some_and(|deleted| now > deleted + STUCK_TERMINATING_AFTER);
    !stuck && !tolerates_disrupted_taint(pod)
}

/// Whether one of the pod's tolerations matches `karpenter.sh/disrupted:NoSchedule`.
fn tolerates_disrupted_taint(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
        .into_iter()
        .flatten()
        .any(|t| {
            let exists = t.operator.as_deref() == Some("Exists");
            let key = t.key.as_deref().unwrap_or_default();
            let key_matches = (key.is_empty() && exists) || key == DISRUPTED_TAINT_KEY;
            let value_matches = exists || t.value.as_deref().unwrap_or_default().is_empty();
            let effect = t.effect.as_deref().unwrap_or_default();
            key_matches && value_matches && (effect.is_empty() || effect == "NoSchedule")
        })
}

/// The grace period to force-delete `pod` with when its own grace period would end after the
/// TGP `deadline` (or it is terminating past it): `max(deadline − now, 1)` seconds.
fn forced_grace_seconds(pod: &Pod, now: DateTime<Utc>, deadline: DateTime<Utc>) -> Option<i64> {
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let ends_late = now > deadline - chrono::TimeDelta::seconds(grace);
    let deleting_late = pod
        .metadata
        .deletion_timestamp
        .as_ref()
        .and_then(to_chrono)
        .is_some_and(|deleted| deleted > deadline);
    (ends_late || deleting_late).then(|| (deadline - now).num_seconds().max(1))
}

fn has_do_not_disrupt(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DO_NOT_DISRUPT))
        .is_some_and(|v| v == "true")
}

fn is_daemonset_pod(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
}

/// Evicts `pod` through the Eviction API with a UID precondition. 404/409 mean it is gone or
/// replaced; 429 (a PDB) is retried on the next pass.
async fn evict(client: &Client, pod: &Pod) -> Result<(), kube::Error> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let params = EvictParams {
        delete_options: Some(DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        }),
        ..EvictParams::default()
    };
    match Api::<Pod>::namespaced(client.clone(), namespace)
        .evict(name, &params)
        .await
    {
        Ok(_) => {
            tracing::debug!(controller = "node.termination", Pod = %format!("{namespace}/{name}"), "evicted pod");
            Ok(())
        }
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 429 => {
            tracing::debug!(controller = "node.termination", Pod = %format!("{namespace}/{name}"), message = %status.message, "eviction blocked, retrying");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Deletes `pod` with `grace` seconds (the TGP deadline bypasses PDBs and do-not-disrupt).
async fn force_delete(client: &Client, pod: &Pod, grace: i64) -> Result<(), kube::Error> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let params = DeleteParams {
        grace_period_seconds: u32::try_from(grace).ok(),
        ..DeleteParams::default()
    };
    match Api::<Pod>::namespaced(client.clone(), namespace)
        .delete(name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// A Kubernetes timestamp as chrono's.
pub(crate) fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(
        time.0.as_second(),
        u32::try_from(time.0.subsec_nanosecond()).ok()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(deleting: bool, finalizer: bool, managed: bool) -> Node {
        let mut node = Node::default();
        if deleting {
            node.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        }
        if finalizer {
            node.metadata.finalizers = Some(vec![TERMINATION_FINALIZER.to_owned()]);
        }
        if managed {
            node.metadata.labels = Some([(NODEPOOL.to_owned(), "default".to_owned())].into());
        }
        node
    }

    fn pod_with(tolerations: &serde_json::Value, grace: Option<i64>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {
                "containers": [],
                "tolerations": tolerations,
                "terminationGracePeriodSeconds": grace,
            },
        }))
        .expect("a pod")
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("in range")
    }

    #[test]
    fn pods_tolerating_the_disrupted_taint_are_not_waited_for() {
        let now = at(1_000);
        assert!(is_waiting_eviction(&pod_with(&json!([]), None), now));
        let everything = pod_with(&json!([{"operator": "Exists"}]), None);
        assert!(!is_waiting_eviction(&everything, now));
        let the_key = pod_with(
            &json!([{"key": DISRUPTED_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]),
            None,
        );
        assert!(!is_waiting_eviction(&the_key, now));
        let other_effect = pod_with(
            &json!([{"key": DISRUPTED_TAINT_KEY, "operator": "Exists", "effect": "NoExecute"}]),
            None,
        );
        assert!(is_waiting_eviction(&other_effect, now));
    }

    #[test]
    fn terminal_and_long_stuck_pods_are_not_waited_for() {
        let mut done = pod_with(&json!([]), None);
        done.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".to_owned()),
            ..Default::default()
        });
        assert!(!is_waiting_eviction(&done, at(1_000)));
        let mut stuck = pod_with(&json!([]), None);
        stuck.metadata.deletion_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(900).expect("in range"),
        ));
        assert!(is_waiting_eviction(&stuck, at(950)));
        assert!(!is_waiting_eviction(&stuck, at(961)));
    }

    #[test]
    fn pods_whose_grace_period_would_outlast_the_deadline_are_force_deleted() {
        let deadline = at(1_000);
        let pod = pod_with(&json!([]), Some(60));
        assert_eq!(forced_grace_seconds(&pod, at(900), deadline), None);
        assert_eq!(forced_grace_seconds(&pod, at(950), deadline), Some(50));
        assert_eq!(forced_grace_seconds(&pod, at(1_010), deadline), Some(1));
    }

    #[test]
    fn only_deleting_finalized_managed_nodes_are_terminated() {
        assert!(is_terminating_managed(&node(true, true, true)));
        assert!(!is_terminating_managed(&node(false, true, true)));
        assert!(!is_terminating_managed(&node(true, false, true)));
        assert!(!is_terminating_managed(&node(true, true, false)));
    }

    #[test]
    fn the_disrupted_taint_replaces_other_effects_of_its_key_once() {
        let other = Taint {
            key: "team".to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        };
        let execute = Taint {
            key: DISRUPTED_TAINT_KEY.to_owned(),
            effect: "NoExecute".to_owned(),
            ..Taint::default()
        };
        let tainted = with_disrupted_taint(vec![other.clone(), execute]).expect("changed");
        assert_eq!(tainted, vec![other, disrupted_taint()]);
        assert_eq!(with_disrupted_taint(tainted), None);
    }

    #[test]
    fn the_deadline_is_read_from_the_termination_timestamp_annotation() {
        let mut claim = synthetic_claim(&node(true, true, true));
        assert_eq!(termination_deadline(&claim), None);
        claim.metadata.annotations = Some(
            [(
                NODECLAIM_TERMINATION_TIMESTAMP.to_owned(),
                "2026-01-02T03:04:05Z".to_owned(),
            )]
            .into(),
        );
        assert_eq!(
            termination_deadline(&claim).map(|d| d.to_rfc3339()),
            Some("2026-01-02T03:04:05+00:00".to_owned())
        );
    }
}
