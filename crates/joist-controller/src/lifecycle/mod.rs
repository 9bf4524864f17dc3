//! `nodeclaim.lifecycle` (spec core §3.1): per NodeClaim, the sub-reconcilers run in order
//! launch → registration → initialization → liveness, editing one in-memory status that is
//! written back once at the end; a deleting NodeClaim is finalized instead.

mod finalize;
mod initialization;
mod launch;
mod launch_cache;
mod liveness;
mod registration;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use joist_api::nodeclaim::NodeClaim;
use joist_core::labels::TERMINATION_FINALIZER;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;
use thiserror::Error;

use crate::conditions::Conditions;
use crate::index::{Index, provider_id_of_claim, provider_id_of_node};
use crate::objects::NodeClaimObject;
use crate::provider::{CloudProvider, ProviderError};

pub use launch_cache::{LAUNCH_CACHE_TTL, LaunchCache};

/// `Launched`.
pub const LAUNCHED: &str = "Launched";
/// `Registered`.
pub const REGISTERED: &str = "Registered";
/// `Initialized`.
pub const INITIALIZED: &str = "Initialized";
/// The conditions the root `Ready` of a NodeClaim depends on.
const READY_DEPENDENTS: [&str; 3] = [LAUNCHED, REGISTERED, INITIALIZED];
/// How soon a NodeClaim that is still coming up is looked at again even without an event.
const COMING_UP_REQUEUE: Duration = Duration::from_secs(1);

/// Why a NodeClaim reconcile failed (it is retried with backoff).
#[derive(Debug, Error)]
pub enum LifecycleError {
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// The cloud provider failed.
    #[error("cloud provider: {0}")]
    Provider(#[from] ProviderError),
    /// Building a patch failed.
    #[error("serializing a patch: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the lifecycle and termination reconcilers share.
pub struct Context<P> {
    /// The API client.
    pub client: Client,
    /// The cluster index (Nodes are looked up here).
    pub index: Index,
    /// The cloud provider.
    pub provider: Arc<P>,
    /// Where registrations and terminations are counted (`karpenter_nodes_created_total`,
    /// `karpenter_nodeclaims_terminated_total`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// UIDs of the NodeClaims whose registration was counted. A reconcile that still sees the
    /// NodeClaim from before its Registered write re-runs registration (harmless: the Node
    /// patch is idempotent), and must not count the Node twice. Entries go at finalization.
    pub registrations_counted: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<P> std::fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// The NodeClaim being reconciled: its object, the conditions and labels the sub-reconcilers
/// edit, and what should happen afterwards.
#[derive(Debug)]
pub(crate) struct State {
    claim: NodeClaim,
    conditions: Conditions,
    now: Timestamp,
    /// `status` fields other than conditions to write (providerID, capacity ...).
    status: serde_json::Map<String, serde_json::Value>,
    /// Labels to merge into the NodeClaim's metadata.
    labels: serde_json::Map<String, serde_json::Value>,
    /// Whether the NodeClaim was deleted (nothing more to write).
    deleted: bool,
}

/// Builds the lifecycle controller over NodeClaims, also woken by their Nodes (matched by
/// providerID); returns its NodeClaim store (the index's) and the future that runs it.
pub fn controller(client: &Client) -> (Store<NodeClaimObject>, Controller<NodeClaimObject>) {
    let controller = Controller::new(
        Api::<NodeClaimObject>::all(client.clone()),
        watcher::Config::default(),
    );
    let claims = controller.store();
    let by_provider_id = claims.clone();
    let controller = controller.watches(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        move |node: Node| {
            let id = provider_id_of_node(&node)?.to_owned();
            let claim = by_provider_id.find(|c| provider_id_of_claim(c) == Some(id.as_str()))?;
            Some(ObjectRef::new(claim.0.name()))
        },
    );
    (claims, controller)
}

/// What the lifecycle reconciler alone holds: the shared context and the launches this process
/// made that NodeClaim statuses may not show yet.
struct Lifecycle<P> {
    context: Arc<Context<P>>,
    launches: LaunchCache,
}

/// Runs `controller` with `context` until it is dropped.
pub async fn run<P: CloudProvider>(
    controller: Controller<NodeClaimObject>,
    context: Arc<Context<P>>,
) {
    let lifecycle = Arc::new(Lifecycle {
        context,
        launches: LaunchCache::new(),
    });
    controller
        .run(reconcile::<P>, error_policy::<P>, lifecycle)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(controller = "nodeclaim.lifecycle", error = %error, "reconcile failed");
            }
        })
        .await;
}

// The signature is kube-runtime's error policy callback.
#[allow(clippy::needless_pass_by_value)]
fn error_policy<P>(
    object: Arc<NodeClaimObject>,
    error: &LifecycleError,
    _: Arc<Lifecycle<P>>,
) -> Action {
    tracing::error!(
        controller = "nodeclaim.lifecycle",
        NodeClaim = %object.0.name(),
        error = %error,
        "reconciler error"
    );
    Action::requeue(Duration::from_secs(1))
}

/// One pass over a NodeClaim.
async fn reconcile<P: CloudProvider>(
    object: Arc<NodeClaimObject>,
    lifecycle: Arc<Lifecycle<P>>,
) -> Result<Action, LifecycleError> {
    let (context, launches) = (&*lifecycle.context, &lifecycle.launches);
    let claim = &object.0;
    if claim.metadata.deletion_timestamp.is_some() {
        // A launch whose status patch never landed still has an instance to terminate: finalize
        // it under the remembered providerID (the entry goes once the finalizer is released).
        let claim = launches.with_remembered_provider_id(claim);
        return finalize::reconcile(&claim, context, launches).await;
    }
    if !has_finalizer(&claim.metadata.finalizers) {
        // Never launch without the finalizer: it is what guarantees the instance is cleaned up.
        add_finalizer(&context.client, claim).await?;
        return Ok(Action::await_change());
    }
    let mut state = State {
        claim: claim.clone(),
        conditions: Conditions::new(
            claim.status.as_ref().and_then(|s| s.conditions.as_deref()),
            claim.metadata.generation,
        ),
        now: Timestamp::now(),
        status: serde_json::Map::new(),
        labels: serde_json::Map::new(),
        deleted: false,
    };
    launch::reconcile(&mut state, context, launches).await?;
    if !state.deleted {
        registration::reconcile(&mut state, context).await?;
        initialization::reconcile(&mut state, context).await?;
        liveness::reconcile(&mut state, context).await?;
    }
    if state.deleted {
        return Ok(Action::await_change());
    }
    state.conditions.set_root(&READY_DEPENDENTS, state.now);
    let initialized = state.conditions.is_true(INITIALIZED);
    write_back(&context.client, state).await?;
    Ok(if initialized {
        Action::await_change()
    } else {
        Action::requeue(COMING_UP_REQUEUE)
    })
}

/// Writes the labels and the status the sub-reconcilers changed (nothing when nothing did).
async fn write_back(client: &Client, state: State) -> Result<(), LifecycleError> {
    let api: Api<NodeClaimObject> = Api::all(client.clone());
    let name = state.claim.name().to_owned();
    if !state.labels.is_empty() {
        let patch = json!({"metadata": {"labels": state.labels}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    let old_conditions = state
        .claim
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let conditions = state.conditions.into_list();
    if conditions == old_conditions && state.status.is_empty() {
        return Ok(());
    }
    let mut status = state.status;
    status.insert("conditions".to_owned(), serde_json::to_value(&conditions)?);
    let patch = json!({"status": status});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Whether `karpenter.sh/termination` is among `finalizers`.
pub(crate) fn has_finalizer(finalizers: &Option<Vec<String>>) -> bool {
    finalizers
        .iter()
        .flatten()
        .any(|f| f == TERMINATION_FINALIZER)
}

async fn add_finalizer(client: &Client, claim: &NodeClaim) -> Result<(), LifecycleError> {
    let mut finalizers = claim.metadata.finalizers.clone().unwrap_or_default();
    finalizers.push(TERMINATION_FINALIZER.to_owned());
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": claim.metadata.resource_version,
    }});
    Api::<NodeClaimObject>::all(client.clone())
        .patch(claim.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The single Node whose providerID is the NodeClaim's, or why there is none.
pub(crate) enum NodeLookup {
    /// The NodeClaim has no providerID yet.
    NotLaunched,
    /// No Node has the providerID.
    NotFound,
    /// Several Nodes have it.
    Multiple,
    /// The one Node.
    Found(Arc<Node>),
}

pub(crate) fn node_of(claim: &NodeClaim, index: &Index) -> NodeLookup {
    let Some(provider_id) = claim
        .status
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .filter(|id| !id.is_empty())
    else {
        return NodeLookup::NotLaunched;
    };
    let mut nodes = index.nodes_with_provider_id(provider_id);
    match nodes.len() {
        0 => NodeLookup::NotFound,
        1 => NodeLookup::Found(nodes.remove(0)),
        _ => NodeLookup::Multiple,
    }
}
