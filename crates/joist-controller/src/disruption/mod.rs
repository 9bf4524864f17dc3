//! `disruption` (spec core §4.1), a singleton loop, plus `nodeclaim.expiration` (§4.13).
//!
//! Each pass: wait until the index is synced (every NodeClaim launched), remove
//! `karpenter.sh/disrupted:NoSchedule` from nodes no command owns (recovery after a crash or a
//! failed validation), delete expired NodeClaims, then run Emptiness (§4.4). A command taints
//! its candidates, waits the validation delay (upstream 15 s), re-validates with
//! `validate_empty_command`, and deletes the NodeClaims that are still empty; node termination
//! takes it from there. Candidates dropped by validation are untainted. A pass that acted is
//! followed at once by the next; otherwise the loop sleeps the polling period (10 s).
//!
//! When Emptiness finds nothing, multi-node (§4.7) and then single-node (§4.8) consolidation
//! run; their commands are validated with `validate_command` and, for a replace, launch their
//! replacements and wait until they are initialized before deleting (`consolidation.rs`).
//!
//! Commands run inline (upstream's orchestration queue runs them concurrently), so a pass never
//! overlaps a command in flight. Drift and StaticDrift are not run here yet.

mod consolidation;
mod facts;
mod pod_events;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use joist_core::disruption::{
    Command, ConsolidationSettings, ExpirationFacts, empty_command, expire,
    multi_node_consolidation, single_node_consolidation, validate_empty_command,
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
pub use facts::{Facts, condition_true, is_node_ready, pool_disruption};
pub use pod_events::PodEvents;

use crate::index::Index;
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
    /// the cleanup must not remove it while the watch has not yet shown the deletion.
    deleting: BTreeSet<String>,
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
            client,
            index,
            provider,
            pod_events,
            validation_delay,
            consolidation,
            unseen_nodepools: Vec::new(),
            seed,
            nominated: Vec::new(),
            deleting: BTreeSet::new(),
        }
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
        let decision = empty_command(&facts.input());
        for (node, reason) in &decision.unconsolidatable {
            tracing::debug!(controller = "disruption", Node = %node, reason = %reason, "unconsolidatable");
        }
        if let Some(command) = decision.command {
            return self.execute_delete(command).await;
        }
        self.seed = self.seed.wrapping_add(1);
        let mut rng = SeededRng::new(self.seed);
        let multi = multi_node_consolidation(&facts.input(), &self.consolidation, &mut rng);
        if let Some(command) = multi.command {
            return self.execute_consolidation(command, &mut rng).await;
        }
        let single = single_node_consolidation(
            &facts.input(),
            &self.consolidation,
            &self.unseen_nodepools,
            &mut rng,
        );
        self.unseen_nodepools = single.unseen_nodepools;
        match single.command {
            Some(command) => self.execute_consolidation(command, &mut rng).await,
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
        Facts::build(
            &self.index,
            self.provider.instance_types(),
            &self.pod_events,
            &nominated,
            Utc::now(),
        )
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

    /// §4.1 step 2: untaint nodes that carry the disrupted taint but are not being deleted
    /// (neither the Node nor its NodeClaim) and belong to no command.
    async fn cleanup_taints(&self) -> Result<(), DisruptionError> {
        for node in self.index.nodes.state() {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            if node.metadata.deletion_timestamp.is_some()
                || self.deleting.contains(name)
                || !has_disrupted_taint(&node)
                || self.nodeclaim_deleting(&node)
            {
                continue;
            }
            untaint(&self.client, &node).await?;
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
        }
        Ok(())
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
                Ok(()) => tainted.push(candidate.node.clone()),
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
        let kept: Vec<String> = match validate_empty_command(&facts.input(), &command) {
            Ok(valid) => valid.candidates.into_iter().map(|c| c.node).collect(),
            Err(error) => {
                tracing::debug!(controller = "disruption", error = %error, "command failed validation");
                Vec::new()
            }
        };
        for node in &kept {
            if let Some(claim) = facts.nodeclaim_of(node) {
                self.deleting.insert(node.clone());
                delete_nodeclaim(&self.client, claim).await?;
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
