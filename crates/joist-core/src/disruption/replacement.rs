//! Pricing replacements (spec core §4.9, the replace half of upstream `computeConsolidation`):
//! which instance types a replacement NodeClaim may keep, the spot-to-spot rules, forced spot,
//! and joist's N → M replacements.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::consolidation::{ConsolidationSettings, Method, SearchMode};
use super::simulate::{price_option, sort_options};
use super::{
    Candidate, Command, Computed, Decision, DisruptionInput, InstanceTypeOption, Replacement,
    SimulatedNodeClaim, allowed_capacity_types,
};
use crate::instancetype::InstanceType;
use crate::labels::{CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, INSTANCE_TYPE};
use crate::nodepool::budgets::DisruptionReason;
use crate::requirements::{Requirement, Requirements};

/// Upstream `MinInstanceTypesForSpotToSpotConsolidation`.
pub const MIN_SPOT_TO_SPOT_OPTIONS: usize = 15;

/// One replacement (upstream's only replace shape): price filter, spot rules, forced spot.
pub(super) fn replace_one(
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

/// Joist's N → M replacements (one or more candidates, several NodeClaims): every replacement
/// keeps only options whose worst launch price keeps the total strictly below the candidates'
/// price whatever the others launch. M < N packs small nodes into fewer larger ones; M = N
/// batches replacements that single-node consolidation would make one pass at a time; M > N
/// spreads pods over more, smaller nodes when those are cheaper in total (cheap small spot
/// types).
pub(super) fn replace_many(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    candidates: &[Candidate],
    claims: Vec<SimulatedNodeClaim>,
) -> Computed {
    let candidate_price: f64 = candidates.iter().map(|c| c.price).sum();
    let all_spot = candidates
        .iter()
        .all(|c| c.capacity_type.as_deref() == Some(CAPACITY_TYPE_SPOT));
    let single_spot = all_spot && candidates.len() == 1;
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
            // Upstream's single-node spot-to-spot rule holds for a split replacement too: one
            // spot node moves only when every NodeClaim keeps 15 cheaper options.
            Ok(replacement)
                if single_spot && replacement.options.len() < MIN_SPOT_TO_SPOT_OPTIONS =>
            {
                return Computed::NoOp(Some(format!(
                    "SpotToSpotConsolidation requires {MIN_SPOT_TO_SPOT_OPTIONS} cheaper \
                     instance type options than the current candidate to consolidate, got {}",
                    replacement.options.len()
                )));
            }
            Ok(replacement) => replacements.push(replacement),
            Err(message) => return Computed::NoOp(Some(message)),
        }
    }
    Computed::Command(replace_command(candidates, replacements))
}

pub(super) const CANT_REPLACE_CHEAPER: &str = "Can't replace with a cheaper node";

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

pub(super) fn replace_command(candidates: &[Candidate], replacements: Vec<Replacement>) -> Command {
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
