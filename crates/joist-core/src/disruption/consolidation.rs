//! What consolidation shares (spec core §4.9, upstream `consolidation.ShouldDisrupt` and
//! `computeConsolidation`): which candidates it may consider, and the delete-or-replace decision
//! for a set of candidates from one scheduling simulation.
//!
//! Every "why not" is data: [`Computed::NoOp`] carries upstream's `Unconsolidatable` text, which
//! upstream only publishes when a single candidate was simulated.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::simulate::{price_option, sort_options};
use super::{
    Candidate, Command, ConsolidationPolicy, Decision, DisruptionInput, InstanceTypeOption,
    Replacement, SimulatedNodeClaim, SimulationResult, Simulator, allowed_capacity_types,
};
use crate::instancetype::InstanceType;
use crate::labels::ZONE;
use crate::labels::{CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, INSTANCE_TYPE};
use crate::nodepool::budgets::DisruptionReason;
use crate::requirements::{Requirement, Requirements};
use crate::rng::SeededRng;
use crate::scheduling::SchedulingSettings;

/// Upstream `MinInstanceTypesForSpotToSpotConsolidation`.
pub const MIN_SPOT_TO_SPOT_OPTIONS: usize = 15;

/// How consolidation searches for moves (joist's search is described in `disruption/search.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Exactly upstream: prefix binary search for multi-node, one replacement at most, no floor.
    Upstream,
    /// Upstream's search first, then joist's wider search (largest batch, per-pool and per-zone
    /// prefixes, greedy non-prefix growth, N nodes into M ≤ N replacements) and the churn guard
    /// (savings floor, no same-type-same-price replacement). The default: its multi-node search
    /// starts from upstream's result and only returns another move when that saves strictly
    /// more; its per-move rules differ (N → M, the floor), so a move upstream makes below the
    /// floor is not made.
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
    /// Joist mode only: moves saving less than this many dollars per hour are not made (the
    /// churn floor). Upstream mode makes any strictly cheaper move.
    pub min_savings: f64,
    /// Multi-node consolidation considers at most this many candidates (upstream: 100).
    pub multi_node_max_candidates: usize,
    /// The multi-node search's work budget in simulations. Upstream bounds the search by a
    /// 1-minute wall-clock timeout; the core reads no clock, so a budget of work stands in for
    /// it (the prefix binary search over 100 candidates needs at most 7).
    pub multi_node_max_simulations: usize,
    /// The single-node walk's work budget in simulations (upstream: a 3-minute timeout).
    pub single_node_max_simulations: usize,
    /// Joist mode: simulations the wider search may spend after upstream's search.
    pub joist_search_max_simulations: usize,
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
        n if joist && candidates.len() > 1 && n <= candidates.len() => {
            replace_many(input, settings, candidates, claims)
        }
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

/// Joist's churn guard: no move below the savings floor, and no replacement whose launch
/// choice is a candidate's own instance type at no lower price.
fn churn_guard(settings: &ConsolidationSettings, command: &Command) -> Option<String> {
    if command.savings < settings.min_savings {
        return Some(format!(
            "Savings ${:.4}/h are below the consolidation floor ${:.4}/h",
            command.savings, settings.min_savings
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

/// One replacement (upstream's only replace shape): price filter, spot rules, forced spot.
fn replace_one(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    method: Method,
    mut claims: Vec<SimulatedNodeClaim>,
) -> Computed {
    let Some(claim) = claims.pop() else {
        return Computed::NoOp(None);
    };
    let types = pool_types(input, &claim.nodeclaim.nodepool);
    let candidate_price: f64 = candidates.iter().map(|c| c.price).sum();
    let mut bound = candidate_price;
    if method == Method::MultiNode || settings.search == SearchMode::Joist {
        // Upstream `filterOutSameInstanceType` (multi-node only upstream; joist always): merging
        // into a candidate's own type must beat that candidate's price, or deleting the others
        // is the better move.
        bound = bound.min(same_type_bound(candidates, &claim.options));
    }
    let all_spot = candidates
        .iter()
        .all(|c| c.capacity_type.as_deref() == Some(CAPACITY_TYPE_SPOT));
    let allows_spot = claim
        .nodeclaim
        .requirements
        .get(CAPACITY_TYPE)
        .has(CAPACITY_TYPE_SPOT);
    let replacement = if all_spot && allows_spot {
        spot_to_spot(settings, &types, claim, bound, method)
    } else {
        on_demand_to_cheaper(&types, claim, bound)
    };
    match replacement {
        Ok(replacement) => Computed::Command(replace_command(candidates, vec![replacement])),
        Err(message) => Computed::NoOp(Some(message)),
    }
}

/// The non-spot-to-spot path: keep options whose worst launch price beats `bound`; when spot
/// and on-demand both remain allowed, force spot (the prices assumed spot would launch).
fn on_demand_to_cheaper(
    types: &BTreeMap<&str, &InstanceType>,
    claim: SimulatedNodeClaim,
    bound: f64,
) -> Result<Replacement, String> {
    let options = filter_by_price(types, &claim, bound)?;
    if options.is_empty() {
        return Err(CANT_REPLACE_CHEAPER.into());
    }
    let mut requirements = claim.nodeclaim.requirements.clone();
    let capacity = requirements.get(CAPACITY_TYPE);
    if capacity.has(CAPACITY_TYPE_SPOT) && capacity.has(CAPACITY_TYPE_ON_DEMAND) {
        requirements.add(Requirement::in_values(CAPACITY_TYPE, [CAPACITY_TYPE_SPOT]));
    }
    Ok(finish(types, claim, requirements, &options))
}

/// Upstream `computeSpotToSpotConsolidation`.
fn spot_to_spot(
    settings: &ConsolidationSettings,
    types: &BTreeMap<&str, &InstanceType>,
    mut claim: SimulatedNodeClaim,
    bound: f64,
    method: Method,
) -> Result<Replacement, String> {
    if !settings.spot_to_spot {
        return Err(
            "SpotToSpotConsolidation is disabled, can't replace a spot node with a spot node"
                .into(),
        );
    }
    let mut requirements = claim.nodeclaim.requirements.clone();
    requirements.add(Requirement::in_values(CAPACITY_TYPE, [CAPACITY_TYPE_SPOT]));
    claim.options = reprice(types, &claim.options, &requirements)
        .into_iter()
        .filter(|o| o.price < f64::MAX)
        .collect();
    claim.nodeclaim.requirements = requirements.clone();
    let mut options = filter_by_price(types, &claim, bound)?;
    if options.is_empty() {
        return Err(CANT_REPLACE_CHEAPER.into());
    }
    if method == Method::SingleNode {
        if options.len() < MIN_SPOT_TO_SPOT_OPTIONS {
            return Err(format!(
                "SpotToSpotConsolidation requires {MIN_SPOT_TO_SPOT_OPTIONS} cheaper instance \
                 type options than the current candidate to consolidate, got {}",
                options.len()
            ));
        }
        let needed = min_values_needed(types, &options, &requirements).unwrap_or(0);
        options.truncate(MIN_SPOT_TO_SPOT_OPTIONS.max(needed));
    }
    Ok(finish(types, claim, requirements, &options))
}

/// Joist's N → M ≤ N replacements (several candidates, several NodeClaims): every replacement
/// keeps only options whose worst launch price keeps the total strictly below the candidates'
/// price whatever the others launch. M < N packs small nodes into fewer larger ones; M = N
/// batches replacements that single-node consolidation would make one pass at a time.
fn replace_many(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    claims: Vec<SimulatedNodeClaim>,
) -> Computed {
    let candidate_price: f64 = candidates.iter().map(|c| c.price).sum();
    let all_spot = candidates
        .iter()
        .all(|c| c.capacity_type.as_deref() == Some(CAPACITY_TYPE_SPOT));
    if all_spot && !settings.spot_to_spot {
        return Computed::NoOp(Some(
            "SpotToSpotConsolidation is disabled, can't replace a spot node with a spot node"
                .into(),
        ));
    }
    // The churn guard per option: a candidate's own type stays only when strictly cheaper than
    // that candidate (upstream's multi-node rule bounds every option by it instead, which would
    // refuse a large merged NodeClaim because one of its options is some candidate's type).
    let claims: Vec<SimulatedNodeClaim> = claims
        .into_iter()
        .map(|mut claim| {
            claim
                .options
                .retain(|o| !same_type_not_cheaper(candidates, o));
            claim
        })
        .collect();
    let cheapest_worst: Vec<f64> = claims
        .iter()
        .map(|c| {
            c.options
                .iter()
                .map(|o| o.worst_launch_price)
                .fold(f64::MAX, f64::min)
        })
        .collect();
    let total: f64 = cheapest_worst.iter().sum();
    if total >= candidate_price {
        return Computed::NoOp(Some(CANT_REPLACE_CHEAPER.into()));
    }
    let mut replacements = Vec::with_capacity(claims.len());
    for (claim, worst) in claims.into_iter().zip(&cheapest_worst) {
        let types = pool_types(input, &claim.nodeclaim.nodepool);
        // Whatever the others launch (at worst their cheapest worst case), this one keeps the
        // total strictly below the candidates' price.
        let bound = candidate_price - (total - worst);
        match on_demand_to_cheaper(&types, claim, bound) {
            Ok(replacement) => replacements.push(replacement),
            Err(message) => return Computed::NoOp(Some(message)),
        }
    }
    Computed::Command(replace_command(candidates, replacements))
}

const CANT_REPLACE_CHEAPER: &str = "Can't replace with a cheaper node";

/// Whether `option` is the instance type of a candidate and would not launch strictly cheaper
/// than that candidate.
fn same_type_not_cheaper(candidates: &[Candidate], option: &InstanceTypeOption) -> bool {
    candidates.iter().any(|c| {
        c.instance_type.as_deref() == Some(option.name.as_str())
            && option.worst_launch_price >= c.price
    })
}

/// Upstream `filterOutSameInstanceType`'s price bound: the cheapest price of a candidate whose
/// instance type is among the options (unbounded when none is).
fn same_type_bound(candidates: &[Candidate], options: &[InstanceTypeOption]) -> f64 {
    let names: BTreeSet<&str> = options.iter().map(|o| o.name.as_str()).collect();
    candidates
        .iter()
        .filter(|c| {
            c.instance_type
                .as_deref()
                .is_some_and(|t| names.contains(t))
        })
        .map(|c| c.price)
        .fold(f64::MAX, f64::min)
}

/// Upstream `RemoveInstanceTypeOptionsByPriceAndMinValues`: options whose worst launch price is
/// strictly below `bound`, in price order; an error when what remains breaks a `minValues`.
fn filter_by_price(
    types: &BTreeMap<&str, &InstanceType>,
    claim: &SimulatedNodeClaim,
    bound: f64,
) -> Result<Vec<InstanceTypeOption>, String> {
    let options: Vec<InstanceTypeOption> = claim
        .options
        .iter()
        .filter(|o| o.worst_launch_price < bound)
        .cloned()
        .collect();
    min_values_needed(types, &options, &claim.nodeclaim.requirements)
        .map_err(|message| format!("Filtering by price: {message}"))?;
    Ok(options)
}

/// Upstream `SatisfiesMinValues`: how many of `options` (in order) are needed to meet every
/// `minValues`, or upstream's error text naming the unmet keys.
pub(crate) fn min_values_needed(
    types: &BTreeMap<&str, &InstanceType>,
    options: &[InstanceTypeOption],
    requirements: &Requirements,
) -> Result<usize, String> {
    let keyed: Vec<(&str, u32)> = requirements
        .iter()
        .filter_map(|r| r.min_values().map(|m| (r.key(), m)))
        .collect();
    if keyed.is_empty() {
        return Ok(0);
    }
    let mut seen: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); keyed.len()];
    let met = |seen: &[BTreeSet<&str>]| {
        keyed
            .iter()
            .zip(seen)
            .all(|((_, min), values)| values.len() >= *min as usize)
    };
    for (count, option) in options.iter().enumerate() {
        if let Some(it) = types.get(option.name.as_str()) {
            for ((key, _), values) in keyed.iter().zip(seen.iter_mut()) {
                if let Some(r) = it.requirements.find(key) {
                    values.extend(r.values());
                }
            }
        }
        if met(&seen) {
            return Ok(count + 1);
        }
    }
    let unmet: Vec<&str> = keyed
        .iter()
        .zip(&seen)
        .filter(|((_, min), values)| values.len() < *min as usize)
        .map(|((key, _), _)| *key)
        .collect();
    Err(format!(
        "minValues requirement is not met for label(s) (label(s)=[{}])",
        unmet.join(" ")
    ))
}

/// A NodePool's instance types by name.
fn pool_types<'i>(
    input: &DisruptionInput<'i>,
    nodepool: &str,
) -> BTreeMap<&'i str, &'i InstanceType> {
    input
        .snapshot
        .instance_types
        .get(nodepool)
        .map(|types| types.iter().map(|it| (it.name.as_str(), it)).collect())
        .unwrap_or_default()
}

/// Prices `options` again under `requirements`, cheapest first.
fn reprice(
    types: &BTreeMap<&str, &InstanceType>,
    options: &[InstanceTypeOption],
    requirements: &Requirements,
) -> Vec<InstanceTypeOption> {
    let mut priced: Vec<InstanceTypeOption> = options
        .iter()
        .filter_map(|o| types.get(o.name.as_str()))
        .map(|it| price_option(it, requirements))
        .collect();
    sort_options(&mut priced);
    priced
}

/// The replacement for `claim` narrowed to `options` under `requirements`.
fn finish(
    types: &BTreeMap<&str, &InstanceType>,
    claim: SimulatedNodeClaim,
    mut requirements: Requirements,
    options: &[InstanceTypeOption],
) -> Replacement {
    requirements.add(Requirement::in_values(
        INSTANCE_TYPE,
        options.iter().map(|o| o.name.as_str()),
    ));
    let options = reprice(types, options, &requirements);
    let mut nodeclaim = claim.nodeclaim;
    nodeclaim.instance_types = options
        .iter()
        .map(|o| Arc::<str>::from(o.name.as_str()))
        .collect();
    nodeclaim.requirements = requirements;
    let price = options.first().map_or(0.0, |o| o.price);
    Replacement {
        capacity_types: allowed_capacity_types(&nodeclaim.requirements),
        nodeclaim,
        options,
        price,
    }
}

fn replace_command(candidates: &[Candidate], replacements: Vec<Replacement>) -> Command {
    let candidate_price: f64 = candidates.iter().map(|c| c.price).sum();
    let replacement_price: f64 = replacements.iter().map(|r| r.price).sum();
    let savings = candidate_price - replacement_price;
    let cheapest: Vec<&str> = replacements
        .iter()
        .filter_map(|r| r.options.first().map(|o| o.name.as_str()))
        .collect();
    Command {
        reason: DisruptionReason::Underutilized,
        decision: Decision::Replace,
        explanation: format!(
            "replacing {} node(s) costing ${candidate_price:.4}/h with {} node(s) from \
             [{}] costing ${replacement_price:.4}/h",
            candidates.len(),
            replacements.len(),
            cheapest.join(", ")
        ),
        candidates: candidates.to_vec(),
        replacements,
        destinations: Vec::new(),
        savings,
    }
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
