//! The Drift method (spec core §4.1 step 3.3, §4.5 "Disruption"; upstream `Drift`): replace
//! drifted nodes of dynamic NodePools, oldest drift first.
//!
//! Candidates are listed with the eventual class (pod blockers are ignored when the NodeClaim
//! has its own `terminationGracePeriod`; such pods are then left out of the simulation, so no
//! capacity is pre-spun for them) and must carry `Drifted=True`. Budgets are those for reason
//! `Drifted`. Every empty drifted candidate within budget is deleted in one command; otherwise
//! candidates are simulated one at a time and the first whose bound pods all fit becomes a
//! command with as many replacements as the simulation needs (none: a plain delete). There is
//! no price check and no validation delay; the driver requeues immediately, so drift proceeds
//! node by node at the speed of budgets.

use std::collections::BTreeMap;

use super::drift::{DriftedNodes, oldest_drift_first};
use super::{
    BlockReason, Candidate, CandidateSet, Command, Decision, DisruptionClass, DisruptionInput,
    NodeDisruptionState, Replacement, SimulatedNodeClaim, SimulationError, Simulator,
    allowed_capacity_types, pool_allowances,
};
use crate::nodepool::budgets::DisruptionReason;
use crate::rng::SeededRng;
use crate::scheduling::SchedulingSettings;

/// What the Drift method decided in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftDecision {
    /// The command to start, if any.
    pub command: Option<Command>,
    /// Nodes that are not candidates at all, with why (`DisruptionBlocked` events).
    pub blocked: Vec<(String, BlockReason)>,
    /// Drifted candidates skipped because some of their bound pods would not schedule, with
    /// the `DisruptionBlocked` event text (at most five `ns/pod => error` entries).
    pub unschedulable: Vec<(String, String)>,
    /// Whether a drifted candidate was held back only by its pool's budget.
    pub budget_limited: bool,
    /// `karpenter_voluntary_disruption_eligible_nodes{reason="drifted"}`: drifted candidates.
    pub eligible_nodes: usize,
}

/// Runs the Drift method: `drifted` holds the `Drifted=True` conditions by node name, and
/// `settings`/`rng` drive the replacement simulations.
pub fn drift_command(
    input: &DisruptionInput<'_>,
    drifted: &DriftedNodes,
    settings: &SchedulingSettings,
    rng: &mut SeededRng,
) -> DriftDecision {
    let set = CandidateSet::build(input, DisruptionClass::Eventual);
    let drifted_candidates: Vec<Candidate> = set
        .candidates
        .into_iter()
        .filter(|c| drifted.contains_key(&c.node) && !is_static_pool(input, &c.nodepool))
        .collect();
    // The node name makes equal transition times deterministic.
    let candidates = oldest_drift_first(drifted_candidates, drifted);
    let mut decision = DriftDecision {
        command: None,
        blocked: set.blocked,
        unschedulable: Vec::new(),
        budget_limited: false,
        eligible_nodes: candidates.len(),
    };
    let mut remaining: BTreeMap<String, usize> = pool_allowances(input, DisruptionReason::Drifted)
        .into_iter()
        .map(|(pool, allowance)| (pool, allowance.remaining))
        .collect();
    let empty = take_empty(&candidates, &mut remaining, &mut decision.budget_limited);
    if !empty.is_empty() {
        decision.command = Some(empty_command(empty));
        return decision;
    }
    decision.command =
        first_replaceable(input, &candidates, &remaining, settings, rng, &mut decision);
    decision
}

/// Every empty candidate (no reschedulable pods) whose pool still has budget, spending it.
fn take_empty(
    candidates: &[Candidate],
    remaining: &mut BTreeMap<String, usize>,
    budget_limited: &mut bool,
) -> Vec<Candidate> {
    let mut empty = Vec::new();
    for candidate in candidates
        .iter()
        .filter(|c| c.reschedulable_pods.is_empty())
    {
        match remaining.get_mut(&candidate.nodepool) {
            Some(left) if *left > 0 => {
                *left -= 1;
                empty.push(candidate.clone());
            }
            _ => *budget_limited = true,
        }
    }
    empty
}

/// Simulates candidates one at a time (those whose pool has budget) and turns the first whose
/// bound pods all schedule into a command.
fn first_replaceable(
    input: &DisruptionInput<'_>,
    candidates: &[Candidate],
    remaining: &BTreeMap<String, usize>,
    settings: &SchedulingSettings,
    rng: &mut SeededRng,
    decision: &mut DriftDecision,
) -> Option<Command> {
    let with_budget: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            let allowed = remaining.get(&c.nodepool).is_some_and(|left| *left > 0);
            decision.budget_limited |= !allowed;
            allowed
        })
        .collect();
    if with_budget.is_empty() {
        return None;
    }
    // Drift moves pods without consolidation's `consolidateAfter` destination rule: the
    // simulator only restricts destinations that are not `Consolidatable`, so it is shown every
    // node as consolidatable.
    let all_consolidatable: BTreeMap<String, NodeDisruptionState> = input
        .snapshot
        .nodes
        .iter()
        .map(|node| {
            let mut state = input.node_state(&node.name).clone();
            state.consolidatable = true;
            (node.name.clone(), state)
        })
        .collect();
    let simulation_input = DisruptionInput {
        nodes: &all_consolidatable,
        ..*input
    };
    let mut simulator = Simulator::new(simulation_input, settings);
    for candidate in with_budget {
        let result = match simulator.simulate(&[candidate.node.as_str()], rng) {
            Ok(result) => result,
            // A candidate deleted meanwhile is retried on a later pass.
            Err(SimulationError::CandidateDeleting | SimulationError::UnknownNode { .. }) => {
                continue;
            }
        };
        if !result.all_non_pending_scheduled() {
            let message = sentence(&result.non_pending_errors());
            decision
                .unschedulable
                .push((candidate.node.clone(), message));
            continue;
        }
        let destinations = result.destinations();
        let replacements = result.new_nodeclaims.into_iter().map(replacement).collect();
        return Some(replace_command(
            candidate.clone(),
            replacements,
            destinations,
        ));
    }
    None
}

fn is_static_pool(input: &DisruptionInput<'_>, pool: &str) -> bool {
    input
        .snapshot
        .nodepools
        .iter()
        .any(|p| p.name == pool && p.is_static())
}

/// Upstream `pretty.Sentence` of the errors: the first five joined by ", ", then
/// " and N other(s)".
fn sentence(errors: &[String]) -> String {
    let mut text = errors
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if errors.len() > 5 {
        text.push_str(&format!(" and {} other(s)", errors.len() - 5));
    }
    text
}

/// A simulated NodeClaim as a command replacement, priced by its cheapest option.
pub(crate) fn replacement(simulated: SimulatedNodeClaim) -> Replacement {
    let price = simulated
        .options
        .first()
        .map(|o| o.price)
        .filter(|p| *p < f64::MAX)
        .unwrap_or(0.0);
    Replacement {
        capacity_types: allowed_capacity_types(&simulated.nodeclaim.requirements),
        nodeclaim: simulated.nodeclaim,
        options: simulated.options,
        price,
    }
}

fn empty_command(candidates: Vec<Candidate>) -> Command {
    let names: Vec<&str> = candidates.iter().map(|c| c.node.as_str()).collect();
    let explanation = format!(
        "deleting {} empty drifted node(s): {}",
        candidates.len(),
        names.join(", ")
    );
    Command::delete(DisruptionReason::Drifted, candidates, explanation)
}

/// One drifted candidate: a replace with `replacements`, or a delete when its pods fit on
/// existing nodes.
fn replace_command(
    candidate: Candidate,
    replacements: Vec<Replacement>,
    destinations: Vec<String>,
) -> Command {
    if replacements.is_empty() {
        let explanation = format!(
            "deleting drifted node {}, its pods fit elsewhere",
            candidate.node
        );
        let mut command = Command::delete(DisruptionReason::Drifted, vec![candidate], explanation);
        command.destinations = destinations;
        return command;
    }
    let explanation = format!(
        "replacing drifted node {} with {} node(s)",
        candidate.node,
        replacements.len()
    );
    let replacement_price: f64 = replacements.iter().map(|r| r.price).sum();
    Command {
        reason: DisruptionReason::Drifted,
        decision: Decision::Replace,
        savings: candidate.price - replacement_price,
        candidates: vec![candidate],
        replacements,
        destinations,
        explanation,
    }
}
