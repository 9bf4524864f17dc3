//! Multi-node consolidation (spec core §4.7, upstream `MultiNodeConsolidation`): the largest
//! prefix of the candidates (by savings ratio, within budgets, at most 100) that can go at once
//! with at most one cheaper replacement, found by binary search.
//!
//! In [`SearchMode::Joist`] the search is joist's instead (`disruption/search.rs`).
//!
//! Upstream bounds the search by a 1-minute wall-clock timeout. The core reads no clock, so the
//! bound is a budget of work instead: [`ConsolidationSettings::multi_node_max_simulations`]
//! simulations. When it runs out the last valid command is returned and
//! [`ConsolidationDecision::timed_out`] is set, as upstream does on timeout.

use super::consolidation::{
    Computed, ConsolidationDecision, ConsolidationSettings, Method, SearchMode,
    compute_consolidation, list_candidates, remaining_budgets,
};
use super::{Candidate, Command, DisruptionInput, Simulator, balanced_approves, search};
use crate::rng::SeededRng;

/// Runs multi-node consolidation on `input`.
pub fn multi_node_consolidation(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    rng: &mut SeededRng,
) -> ConsolidationDecision {
    let mut decision = ConsolidationDecision::default();
    let mut listed = list_candidates(input, &mut decision);
    if settings.search == SearchMode::Joist {
        listed = super::waste::order_by_waste(input, listed);
    }
    let mut remaining = remaining_budgets(input);
    let mut candidates = Vec::with_capacity(listed.len());
    // Walking in savings-ratio order and spending budget as we go means every prefix (and, for
    // joist's search, every subset) of the list respects every pool's budget.
    for candidate in listed {
        match remaining.get_mut(&candidate.nodepool) {
            Some(left) if *left > 0 => {
                *left -= 1;
                candidates.push(candidate);
            }
            _ => decision.budget_limited = true,
        }
    }
    let mut simulator = Simulator::for_consolidation(*input, settings);
    let (command, timed_out) = match settings.search {
        SearchMode::Upstream => first_n_consolidation(&mut simulator, settings, &candidates, rng),
        SearchMode::Joist => search::search(&mut simulator, settings, &candidates, rng),
    };
    decision.timed_out = timed_out;
    decision.command = command;
    decision.simulations = simulator.runs();
    decision
}

/// Upstream `firstNConsolidationOption`: binary search for the longest valid prefix, batch
/// sizes 2 up to `min(n, max + 1)` (upstream's off-by-one kept). Returns the last valid command
/// and whether the work budget ran out.
pub(crate) fn first_n_consolidation(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    rng: &mut SeededRng,
) -> (Option<Command>, bool) {
    if candidates.len() < 2 {
        return (None, false);
    }
    let budget_end = simulator.runs() + settings.multi_node_max_simulations;
    let mut lo = 1;
    let mut hi = (candidates.len() - 1).min(settings.multi_node_max_candidates);
    let mut last_valid = None;
    while lo <= hi {
        if simulator.runs() >= budget_end {
            return (last_valid, true);
        }
        let mid = (lo + hi) / 2;
        let prefix = &candidates[..=mid];
        match valid_command(simulator, settings, prefix, rng) {
            Some(command) => {
                last_valid = Some(command);
                lo = mid + 1;
            }
            None => hi = mid - 1,
        }
    }
    (last_valid, false)
}

/// A multi-node command for exactly `candidates`, if consolidation yields one that every
/// Balanced pool approves.
pub(crate) fn valid_command(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    rng: &mut SeededRng,
) -> Option<Command> {
    // joist's search also tries single nodes: those keep single-node rules (spot-to-spot's 15).
    let method = if candidates.len() == 1 {
        Method::SingleNode
    } else {
        Method::MultiNode
    };
    match compute_consolidation(simulator, settings, candidates, method, rng) {
        Computed::Command(command) if balanced_approves(simulator.input(), &command) => {
            Some(command)
        }
        _ => None,
    }
}
