//! joist's consolidation search (beyond upstream; [`SearchMode::Joist`]).
//!
//! Upstream's multi-node search only tries prefixes of the candidate list: when the second
//! candidate cannot join the first (say, its pods need another zone), every prefix fails and
//! multi-node consolidation stops, even if the first and third could merge into one cheaper node.
//! After upstream's search, joist also tries:
//! 0. the largest batch directly (with N → M replacements, validity is not monotone in size);
//! 1. greedy growth: starting from the best move so far, add each remaining candidate (savings
//!    ratio order) and keep it when the move saves strictly more (two thirds of the budget);
//! 2. the prefix binary search within each NodePool's candidates (a prefix mixing pools needs
//!    a NodeClaim per pool, so upstream's search stalls on multi-pool clusters), then within
//!    each group sharing NodePool, zone and capacity type (zonal pods).
//!
//! Together with [`super::consolidation`]'s N → M ≤ N replacements ("pack N small nodes into
//! fewer larger nodes") this finds moves the prefix search cannot. Safety is unchanged: every
//! subset is drawn from the budget-walked candidate list (so it respects every pool's budget),
//! candidates already exclude do-not-disrupt nodes and pods and PDB-blocked pods, and each
//! move is a full scheduling simulation judged by the same rules as upstream's. The search
//! spends at most [`ConsolidationSettings::joist_search_max_simulations`] simulations.

use std::collections::{BTreeMap, BTreeSet};

use super::consolidation::{ConsolidationSettings, SearchMode};
use super::multi_node::{first_n_consolidation, valid_command};
use super::{Candidate, Command, Simulator};
use crate::rng::SeededRng;

/// Improves on `best` (upstream's multi-node result) within the joist search budget; returns
/// `best` unless a move saving strictly more is found.
pub(crate) fn improve(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    mut best: Option<Command>,
    rng: &mut SeededRng,
) -> Option<Command> {
    debug_assert_eq!(settings.search, SearchMode::Joist);
    let budget_end = simulator.runs() + settings.joist_search_max_simulations;
    // Upstream's batch cap holds in joist mode too: a command already at the cap is kept.
    let largest = candidates.len().min(settings.multi_node_max_candidates + 1);
    if best.as_ref().is_some_and(|b| b.candidates.len() >= largest) {
        return best;
    }
    // Validity is not monotone in the batch size once N → M replacements are allowed (three
    // nodes may need an unaffordable odd replacement where four pair up), so the largest batch
    // gets one direct try.
    if largest >= 2 && simulator.runs() < budget_end {
        let found = valid_command(simulator, settings, &candidates[..largest], rng);
        best = better(best, found);
    }
    // Greedy growth first, with two thirds of what is left: it batches the moves single-node
    // consolidation would make one pass at a time, which is most of the work once the easy
    // deletes are done. The group searches get the rest.
    let left = budget_end.saturating_sub(simulator.runs());
    let grow_end = simulator.runs() + left * 2 / 3;
    let search = Search {
        settings,
        candidates,
        largest,
    };
    best = search.grow(simulator, best, grow_end, rng);
    for group in groups(candidates) {
        let left = budget_end.saturating_sub(simulator.runs());
        if left == 0 {
            break;
        }
        let bounded = ConsolidationSettings {
            multi_node_max_simulations: left,
            ..settings.clone()
        };
        let (found, _) = first_n_consolidation(simulator, &bounded, &group, rng);
        best = better(best, found);
    }
    best
}

/// What the greedy growth works on.
struct Search<'s> {
    settings: &'s ConsolidationSettings,
    candidates: &'s [Candidate],
    /// The batch cap.
    largest: usize,
}

impl Search<'_> {
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
            if simulator.runs() >= budget_end || chosen.len() >= self.largest {
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
