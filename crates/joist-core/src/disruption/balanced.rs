//! The `Balanced` consolidation policy (spec core §4.10, v1.14): a move touching a Balanced
//! NodePool must save a share of the pool's cost at least half (k = 2) the share of the pool's
//! disruption it causes.

use std::collections::BTreeMap;

use super::{Candidate, Command, ConsolidationPolicy, DisruptionInput, eviction_cost};
use crate::labels::{CAPACITY_TYPE, INSTANCE_TYPE, ZONE};
use crate::snapshot::Pod;

/// Upstream's `k`: a move is approved when its score is at least `1 / k`.
pub const BALANCED_K: f64 = 2.0;

/// One Balanced pool's verdict on a move.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolScore {
    /// The NodePool.
    pub nodepool: String,
    /// `(savings / pool cost) / (disruption / pool disruption)`.
    pub score: f64,
    /// The move's savings as a share of the pool's cost, in percent.
    pub savings_percent: f64,
    /// The move's disruption as a share of the pool's disruption cost, in percent.
    pub disruption_percent: f64,
    /// Whether `score ≥ 1/k`.
    pub approved: bool,
}

impl PoolScore {
    /// The `ConsolidationApproved` event text, "score S >= threshold T (k: 2, savings x%,
    /// disruption y%)"; a refusal reads "score S < threshold T (…)".
    pub fn message(&self) -> String {
        format!(
            "score {:.2} {} threshold {:.2} (k: {}, savings {:.1}%, disruption {:.1}%)",
            self.score,
            if self.approved { ">=" } else { "<" },
            1.0 / BALANCED_K,
            BALANCED_K,
            self.savings_percent,
            self.disruption_percent
        )
    }
}

/// Scores `candidates` saving `savings` per hour for every Balanced pool among them (savings
/// split across pools by the candidates' price share). Non-Balanced pools are not listed: they
/// always approve.
pub fn balanced_scores(
    input: &DisruptionInput<'_>,
    candidates: &[Candidate],
    savings: f64,
) -> Vec<PoolScore> {
    let total_price: f64 = candidates.iter().map(|c| c.price).sum();
    let mut per_pool: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for candidate in candidates {
        let entry = per_pool.entry(candidate.nodepool.as_str()).or_default();
        entry.0 += candidate.price;
        entry.1 += candidate.reschedule_disruption_cost;
    }
    per_pool
        .into_iter()
        .filter(|(pool, _)| input.pool(pool).consolidation_policy == ConsolidationPolicy::Balanced)
        .map(|(pool, (price, disruption))| {
            let share = if total_price > 0.0 {
                price / total_price
            } else {
                1.0 / candidates.len() as f64
            };
            let (pool_cost, pool_disruption) = pool_totals(input, pool);
            let pool_cost = if pool_cost > 0.0 { pool_cost } else { price };
            let savings_share = savings * share / pool_cost.max(f64::MIN_POSITIVE);
            let disruption_share = disruption / pool_disruption.max(f64::MIN_POSITIVE);
            let score = if disruption_share > 0.0 {
                savings_share / disruption_share
            } else {
                f64::INFINITY
            };
            PoolScore {
                nodepool: pool.to_owned(),
                score,
                savings_percent: savings_share * 100.0,
                disruption_percent: disruption_share * 100.0,
                approved: score >= 1.0 / BALANCED_K,
            }
        })
        .collect()
}

/// Whether every Balanced pool of the command approves it.
pub fn balanced_approves(input: &DisruptionInput<'_>, command: &Command) -> bool {
    balanced_scores(input, &command.candidates, command.savings)
        .iter()
        .all(|s| s.approved)
}

/// A pool's cost (Σ offering prices of its nodes) and disruption cost (Σ over its nodes of
/// 1 + positive eviction costs of their reschedulable pods).
fn pool_totals(input: &DisruptionInput<'_>, pool: &str) -> (f64, f64) {
    let snapshot = input.snapshot;
    let types = snapshot
        .instance_types
        .get(pool)
        .map_or(&[][..], |t| &t[..]);
    let mut per_node: BTreeMap<&str, f64> = snapshot
        .nodes
        .iter()
        .filter(|n| n.nodepool.as_deref() == Some(pool))
        .map(|n| (n.name.as_str(), 1.0))
        .collect();
    for pod in snapshot.pods.iter().filter(|p| moves_with_node(p)) {
        if let Some(cost) = pod
            .node_name
            .as_deref()
            .and_then(|node| per_node.get_mut(node))
        {
            *cost += eviction_cost(pod).max(0.0);
        }
    }
    let cost = snapshot
        .nodes
        .iter()
        .filter(|n| n.nodepool.as_deref() == Some(pool))
        .map(|node| {
            let label = |key: &str| node.labels.get(key).map(String::as_str);
            let (name, zone, capacity) = (label(INSTANCE_TYPE), label(ZONE), label(CAPACITY_TYPE));
            types
                .iter()
                .find(|it| Some(it.name.as_str()) == name)
                .and_then(|it| {
                    it.offerings
                        .iter()
                        .find(|o| o.zone() == zone && o.capacity_type() == capacity)
                })
                .map_or(0.0, |o| o.price)
        })
        .sum();
    (cost, per_node.values().sum())
}

/// Pods that must be rescheduled when their node goes (the candidate rule: active or a
/// terminating StatefulSet pod, not a DaemonSet or mirror pod).
fn moves_with_node(pod: &Pod) -> bool {
    let active = !pod.is_terminal() && !pod.is_terminating();
    (active || (pod.is_terminating() && pod.is_statefulset_pod()))
        && !pod.is_daemonset_pod()
        && !pod.is_mirror_pod()
}
