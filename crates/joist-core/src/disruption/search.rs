//! joist's consolidation search (beyond upstream; [`SearchMode::Joist`]).
//!
//! Upstream's multi-node search binary-searches prefixes of at most 100 candidates for a move
//! with at most one replacement. Each pass then removes at most ~100 nodes, a prefix that mixes
//! pools or zones fails as a whole, and merged NodeClaims land on the largest (rarely the
//! cheapest) types. joist's multi-node search, run instead of upstream's in joist mode, tries in
//! order, within [`ConsolidationSettings::joist_search_max_simulations`] simulations:
//! 1. the whole budget-walked candidate list (up to
//!    [`ConsolidationSettings::joist_max_candidates`]) in one move; when it is valid it is the
//!    command (one simulation: the common case while the cluster is far from packed);
//! 2. the prefix binary search over that list, with joist's rules;
//! 3. when no prefix works, each NodePool's candidates, then each group sharing NodePool, zone
//!    and capacity type: the whole group, then its prefix binary search;
//! 4. when still nothing is found, greedy growth: add each candidate (in list order) to the
//!    move and keep it when the move then saves strictly more, until the budget is spent.
//!
//! Moves are judged by [`super::consolidation`]'s joist rules: N nodes into any M cheaper
//! NodeClaims packed cost-aware ([`Simulator::for_consolidation`]), and the churn guard (savings
//! of at least [`ConsolidationSettings::min_savings`] per disrupted node, never a candidate's
//! own type at no lower price). Safety is upstream's: every subset is drawn from the
//! budget-walked candidate list (so it respects every pool's `Underutilized` budget),
//! candidates already exclude do-not-disrupt nodes and pods and nodes with PDB-blocked pods,
//! and each move is a full scheduling simulation that must place every bound pod.

use std::collections::{BTreeMap, BTreeSet};

use super::consolidation::{ConsolidationSettings, SearchMode};
use super::multi_node::{first_n_consolidation, valid_command};
use super::{Candidate, Command, Simulator};
use crate::rng::SeededRng;

/// joist's multi-node search over `candidates` (budget-walked, savings-ratio order). Returns
/// the best move found and whether the simulation budget ran out before the search ended.
pub(crate) fn search(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    rng: &mut SeededRng,
) -> (Option<Command>, bool) {
    debug_assert_eq!(settings.search, SearchMode::Joist);
    let budget_end = simulator.runs() + settings.joist_search_max_simulations;
    let largest = candidates.len().min(settings.joist_max_candidates);
    if largest < 2 {
        // One candidate: joist's multi-node also makes a single move (judged by single-node
        // rules), so a pass needs no single-node walk for it.
        let single = candidates
            .first()
            .and_then(|c| valid_command(simulator, settings, std::slice::from_ref(c), rng));
        return (single, false);
    }
    let whole = &candidates[..largest];
    if let Some(command) = valid_command(simulator, settings, whole, rng) {
        return (Some(command), false);
    }
    let mut best = prefix_search(simulator, settings, whole, budget_end, rng);
    if best.is_none() {
        // No prefix works: the list may mix pools or zones that cannot share NodeClaims.
        for group in groups(whole) {
            if simulator.runs() >= budget_end {
                return (best, true);
            }
            let found = valid_command(simulator, settings, &group, rng)
                .or_else(|| prefix_search(simulator, settings, &group, budget_end, rng));
            best = better(best, found);
        }
    }
    if best.is_none() {
        // Nothing found in shape: grow a non-prefix move one candidate at a time. Growing a
        // found move instead would spend a simulation per candidate for little: the next pass
        // takes the rest of the list anyway.
        let grow = Grow {
            settings,
            candidates: whole,
        };
        best = grow.grow(simulator, best, budget_end, rng);
    }
    (best, simulator.runs() >= budget_end)
}

/// The prefix binary search (upstream's shape, joist's rules and batch cap) over prefixes
/// shorter than `candidates`, stopping at `budget_end`.
fn prefix_search(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    budget_end: usize,
    rng: &mut SeededRng,
) -> Option<Command> {
    let left = budget_end.saturating_sub(simulator.runs());
    if left == 0 || candidates.len() < 3 {
        return None;
    }
    let bounded = ConsolidationSettings {
        multi_node_max_simulations: left,
        multi_node_max_candidates: candidates.len() - 2,
        ..settings.clone()
    };
    first_n_consolidation(simulator, &bounded, candidates, rng).0
}

/// What the greedy growth works on.
struct Grow<'s> {
    settings: &'s ConsolidationSettings,
    /// The candidates it may add, in order; all of them together is the batch cap.
    candidates: &'s [Candidate],
}

impl Grow<'_> {
    /// Greedy growth from `best`: each remaining candidate, in savings-ratio order, joins the
    /// move when the move then saves strictly more; stops at the batch cap or `budget_end`.
    fn grow(
        &self,
        simulator: &mut Simulator<'_>,
        mut best: Option<Command>,
        budget_end: usize,
        rng: &mut SeededRng,
    ) -> Option<Command> {
        let mut chosen: Vec<Candidate> = best
            .as_ref()
            .map_or_else(Vec::new, |c| c.candidates.clone());
        for candidate in self.candidates {
            if simulator.runs() >= budget_end || chosen.len() + 1 >= self.candidates.len() {
                break;
            }
            if chosen.iter().any(|c| c.node == candidate.node) {
                continue;
            }
            let mut trial = chosen.clone();
            trial.push(candidate.clone());
            if let Some(command) = valid_command(simulator, self.settings, &trial, rng)
                && savings(best.as_ref()) < command.savings
            {
                chosen = trial;
                best = Some(command);
            }
        }
        best
    }
}

/// NodePool, zone and capacity type of a candidate.
type GroupKey<'c> = (&'c str, Option<&'c str>, Option<&'c str>);

/// Groups of at least two candidates likely to share replacements, each in savings-ratio
/// order: first per NodePool (a prefix mixing pools needs one NodeClaim per pool, so upstream's
/// search stalls on clusters with several pools), then per NodePool, zone and capacity type
/// (zonal pods). Larger groups first; a group equal to the whole list or to an earlier group
/// is left out (already searched).
fn groups(candidates: &[Candidate]) -> Vec<Vec<Candidate>> {
    let mut by_pool: BTreeMap<&str, Vec<Candidate>> = BTreeMap::new();
    let mut by_key: BTreeMap<GroupKey<'_>, Vec<Candidate>> = BTreeMap::new();
    for candidate in candidates {
        let key = (
            candidate.nodepool.as_str(),
            candidate.zone.as_deref(),
            candidate.capacity_type.as_deref(),
        );
        by_pool
            .entry(candidate.nodepool.as_str())
            .or_default()
            .push(candidate.clone());
        by_key.entry(key).or_default().push(candidate.clone());
    }
    let mut pools: Vec<Vec<Candidate>> = by_pool.into_values().collect();
    let mut zonal: Vec<Vec<Candidate>> = by_key.into_values().collect();
    pools.sort_by_key(|g| std::cmp::Reverse(g.len()));
    zonal.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    for group in pools.into_iter().chain(zonal) {
        let whole = group.len() == candidates.len();
        let seen = groups
            .iter()
            .any(|g| g.len() == group.len() && g[0].node == group[0].node);
        if group.len() >= 2 && !whole && !seen {
            groups.push(group);
        }
    }
    groups
}

fn savings(command: Option<&Command>) -> f64 {
    command.map_or(0.0, |c| c.savings)
}

/// The command saving more; ties keep the first (upstream's).
fn better(current: Option<Command>, found: Option<Command>) -> Option<Command> {
    match (current, found) {
        (Some(current), Some(found)) if found.savings > current.savings => Some(found),
        (None, found) => found,
        (current, _) => current,
    }
}

/// The node names of a command, for tests and reports.
pub fn command_nodes(command: &Command) -> BTreeSet<&str> {
    command.candidates.iter().map(|c| c.node.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(node: &str, pool: &str, zone: &str) -> Candidate {
        Candidate {
            node: node.into(),
            nodepool: pool.into(),
            instance_type: None,
            capacity_type: Some("on-demand".into()),
            zone: Some(zone.into()),
            reschedulable_pods: Vec::new(),
            price: 1.0,
            disruption_cost: 1.0,
            reschedule_disruption_cost: 2.0,
        }
    }

    fn names(groups: &[Vec<Candidate>]) -> Vec<Vec<&str>> {
        groups
            .iter()
            .map(|g| g.iter().map(|c| c.node.as_str()).collect())
            .collect()
    }

    #[test]
    fn groups_are_per_pool_then_per_zone_without_repeats() {
        let list = vec![
            candidate("n1", "a", "z1"),
            candidate("n2", "b", "z1"),
            candidate("n3", "a", "z2"),
            candidate("n4", "b", "z1"),
            candidate("n5", "a", "z2"),
        ];
        assert_eq!(
            names(&groups(&list)),
            vec![vec!["n1", "n3", "n5"], vec!["n2", "n4"], vec!["n3", "n5"]],
            "pool b's zonal group equals the pool group; singletons are left out"
        );
        let one_pool = vec![candidate("n1", "a", "z1"), candidate("n2", "a", "z1")];
        assert!(
            groups(&one_pool).is_empty(),
            "the whole list was searched already"
        );
    }
}
