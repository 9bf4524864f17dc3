//! The StaticDrift method (spec core §4.6, gate `StaticCapacity`; upstream `StaticDrift`):
//! drifted NodeClaims of static NodePools are replaced one for one with a fresh NodeClaim from
//! the template, without a scheduling simulation.
//!
//! Per static pool with drifted candidates and a `Drifted` budget: wait while the pool is
//! over-scaled (active + pending-disruption > replicas: scale-down goes first); allow
//! min(budget, candidates) further capped by the `limits.nodes` headroom reserved in the pool's
//! [`StaticPoolState`]; each allowed candidate becomes its own command and is counted as
//! pending disruption so static provisioning does not create a second replacement.

use std::collections::BTreeMap;

use super::drift::{DriftedNodes, oldest_drift_first};
use super::static_capacity::{StaticPoolState, node_limit, template_nodeclaim};
use super::{
    BlockReason, Candidate, CandidateSet, Command, Decision, DisruptionClass, DisruptionInput,
    Replacement, allowed_capacity_types, pool_allowances,
};
use crate::labels::LabelAliases;
use crate::nodepool::budgets::DisruptionReason;
use crate::snapshot::NodePool;

/// What the StaticDrift method decided in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticDriftDecision {
    /// One replace command per drifted NodeClaim allowed now, pools in name order.
    pub commands: Vec<Command>,
    /// Nodes that are not candidates at all, with why.
    pub blocked: Vec<(String, BlockReason)>,
    /// Drifted static candidates (the eligible-nodes metric).
    pub eligible_nodes: usize,
}

/// Runs StaticDrift: `drifted` holds the `Drifted=True` conditions by node name and `states`
/// the pools' NodeClaim counts, whose `pending_disruption` and `reserved` this pass updates for
/// every command it returns.
pub fn static_drift_commands(
    input: &DisruptionInput<'_>,
    drifted: &DriftedNodes,
    states: &mut BTreeMap<String, StaticPoolState>,
    aliases: &LabelAliases,
) -> StaticDriftDecision {
    let set = CandidateSet::build(input, DisruptionClass::Eventual);
    let pools: BTreeMap<&str, &NodePool> = input
        .snapshot
        .nodepools
        .iter()
        .filter(|p| p.is_static())
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut by_pool: BTreeMap<&str, Vec<Candidate>> = BTreeMap::new();
    let mut eligible_nodes = 0;
    for candidate in set.candidates {
        let Some((&name, _)) = pools.get_key_value(candidate.nodepool.as_str()) else {
            continue;
        };
        if drifted.contains_key(&candidate.node) {
            eligible_nodes += 1;
            by_pool.entry(name).or_default().push(candidate);
        }
    }
    let allowances = pool_allowances(input, DisruptionReason::Drifted);
    let mut commands = Vec::new();
    for (name, candidates) in by_pool {
        let (Some(pool), Some(allowance)) = (pools.get(name), allowances.get(name)) else {
            continue;
        };
        let state = states.entry(name.to_owned()).or_default();
        let allowed = allowed_drifts(pool, allowance.remaining, candidates.len(), state);
        let oldest_first = oldest_drift_first(candidates, drifted);
        for candidate in oldest_first.into_iter().take(allowed) {
            // Upstream `MarkNodeClaimDrifting`: the NodeClaim moves from active to pending
            // disruption, so static provisioning counts its replacement as in flight.
            state.active = state.active.saturating_sub(1);
            state.pending_disruption += 1;
            commands.push(replace_one(pool, candidate, aliases));
        }
    }
    StaticDriftDecision {
        commands,
        blocked: set.blocked,
        eligible_nodes,
    }
}

/// How many of `candidates` drifted NodeClaims of `pool` may be replaced now: none without
/// budget or while the pool is over-scaled (active + pending-disruption > replicas, scale-down
/// goes first); else min(budget, candidates), reserved against `limits.nodes`.
fn allowed_drifts(
    pool: &NodePool,
    budget: usize,
    candidates: usize,
    state: &mut StaticPoolState,
) -> usize {
    let replicas = pool.replicas.unwrap_or(0);
    let in_flight = i64::try_from(state.active + state.pending_disruption).unwrap_or(i64::MAX);
    if budget == 0 || in_flight > replicas {
        return 0;
    }
    state.reserve(node_limit(pool), budget.min(candidates))
}

/// "Replace 1 with 1 fresh NodeClaim from the template".
fn replace_one(pool: &NodePool, candidate: Candidate, aliases: &LabelAliases) -> Command {
    let nodeclaim = template_nodeclaim(pool, aliases);
    let explanation = format!(
        "replacing drifted static node {} with a NodeClaim from NodePool {:?}",
        candidate.node, pool.name
    );
    let replacement = Replacement {
        capacity_types: allowed_capacity_types(&nodeclaim.requirements),
        nodeclaim,
        options: Vec::new(),
        price: 0.0,
    };
    Command {
        reason: DisruptionReason::Drifted,
        decision: Decision::Replace,
        savings: candidate.price,
        candidates: vec![candidate],
        replacements: vec![replacement],
        destinations: Vec::new(),
        explanation,
    }
}
