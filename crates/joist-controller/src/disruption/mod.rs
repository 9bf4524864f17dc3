//! `disruption` (spec core §4.1), a singleton loop, plus `nodeclaim.expiration` (§4.13).
//!
//! Each pass: wait until the index is synced (every NodeClaim launched), remove
//! `karpenter.sh/disrupted:NoSchedule` and the NodeClaim's `DisruptionReason` condition from
//! nodes no command owns (recovery after a crash or a failed validation, `marking.rs`), delete
//! expired NodeClaims, bring every NodeClaim's `Drifted` condition
//! up to date (`drift.rs`), then run the methods in upstream's order (§4.1): Emptiness, Drift,
//! multi-node and single-node consolidation; the first that starts a command ends the pass.
//! StaticDrift is not run: the controller does not support static NodePools (`spec.replicas`),
//! which the provisioner does not scale either.
//!
//! Emptiness (§4.4): a command taints
//! its candidates, waits the validation delay (upstream 15 s), re-validates with
//! `validate_empty_command`, and deletes the NodeClaims that are still empty; node termination
//! takes it from there. Candidates dropped by validation are untainted. A pass that acted is
//! followed at once by the next; otherwise the loop sleeps the polling period (10 s).
//!
//! Drift (§4.5) replaces one drifted node at a time within the `Drifted` budgets, without a
//! validation delay. Multi-node (§4.7) and single-node (§4.8) consolidation commands are
//! validated with `validate_command`; a replace (drift or consolidation) launches its
//! replacements and waits until they are initialized before deleting (`consolidation.rs`).
//! Events and metrics are published along the way (`observe.rs`).
//!
//! Commands run inline (upstream's orchestration queue runs them concurrently), so a pass never
//! overlaps a command in flight.

mod consolidation;
mod drift;
mod facts;
mod marking;
mod observe;
mod pod_events;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_core::disruption::{
    Command, ConsolidationSettings, DriftedNodes, ExpirationFacts, drift_command, empty_command,
    expire, multi_node_consolidation, single_node_consolidation, validate_empty_command,
};
use joist_core::duration::NillableDuration;
use joist_core::labels::DISRUPTED_TAINT_KEY;
use joist_core::rng::SeededRng;
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use thiserror::Error;

pub use consolidation::consolidation_settings;
pub use drift::{DRIFTED, DriftUpdate, drift_update};
pub use facts::{Facts, condition_true, is_node_ready, pool_disruption};
pub use marking::{DISRUPTION_REASON, disruption_reason, with_disruption_reason};
pub use observe::{
    MethodKind, claim_ref, consolidation_policy_label, disrupted_labels, metric_reason, node_ref,
    termination_mode,
};
pub use pod_events::PodEvents;

use crate::events::Recorder;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::node_termination::{to_chrono, with_disrupted_taint};
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;

/// Upstream's polling period: how long an idle pass waits before the next.
pub const POLL_PERIOD: Duration = Duration::from_secs(10);
/// How long the replacements and destinations of a consolidation stay nominated (upstream's
/// nomination window, `max(2 × BATCH_MAX_DURATION, 10 s)` = 20 s by default), so the moved pods
/// can land before emptiness could take the still-empty replacement.
const NOMINATION_WINDOW: Duration = Duration::from_secs(20);
/// How long an unsynced pass waits before trying again (upstream: 1 s).
const UNSYNCED_RETRY: Duration = Duration::from_secs(1);

/// Why a disruption pass failed (the loop logs it and waits a polling period).
#[derive(Debug, Error)]
pub enum DisruptionError {
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// A command deleted NodeClaims: run again at once.
    Acted,
    /// Nothing to do: wait the polling period.
    Idle,
    /// Some NodeClaim is not launched yet: try again in a second.
    NotSynced,
}

/// The disruption loop's dependencies and its memory between passes.
pub struct Disruption<P> {
    client: Client,
    index: Index,
    provider: Arc<P>,
    pod_events: PodEvents,
    validation_delay: Duration,
    consolidation: ConsolidationSettings,
    /// NodePools single-node consolidation did not reach last pass (they go first next time).
    unseen_nodepools: Vec<String>,
    /// Seeds each pass's RNG (advanced every pass, so passes differ but runs are reproducible
    /// from the starting seed).
    seed: u64,
    /// Nodes and NodeClaims nominated for the pods a consolidation moves, until when.
    nominated: Vec<(String, std::time::Instant)>,
    /// Nodes whose NodeClaim a command deleted: their disrupted taint is termination's now, so
    /// the cleanup must not remove it while the watch has not yet shown the deletion, and they
    /// count as queued and marked for deletion (budgets, candidates) until then.
    deleting: BTreeSet<String>,
    /// When each NodeClaim's `InstanceTypeNotFound` check last passed (upstream's 30 min
    /// cache), so the check does not run every pass.
    instance_type_checks: BTreeMap<String, DateTime<Utc>>,
    /// Where events go.
    recorder: Arc<Recorder>,
    /// The counters and gauges the loop updates.
    metrics: Arc<Metrics>,
}

impl<P> std::fmt::Debug for Disruption<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disruption")
            .field("validation_delay", &self.validation_delay)
            .field("deleting", &self.deleting)
            .finish_non_exhaustive()
    }
}

impl<P: CloudProvider> Disruption<P> {
    /// A loop over `index`, reading pod events from `pod_events`, waiting `validation_delay`
    /// between tainting a command's candidates and re-validating it, consolidating with
    /// `consolidation`; `seed` seeds the simulations' RNG.
    pub fn new(
        client: Client,
        index: Index,
        provider: Arc<P>,
        pod_events: PodEvents,
        validation_delay: Duration,
        consolidation: ConsolidationSettings,
        seed: u64,
    ) -> Self {
        Self {
            client: client.clone(),
            index,
            provider,
            pod_events,
            validation_delay,
            consolidation,
            unseen_nodepools: Vec::new(),
            seed,
            nominated: Vec::new(),
            deleting: BTreeSet::new(),
            instance_type_checks: BTreeMap::new(),
            recorder: Arc::new(Recorder::new(client, "joist")),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Publishes events through `recorder` and updates `metrics` (by default a recorder of
    /// its own and metrics nobody serves).
    #[must_use]
    pub fn observed_by(mut self, recorder: Arc<Recorder>, metrics: Arc<Metrics>) -> Self {
        self.recorder = recorder;
        self.metrics = metrics;
        self
    }

    /// Runs passes until dropped.
    pub async fn run(mut self) {
        self.index.wait_until_ready().await;
        loop {
            let wait = match self.pass().await {
                Ok(Pass::Acted) => Duration::ZERO,
                Ok(Pass::NotSynced) => UNSYNCED_RETRY,
                Ok(Pass::Idle) => POLL_PERIOD,
                Err(error) => {
                    tracing::error!(controller = "disruption", error = %error, "disruption pass failed");
                    POLL_PERIOD
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One pass (see the module docs).
    ///
    /// # Errors
    /// [`DisruptionError`] when the API server fails.
    pub async fn pass(&mut self) -> Result<Pass, DisruptionError> {
        if !self.synced() {
            return Ok(Pass::NotSynced);
        }
        self.forget_gone();
        self.cleanup_taints().await?;
        self.expire().await?;
        let facts = self.facts();
        let drifted = self.update_drift(&facts).await;
        let decision = empty_command(&facts.input());
        self.observe_budgets(&facts.input(), MethodKind::Empty, decision.eligible_nodes)
            .await;
        self.publish_blocked(&facts, &decision.blocked).await;
        self.publish_unconsolidatable(&facts, &decision.unconsolidatable)
            .await;
        if let Some(command) = decision.command {
            return self.execute_delete(command).await;
        }
        // StaticDrift would run here; static NodePools are not supported (module docs).
        self.seed = self.seed.wrapping_add(1);
        let mut rng = SeededRng::new(self.seed);
        if let Some(command) = self.drift(&facts, &drifted, &mut rng).await {
            return self.execute_drift(command, facts).await;
        }
        self.consolidate(&facts, &mut rng).await
    }

    /// The Drift method's decision, with its events and gauges.
    async fn drift(
        &self,
        facts: &Facts,
        drifted: &DriftedNodes,
        rng: &mut SeededRng,
    ) -> Option<Command> {
        let decision = drift_command(&facts.input(), drifted, &self.consolidation.scheduling, rng);
        self.observe_budgets(&facts.input(), MethodKind::Drift, decision.eligible_nodes)
            .await;
        // Eventual-class blocks differ from Emptiness's only for drifted nodes with a TGP,
        // which are candidates here; the graceful ones were published already.
        self.publish_blocked_messages(facts, &decision.unschedulable)
            .await;
        decision.command
    }

    /// Multi-node, then single-node consolidation.
    async fn consolidate(
        &mut self,
        facts: &Facts,
        rng: &mut SeededRng,
    ) -> Result<Pass, DisruptionError> {
        let multi = multi_node_consolidation(&facts.input(), &self.consolidation, rng);
        self.observe_budgets(&facts.input(), MethodKind::Multi, multi.eligible_nodes)
            .await;
        self.publish_unconsolidatable(facts, &multi.unconsolidatable)
            .await;
        if let Some(command) = multi.command {
            return self
                .execute_consolidation(command, rng, MethodKind::Multi)
                .await;
        }
        let single = single_node_consolidation(
            &facts.input(),
            &self.consolidation,
            &self.unseen_nodepools,
            rng,
        );
        self.unseen_nodepools = single.unseen_nodepools;
        self.publish_unconsolidatable(facts, &single.unconsolidatable)
            .await;
        match single.command {
            Some(command) => {
                self.execute_consolidation(command, rng, MethodKind::Single)
                    .await
            }
            None => Ok(Pass::Idle),
        }
    }

    /// Every NodeClaim that is not deleting has a providerID (§4.16 `Synced`).
    fn synced(&self) -> bool {
        self.index.is_ready()
            && self.index.nodeclaims.state().iter().all(|claim| {
                claim.0.metadata.deletion_timestamp.is_some()
                    || crate::index::provider_id_of_claim(claim).is_some()
            })
    }

    fn facts(&mut self) -> Facts {
        let now = std::time::Instant::now();
        self.nominated.retain(|(_, until)| *until > now);
        let nominated = self
            .nominated
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let mut facts = Facts::build(
            &self.index,
            self.provider.instance_types(),
            &self.pod_events,
            &nominated,
            Utc::now(),
        );
        facts.mark_deleting(&self.deleting);
        facts
    }

    /// Nominates `names` (nodes or NodeClaims) for [`NOMINATION_WINDOW`].
    fn nominate(&mut self, names: impl IntoIterator<Item = String>) {
        let until = std::time::Instant::now() + NOMINATION_WINDOW;
        self.nominated
            .extend(names.into_iter().map(|name| (name, until)));
    }

    /// Drops memory of pods, nodes and deletions that no longer exist.
    fn forget_gone(&mut self) {
        let pods = self.index.pods.state();
        let nodes = self.index.nodes.state();
        let live_pods: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        let live_nodes: HashSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        self.pod_events.retain(&live_pods, &live_nodes);
        self.deleting
            .retain(|node| live_nodes.contains(node.as_str()));
    }

    /// §4.1 step 2: untaint nodes that carry the disrupted taint, and clear their NodeClaims'
    /// `DisruptionReason`, when they are not being deleted (neither the Node nor its NodeClaim)
    /// and belong to no command.
    async fn cleanup_taints(&self) -> Result<(), DisruptionError> {
        for node in self.index.nodes.state() {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            if node.metadata.deletion_timestamp.is_some()
                || self.deleting.contains(name)
                || self.nodeclaim_deleting(&node)
            {
                continue;
            }
            if has_disrupted_taint(&node) {
                untaint(&self.client, &node).await?;
            }
            // No API call unless the NodeClaim still carries the condition.
            self.mark_reason(&node, None).await;
        }
        Ok(())
    }

    fn nodeclaim_deleting(&self, node: &Node) -> bool {
        crate::index::provider_id_of_node(node).is_some_and(|id| {
            self.index
                .nodeclaims_with_provider_id(id)
                .iter()
                .any(|c| c.0.metadata.deletion_timestamp.is_some())
        })
    }

    /// §4.13: deletes every NodeClaim past `creationTimestamp + expireAfter` (forceful: no
    /// budgets, no candidate checks).
    async fn expire(&self) -> Result<(), DisruptionError> {
        let claims = self.index.nodeclaims.state();
        let facts: Vec<ExpirationFacts> = claims
            .iter()
            .filter_map(|claim| {
                let claim = &claim.0;
                Some(ExpirationFacts {
                    name: claim.name().to_owned(),
                    created: claim
                        .metadata
                        .creation_timestamp
                        .as_ref()
                        .and_then(to_chrono)?,
                    expire_after: claim
                        .spec
                        .expire_after
                        .as_deref()
                        .and_then(|text| NillableDuration::parse(text).ok())
                        .unwrap_or_else(NillableDuration::never),
                    deleting: claim.metadata.deletion_timestamp.is_some(),
                })
            })
            .collect();
        for name in expire(&facts, Utc::now()).expired {
            tracing::debug!(controller = "nodeclaim.expiration", NodeClaim = %name, "deleting expired nodeclaim");
            delete_nodeclaim(&self.client, &name).await?;
            if let Some(claim) = claims.iter().find(|c| c.0.name() == name) {
                let labels = disrupted_labels(&claim.0, "expired", "");
                let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                self.metrics.nodeclaims_disrupted.inc(&labels);
                let node = claim.0.status.as_ref().and_then(|s| s.node_name.as_deref());
                let pods = node.map_or(0, |node| self.reschedulable_pods_on(node));
                self.metrics
                    .pods_disruption_initiated
                    .inc_by(&labels, pods as f64);
            }
        }
        Ok(())
    }

    /// Pods on `node` that would have to move: active, not owned by a DaemonSet, not mirror pods.
    fn reschedulable_pods_on(&self, node: &str) -> usize {
        self.index
            .pods
            .state()
            .iter()
            .filter(|pod| pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                !matches!(phase, Some("Succeeded" | "Failed"))
            })
            .filter(|pod| {
                let owned_by = |kind: &str| {
                    pod.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| o.kind == kind)
                };
                !owned_by("DaemonSet") && !owned_by("Node")
            })
            .count()
    }

    /// Runs a delete command: taint, wait, re-validate, delete what is still valid, untaint the
    /// rest.
    async fn execute_delete(&mut self, command: Command) -> Result<Pass, DisruptionError> {
        self.log_command(&command);
        let mut tainted = Vec::new();
        for candidate in &command.candidates {
            let Some(node) = self
                .index
                .nodes
                .get(&kube::runtime::reflector::ObjectRef::new(&candidate.node))
            else {
                continue;
            };
            match taint(&self.client, &node).await {
                Ok(()) => {
                    self.mark_reason(&node, Some(command.reason.as_str())).await;
                    tainted.push(candidate.node.clone());
                }
                Err(error) => {
                    tracing::error!(controller = "disruption", Node = %candidate.node, error = %error, "tainting a candidate failed")
                }
            }
        }
        if tainted.is_empty() {
            return Ok(Pass::Idle);
        }
        tokio::time::sleep(self.validation_delay).await;
        let facts = self.facts();
        let valid = match validate_empty_command(&facts.input(), &command) {
            Ok(valid) => valid,
            Err(error) => {
                tracing::debug!(controller = "disruption", error = %error, "abandoning empty node consolidation attempt due to pod churn, command is no longer valid");
                self.metrics
                    .failed_validations
                    .inc(&[MethodKind::Empty.consolidation_type()]);
                Command {
                    candidates: Vec::new(),
                    ..command
                }
            }
        };
        let kept: Vec<String> = valid.candidates.iter().map(|c| c.node.clone()).collect();
        if !kept.is_empty() {
            self.record_decision(&valid, MethodKind::Empty);
        }
        for candidate in &valid.candidates {
            if let Some(claim) = facts.nodeclaim_of(&candidate.node) {
                self.deleting.insert(candidate.node.clone());
                delete_nodeclaim(&self.client, claim).await?;
                self.record_terminating(&facts, &valid, candidate).await;
            }
        }
        let dropped: Vec<String> = tainted.into_iter().filter(|n| !kept.contains(n)).collect();
        self.untaint_nodes(&dropped).await?;
        Ok(if kept.is_empty() {
            Pass::Idle
        } else {
            Pass::Acted
        })
    }

    /// Upstream's INFO "disrupting node(s)".
    fn log_command(&self, command: &Command) {
        tracing::info!(
            controller = "disruption",
            command = %format!("{}: {}", command.reason, command.summary()),
            decision = command.decision.as_str(),
            disrupted_node_count = command.candidates.len(),
            replacement_node_count = command.replacements.len(),
            savings = command.savings,
            "disrupting node(s)"
        );
    }
}

fn has_disrupted_taint(node: &Node) -> bool {
    taints_of(node).iter().any(|t| t.key == DISRUPTED_TAINT_KEY)
}

fn taints_of(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
}

async fn taint(client: &Client, node: &Node) -> Result<(), kube::Error> {
    match with_disrupted_taint(taints_of(node)) {
        Some(taints) => write_taints(client, node, &taints).await,
        None => Ok(()),
    }
}

async fn untaint(client: &Client, node: &Node) -> Result<(), kube::Error> {
    let mut taints = taints_of(node);
    taints.retain(|t| t.key != DISRUPTED_TAINT_KEY);
    write_taints(client, node, &taints).await
}

/// Replaces the Node's taints, guarded by its resourceVersion (a conflict fails the pass, which
/// is retried with fresh data).
async fn write_taints(client: &Client, node: &Node, taints: &[Taint]) -> Result<(), kube::Error> {
    let patch = json!({
        "metadata": {"resourceVersion": node.metadata.resource_version},
        "spec": {"taints": taints},
    });
    let name = node.metadata.name.as_deref().unwrap_or_default();
    Api::<Node>::all(client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
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
