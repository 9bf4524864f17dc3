//! Validation of a consolidation command against a later snapshot (spec core §4.11, upstream
//! `validation.IsValid`): the driver waits 15 s (`commandValidationDelay`), takes a fresh
//! snapshot and asks whether the command still holds.

use std::collections::BTreeSet;
use std::fmt;

use super::consolidation::{
    ConsolidationSettings, Eligibility, consolidation_eligibility, remaining_budgets,
};
use super::{
    Candidate, CandidateSet, Command, Decision, DisruptionClass, DisruptionInput, Simulator,
};
use crate::rng::SeededRng;

/// The `reason` of a `ConsolidationRejected` event and of
/// `karpenter_voluntary_disruption_failed_validations_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RejectionReason {
    /// A candidate was nominated, or budgets no longer allow every candidate.
    Budget,
    /// The re-simulation disagrees with the command.
    Scheduling,
    /// A candidate is no longer a candidate (pods arrived, do-not-disrupt, PDB ...).
    Churn,
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Budget => "budget",
            Self::Scheduling => "scheduling",
            Self::Churn => "churn",
        })
    }
}

/// Why a command failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The rejection reason.
    pub reason: RejectionReason,
    /// Upstream's validation error text.
    pub message: String,
}

impl ValidationError {
    fn new(reason: RejectionReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The `ConsolidationRejected` event text for `command`: `Consolidation rejected: {command},
    /// reason: {reason} (savings: $x.xx)`.
    pub fn event_message(&self, command: &Command) -> String {
        format!(
            "Consolidation rejected: {}, reason: {} (savings: ${:.2})",
            command.summary(),
            self.reason,
            command.savings
        )
    }
}

/// Checks `command` against `input`, a snapshot taken after the validation delay: every
/// candidate is still one (else churn), none is nominated and budgets still allow each (else
/// budget), and a fresh simulation still yields the same action — a delete still needs no
/// NodeClaim, a replace still needs exactly one whose options include all of the command's
/// (else scheduling). Upstream re-checks the candidates once more after the simulation; on one
/// immutable snapshot that second check cannot differ, so it is not repeated.
///
/// # Errors
/// A [`ValidationError`] with the reason and upstream's text.
pub fn validate_command(
    input: &DisruptionInput<'_>,
    settings: &ConsolidationSettings,
    command: &Command,
    rng: &mut SeededRng,
) -> Result<(), ValidationError> {
    let fresh = validate_candidates(input, command)?;
    // The decision's packing (joist commands are packed cost-aware), or a fresh simulation of
    // a joist command would differ from the one that made it.
    let mut simulator = Simulator::for_consolidation(*input, settings);
    let names: Vec<&str> = fresh.iter().map(|c| c.node.as_str()).collect();
    let result = simulator
        .simulate(&names, rng)
        .map_err(|e| ValidationError::new(RejectionReason::Churn, e.to_string()))?;
    let new_results = || {
        ValidationError::new(
            RejectionReason::Scheduling,
            "scheduling simulation produced new results",
        )
    };
    if !result.all_non_pending_scheduled() {
        return Err(new_results());
    }
    match command.decision {
        Decision::Delete if result.new_nodeclaims.is_empty() => Ok(()),
        Decision::Delete => Err(new_results()),
        Decision::Replace => {
            if result.new_nodeclaims.len() != command.replacements.len() {
                return Err(new_results());
            }
            let subset = command.replacements.iter().zip(&result.new_nodeclaims).all(
                |(replacement, claim)| {
                    let offered: BTreeSet<&str> =
                        claim.options.iter().map(|o| o.name.as_str()).collect();
                    replacement
                        .options
                        .iter()
                        .all(|o| offered.contains(o.name.as_str()))
                },
            );
            if subset { Ok(()) } else { Err(new_results()) }
        }
    }
}

/// Upstream `validateCandidates`: the command's candidates as they are now, in command order.
fn validate_candidates(
    input: &DisruptionInput<'_>,
    command: &Command,
) -> Result<Vec<Candidate>, ValidationError> {
    let wanted: BTreeSet<&str> = command.candidates.iter().map(|c| c.node.as_str()).collect();
    let nominated = input
        .snapshot
        .nodes
        .iter()
        .any(|n| n.nominated && wanted.contains(n.name.as_str()));
    if nominated {
        return Err(ValidationError::new(
            RejectionReason::Budget,
            "a candidate was nominated during validation",
        ));
    }
    let mut current: Vec<Candidate> = CandidateSet::build(input, DisruptionClass::Graceful)
        .candidates
        .into_iter()
        .filter(|c| wanted.contains(c.node.as_str()))
        .filter(|c| consolidation_eligibility(input, c) == Eligibility::Yes)
        .collect();
    if current.len() != command.candidates.len() {
        return Err(ValidationError::new(
            RejectionReason::Churn,
            format!(
                "{} candidates are no longer valid",
                command.candidates.len() - current.len()
            ),
        ));
    }
    current.sort_by_key(|c| {
        command
            .candidates
            .iter()
            .position(|o| o.node == c.node)
            .unwrap_or(usize::MAX)
    });
    let mut remaining = remaining_budgets(input);
    for candidate in &current {
        match remaining.get_mut(&candidate.nodepool) {
            Some(left) if *left > 0 => *left -= 1,
            _ => {
                return Err(ValidationError::new(
                    RejectionReason::Budget,
                    "a candidate can no longer be disrupted without violating budgets",
                ));
            }
        }
    }
    Ok(current)
}
