//! Validation of consolidation commands after the 15 s delay (§4.11; §9.2 items 76, 80).

use std::sync::Arc;

use super::consolidation::{app, machine, multi, od_types, open, settings, single, three_mediums};
use super::*;
use crate::instancetype::InstanceType;
use crate::rng::SeededRng;

fn upstream() -> ConsolidationSettings {
    settings(SearchMode::Upstream)
}

fn big_and_small() -> SnapshotBuilder {
    snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("big", "a", "large", "on-demand", 8))
        .node(machine("small", "a", "medium", "on-demand", 4))
        .pod(app("p0", "big", "1"))
        .pod(app("p1", "small", "1"))
}

fn validate(f: &Fixture, command: &Command) -> Result<(), ValidationError> {
    validate_command(&f.input(), &upstream(), command, &mut SeededRng::new(2))
}

#[test]
fn item_80_a_command_still_valid_passes() {
    let f = open(big_and_small());
    let command = single(&f, &upstream()).command.unwrap();
    assert_eq!(validate(&f, &command), Ok(()));
    let f = open(three_mediums());
    let command = multi(&f, &upstream()).command.unwrap();
    assert_eq!(validate(&f, &command), Ok(()));
}

#[test]
fn item_80_a_do_not_disrupt_pod_arriving_is_churn() {
    let f = open(big_and_small());
    let command = single(&f, &upstream()).command.unwrap();
    let later =
        open(big_and_small().pod(app("guard", "big", "0.1").annotation(DO_NOT_DISRUPT, "true")));
    let error = validate(&later, &command).unwrap_err();
    assert_eq!(error.reason, RejectionReason::Churn);
    assert_eq!(error.message, "1 candidates are no longer valid");
    assert_eq!(
        error.event_message(&command),
        "Consolidation rejected: delete: nodepools=[a]: [big], reason: churn (savings: $1.50)"
    );
}

#[test]
fn item_80_nomination_and_budgets_are_budget_failures() {
    let f = open(big_and_small());
    let command = single(&f, &upstream()).command.unwrap();
    let mut nominated = open(big_and_small());
    nominated
        .snapshot
        .nodes
        .iter_mut()
        .for_each(|n| n.nominated = n.name == "big");
    let error = validate(&nominated, &command).unwrap_err();
    assert_eq!(error.reason, RejectionReason::Budget);
    assert_eq!(error.message, "a candidate was nominated during validation");
    let blocked = open(big_and_small()).budgets("a", vec![Budget::new("0")]);
    let error = validate(&blocked, &command).unwrap_err();
    assert_eq!(error.reason, RejectionReason::Budget);
    assert_eq!(
        error.message,
        "a candidate can no longer be disrupted without violating budgets"
    );
}

#[test]
fn item_80_new_scheduling_results_are_scheduling_failures() {
    let f = open(big_and_small());
    let command = single(&f, &upstream()).command.unwrap();
    // The destination filled up: the delete now needs a NodeClaim.
    let later = open(big_and_small().pod(app("filler", "small", "2.8")));
    let error = validate(&later, &command).unwrap_err();
    assert_eq!(error.reason, RejectionReason::Scheduling);
    assert_eq!(error.message, "scheduling simulation produced new results");
}

#[test]
fn item_80_replacement_types_that_changed_are_scheduling_failures() {
    let f = open(three_mediums());
    let command = multi(&f, &upstream()).command.unwrap();
    // `large` is no longer offered: the re-simulation needs an `xlarge`, not a superset of the
    // command's options.
    let mut later = open(three_mediums());
    let types: Vec<InstanceType> = od_types()
        .into_iter()
        .filter(|it| it.name != "large")
        .collect();
    later
        .snapshot
        .instance_types
        .insert("a".into(), Arc::from(types));
    let error = validate(&later, &command).unwrap_err();
    assert_eq!(error.reason, RejectionReason::Scheduling);
}
