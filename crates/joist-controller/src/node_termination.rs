//! `node.termination` (spec core §3.3): a managed Node with a deletionTimestamp and the
//! `karpenter.sh/termination` finalizer is tainted `karpenter.sh/disrupted:NoSchedule`,
//! drained (controller-ops' [`Drainer`]: tiers, Eviction API, TGP force-deletes), waited on for its VolumeAttachments, its instance deleted through the
//! [`CloudProvider`], and only then released.
//!
//! The chain with the NodeClaim: deleting a Node deletes its NodeClaim (step 1 here), and
//! deleting a NodeClaim deletes its Node (`lifecycle::finalize`), so either end starts the same
//! teardown and neither waits on the other forever: the NodeClaim's finalizer waits until the
//! Node is gone, the Node's finalizer waits only on its own drain and instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use joist_api::nodeclaim::{NodeClaim, NodeClaimSpec, NodeClaimStatus};
use joist_core::labels::{
    DISRUPTED_TAINT_KEY, EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS,
    EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS_VALUE, NODECLAIM_TERMINATION_TIMESTAMP, NODEPOOL,
    TERMINATION_FINALIZER, ZONE,
};
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;
use thiserror::Error;

use crate::disruption::{disruption_reason, node_ref};
use crate::events::{self, Event, Recorder};
use crate::index::{Index, provider_id_of_node};
use crate::lifecycle::Context;
use crate::metrics::Metrics;
use crate::objects::NodeClaimObject;
use crate::provider::{CloudProvider, Deletion, ProviderError};
use crate::termination::plan::MIN_DRAIN_TIME;
use crate::termination::{DrainError, Drainer};

/// How soon a draining node is looked at again (upstream: 1 s).
const DRAIN_REQUEUE: Duration = Duration::from_secs(1);
/// How often a terminating instance is checked (upstream: 5 s).
const INSTANCE_REQUEUE: Duration = Duration::from_secs(5);

/// Why a termination pass failed (it is retried after `DRAIN_REQUEUE`).
#[derive(Debug, Error)]
pub enum TerminationError {
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// Draining failed.
    #[error("draining: {0}")]
    Drain(#[from] DrainError),
    /// The cloud provider failed.
    #[error("cloud provider: {0}")]
    Provider(#[from] ProviderError),
}

/// What the termination reconciler works with: the lifecycle's context, controller-ops' drain
/// executor, and when each node's drain started (for `MIN_DRAIN_TIME`).
pub struct TerminationContext<P> {
    /// Client, index and provider, shared with the NodeClaim lifecycle.
    pub shared: Arc<Context<P>>,
    drainer: Drainer,
    /// When the drain of each node started; a drain is complete only `MIN_DRAIN_TIME` after.
    drain_started: Mutex<HashMap<String, Instant>>,
    /// Where `FailedDraining` and `TerminationGracePeriodExpiring` go.
    recorder: Arc<Recorder>,
    /// `karpenter_nodes_drained_total` and `karpenter_nodes_terminated_total`.
    metrics: Arc<Metrics>,
}

impl<P> TerminationContext<P> {
    /// A termination context over `shared`, draining with `drainer`.
    pub fn new(shared: Arc<Context<P>>, drainer: Drainer) -> Self {
        let recorder = Arc::new(Recorder::new(shared.client.clone(), "joist"));
        Self {
            shared,
            drainer,
            drain_started: Mutex::new(HashMap::new()),
            recorder,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Publishes events through `recorder` and counts into `metrics` (by default a recorder of
    /// its own and metrics nobody serves).
    #[must_use]
    pub fn observed_by(mut self, recorder: Arc<Recorder>, metrics: Arc<Metrics>) -> Self {
        self.recorder = recorder;
        self.metrics = metrics;
        self
    }

    /// Publishes `event`; a failure is only logged (events never hold up a termination).
    async fn publish(&self, event: Event) {
        if let Err(error) = self.recorder.publish(&event).await {
            tracing::debug!(controller = "node.termination", error = %error, "publishing an event failed");
        }
    }

    /// How long `node` has been draining (starting its clock at the first call).
    fn draining_for(&self, node: &str) -> Duration {
        let mut started = self
            .drain_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        started
            .entry(node.to_owned())
            .or_insert_with(Instant::now)
            .elapsed()
    }

    fn forget(&self, node: &str) {
        let mut started = self
            .drain_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        started.remove(node);
    }
}

impl<P> TerminationContext<P> {
    /// `karpenter_nodes_terminated_total{nodepool,zone}` for a released Node.
    fn record_terminated(&self, node: &Node) {
        self.metrics
            .nodes_terminated
            .inc(&[label_of(node, NODEPOOL), label_of(node, ZONE)]);
    }
}

/// The value of the Node's label `key` ("" without it).
fn label_of<'a>(node: &'a Node, key: &str) -> &'a str {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map_or("", String::as_str)
}

impl<P> std::fmt::Debug for TerminationContext<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminationContext").finish_non_exhaustive()
    }
}

/// Builds the termination controller over Nodes; returns its Node store (the index's) and the
/// controller, which [`run`] drives.
pub fn controller(client: &Client) -> (Store<Node>, Controller<Node>) {
    let controller = Controller::new(Api::<Node>::all(client.clone()), watcher::Config::default());
    (controller.store(), controller)
}

/// Runs `controller` with `context` until it is dropped.
pub async fn run<P: CloudProvider>(
    controller: Controller<Node>,
    context: Arc<TerminationContext<P>>,
) {
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
fn error_policy<P>(
    node: Arc<Node>,
    error: &TerminationError,
    _: Arc<TerminationContext<P>>,
) -> Action {
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
    termination: Arc<TerminationContext<P>>,
) -> Result<Action, TerminationError> {
    let context = &termination.shared;
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
        termination.record_terminated(&node);
        tracing::info!(controller = "node.termination", Node = %name, "deleted node");
        return Ok(Action::await_change());
    }
    let deadline = claim.as_ref().and_then(termination_deadline);
    if let Some(deadline) = deadline {
        let event = events::termination_grace_period_expiring(&node_ref(&node), to_jiff(deadline));
        termination.publish(event).await;
    }
    taint_disrupted(client, &node).await?;
    let now = Utc::now();
    let outcome = termination
        .drainer
        .drain_once(&name, to_jiff(now), deadline.map(to_jiff))
        .await?;
    // Started at the first pass, so a drain lasts at least MIN_DRAIN_TIME (upstream: since
    // `Drained` went Unknown).
    let draining_for = termination.draining_for(&name);
    if !outcome.evicted.is_empty() {
        // Upstream labels drained pods with the NodeClaim's disruption reason.
        let reason = claim
            .as_ref()
            .and_then(|c| disruption_reason(c))
            .unwrap_or("Forceful Termination");
        termination
            .metrics
            .pods_drained
            .inc_by(&[reason], outcome.evicted.len() as f64);
    }
    if !outcome.is_drained() {
        let waiting = format!("{} pods are waiting to be evicted", outcome.waiting);
        termination
            .publish(events::failed_draining(&node_ref(&node), &waiting))
            .await;
    }
    if !outcome.is_drained() || draining_for < MIN_DRAIN_TIME {
        tracing::debug!(controller = "node.termination", Node = %name, waiting = outcome.waiting, blocked = outcome.blocked.len(), "draining node");
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
    termination.forget(&name);
    termination
        .metrics
        .nodes_drained
        .inc(&[label_of(&node, NODEPOOL)]);
    termination.record_terminated(&node);
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

/// A chrono time as jiff's (the drain executor's clock type).
fn to_jiff(time: DateTime<Utc>) -> Timestamp {
    Timestamp::new(
        time.timestamp(),
        i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    )
    .unwrap_or(Timestamp::UNIX_EPOCH)
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
