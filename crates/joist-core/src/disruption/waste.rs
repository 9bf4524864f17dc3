//! joist's cost-efficiency ordering of consolidation candidates ([`SearchMode::Joist`]).
//!
//! Upstream orders candidates by price per unit of disruption, so a full node on a dear type
//! ranks like an idle one, and once the easy deletes are done each pass's budget goes to nodes
//! that have nothing to give. joist estimates what a node's pods would cost on the best-priced
//! type of its NodePool (a fractional lower bound: the node's summed CPU and memory requests
//! priced at the type whose price per the scarcer of the two is lowest) and orders candidates by
//! the estimated waste (price − estimate) per unit of disruption. Under-utilised nodes and full
//! nodes on dear types come first; a full node on the cheapest type comes last. The ordering
//! only decides which candidates the budget walk and the search look at first: every move is
//! still simulated and judged in full.
//!
//! [`SearchMode::Joist`]: super::SearchMode::Joist

use std::collections::{BTreeMap, BTreeSet};

use super::{Candidate, DisruptionInput};
use crate::resources::names;

/// `(price, allocatable CPU cores, allocatable memory bytes)` of a pool's launchable types.
type Shape = (f64, f64, f64);

/// `candidates` by descending estimated waste per unit of disruption, then node name.
pub(crate) fn order_by_waste(
    input: &DisruptionInput<'_>,
    mut candidates: Vec<Candidate>,
) -> Vec<Candidate> {
    let requests = node_requests(input, &candidates);
    let mut shapes: BTreeMap<String, Vec<Shape>> = BTreeMap::new();
    let mut keyed: Vec<(f64, Candidate)> = Vec::with_capacity(candidates.len());
    for candidate in candidates.drain(..) {
        let pool = candidate.nodepool.as_str();
        if !shapes.contains_key(pool) {
            shapes.insert(pool.to_owned(), pool_shapes(input, pool));
        }
        let (cpu, memory) = requests
            .get(candidate.node.as_str())
            .copied()
            .unwrap_or_default();
        let best = shapes
            .get(pool)
            .map_or(candidate.price, |s| estimate(s, cpu, memory));
        let waste = (candidate.price - best.min(candidate.price)).max(0.0);
        keyed.push((
            waste / candidate.reschedule_disruption_cost.max(1.0),
            candidate,
        ));
    }
    keyed.sort_by(|(a, x), (b, y)| b.total_cmp(a).then_with(|| x.node.cmp(&y.node)));
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// The fractional cost of `cpu` cores and `memory` bytes on the best-priced shape.
fn estimate(shapes: &[Shape], cpu: f64, memory: f64) -> f64 {
    shapes
        .iter()
        .map(|&(price, c, m)| price * (cpu / c).max(memory / m))
        .fold(f64::MAX, f64::min)
}

/// The launchable types of `pool`: compatible with its requirements, with an available
/// compatible offering and some CPU and memory.
fn pool_shapes(input: &DisruptionInput<'_>, pool: &str) -> Vec<Shape> {
    let snapshot = input.snapshot;
    let (Some(nodepool), Some(types)) = (
        snapshot.nodepools.iter().find(|p| p.name == pool),
        snapshot.instance_types.get(pool),
    ) else {
        return Vec::new();
    };
    types
        .iter()
        .filter(|it| nodepool.requirements.can_intersect(&it.requirements))
        .filter_map(|it| {
            let price = it.cheapest_compatible_price(&nodepool.requirements);
            let allocatable = it.allocatable();
            let cpu = allocatable.get_or_zero(names::CPU).as_f64();
            let memory = allocatable.get_or_zero(names::MEMORY).as_f64();
            (price < f64::MAX && cpu > 0.0 && memory > 0.0).then_some((price, cpu, memory))
        })
        .collect()
}

/// Summed CPU (cores) and memory (bytes) requests of the pods bound to each candidate that
/// would move with it (active, not owned by a DaemonSet, not mirror pods).
fn node_requests<'i>(
    input: &DisruptionInput<'i>,
    candidates: &[Candidate],
) -> BTreeMap<&'i str, (f64, f64)> {
    let wanted: BTreeSet<&str> = candidates.iter().map(|c| c.node.as_str()).collect();
    let mut sums: BTreeMap<&'i str, (f64, f64)> = input
        .snapshot
        .nodes
        .iter()
        .filter(|n| wanted.contains(n.name.as_str()))
        .map(|n| (n.name.as_str(), (0.0, 0.0)))
        .collect();
    for pod in &input.snapshot.pods {
        let moves = !pod.is_terminal() && !pod.is_daemonset_pod() && !pod.is_mirror_pod();
        if let Some(sum) = pod
            .node_name
            .as_deref()
            .filter(|_| moves)
            .and_then(|node| sums.get_mut(node))
        {
            sum.0 += pod.requests.get_or_zero(names::CPU).as_f64();
            sum.1 += pod.requests.get_or_zero(names::MEMORY).as_f64();
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_prices_the_scarcer_resource_on_the_best_shape() {
        // A $1 shape with 4 cores / 16 GiB and a $0.80 one with 4 cores / 8 GiB.
        let gib = 1024.0 * 1024.0 * 1024.0;
        let shapes = [(1.0, 4.0, 16.0 * gib), (0.8, 4.0, 8.0 * gib)];
        // 2 cores, 2 GiB: half of either; the cheaper one wins.
        assert!((estimate(&shapes, 2.0, 2.0 * gib) - 0.4).abs() < 1e-9);
        // 1 core, 8 GiB: memory binds; all of the $0.80 shape or half of the $1 one.
        assert!((estimate(&shapes, 1.0, 8.0 * gib) - 0.5).abs() < 1e-9);
    }
}
