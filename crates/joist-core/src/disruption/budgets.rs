//! The disruption budget mapping of one pass (spec core §1.6, upstream
//! `BuildDisruptionBudgetMapping`): node counts per NodePool from cluster state, fed to
//! [`crate::nodepool::budgets::pool_allowance`] with the fail-closed rule.

use std::collections::BTreeMap;

use super::DisruptionInput;
use crate::nodepool::budgets::{BudgetNodeCounts, DisruptionReason, PoolAllowance, pool_allowance};

/// Budget node counts per NodePool name: `num_nodes` counts managed, initialized nodes whose
/// instance is not terminating (unmanaged and uninitialized nodes would skew percentages);
/// `disrupting` counts those of them that are NotReady or marked for deletion. Every NodePool of
/// the snapshot has an entry, zero when it has no such node.
pub fn budget_node_counts(input: &DisruptionInput<'_>) -> BTreeMap<String, BudgetNodeCounts> {
    let mut counts: BTreeMap<String, BudgetNodeCounts> = input
        .snapshot
        .nodepools
        .iter()
        .map(|pool| (pool.name.clone(), BudgetNodeCounts::default()))
        .collect();
    for node in &input.snapshot.nodes {
        let Some(pool) = node.nodepool.as_deref() else {
            continue;
        };
        if node.nodeclaim.is_none() || !node.initialized {
            continue;
        }
        let state = input.node_state(&node.name);
        if state.instance_terminating {
            continue;
        }
        let entry = counts.entry(pool.to_owned()).or_default();
        entry.num_nodes += 1;
        if !state.ready || node.marked_for_deletion {
            entry.disrupting += 1;
        }
    }
    counts
}

/// Each NodePool's allowance for `reason` at the snapshot's `now`, by NodePool name. Any budget
/// error zeroes the pool (its errors are kept in [`PoolAllowance::errors`] for the driver's
/// "detected disruption budget errors" log).
pub fn pool_allowances(
    input: &DisruptionInput<'_>,
    reason: DisruptionReason,
) -> BTreeMap<String, PoolAllowance> {
    budget_node_counts(input)
        .into_iter()
        .map(|(pool, counts)| {
            let allowance = pool_allowance(
                &input.pool(&pool).budgets,
                reason,
                counts,
                input.snapshot.now,
            );
            (pool, allowance)
        })
        .collect()
}
