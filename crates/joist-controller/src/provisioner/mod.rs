//! The provisioner (spec core §2.1): pending pods trigger a batch; when the batch closes and the
//! cluster state is synced, the index's snapshot goes through `joist_core::scheduling::solve` and
//! the plan's NodeClaims are created. kube-scheduler binds the pods; joist never does. Each
//! round's outcome is published as events (`report`).

pub mod batcher;
pub mod nodeclaim;
pub mod nominations;
pub mod report;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use joist_api::nodeclaim::NodeClaim;
use joist_aws::labels::{CAPACITY_RESERVATION_ID, label_aliases, well_known_labels};
use joist_core::rng::SeededRng;
use joist_core::scheduling::{Plan, SchedulingSettings, solve};

use crate::metrics::Metrics;
use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use kube::{Api, Client};
use thiserror::Error;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::events::{Event, Recorder};
use crate::index::{Index, SnapshotInput, provider_id_of_claim};
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;
use batcher::{Window, next_batch};
use nominations::Nominations;

/// How often pods that stay provisionable are triggered again (upstream's 10 s requeue).
pub const RETRIGGER_INTERVAL: Duration = Duration::from_secs(10);
/// How often the synced check is repeated while NodeClaims are still launching.
const SYNC_POLL: Duration = Duration::from_millis(100);
/// After this long unsynced, the wait is logged as an error (upstream: 30 s).
const SYNC_WARN_AFTER: Duration = Duration::from_secs(30);
/// A created NodeClaim the watch has not shown this long after its creation was deleted before
/// the watch was looked at (disruption or liveness can delete it within seconds); waiting on it
/// would block provisioning forever.
const UNSEEN_FORGET_AFTER: Duration = Duration::from_secs(30);

/// Why a provisioning round failed.
#[derive(Debug, Error)]
pub enum ProvisionError {
    /// Creating a NodeClaim failed.
    #[error("creating nodeclaim for nodepool {nodepool}: {source}")]
    Create {
        /// The NodePool of the NodeClaim.
        nodepool: String,
        /// The API error.
        source: kube::Error,
    },
    /// The solve task panicked (a bug in the core).
    #[error("scheduling task failed: {0}")]
    Solve(#[from] tokio::task::JoinError),
}

/// The provisioner's state: what it created that the watch has not delivered yet, and the RNG the
/// solves draw from.
pub struct Provisioner<P> {
    client: Client,
    index: Index,
    provider: Arc<P>,
    window: Window,
    settings: Arc<SchedulingSettings>,
    /// NodeClaims created but not yet seen by the NodeClaim watch; part of every snapshot so a
    /// round right after a creation cannot launch the same capacity twice.
    created: Mutex<Vec<NodeClaim>>,
    rng: Mutex<SeededRng>,
    /// Where each round's scheduling figures go (`karpenter_scheduler_*`).
    metrics: Arc<Metrics>,
    /// Publishes the rounds' `Nominated`, `FailedScheduling` and `NoCompatibleInstanceTypes`
    /// events (deduplicated across rounds, so it lives as long as the provisioner).
    recorder: Arc<Recorder>,
    /// The nodes pending pods were placed on, shared with disruption so it leaves them alone
    /// until kube-scheduler has bound the pods.
    nominations: Nominations,
}

impl<P> std::fmt::Debug for Provisioner<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Whether a pod is one the provisioner acts on (spec core §2.2): kube-scheduler marked it
/// `PodScheduled=False/Unschedulable`, it is not bound or nominated, and it is neither a
/// DaemonSet pod nor a mirror pod.
pub fn is_provisionable(pod: &Pod) -> bool {
    let spec_bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let status = pod.status.as_ref();
    let nominated = status
        .and_then(|s| s.nominated_node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let unschedulable = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable"));
    let owned_by = |kind: &str| {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == kind)
    };
    unschedulable
        && !spec_bound
        && !nominated
        && pod.metadata.deletion_timestamp.is_none()
        && !owned_by("DaemonSet")
        && !owned_by("Node")
}

/// The scheduling settings for AWS instance types (labels, aliases, reservation label).
pub fn scheduling_settings() -> SchedulingSettings {
    SchedulingSettings {
        well_known_labels: well_known_labels(),
        label_aliases: label_aliases(),
        reservation_id_label: Some(CAPACITY_RESERVATION_ID.to_owned()),
        ..SchedulingSettings::default()
    }
}

/// Sends the UID of every provisionable pod in the index to `triggers`, every
/// [`RETRIGGER_INTERVAL`], until the receiver is gone.
pub async fn retrigger(index: Index, triggers: UnboundedSender<String>) {
    let mut tick = tokio::time::interval(RETRIGGER_INTERVAL);
    loop {
        tick.tick().await;
        for pod in index.pods.state_filter(is_provisionable) {
            if let Some(uid) = pod.metadata.uid.clone()
                && triggers.send(uid).is_err()
            {
                return;
            }
        }
    }
}

// === impl Provisioner ===

impl<P: CloudProvider> Provisioner<P> {
    /// A provisioner over `index`, launching through `provider`, publishing events through
    /// `recorder`.
    pub fn new(
        client: Client,
        index: Index,
        provider: Arc<P>,
        window: Window,
        seed: u64,
        metrics: Arc<Metrics>,
        recorder: Arc<Recorder>,
    ) -> Self {
        Self {
            metrics,
            recorder,
            client,
            index,
            provider,
            window,
            settings: Arc::new(scheduling_settings()),
            created: Mutex::new(Vec::new()),
            rng: Mutex::new(SeededRng::new(seed)),
            nominations: Nominations::default(),
        }
    }

    /// Records nominations in `nominations` (by default a handle nobody else reads).
    #[must_use]
    pub fn with_nominations(mut self, nominations: Nominations) -> Self {
        self.nominations = nominations;
        self
    }

    /// Runs batches until every trigger sender is gone.
    pub async fn run(self: Arc<Self>, mut triggers: UnboundedReceiver<String>) {
        self.index.wait_until_ready().await;
        if self.index.pods.find(is_provisionable).is_none() {
            // Nothing was pending at start: there is nothing disruption could pre-empt.
            self.nominations.mark_provisioner_caught_up();
        }
        while let Some(batch) = next_batch(&mut triggers, self.window).await {
            let result = self.round(&batch).await;
            // Even a failed round ends the wait: disruption must not stall behind it.
            self.nominations.mark_provisioner_caught_up();
            if let Err(error) = result {
                tracing::error!(controller = "provisioner", error = %error, "provisioning failed");
            }
        }
    }

    /// One round: wait for sync, solve, create.
    async fn round(&self, batch: &BTreeSet<String>) -> Result<(), ProvisionError> {
        self.wait_synced().await?;
        let created = self.unseen_created();
        let (snapshot, errors) = self.index.snapshot(SnapshotInput {
            now: Utc::now(),
            created: &created,
            instance_types: self.provider.instance_types(),
        });
        for error in errors {
            tracing::error!(controller = "provisioner", error = %error, "ignoring object that does not convert");
        }
        let seed = self.next_seed();
        let settings = Arc::clone(&self.settings);
        let started = std::time::Instant::now();
        let (snapshot, plan) = tokio::task::spawn_blocking(move || {
            let plan = solve(&snapshot, &settings, &mut SeededRng::new(seed));
            (snapshot, plan)
        })
        .await?;
        let took = started.elapsed();
        let scheduling_id = seed.to_string();
        self.metrics
            .record_scheduling("provisioner", &scheduling_id, &plan.stats, took);
        self.log_plan(&snapshot.pods, &plan, batch.len(), took);
        self.nominations
            .nominate(nominated_nodes(&plan), std::time::Instant::now());
        let mut events = report::round_events(&snapshot.pods, &snapshot.nodes, &plan, |name| {
            self.nodepool_uid(name)
        });
        let created = self.create_all(&plan, &snapshot.pods, &mut events).await;
        // The API calls run beside the next round, as client-go's recorder sends in the
        // background: a thousand unschedulable pods must not hold provisioning up.
        tokio::spawn(report::publish(Arc::clone(&self.recorder), events));
        created
    }

    fn nodepool_uid(&self, name: &str) -> Option<String> {
        self.index
            .nodepools
            .find(|pool| pool.0.name() == name)
            .and_then(|pool| pool.0.metadata.uid.clone())
    }

    /// Upstream's `Synced`: every watch has listed, and every NodeClaim (including the ones
    /// created but not yet watched) has a providerID, so the snapshot knows its capacity.
    async fn wait_synced(&self) -> Result<(), ProvisionError> {
        self.index.wait_until_ready().await;
        let started = std::time::Instant::now();
        let mut warned = false;
        loop {
            let launching = self
                .index
                .nodeclaims
                .state()
                .iter()
                .filter(|c| c.0.metadata.deletion_timestamp.is_none())
                .filter(|c| provider_id_of_claim(c).is_none())
                .count()
                + self.unseen_created().len();
            if launching == 0 {
                return Ok(());
            }
            if !warned && started.elapsed() > SYNC_WARN_AFTER {
                warned = true;
                tracing::error!(
                    controller = "provisioner",
                    launching,
                    "cluster is waiting on sync for extended duration"
                );
            }
            tokio::time::sleep(SYNC_POLL).await;
        }
    }

    /// The created NodeClaims the watch has not delivered yet (the others are dropped).
    fn unseen_created(&self) -> Vec<NodeClaim> {
        let mut created = self
            .created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = k8s_openapi::jiff::Timestamp::now();
        created.retain(|claim| {
            let recent = claim
                .metadata
                .creation_timestamp
                .as_ref()
                .is_some_and(|t| now.duration_since(t.0).unsigned_abs() < UNSEEN_FORGET_AFTER);
            recent
                && self
                    .index
                    .nodeclaims
                    .find(|seen| seen.0.name() == claim.name())
                    .is_none()
        });
        created.clone()
    }

    fn next_seed(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next_u64()
    }

    /// Creates the plan's NodeClaims in order, adding a `Nominated` event to `events` for the
    /// pods of each one created; stops at the first refusal.
    async fn create_all(
        &self,
        plan: &Plan,
        pods: &[joist_core::snapshot::Pod],
        events: &mut Vec<Event>,
    ) -> Result<(), ProvisionError> {
        let api: Api<NodeClaimObject> = Api::all(self.client.clone());
        for planned in &plan.new_nodeclaims {
            let uid = self.nodepool_uid(&planned.nodepool).unwrap_or_default();
            let object = NodeClaimObject(nodeclaim::nodeclaim_object(planned, &uid));
            let created = api
                .create(&PostParams::default(), &object)
                .await
                .map_err(|source| ProvisionError::Create {
                    nodepool: planned.nodepool.clone(),
                    source,
                })?;
            tracing::info!(
                controller = "provisioner",
                NodePool = %planned.nodepool,
                NodeClaim = %created.0.name(),
                requests = %planned.requests,
                "instance-types" = %first_five(&planned.instance_types),
                "created nodeclaim"
            );
            events.extend(report::created_events(
                pods,
                &planned.pods,
                created.0.name(),
            ));
            self.created
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(created.0);
        }
        Ok(())
    }

    fn log_plan(
        &self,
        pods: &[joist_core::snapshot::Pod],
        plan: &Plan,
        triggers: usize,
        took: Duration,
    ) {
        let placed: usize = plan.new_nodeclaims.iter().map(|c| c.pods.len()).sum();
        if !plan.new_nodeclaims.is_empty() {
            let names: Vec<String> = plan
                .new_nodeclaims
                .iter()
                .flat_map(|c| c.pods.iter().map(|&i| pods[i].key()))
                .collect();
            tracing::info!(controller = "provisioner", Pods = %first_five(&names), duration = ?took, triggers, "found provisionable pod(s)");
            tracing::info!(
                controller = "provisioner",
                nodeclaims = plan.new_nodeclaims.len(),
                pods = placed,
                "computed new nodeclaim(s) to fit pod(s)"
            );
            if !plan.nominations.is_empty() {
                tracing::info!(
                    controller = "provisioner",
                    pods = plan.nominations.len(),
                    "computed unready node(s) will fit pod(s)"
                );
            }
        }
        for failed in &plan.unschedulable {
            tracing::error!(controller = "provisioner", Pod = %pods[failed.pod].key(), error = %failed.explanation.message, "could not schedule pod");
        }
    }
}

/// The existing and in-flight nodes the plan placed pending pods on (upstream nominates each
/// for the pods it will receive).
pub fn nominated_nodes(plan: &Plan) -> BTreeSet<String> {
    plan.nominations.iter().map(|n| n.node.clone()).collect()
}

/// Upstream's list abbreviation: `a, b, c, d, e and N other(s)`.
pub fn first_five<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > 5 {
        text.push_str(&format!(" and {} other(s)", names.len() - 5));
    }
    text
}

#[cfg(test)]
mod tests;
