//! Single-node consolidation (spec core §4.8, upstream `SingleNodeConsolidation`): the first
//! candidate, in savings-ratio order interleaved across NodePools, that can be deleted or
//! replaced by one cheaper node.
//!
//! Upstream walks under a 3-minute deadline; the core reads no clock, so the walk is bounded by
//! [`ConsolidationSettings::single_node_max_simulations`] simulations instead. Pools the walk did
//! not reach are returned ([`ConsolidationDecision::unseen_nodepools`]) so the next pass can put
//! them first, as upstream does after a timeout.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::consolidation::{
    Computed, ConsolidationDecision, ConsolidationSettings, Method, SearchMode,
    compute_consolidation, list_candidates, remaining_budgets,
};
use super::{Candidate, DisruptionInput, Simulator, balanced_approves, balanced_scores};
use crate::rng::SeededRng;

/// Runs single-node consolidation on `input`. `unseen_first` are the NodePools the previous
/// pass did not reach (its [`ConsolidationDecision::unseen_nodepools`]).
pub fn single_node_consolidation(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    unseen_first: &[String],
    rng: &mut SeededRng,
) -> ConsolidationDecision {
    let mut decision = ConsolidationDecision::default();
    let mut listed = list_candidates(input, &mut decision);
    if settings.search == SearchMode::Joist {
        // joist: the walk looks at the nodes with the most to give first (`waste.rs`).
        listed = super::waste::order_by_waste(input, listed);
    }
    let ordered = interleave_by_nodepool(listed, unseen_first);
    let remaining = remaining_budgets(input);
    let mut simulator = Simulator::for_consolidation(*input, settings);
    for (position, candidate) in ordered.iter().enumerate() {
        if simulator.runs() >= settings.single_node_max_simulations {
            decision.timed_out = true;
            let unseen: BTreeSet<&str> = ordered[position..]
                .iter()
                .map(|c| c.nodepool.as_str())
                .collect();
            decision.unseen_nodepools = unseen.into_iter().map(str::to_owned).collect();
            break;
        }
        if remaining.get(&candidate.nodepool).copied().unwrap_or(0) == 0 {
            decision.budget_limited = true;
            continue;
        }
        // A Balanced pool that would refuse even a full delete refuses every move of this node.
        let best_case = balanced_scores(input, std::slice::from_ref(candidate), candidate.price);
        if best_case.iter().any(|score| !score.approved) {
            continue;
        }
        let candidates = std::slice::from_ref(candidate);
        match compute_consolidation(
            &mut simulator,
            settings,
            candidates,
            Method::SingleNode,
            rng,
        ) {
            Computed::Command(command) if balanced_approves(input, &command) => {
                decision.command = Some(command);
                break;
            }
            Computed::Command(_) | Computed::NoOp(None) => {}
            Computed::NoOp(Some(message)) => {
                decision
                    .unconsolidatable
                    .push((candidate.node.clone(), message));
            }
        }
    }
    decision.simulations = simulator.runs();
    decision
}

/// Round-robin across NodePools, each pool's candidates keeping their savings-ratio order;
/// pools in `first` lead (in that order), the others follow in order of their best candidate.
pub fn interleave_by_nodepool(candidates: Vec<Candidate>, first: &[String]) -> Vec<Candidate> {
    let mut pool_order: Vec<String> = Vec::new();
    let mut queues: BTreeMap<String, VecDeque<Candidate>> = BTreeMap::new();
    for candidate in candidates {
        if !queues.contains_key(&candidate.nodepool) {
            pool_order.push(candidate.nodepool.clone());
        }
        queues
            .entry(candidate.nodepool.clone())
            .or_default()
            .push_back(candidate);
    }
    let rank = |pool: &String| first.iter().position(|p| p == pool).unwrap_or(usize::MAX);
    // A stable sort keeps best-candidate order among the pools not named in `first`.
    pool_order.sort_by_key(rank);
    let mut ordered = Vec::new();
    loop {
        let before = ordered.len();
        for pool in &pool_order {
            if let Some(candidate) = queues.get_mut(pool).and_then(VecDeque::pop_front) {
                ordered.push(candidate);
            }
        }
        if ordered.len() == before {
            return ordered;
        }
    }
}
