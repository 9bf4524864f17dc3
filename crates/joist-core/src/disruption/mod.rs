//! Voluntary disruption (spec core §4): candidates, budgets and the Empty method.
//!
//! The [`Snapshot`] carries what scheduling needs; disruption also needs facts the snapshot does
//! not model (NodeClaim conditions, node annotations, pod start times, PDB status, each NodePool's
//! `spec.disruption`). [`DisruptionInput`] pairs the snapshot with those facts, so every decision
//! here stays a pure function of plain data. Methods return [`Command`]s; starting them (taints,
//! the 15 s validation, deletion) is the driver's job.

mod balanced;
mod budgets;
mod candidates;
mod consolidation;
mod drift;
mod drift_method;
mod emptiness;
mod expiration;
mod multi_node;
mod pdb_index;
mod queue;
mod replacement;
mod search;
mod simulate;
mod single_node;
mod static_capacity;
mod static_drift;
mod validation;
mod waste;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub use balanced::{BALANCED_K, PoolScore, balanced_approves, balanced_scores};
pub use budgets::{budget_node_counts, pool_allowances};
pub use candidates::{
    BlockReason, Candidate, CandidateSet, DisruptionClass, disruption_cost, eviction_cost,
    lifetime_remaining,
};
pub use consolidation::{
    Computed, ConsolidationDecision, ConsolidationSettings, Eligibility, Method, SearchMode,
    compute_consolidation, consolidation_eligibility,
};
pub use drift::{
    DRIFT_RECHECK, DriftCheck, DriftLabels, DriftReason, DriftStatus, DriftedCondition,
    DriftedNodes, INSTANCE_TYPE_CHECK_INTERVAL, INSTANCE_TYPE_CHECK_MIN_AGE, NoProviderDrift,
    NodeClaimFacts, NodePoolFacts, ProviderDrift, detect_drift, requirements_drift, static_drift,
};
pub use drift_method::{DriftDecision, drift_command};
pub use emptiness::{EmptinessDecision, EmptinessError, empty_command, validate_empty_command};
pub use expiration::{ExpirationDecision, ExpirationFacts, expire, expires_at};
pub use multi_node::multi_node_consolidation;
pub use queue::{
    MAX_QUEUE_TIMEOUT, MIN_QUEUE_TIMEOUT, QUEUE_TIMEOUT_PER_COMMAND, QueueFailure, QueueStep,
    ReplacementStatus, queue_step, queue_timeout, stale_disrupted_taints,
};
pub use replacement::MIN_SPOT_TO_SPOT_OPTIONS;
pub use search::command_nodes;
pub use simulate::{
    InstanceTypeOption, PodFailure, PodPlacement, SimulatedNodeClaim, SimulationError,
    SimulationResult, Simulator, allowed_capacity_types, worst_launch_price,
};
pub use single_node::{interleave_by_nodepool, single_node_consolidation};
pub use static_capacity::{
    STATIC_LIMIT_REQUEUE, STATIC_REQUEUE, StaticPoolState, StaticProvisioning, UnlaunchedNodeClaim,
    node_limit, static_scale_down, static_scale_up, template_nodeclaim,
};
pub use static_drift::{StaticDriftDecision, static_drift_commands};
pub use validation::{RejectionReason, ValidationError, validate_command};

use crate::duration::NillableDuration;
use crate::nodepool::budgets::{Budget, DisruptionReason};
use crate::scheduling::NewNodeClaim;
use crate::snapshot::Snapshot;

/// `spec.disruption.consolidationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsolidationPolicy {
    /// Only empty nodes are consolidated.
    WhenEmpty,
    /// Empty and underutilized nodes (the CRD default).
    #[default]
    WhenEmptyOrUnderutilized,
    /// Like `WhenEmptyOrUnderutilized`, with moves scored against pool cost (v1.14, §4.10).
    Balanced,
}

/// A NodePool's `spec.disruption`, which the scheduling [`crate::snapshot::NodePool`] leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDisruption {
    /// `consolidationPolicy`.
    pub consolidation_policy: ConsolidationPolicy,
    /// `consolidateAfter`; `Never` disables emptiness and consolidation for the pool.
    pub consolidate_after: NillableDuration,
    /// `budgets`; the CRD default is one `{nodes: "10%"}` budget.
    pub budgets: Vec<Budget>,
}

impl Default for PoolDisruption {
    /// The CRD defaults: `WhenEmptyOrUnderutilized`, `consolidateAfter: 0s`, `nodes: "10%"`.
    fn default() -> Self {
        Self {
            consolidation_policy: ConsolidationPolicy::default(),
            consolidate_after: NillableDuration::from_duration(std::time::Duration::ZERO),
            budgets: vec![Budget::default()],
        }
    }
}

/// Per-node disruption facts from the Node, its NodeClaim and the orchestration queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeDisruptionState {
    /// Node annotations (NodeClaim annotations before registration): `karpenter.sh/do-not-disrupt`.
    pub annotations: BTreeMap<String, String>,
    /// Whether the Node's `Ready` condition is `True`; NotReady nodes consume budget (§1.6).
    pub ready: bool,
    /// Whether the NodeClaim has `InstanceTerminating=True`; such nodes are not counted at all.
    pub instance_terminating: bool,
    /// Whether the NodeClaim has `Consolidatable=True` (§4.3, see [`is_consolidatable`]).
    pub consolidatable: bool,
    /// Whether the node's providerID is already in the orchestration queue.
    pub queued: bool,
    /// The NodeClaim's creation time, for `LifetimeRemaining`; unknown counts as a full lifetime.
    pub created: Option<DateTime<Utc>>,
    /// The NodeClaim's own `spec.terminationGracePeriod` (a Go duration, as written), copied from
    /// the template at launch. When set, eventual methods (drift) may disrupt the node despite
    /// blocking pods, because termination force-deletes them at that deadline (§4.2); the
    /// NodePool's current value does not matter, as NodePool edits do not reach live NodeClaims.
    pub termination_grace_period: Option<String>,
}

/// A PodDisruptionBudget's status, which [`crate::snapshot::PodDisruptionBudget`] leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PdbStatus {
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// Whether `spec.unhealthyPodEvictionPolicy` is `AlwaysAllow` (NotReady pods may be evicted
    /// whatever the budget).
    pub always_allow_unhealthy: bool,
}

/// Everything a disruption pass decides on: the snapshot plus the facts it does not model.
#[derive(Debug, Clone, Copy)]
pub struct DisruptionInput<'a> {
    /// The cluster snapshot (`now`, pods, nodes, NodePools, instance types, PDB specs).
    pub snapshot: &'a Snapshot,
    /// Disruption facts by node name; a node without an entry has the default (NotReady, not
    /// consolidatable) and so is never emptied.
    pub nodes: &'a BTreeMap<String, NodeDisruptionState>,
    /// `spec.disruption` by NodePool name; a pool without an entry gets the CRD defaults.
    pub pools: &'a BTreeMap<String, PoolDisruption>,
    /// PDB status by `(namespace, name)`. A PDB without status falls back to its spec: fully
    /// blocking ones allow 0 disruptions, others are assumed to allow some.
    pub pdb_status: &'a BTreeMap<(String, String), PdbStatus>,
    /// `status.startTime` by pod uid, for duration `do-not-disrupt` values.
    pub pod_start_times: &'a BTreeMap<String, DateTime<Utc>>,
    /// Uids of pods whose `Ready` condition is not `True` (for `AlwaysAllow` PDBs).
    pub unready_pods: &'a BTreeSet<String>,
}

/// The facts of a node the driver said nothing about: NotReady and not consolidatable, so such a
/// node consumes budget and is never emptied.
static UNKNOWN_NODE_STATE: NodeDisruptionState = NodeDisruptionState {
    annotations: BTreeMap::new(),
    ready: false,
    instance_terminating: false,
    consolidatable: false,
    queued: false,
    created: None,
    termination_grace_period: None,
};

impl DisruptionInput<'_> {
    /// The disruption facts of a node (see [`UNKNOWN_NODE_STATE`] when the driver gave none).
    fn node_state(&self, name: &str) -> &NodeDisruptionState {
        self.nodes.get(name).unwrap_or(&UNKNOWN_NODE_STATE)
    }

    /// The `spec.disruption` of a NodePool (CRD defaults when the driver gave none).
    fn pool(&self, name: &str) -> Cow<'_, PoolDisruption> {
        self.pools
            .get(name)
            .map_or_else(|| Cow::Owned(PoolDisruption::default()), Cow::Borrowed)
    }
}

/// Whether a NodeClaim is consolidatable (§4.3): `consolidateAfter` is not `Never`, the NodeClaim
/// is initialized, and `consolidateAfter` has passed since the last pod event (or, without one,
/// since initialization).
pub fn is_consolidatable(
    consolidate_after: &NillableDuration,
    initialized_at: Option<DateTime<Utc>>,
    last_pod_event: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let (Some(after), Some(initialized)) = (consolidate_after.duration(), initialized_at) else {
        return false;
    };
    let since = last_pod_event.unwrap_or(initialized);
    chrono::TimeDelta::from_std(after)
        .ok()
        .and_then(|after| since.checked_add_signed(after))
        .is_some_and(|ready_at| ready_at <= now)
}

/// What a command does to its candidates (upstream `Command.Decision()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Delete the candidates; their pods fit elsewhere.
    Delete,
    /// Launch the replacements first, then delete the candidates.
    Replace,
}

impl Decision {
    /// Upstream's lower-case decision name (`delete`, `replace`), as in logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Replace => "replace",
        }
    }
}

/// A NodeClaim a command launches before deleting its candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The NodeClaim to create. Its `requirements` and `instance_types` are final: narrowed to
    /// [`Self::options`] and, for consolidation, to the forced capacity type.
    pub nodeclaim: NewNodeClaim,
    /// The instance-type options, cheapest first, with their prices under the requirements.
    pub options: Vec<InstanceTypeOption>,
    /// The capacity types the requirements allow, in launch preference order (reserved, spot,
    /// on-demand).
    pub capacity_types: Vec<String>,
    /// The expected price per hour: the cheapest compatible available offering of the first
    /// (cheapest) option; 0 without options.
    pub price: f64,
}

/// One disruption decision as plain data (upstream `Command`).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The reason (`Empty`, `Drifted`, `Underutilized`).
    pub reason: DisruptionReason,
    /// Delete or replace.
    pub decision: Decision,
    /// The nodes to disrupt, in decision order.
    pub candidates: Vec<Candidate>,
    /// Replacement NodeClaims to launch first (none for a delete).
    pub replacements: Vec<Replacement>,
    /// Existing nodes the candidates' pods are expected to move to (the driver nominates them).
    pub destinations: Vec<String>,
    /// Σ candidate prices − Σ replacement prices, per hour (upstream's "savings" figure).
    pub savings: f64,
    /// Why the command was produced, for logs and events.
    pub explanation: String,
}

impl Command {
    /// A delete command for `candidates`, saving their full price.
    pub fn delete(
        reason: DisruptionReason,
        candidates: Vec<Candidate>,
        explanation: String,
    ) -> Self {
        let savings = candidates.iter().map(|c| c.price).sum();
        Self {
            reason,
            decision: Decision::Delete,
            candidates,
            replacements: Vec::new(),
            destinations: Vec::new(),
            savings,
            explanation,
        }
    }

    /// Σ of the candidates' prices per hour.
    pub fn candidate_price(&self) -> f64 {
        self.candidates.iter().map(|c| c.price).sum()
    }

    /// Σ of the replacements' expected prices per hour.
    pub fn replacement_price(&self) -> f64 {
        self.replacements.iter().map(|r| r.price).sum()
    }

    /// The command as upstream's logs print it:
    /// `replace: nodepools=[default]: [node-a] -> [1 replacement]` (a delete has no arrow).
    pub fn summary(&self) -> String {
        let pools: BTreeSet<&str> = self
            .candidates
            .iter()
            .map(|c| c.nodepool.as_str())
            .collect();
        let nodes: Vec<&str> = self.candidates.iter().map(|c| c.node.as_str()).collect();
        let mut text = format!(
            "{}: nodepools=[{}]: [{}]",
            self.decision.as_str(),
            pools.into_iter().collect::<Vec<_>>().join(", "),
            nodes.join(", ")
        );
        if !self.replacements.is_empty() {
            let plural = if self.replacements.len() == 1 {
                ""
            } else {
                "s"
            };
            text.push_str(&format!(
                " -> [{} replacement{plural}]",
                self.replacements.len()
            ));
        }
        text
    }

    /// The `ConsolidationCandidate` event text: `Consolidation candidate: {command} (savings:
    /// $x.xx)`.
    pub fn candidate_event(&self) -> String {
        format!(
            "Consolidation candidate: {} (savings: ${:.2})",
            self.summary(),
            self.savings
        )
    }
}
