//! Reserved capacity (spec core §9.2 item 60).

use super::support::*;
use crate::labels::CAPACITY_TYPE;
use crate::scheduling::{ReservedOfferingMode, SchedulingSettings};
use crate::testing::*;

/// One type bookable on demand or through reservation `r-1` holding `capacity` instances.
fn reservable(capacity: u32) -> Vec<crate::instancetype::InstanceType> {
    vec![
        instance_type("reservable")
            .offering("on-demand", "test-zone-1", 1.0, true)
            .reserved_offering("test-zone-1", 0.5, "r-1", capacity)
            .build(),
    ]
}

#[test]
fn reserved_nodeclaims_are_pinned_to_their_reservations() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(reservable(1))
        .pods(2, |_| pod().cpu("100m"))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.new_nodeclaims.len(),
        1,
        "both pods fit one reserved node"
    );
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(
        nc.requirements.get(CAPACITY_TYPE).to_string(),
        "karpenter.sh/capacity-type In [reserved]"
    );
    assert_eq!(
        nc.requirements.get(FAKE_RESERVATION_ID_LABEL).to_string(),
        "karpenter.test.sh/reservation-id In [r-1]"
    );
}

#[test]
fn exhausted_reservations_defer_instead_of_falling_back() {
    let s = snapshot()
        .nodepool(nodepool("reserved").weight(10))
        .nodepool(nodepool("other"))
        .instance_types(reservable(1))
        .pods(2, |_| pod().cpu("100m").host_port(80))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].nodepool, "reserved");
    assert_eq!(
        plan.deferred.len(),
        1,
        "the second pod waits for the next round"
    );
    assert!(plan.unschedulable.is_empty());
}

#[test]
fn capacity_allows_as_many_nodeclaims_as_the_reservation_holds() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(reservable(2))
        .pods(3, |_| pod().cpu("100m").host_port(80))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 2);
    assert_eq!(plan.deferred.len(), 1);
}

#[test]
fn reservations_shared_by_nodepools_are_counted_once() {
    let s = snapshot()
        .nodepool(nodepool("a"))
        .nodepool(nodepool("b"))
        .instance_types_for("a", reservable(3))
        .instance_types_for("b", reservable(1))
        .pods(2, |_| pod().cpu("100m").host_port(80))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.new_nodeclaims.len(),
        1,
        "the smallest capacity seen wins"
    );
    assert_eq!(plan.deferred.len(), 1);
}

#[test]
fn fallback_mode_and_disabled_gate_launch_on_demand() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(reservable(1))
        .pods(2, |_| pod().cpu("100m").host_port(80))
        .build();
    let fallback = SchedulingSettings {
        reserved_offering_mode: ReservedOfferingMode::Fallback,
        ..fake_settings()
    };
    let plan = run_with(&s, &fallback);
    assert_eq!(plan.new_nodeclaims.len(), 2);
    assert!(plan.deferred.is_empty());
    let gated = SchedulingSettings {
        reserved_capacity: false,
        ..fake_settings()
    };
    let plan = run_with(&s, &gated);
    assert_eq!(plan.new_nodeclaims.len(), 2);
    assert!(
        plan.new_nodeclaims
            .iter()
            .all(|nc| !nc.requirements.has(FAKE_RESERVATION_ID_LABEL))
    );
}
