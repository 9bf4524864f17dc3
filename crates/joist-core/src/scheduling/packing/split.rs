//! Shape splits: packing the pods that load the binding resource and the others on different
//! instance types.
//!
//! On a single type, whichever resource binds (say CPU) leaves the others (memory) partly idle,
//! and memory-heavy pods then pay for CPU they do not use. The covering bound buys each resource
//! where it is cheapest, so a pool whose pods differ in shape is packed closer to it when the
//! pods that mostly need the other resources go to types rich in those. This orders the pods by
//! how much of their dominant share falls on the binding resource of the pool's best single type,
//! cuts that order at its quartiles, and packs each side first-fit decreasing on its own best
//! candidates.

use super::{Candidate, Packing, Template, pack_into, share, shortlist};

/// The quantiles (in quarters of the pods) where the shape order is cut; few, because each cut
/// costs two side packings.
const CUTS: std::ops::Range<usize> = 1..4;

/// How many types that cannot hold every pod are tried by [`fit_split_packing`].
const FIT_CANDIDATES: usize = 3;

/// How many of each side's most promising candidates are packed.
const SIDE_CANDIDATES: usize = 3;

/// The cheapest of the shape splits (see the module docs), if the pool has two shapes to split.
///
/// `shortlist` is the pool's candidates by fractional estimate (see [`shortlist`]); its first
/// entry is the reference type whose binding resource orders the pods.
pub(super) fn split_packing(
    template: &Template<'_>,
    candidates: &[Candidate],
    shortlist: &[(f64, usize)],
    pods: &[usize],
    requests: &[&[i128]],
) -> Option<Packing> {
    let &(_, reference) = shortlist.first()?;
    let headroom = &template.options[candidates[reference].option as usize].headroom;
    let order = binding_order(headroom, requests)?;
    let mut best: Option<Packing> = None;
    let mut last_cut = 0;
    for quarter in CUTS {
        let cut = order.len() * quarter / 4;
        if cut == last_cut || cut == 0 || cut == order.len() {
            continue;
        }
        last_cut = cut;
        let mut packing = side_packing(template, candidates, &order[..cut], pods, requests)?;
        let high = side_packing(template, candidates, &order[cut..], pods, requests)?;
        packing.bins.extend(high.bins);
        packing.totals.extend(high.totals);
        packing.cost += high.cost;
        if best.as_ref().is_none_or(|b| packing.cost < b.cost) {
            best = Some(packing);
        }
    }
    best
}

/// The cheapest of the fit splits: for each of the [`FIT_CANDIDATES`] types with the cheapest
/// fractional estimate of the whole pool that cannot hold every pod, the pods it holds packed
/// first-fit decreasing on it and the others on their own best candidates.
///
/// The single-type packings only consider types that hold every pod, so one large pod keeps the
/// whole pool off a type that is cheap for everything else; the covering bound restricted to the
/// types each pod fits on buys most capacity from exactly such types.
pub(super) fn fit_split_packing(
    template: &Template<'_>,
    candidates: &[Candidate],
    pods: &[usize],
    requests: &[&[i128]],
) -> Option<Packing> {
    let slots = requests.first()?.len();
    let mut total = vec![0i128; slots];
    let mut largest = vec![0i128; slots];
    for r in requests {
        super::dense::add(&mut total, r);
        super::dense::max_into(&mut largest, r);
    }
    let mut ranked: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            !super::dense::fits(&largest, &template.options[c.option as usize].headroom)
        })
        .map(|(i, c)| {
            let headroom = &template.options[c.option as usize].headroom;
            (c.price * share(&total, headroom), i)
        })
        .filter(|(estimate, _)| estimate.is_finite())
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    ranked
        .iter()
        .take(FIT_CANDIDATES)
        .filter_map(|&(_, bin)| {
            let headroom = &template.options[candidates[bin].option as usize].headroom;
            let (held, rest): (Vec<usize>, Vec<usize>) =
                (0..requests.len()).partition(|&i| super::dense::fits(requests[i], headroom));
            if held.is_empty() {
                return None;
            }
            let mut packing = Packing {
                bins: Vec::new(),
                totals: Vec::new(),
                cost: 0.0,
            };
            pack_into(
                template,
                candidates,
                bin,
                &held,
                pods,
                requests,
                &mut packing,
            );
            let others = side_packing(template, candidates, &rest, pods, requests)?;
            packing.bins.extend(others.bins);
            packing.totals.extend(others.totals);
            packing.cost += others.cost;
            Some(packing)
        })
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
}

/// The pods (indices into `requests`) ordered by the part of their dominant share of `headroom`
/// that lies in its binding slot (the slot the summed requests fill most), least first; `None`
/// when every pod has the same part (there is nothing to split).
fn binding_order(headroom: &[i128], requests: &[&[i128]]) -> Option<Vec<usize>> {
    let slots = headroom.len();
    let mut total = vec![0i128; slots];
    for r in requests {
        super::dense::add(&mut total, r);
    }
    let binding = (0..slots).filter(|&s| total[s] > 0).max_by(|&a, &b| {
        let ratio = |s: usize| total[s] as f64 / headroom[s] as f64;
        ratio(a).total_cmp(&ratio(b)).then(b.cmp(&a))
    })?;
    let keys: Vec<f64> = requests
        .iter()
        .map(|r| {
            let dominant = share(r, headroom);
            if dominant > 0.0 {
                r[binding] as f64 / headroom[binding] as f64 / dominant
            } else {
                1.0
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
    let (first, last) = (keys[*order.first()?], keys[*order.last()?]);
    (first < last).then_some(order)
}

/// The cheapest first-fit-decreasing packing of `members` over their side's most promising
/// candidates, if any candidate holds all of them.
fn side_packing(
    template: &Template<'_>,
    candidates: &[Candidate],
    members: &[usize],
    pods: &[usize],
    requests: &[&[i128]],
) -> Option<Packing> {
    let side: Vec<&[i128]> = members.iter().map(|&i| requests[i]).collect();
    let side_shortlist = shortlist(template, candidates, &side)?;
    side_shortlist
        .iter()
        .take(SIDE_CANDIDATES)
        .map(|&(_, bin)| {
            let mut packing = Packing {
                bins: Vec::new(),
                totals: Vec::new(),
                cost: 0.0,
            };
            pack_into(
                template,
                candidates,
                bin,
                members,
                pods,
                requests,
                &mut packing,
            );
            packing
        })
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
}

#[cfg(test)]
mod tests {
    use super::binding_order;

    #[test]
    fn pods_light_on_the_binding_resource_come_first() {
        // Slots: cpu, memory. Summed cpu fills the headroom most, so cpu binds.
        let headroom = [8, 32];
        let cpu_heavy = [2, 1];
        let memory_heavy = [1, 16];
        let balanced = [1, 4];
        let requests: Vec<&[i128]> = vec![&cpu_heavy, &memory_heavy, &cpu_heavy, &balanced];
        // Parts on cpu: 1.0, 0.25, 1.0, 1.0 (the balanced pod's cpu share 1/8 equals its memory share).
        assert_eq!(binding_order(&headroom, &requests), Some(vec![1, 0, 2, 3]));
    }

    #[test]
    fn one_shape_has_nothing_to_split() {
        let headroom = [8, 32];
        let pod = [2, 4];
        let requests: Vec<&[i128]> = vec![&pod, &pod, &pod];
        assert_eq!(binding_order(&headroom, &requests), None);
    }
}
