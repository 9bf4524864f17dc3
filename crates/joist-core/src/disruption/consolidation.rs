//! What consolidation shares (spec core §4.9, upstream `consolidation.ShouldDisrupt` and
//! `computeConsolidation`): which candidates it may consider, and the delete-or-replace decision
//! for a set of candidates from one scheduling simulation.
//!
//! Every "why not" is data: [`Computed::NoOp`] carries upstream's `Unconsolidatable` text, which
//! upstream only publishes when a single candidate was simulated.

use std::collections::BTreeMap;

use super::replacement::{replace_many, replace_one};
use super::{
    Candidate, Command, ConsolidationPolicy, DisruptionInput, SimulationResult, Simulator,
};
use crate::labels::{CAPACITY_TYPE, ZONE};
use crate::nodepool::budgets::DisruptionReason;
use crate::rng::SeededRng;
use crate::scheduling::SchedulingSettings;

/// How consolidation searches for moves (joist's search is described in `disruption/search.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Exactly upstream: prefix binary search for multi-node, one replacement at most, no floor.
    Upstream,
    /// joist's search (`disruption/search.rs`) instead of upstream's multi-node search: the whole
    /// budget-walked batch first, then prefixes, per-pool and per-zone groups and greedy
    /// non-prefix growth; candidates ordered by estimated waste (`disruption/waste.rs`);
    /// simulations packed cost-aware so N nodes may go into any M cheaper NodeClaims; and the
    /// churn guard (a savings floor per disrupted node, no same-type-same-price replacement).
    /// The default. A move upstream makes below the floor is not made.
    #[default]
    Joist,
}

/// The explicit options of consolidation (no globals: feature gates and limits are fields).
#[derive(Debug, Clone)]
pub struct ConsolidationSettings {
    /// The options of the scheduling simulations (reserved offerings are forced to fallback).
    pub scheduling: SchedulingSettings,
    /// The `SpotToSpotConsolidation` feature gate (default off upstream).
    pub spot_to_spot: bool,
    /// Upstream-exact or joist search.
    pub search: SearchMode,
    /// Joist mode only: moves saving less than this many dollars per hour **per disrupted
    /// node** are not made (the churn floor). Upstream mode makes any strictly cheaper move.
    pub min_savings: f64,
    /// Multi-node consolidation considers at most this many candidates (upstream: 100).
    pub multi_node_max_candidates: usize,
    /// The multi-node search's work budget in simulations. Upstream bounds the search by a
    /// 1-minute wall-clock timeout; the core reads no clock, so a budget of work stands in for
    /// it (the prefix binary search over 100 candidates needs at most 7).
    pub multi_node_max_simulations: usize,
    /// The single-node walk's work budget in simulations (upstream: a 3-minute timeout).
    pub single_node_max_simulations: usize,
    /// Joist mode: simulations the wider search may spend.
    pub joist_search_max_simulations: usize,
    /// Joist mode: the most candidates one command may take (upstream's batch cap is
    /// [`Self::multi_node_max_candidates`], 100). Budgets bound every batch anyway; this bounds
    /// the size of one simulation (250 keeps a pass at 5,000 nodes within a few seconds).
    pub joist_max_candidates: usize,
}

impl Default for ConsolidationSettings {
    fn default() -> Self {
        Self {
            scheduling: SchedulingSettings::default(),
            spot_to_spot: false,
            search: SearchMode::default(),
            min_savings: 0.01,
            multi_node_max_candidates: 100,
            multi_node_max_simulations: 16,
            single_node_max_simulations: 200,
            joist_search_max_simulations: 24,
            joist_max_candidates: 250,
        }
    }
}

/// Which consolidation method is computing (messages and spot-to-spot rules differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Multi-node consolidation (§4.7).
    MultiNode,
    /// Single-node consolidation (§4.8).
    SingleNode,
}

/// The outcome of [`compute_consolidation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Computed {
    /// A delete or replace command.
    Command(Command),
    /// Nothing to do, with upstream's `Unconsolidatable` text when it has one.
    NoOp(Option<String>),
}

/// Whether consolidation may consider a candidate (upstream `consolidation.ShouldDisrupt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// It may.
    Yes,
    /// It may not, silently (static pool, empty, not `Consolidatable`).
    No,
    /// It may not; upstream emits `Unconsolidatable` with this text.
    Unconsolidatable(String),
}

/// Upstream `consolidation.ShouldDisrupt` (spec core §4.9), checks in upstream's order.
pub fn consolidation_eligibility(
    input: &DisruptionInput<'_>,
    candidate: &Candidate,
) -> Eligibility {
    let snapshot = input.snapshot;
    let is_static = snapshot
        .nodepools
        .iter()
        .any(|pool| pool.name == candidate.nodepool && pool.is_static());
    if is_static {
        return Eligibility::No;
    }
    let type_known = candidate.instance_type.as_deref().is_some_and(|name| {
        snapshot
            .instance_types
            .get(&candidate.nodepool)
            .is_some_and(|types| types.iter().any(|it| it.name == name))
    });
    if !type_known {
        return Eligibility::Unconsolidatable(format!(
            "Instance Type {:?} not found",
            candidate.instance_type.as_deref().unwrap_or_default()
        ));
    }
    for (value, label) in [
        (&candidate.capacity_type, CAPACITY_TYPE),
        (&candidate.zone, ZONE),
    ] {
        if value.is_none() {
            return Eligibility::Unconsolidatable(format!("Node does not have label {label:?}"));
        }
    }
    let pool = input.pool(&candidate.nodepool);
    if pool.consolidate_after.is_never() {
        return Eligibility::Unconsolidatable(format!(
            "NodePool {:?} has consolidation disabled",
            candidate.nodepool
        ));
    }
    if candidate.is_empty() {
        return Eligibility::No;
    }
    if pool.consolidation_policy == ConsolidationPolicy::WhenEmpty {
        return Eligibility::Unconsolidatable(format!(
            "NodePool {:?} has consolidation policy WhenEmpty, but node is not empty",
            candidate.nodepool
        ));
    }
    if input.node_state(&candidate.node).consolidatable {
        Eligibility::Yes
    } else {
        Eligibility::No
    }
}

/// Upstream `computeConsolidation`: simulates removing `candidates` and turns the result into a
/// delete, a replace, or a no-op with its reason.
pub fn compute_consolidation(
    simulator: &mut Simulator<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    method: Method,
    rng: &mut SeededRng,
) -> Computed {
    let names: Vec<&str> = candidates.iter().map(|c| c.node.as_str()).collect();
    let Ok(result) = simulator.simulate(&names, rng) else {
        // A candidate started deleting meanwhile (or vanished): upstream retries next pass.
        return Computed::NoOp(None);
    };
    decide(simulator.input(), settings, candidates, method, result)
}

/// The decision part of [`compute_consolidation`], on a finished simulation.
pub(crate) fn decide(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    method: Method,
    result: SimulationResult,
) -> Computed {
    if !result.all_non_pending_scheduled() {
        return Computed::NoOp(Some(result.unschedulable_message()));
    }
    let destinations = result.destinations();
    let claims = result.new_nodeclaims;
    let joist = settings.search == SearchMode::Joist;
    let computed = match claims.len() {
        0 => {
            let mut command = Command::delete(
                DisruptionReason::Underutilized,
                candidates.to_vec(),
                format!(
                    "all pods of {} node(s) fit on other nodes",
                    candidates.len()
                ),
            );
            command.destinations = destinations.clone();
            Computed::Command(command)
        }
        1 => replace_one(input, settings, candidates, method, claims),
        // joist: N nodes into any M cheaper NodeClaims (cost-aware packing may split even one
        // node's pods when that is cheaper, e.g. over small spot types).
        _ if joist => replace_many(input, settings, candidates, claims),
        n => Computed::NoOp(Some(format!(
            "Can't remove without creating {n} candidates"
        ))),
    };
    match computed {
        Computed::Command(mut command) => {
            command.destinations = destinations;
            if joist && let Some(message) = churn_guard(settings, &command) {
                return Computed::NoOp(Some(message));
            }
            Computed::Command(command)
        }
        noop => noop,
    }
}

/// Joist's churn guard: no move below the savings floor ([`ConsolidationSettings::min_savings`]
/// per candidate), and no replacement whose launch
/// choice is a candidate's own instance type at no lower price.
fn churn_guard(settings: &ConsolidationSettings, command: &Command) -> Option<String> {
    // Per disrupted node: a large batch must pay for every node it disrupts, or each pass could
    // churn a tenth of the fleet for a cent (and passes would take ages to converge).
    let floor = settings.min_savings * command.candidates.len().max(1) as f64;
    if command.savings < floor {
        return Some(format!(
            "Savings ${:.4}/h are below the consolidation floor ${floor:.4}/h",
            command.savings
        ));
    }
    let same = command.replacements.iter().any(|r| {
        r.options.first().is_some_and(|first| {
            command.candidates.iter().any(|c| {
                c.instance_type.as_deref() == Some(first.name.as_str()) && first.price >= c.price
            })
        })
    });
    same.then(|| String::from("Replacement is the same instance type at no lower price"))
}

/// What one consolidation method decided in a pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsolidationDecision {
    /// The command to validate (after 15 s, [`super::validate_command`]) and start, if any.
    pub command: Option<Command>,
    /// Nodes that are not candidates at all, with why (`DisruptionBlocked` events).
    pub blocked: Vec<(String, super::BlockReason)>,
    /// `Unconsolidatable` events: node and upstream's text.
    pub unconsolidatable: Vec<(String, String)>,
    /// Whether a candidate was skipped only for its pool's budget: the driver must then not
    /// record the cluster as consolidated.
    pub budget_limited: bool,
    /// Whether the work budget ran out (upstream's timeout; counter
    /// `karpenter_voluntary_disruption_consolidation_timeouts_total`).
    pub timed_out: bool,
    /// Single-node only: NodePools not reached because the work budget ran out, to go first
    /// next pass.
    pub unseen_nodepools: Vec<String>,
    /// `karpenter_voluntary_disruption_eligible_nodes{reason="underutilized"}`.
    pub eligible_nodes: usize,
    /// Simulations run.
    pub simulations: usize,
}

/// Candidates consolidation may consider, by descending savings ratio, with the others'
/// reasons recorded in `decision`.
pub(crate) fn list_candidates(
    input: &DisruptionInput<'_>,
    decision: &mut ConsolidationDecision,
) -> Vec<Candidate> {
    let set = super::CandidateSet::build(input, super::DisruptionClass::Graceful);
    decision.eligible_nodes = set.candidates.len();
    decision.blocked = set.blocked;
    let mut eligible = Vec::new();
    for candidate in set.candidates {
        match consolidation_eligibility(input, &candidate) {
            Eligibility::Yes => eligible.push(candidate),
            Eligibility::No => {}
            Eligibility::Unconsolidatable(message) => {
                decision
                    .unconsolidatable
                    .push((candidate.node.clone(), message));
            }
        }
    }
    eligible
}

/// Each pool's remaining `Underutilized` budget.
pub(crate) fn remaining_budgets(input: &DisruptionInput<'_>) -> BTreeMap<String, usize> {
    super::pool_allowances(input, DisruptionReason::Underutilized)
        .into_iter()
        .map(|(pool, allowance)| (pool, allowance.remaining))
        .collect()
}
