//! The Empty method (spec core §4.4, upstream `Emptiness`): delete every consolidatable empty
//! candidate, highest savings ratio first, while its NodePool's `Empty` budget lasts. One batched
//! delete command, no replacements; the driver validates it again after 15 s.

use std::collections::BTreeMap;

use super::{
    BlockReason, Candidate, CandidateSet, Command, DisruptionClass, DisruptionInput,
    pool_allowances,
};
use crate::nodepool::budgets::DisruptionReason;

/// Why an Empty command is abandoned at validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmptinessError {
    /// None of the command's nodes is still an empty, consolidatable candidate within budget
    /// (pods arrived, the node was nominated, budgets shrank ...).
    #[error(
        "abandoning empty node consolidation attempt due to pod churn, command is no longer valid"
    )]
    NoLongerValid,
}

/// What the Empty method decided in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct EmptinessDecision {
    /// The delete command, if any empty node may go now.
    pub command: Option<Command>,
    /// Nodes that are not candidates at all, with why (the driver's `DisruptionBlocked` events).
    pub blocked: Vec<(String, BlockReason)>,
    /// Candidates the method may not consider, with upstream's `Unconsolidatable` event text
    /// where it emits one (`consolidateAfter: Never`).
    pub unconsolidatable: Vec<(String, String)>,
    /// Whether an empty, consolidatable candidate was held back only by its pool's budget: the
    /// driver must then not record the cluster as consolidated.
    pub budget_limited: bool,
    /// `karpenter_voluntary_disruption_eligible_nodes{reason="empty"}`: candidates listed.
    pub eligible_nodes: usize,
}

/// Runs the Empty method on `input` (candidates of the graceful class, `Empty` budgets).
pub fn empty_command(input: &DisruptionInput<'_>) -> EmptinessDecision {
    let set = CandidateSet::build(input, DisruptionClass::Graceful);
    let mut remaining: BTreeMap<String, usize> = pool_allowances(input, DisruptionReason::Empty)
        .into_iter()
        .map(|(pool, allowance)| (pool, allowance.remaining))
        .collect();
    let mut chosen: Vec<Candidate> = Vec::new();
    let mut unconsolidatable = Vec::new();
    let mut budget_limited = false;
    let eligible_nodes = set.candidates.len();
    // Candidates arrive by descending savings ratio, which is the order budgets are spent in.
    for candidate in set.candidates {
        match should_disrupt(input, &candidate) {
            Eligibility::Yes => {}
            Eligibility::No => continue,
            Eligibility::Unconsolidatable(message) => {
                unconsolidatable.push((candidate.node.clone(), message));
                continue;
            }
        }
        match remaining.get_mut(&candidate.nodepool) {
            Some(left) if *left > 0 => {
                *left -= 1;
                chosen.push(candidate);
            }
            _ => budget_limited = true,
        }
    }
    EmptinessDecision {
        command: (!chosen.is_empty()).then(|| command(chosen)),
        blocked: set.blocked,
        unconsolidatable,
        budget_limited,
        eligible_nodes,
    }
}

/// Re-checks an Empty command on a later snapshot (the driver takes it 15 s after the decision,
/// upstream's validation TTL): the command's nodes that are still empty, consolidatable
/// candidates are kept, in the command's order, while their pool's re-computed `Empty` budget
/// lasts. The command goes ahead with that subset.
///
/// # Errors
/// [`EmptinessError::NoLongerValid`] when no node remains.
pub fn validate_empty_command(
    input: &DisruptionInput<'_>,
    command: &Command,
) -> Result<Command, EmptinessError> {
    let mut still_valid: BTreeMap<String, Candidate> =
        CandidateSet::build(input, DisruptionClass::Graceful)
            .candidates
            .into_iter()
            .filter(|c| matches!(should_disrupt(input, c), Eligibility::Yes))
            .map(|c| (c.node.clone(), c))
            .collect();
    let mut remaining: BTreeMap<String, usize> = pool_allowances(input, DisruptionReason::Empty)
        .into_iter()
        .map(|(pool, allowance)| (pool, allowance.remaining))
        .collect();
    let mut kept = Vec::new();
    for original in &command.candidates {
        let Some(fresh) = still_valid.remove(&original.node) else {
            continue;
        };
        if let Some(left) = remaining.get_mut(&fresh.nodepool).filter(|left| **left > 0) {
            *left -= 1;
            kept.push(fresh);
        }
    }
    if kept.is_empty() {
        return Err(EmptinessError::NoLongerValid);
    }
    Ok(self::command(kept))
}

/// Whether the Empty method may consider a candidate.
enum Eligibility {
    Yes,
    No,
    Unconsolidatable(String),
}

/// Upstream `Emptiness.ShouldDisrupt`: not a static pool, consolidation enabled, empty and
/// `Consolidatable`. Every consolidation policy (WhenEmpty, WhenEmptyOrUnderutilized, Balanced)
/// allows emptiness. CapacityBuffer virtual pods are not modelled, so no node is protected by
/// them here.
fn should_disrupt(input: &DisruptionInput<'_>, candidate: &Candidate) -> Eligibility {
    let is_static = input
        .snapshot
        .nodepools
        .iter()
        .any(|pool| pool.name == candidate.nodepool && pool.is_static());
    if is_static {
        return Eligibility::No;
    }
    if input.pool(&candidate.nodepool).consolidate_after.is_never() {
        return Eligibility::Unconsolidatable(format!(
            "NodePool {:?} has consolidation disabled",
            candidate.nodepool
        ));
    }
    if candidate.is_empty() && input.node_state(&candidate.node).consolidatable {
        Eligibility::Yes
    } else {
        Eligibility::No
    }
}

fn command(candidates: Vec<Candidate>) -> Command {
    let names: Vec<&str> = candidates.iter().map(|c| c.node.as_str()).collect();
    let explanation = format!(
        "deleting {} empty node(s): {}",
        candidates.len(),
        names.join(", ")
    );
    Command::delete(DisruptionReason::Empty, candidates, explanation)
}
