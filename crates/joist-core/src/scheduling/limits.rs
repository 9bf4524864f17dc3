//! NodePool limits during a solve (spec core §2.11).

use super::dense::{Dense, ResourceIndex};
use super::existing::ExistingNode;
use super::template::Template;
use crate::resources::names;
use crate::snapshot::NodePool;

/// The `nodes` pseudo-resource of NodePool limits.
pub(crate) const NODES: &str = "nodes";

/// What a NodePool may still launch this round.
#[derive(Debug, Clone)]
pub(crate) struct Remaining {
    /// Remaining amount per slot (only `limited` slots are meaningful).
    amounts: Dense,
    /// The slots the NodePool limits.
    limited: Vec<usize>,
    /// The slot of `nodes`, when limited.
    nodes: Option<usize>,
}

/// Why limits refuse a new NodeClaim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitError {
    /// `nodes` is exactly exhausted.
    NodesExhausted,
    /// Every instance type's capacity exceeds some remaining amount.
    AllExceed,
}

impl Remaining {
    /// The NodePool's limits minus the capacity (and one `nodes` each) of its existing nodes, or
    /// `None` when it has no limits.
    pub(crate) fn new(
        nodepool: &NodePool,
        existing: &[ExistingNode<'_>],
        index: &ResourceIndex,
    ) -> Option<Remaining> {
        if nodepool.limits.is_empty() {
            return None;
        }
        let amounts = index.dense(&nodepool.limits);
        let limited: Vec<usize> = nodepool
            .limits
            .iter()
            .filter_map(|(name, _)| index.slot(name))
            .collect();
        let mut remaining = Remaining {
            amounts,
            nodes: index.slot(NODES).filter(|s| limited.contains(s)),
            limited,
        };
        let one_node = 1_000_000_000;
        for node in existing
            .iter()
            .filter(|n| n.node.nodepool.as_deref() == Some(nodepool.name.as_str()))
        {
            let capacity = index.dense(&node.node.capacity);
            for &slot in &remaining.limited {
                remaining.amounts[slot] -= capacity[slot];
            }
            if let Some(slot) = remaining.nodes {
                remaining.amounts[slot] -= one_node;
            }
        }
        Some(remaining)
    }

    /// The template options a new NodeClaim may use (upstream `filterByRemainingResources`).
    pub(crate) fn allowed_options(&self, template: &Template<'_>) -> Result<Vec<u32>, LimitError> {
        if self.nodes.is_some_and(|slot| self.amounts[slot] == 0) {
            return Err(LimitError::NodesExhausted);
        }
        let allowed: Vec<u32> = (0..template.options.len() as u32)
            .filter(|&o| {
                let capacity = &template.options[o as usize].capacity;
                self.limited
                    .iter()
                    .all(|&slot| capacity[slot] <= self.amounts[slot])
            })
            .collect();
        if allowed.is_empty() {
            return Err(LimitError::AllExceed);
        }
        Ok(allowed)
    }

    /// Subtracts, per limited resource, the largest capacity among `options` (upstream
    /// `subtractMax`: pessimistic, as the provider may launch any of them).
    pub(crate) fn subtract_max(&mut self, template: &Template<'_>, options: &[u32]) {
        if options.is_empty() {
            return;
        }
        for &slot in &self.limited {
            let max = options
                .iter()
                .map(|&o| template.options[o as usize].capacity[slot])
                .max()
                .unwrap_or(0);
            self.amounts[slot] -= max;
        }
    }
}

impl LimitError {
    /// Upstream's message for `nodepool`.
    pub(crate) fn message(self, nodepool: &str) -> String {
        match self {
            LimitError::NodesExhausted => {
                format!("node limits have been exhausted for nodepool (NodePool={nodepool})")
            }
            LimitError::AllExceed => format!(
                "all available instance types exceed limits for nodepool (NodePool={nodepool})"
            ),
        }
    }
}

/// Resource names the limits of `nodepools` mention (so the solve's index has slots for them).
pub(crate) fn limit_names(nodepools: &[NodePool]) -> impl Iterator<Item = &str> {
    nodepools
        .iter()
        .flat_map(|np| np.limits.iter().map(|(name, _)| name))
        .chain([names::PODS])
}
