//! Cost-aware re-packing of new NodeClaims ([`PackingPolicy::CostAware`]).
//!
//! Upstream's greedy packing (spec core §2.6) lets a NodeClaim take pods while *any* of its
//! instance types can still hold them, so a large batch ends up on a few NodeClaims whose only
//! remaining options are the largest types of the catalog, often badly priced for the pods they
//! hold. After the queue has run, this pass pools the pods of the NodeClaims it may move — same
//! template, same requirements, and no pod whose placement topology counts, with volumes, host
//! ports, reservations, minValues or NodePool limits in play — and re-packs each pool onto the
//! cheapest set of NodeClaims a short list of candidate instance types gives (first-fit
//! decreasing per candidate, a per-shape dominant-share mix, and the shape and fit splits of
//! [`split`]; each bin then launched on its cheapest fitting type). The pool's
//! NodeClaims are replaced only when that saves at least [`MIN_SAVING`] of their price, so near
//! ties (e.g. the fake provider's linear prices) keep upstream's outcome.
//!
//! [`PackingPolicy::CostAware`]: super::settings::PackingPolicy::CostAware

use std::collections::{BTreeMap, BTreeSet};

mod split;
#[cfg(test)]
mod tests;

use super::claims::Claim;
use super::dense::{self, Dense};
use super::masks::OfferingCache;
use super::solver::Solver;
use super::template::Template;
use crate::labels::{HOSTNAME, INITIALIZED, REGISTERED};
use crate::requirements::{Requirement, Requirements};

/// The smallest relative saving that replaces a pool's NodeClaims.
pub(crate) const MIN_SAVING: f64 = 0.01;

/// How many candidate instance types (cheapest by their fractional estimate) are packed per pool.
const CANDIDATES: usize = 4;

/// NodeClaims of one template with equal requirements (hostname aside) whose pods may move.
struct Pool {
    /// Template index.
    template: usize,
    /// The requirements shared by the pool's NodeClaims, without the hostname placeholder.
    requirements: Requirements,
    /// Indices into the solver's claims, in creation order.
    claims: Vec<usize>,
}

/// One candidate instance type of a pool.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// Template option index.
    option: u32,
    /// Its cheapest compatible available offering.
    price: f64,
}

/// A re-packing of a pool: bins of pods (solver positions) with their summed requests.
struct Packing {
    /// Pods per bin, largest first.
    bins: Vec<Vec<usize>>,
    /// Summed requests per bin.
    totals: Vec<Dense>,
    /// Total price of the bins on their cheapest fitting candidates.
    cost: f64,
}

/// Replaces pools of NodeClaims by cheaper re-packings (see the module docs).
pub(crate) fn repack(solver: &mut Solver<'_>) {
    let pools = pools(solver);
    if pools.is_empty() {
        return;
    }
    let mut position_of = vec![usize::MAX; solver.snapshot.pods.len()];
    for (position, state) in solver.pods.iter().enumerate() {
        position_of[state.index] = position;
    }
    let mut offerings = OfferingCache::default();
    let mut next_hostname = solver.claims.len() + 1;
    let mut replacements: Vec<(Vec<usize>, Vec<Claim>)> = Vec::new();
    for pool in pools {
        let template = &solver.templates[pool.template];
        let priced =
            offerings.summaries(pool.template, template, &pool.requirements, solver.settings);
        let mask = solver
            .masks
            .mask(pool.template, template, &pool.requirements, solver.settings);
        let Some(mask) = mask else { continue };
        let candidates: Vec<Candidate> = priced
            .by_price
            .iter()
            .filter(|&&o| mask[o as usize] && template.options[o as usize].allocatable_ok)
            .map(|&o| Candidate {
                option: o,
                price: priced.summaries[o as usize].price,
            })
            .filter(|c| c.price < f64::MAX)
            .collect();
        let current: f64 = pool
            .claims
            .iter()
            .map(|&c| cheapest_option(&solver.claims[c].options, &candidates))
            .sum();
        let pods: Vec<usize> = pool
            .claims
            .iter()
            .flat_map(|&c| solver.claims[c].pods.iter().map(|&p| position_of[p]))
            .collect();
        let requests: Vec<&[i128]> = pods.iter().map(|&p| &*solver.pods[p].requests).collect();
        let Some(best) = best_packing(template, &candidates, &pods, &requests) else {
            continue;
        };
        if best.cost >= current * (1.0 - MIN_SAVING) {
            continue;
        }
        let claims = build_claims(solver, &pool, &candidates, best, &mut next_hostname);
        replacements.push((pool.claims, claims));
    }
    replace(solver, replacements);
}

/// The pools of movable NodeClaims, in order of their first NodeClaim.
fn pools(solver: &Solver<'_>) -> Vec<Pool> {
    let mut pools: Vec<Pool> = Vec::new();
    for (c, claim) in solver.claims.iter().enumerate() {
        if !movable(solver, claim) {
            continue;
        }
        let mut requirements = claim.requirements.clone();
        requirements.remove(HOSTNAME);
        match pools
            .iter_mut()
            .find(|p| p.template == claim.template && p.requirements == requirements)
        {
            Some(pool) => pool.claims.push(c),
            None => pools.push(Pool {
                template: claim.template,
                requirements,
                claims: vec![c],
            }),
        }
    }
    for pool in &mut pools {
        // Finalisation prices without the solve-only helpers; so does the comparison.
        pool.requirements.remove(REGISTERED);
        pool.requirements.remove(INITIALIZED);
    }
    pools
}

/// Whether nothing but the instance type depends on which NodeClaim holds the claim's pods.
fn movable(solver: &Solver<'_>, claim: &Claim) -> bool {
    let template = &solver.templates[claim.template];
    solver.limits[claim.template].is_none()
        && !template.hostname_sensitive
        && claim.reservations.is_empty()
        && claim.host_ports.is_empty()
        && !claim.min_values_relaxed
        && !claim.requirements.has_min_values()
        && claim.pods.iter().all(|&p| {
            let pod = &solver.snapshot.pods[p];
            !solver.topology.counts(pod) && pod.volumes.is_empty()
        })
}

/// The price of the cheapest candidate among a NodeClaim's options (what finalisation launches).
fn cheapest_option(options: &[u32], candidates: &[Candidate]) -> f64 {
    let member: BTreeSet<u32> = options.iter().copied().collect();
    candidates
        .iter()
        .find(|c| member.contains(&c.option))
        .map_or(f64::MAX, |c| c.price)
}

/// The cheapest packing among first-fit decreasing over the most promising candidates, the
/// dominant-share mix, and the shape splits of [`split::split_packing`], if any candidate holds
/// every pod.
fn best_packing(
    template: &Template<'_>,
    candidates: &[Candidate],
    pods: &[usize],
    requests: &[&[i128]],
) -> Option<Packing> {
    let shortlist = shortlist(template, candidates, requests)?;
    shortlist
        .iter()
        .take(CANDIDATES)
        .map(|&(_, i)| first_fit_decreasing(template, candidates, i, pods, requests))
        .chain(dominant_share_packing(template, candidates, pods, requests))
        .chain(split::split_packing(
            template, candidates, &shortlist, pods, requests,
        ))
        .chain(split::fit_split_packing(
            template, candidates, pods, requests,
        ))
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
}

/// The candidates that hold the largest request in every slot, cheapest fractional estimate (the
/// price of just enough copies of the type to cover the total) first; `None` without requests.
fn shortlist(
    template: &Template<'_>,
    candidates: &[Candidate],
    requests: &[&[i128]],
) -> Option<Vec<(f64, usize)>> {
    let slots = requests.first()?.len();
    let mut total = vec![0i128; slots];
    let mut largest = vec![0i128; slots];
    for r in requests {
        dense::add(&mut total, r);
        dense::max_into(&mut largest, r);
    }
    let mut shortlist: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| dense::fits(&largest, &template.options[c.option as usize].headroom))
        .map(|(i, c)| {
            let headroom = &template.options[c.option as usize].headroom;
            (c.price * share(&total, headroom), i)
        })
        .collect();
    shortlist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Some(shortlist)
}

/// Packs the pods first-fit into bins of candidate `bin`'s headroom, largest share first, then
/// prices every bin at its cheapest fitting candidate.
fn first_fit_decreasing(
    template: &Template<'_>,
    candidates: &[Candidate],
    bin: usize,
    pods: &[usize],
    requests: &[&[i128]],
) -> Packing {
    let mut packing = Packing {
        bins: Vec::new(),
        totals: Vec::new(),
        cost: 0.0,
    };
    let members: Vec<usize> = (0..pods.len()).collect();
    pack_into(
        template,
        candidates,
        bin,
        &members,
        pods,
        requests,
        &mut packing,
    );
    packing
}

/// Sends every pod to the candidate that holds it for the smallest share of its price (price ×
/// the pod's dominant share of the type's headroom), packs each candidate's pods first-fit
/// decreasing into bins of that type, and prices every bin at its cheapest fitting candidate.
/// Pods whose shapes suit different types (CPU-heavy, memory-heavy) so land on different types,
/// as the fractional lower bound's mix would put them.
fn dominant_share_packing(
    template: &Template<'_>,
    candidates: &[Candidate],
    pods: &[usize],
    requests: &[&[i128]],
) -> Option<Packing> {
    let mut choice_by_shape: BTreeMap<&[i128], usize> = BTreeMap::new();
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
    for (i, &request) in requests.iter().enumerate() {
        let chosen = match choice_by_shape.get(request) {
            Some(&c) => c,
            None => {
                let c = cheapest_share(template, candidates, request)?;
                choice_by_shape.insert(request, c);
                c
            }
        };
        groups[chosen].push(i);
    }
    let mut packing = Packing {
        bins: Vec::new(),
        totals: Vec::new(),
        cost: 0.0,
    };
    for (c, members) in groups.iter().enumerate() {
        if !members.is_empty() {
            pack_into(
                template,
                candidates,
                c,
                members,
                pods,
                requests,
                &mut packing,
            );
        }
    }
    Some(packing)
}

/// The candidate with the smallest `price × dominant share` for one pod, if any holds it.
fn cheapest_share(
    template: &Template<'_>,
    candidates: &[Candidate],
    request: &[i128],
) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| dense::fits(request, &template.options[c.option as usize].headroom))
        .map(|(i, c)| {
            (
                c.price * share(request, &template.options[c.option as usize].headroom),
                i,
            )
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, i)| i)
}

/// The largest fraction of `headroom` that `request` takes in any slot it requests.
fn share(request: &[i128], headroom: &[i128]) -> f64 {
    request
        .iter()
        .zip(headroom)
        .filter(|(q, _)| **q > 0)
        .map(|(&q, &h)| q as f64 / h as f64)
        .fold(0.0, f64::max)
}

/// First-fit decreasing of `members` (indices into `pods`/`requests`) into bins of candidate
/// `bin`'s headroom, appended to `packing` with their prices.
///
/// Two facts keep it near linear: a bin that cannot take the smallest member in any slot never
/// will (bins only fill), so a pointer skips closed bins at the front; and a member with the same
/// requests as the previous one cannot fit any bin before the one that one took.
fn pack_into(
    template: &Template<'_>,
    candidates: &[Candidate],
    bin: usize,
    members: &[usize],
    pods: &[usize],
    requests: &[&[i128]],
    packing: &mut Packing,
) {
    let headroom = &template.options[candidates[bin].option as usize].headroom;
    let mut order = members.to_vec();
    order.sort_by(|&a, &b| {
        share(requests[b], headroom)
            .total_cmp(&share(requests[a], headroom))
            .then(requests[b].cmp(requests[a]))
            .then(a.cmp(&b))
    });
    let mut smallest = requests[order[0]].to_vec();
    for &i in &order {
        for (s, &q) in smallest.iter_mut().zip(requests[i]) {
            *s = (*s).min(q);
        }
    }
    let first_bin = packing.totals.len();
    let mut first_open = first_bin;
    let mut sum = vec![0i128; headroom.len()];
    let mut previous: Option<(&[i128], usize)> = None;
    for i in order {
        let request = requests[i];
        let fits_in = |total: &Dense, sum: &mut Vec<i128>| {
            sum.copy_from_slice(total);
            dense::add(sum, request);
            dense::fits(sum, headroom)
        };
        while first_open < packing.totals.len() && !fits_in(&packing.totals[first_open], &mut sum) {
            if !fits_after(&packing.totals[first_open], &smallest, headroom, &mut sum) {
                first_open += 1;
            } else {
                break;
            }
        }
        let start = match previous {
            Some((p, b)) if p == request => b.max(first_open),
            _ => first_open,
        };
        let slot = (start..packing.totals.len()).find(|&b| fits_in(&packing.totals[b], &mut sum));
        let b = match slot {
            Some(b) => {
                dense::add(&mut packing.totals[b], request);
                packing.bins[b].push(pods[i]);
                b
            }
            None => {
                packing.totals.push(request.into());
                packing.bins.push(vec![pods[i]]);
                packing.totals.len() - 1
            }
        };
        previous = Some((request, b));
    }
    for total in &packing.totals[first_bin..] {
        packing.cost += candidates
            .iter()
            .find(|c| dense::fits(total, &template.options[c.option as usize].headroom))
            .map_or(f64::MAX, |c| c.price);
    }
}

/// Whether `smallest` still fits on top of `total` within `headroom`.
fn fits_after(total: &[i128], smallest: &[i128], headroom: &[i128], sum: &mut [i128]) -> bool {
    sum.copy_from_slice(total);
    dense::add(sum, smallest);
    dense::fits(sum, headroom)
}

/// The NodeClaims of a packing: the pool's requirements with a hostname each (the pool's own
/// placeholders first, then fresh ones), every candidate that holds the bin as options.
fn build_claims(
    solver: &Solver<'_>,
    pool: &Pool,
    candidates: &[Candidate],
    packing: Packing,
    next_hostname: &mut usize,
) -> Vec<Claim> {
    let template = &solver.templates[pool.template];
    let first = &solver.claims[pool.claims[0]];
    let mut hostnames = pool
        .claims
        .iter()
        .map(|&c| solver.claims[c].hostname.clone());
    let mut claims = Vec::with_capacity(packing.bins.len());
    for (bin, total) in packing.bins.into_iter().zip(packing.totals) {
        let hostname = hostnames.next().unwrap_or_else(|| {
            *next_hostname += 1;
            format!("hostname-placeholder-{:04}", *next_hostname - 1)
        });
        let mut requirements = first.requirements.clone();
        requirements.remove(HOSTNAME);
        requirements.add(Requirement::in_values(HOSTNAME, [hostname.as_str()]));
        let mut options: Vec<u32> = candidates
            .iter()
            .map(|c| c.option)
            .filter(|&o| dense::fits(&total, &template.options[o as usize].headroom))
            .collect();
        options.sort_unstable();
        let mut max_headroom: Dense = vec![i128::MIN; total.len()].into();
        for &o in &options {
            dense::max_into(&mut max_headroom, &template.options[o as usize].headroom);
        }
        claims.push(Claim {
            template: pool.template,
            hostname,
            requirements,
            options,
            requests: total,
            max_headroom,
            pods: bin.iter().map(|&p| solver.pods[p].index).collect(),
            host_ports: Vec::new(),
            min_values_relaxed: false,
            reservations: BTreeSet::new(),
        });
    }
    claims
}

/// Swaps each replaced pool for its new NodeClaims, at the place of the pool's first NodeClaim.
fn replace(solver: &mut Solver<'_>, replacements: Vec<(Vec<usize>, Vec<Claim>)>) {
    if replacements.is_empty() {
        return;
    }
    let old = std::mem::take(&mut solver.claims);
    let mut replaced = vec![None; old.len()];
    let mut inserts: Vec<Option<Vec<Claim>>> = Vec::new();
    for (r, (indices, claims)) in replacements.into_iter().enumerate() {
        for &c in &indices {
            replaced[c] = Some((r, c == indices[0]));
        }
        inserts.push(Some(claims));
    }
    for (c, claim) in old.into_iter().enumerate() {
        match replaced[c] {
            None => solver.claims.push(claim),
            Some((r, true)) => solver
                .claims
                .extend(inserts[r].take().into_iter().flatten()),
            Some((_, false)) => {}
        }
    }
    let claims = &solver.claims;
    solver.claim_order = (0..claims.len()).collect();
    solver.claim_order.sort_by_key(|&c| claims[c].pods.len());
}
