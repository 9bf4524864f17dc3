//! Voluntary disruption (spec core §4): candidates, budgets and the Empty method.
//!
//! The [`Snapshot`] carries what scheduling needs; disruption also needs facts the snapshot does
//! not model (NodeClaim conditions, node annotations, pod start times, PDB status, each NodePool's
//! `spec.disruption`). [`DisruptionInput`] pairs the snapshot with those facts, so every decision
//! here stays a pure function of plain data. Methods return [`Command`]s; starting them (taints,
//! the 15 s validation, deletion) is the driver's job.

mod budgets;
mod candidates;
mod emptiness;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub use budgets::{budget_node_counts, pool_allowances};
pub use candidates::{
    BlockReason, Candidate, CandidateSet, DisruptionClass, disruption_cost, eviction_cost,
    lifetime_remaining,
};
pub use emptiness::{EmptinessDecision, EmptinessError, empty_command, validate_empty_command};

use crate::duration::NillableDuration;
use crate::nodepool::budgets::{Budget, DisruptionReason};
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

/// One disruption decision as plain data (upstream `Command`).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The reason (`Empty`, `Drifted`, `Underutilized`).
    pub reason: DisruptionReason,
    /// The nodes to disrupt, in decision order.
    pub candidates: Vec<Candidate>,
    /// Replacement NodeClaims to launch first (none for emptiness); instance type names.
    pub replacements: Vec<String>,
    /// Why the command was (or was not) produced, for logs and events.
    pub explanation: String,
}
