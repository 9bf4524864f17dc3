//! NodePool instance filtering (spec core §9.2 item 61): requirements that leave no instance
//! type, and offering capacity overrides.

use super::support::*;
use crate::labels::{ARCH, CAPACITY_TYPE, INSTANCE_TYPE, ZONE};
use crate::requirements::Operator;
use crate::scheduling::{NO_COMPATIBLE_INSTANCE_TYPES, NodePoolEvent, Plan};
use crate::testing::*;

const FILTERED: &str = "nodepool requirements filtered out all available instance types";

/// Asserts the pod error, the skipped NodePool's log reason and its Warning event.
fn assert_filtered_out(plan: &Plan, message: &'static str) {
    assert!(plan.new_nodeclaims.is_empty(), "{plan:#?}");
    assert_eq!(
        plan.explanation_of(0).expect("unschedulable").message,
        FILTERED
    );
    let skipped = &plan.skipped_nodepools[0];
    assert_eq!(skipped.nodepool, "default");
    assert!(
        skipped
            .reason
            .starts_with("skipping, nodepool requirements filtered out all instance types"),
        "{}",
        skipped.reason
    );
    assert_eq!(
        skipped.event(),
        Some(NodePoolEvent {
            reason: NO_COMPATIBLE_INSTANCE_TYPES,
            message,
        })
    );
}

const EVENT: &str = "NodePool requirements filtered out all compatible available instance types";

#[test]
fn requirements_that_remove_every_type_fail_pods_and_warn_on_the_nodepool() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(INSTANCE_TYPE, Operator::In, &["no-such-type"]))
        .pod(pod())
        .build();
    assert_filtered_out(&run(&s), EVENT);
}

#[test]
fn conflicting_requirements_behave_the_same() {
    // Every fake arm64 type is arm-instance-type; asking for another name on arm64 leaves none.
    let s = snapshot()
        .nodepool(
            nodepool("default")
                .requirement(ARCH, Operator::In, &["arm64"])
                .requirement(INSTANCE_TYPE, Operator::In, &["default-instance-type"]),
        )
        .pod(pod())
        .build();
    assert_filtered_out(&run(&s), EVENT);
}

#[test]
fn zone_only_filters_behave_the_same() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, Operator::In, &["no-such-zone"]))
        .pod(pod())
        .build();
    assert_filtered_out(&run(&s), EVENT);
}

#[test]
fn unmeetable_min_values_warn_with_the_min_values_message() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement_with_min_values(
            INSTANCE_TYPE,
            Operator::Exists,
            &[],
            Some(1000),
        ))
        .pod(pod())
        .build();
    assert_filtered_out(
        &run(&s),
        "NodePool requirements filtered out all compatible available instance types due to minValues incompatibility",
    );
}

#[test]
fn a_filtered_nodepool_does_not_hide_a_usable_one() {
    let s = snapshot()
        .nodepool(
            nodepool("narrow")
                .weight(100)
                .requirement(ZONE, Operator::In, &["no-such-zone"]),
        )
        .nodepool(nodepool("default"))
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].nodepool, "default");
    assert_eq!(
        plan.skipped_nodepools[0].event().map(|e| e.reason),
        Some(NO_COMPATIBLE_INSTANCE_TYPES)
    );
}

// === offering capacity overrides ===

const ACCELERATOR: &str = "example.com/accelerator";

/// One type whose spot offering in zone 1 carries an accelerator override; its on-demand
/// offering in zone 2 is plain.
fn overridden(spot_available: bool) -> crate::instancetype::InstanceType {
    instance_type("overlaid")
        .cpu(4)
        .memory("8Gi")
        .pods(10)
        .offering("spot", "test-zone-1", 0.5, spot_available)
        .capacity_override(&[(ACCELERATOR, "2")])
        .offering("on-demand", "test-zone-2", 0.4, true)
        .build()
}

fn capacity_types(plan: &Plan, pod: usize) -> String {
    plan.nodeclaim_of(pod)
        .expect("scheduled")
        .requirements
        .get(CAPACITY_TYPE)
        .to_string()
}

#[test]
fn an_override_matches_only_pods_that_request_the_overridden_resource() {
    let s = snapshot()
        .instance_types(vec![overridden(true)])
        .nodepool(nodepool("default"))
        .pod(pod().name("accelerated").request(ACCELERATOR, "1"))
        .build();
    let plan = run(&s);
    assert_eq!(
        capacity_types(&plan, 0),
        "karpenter.sh/capacity-type In [spot]",
        "only the overridden offering holds the accelerator"
    );
    assert_eq!(
        Plan::instance_type_names(&plan.new_nodeclaims[0]),
        ["overlaid"]
    );
    let plain = snapshot()
        .instance_types(vec![overridden(true)])
        .nodepool(nodepool("default"))
        .pod(pod().name("plain").cpu("1"))
        .build();
    let plan = run(&plain);
    assert_eq!(
        capacity_types(&plan, 0),
        "karpenter.sh/capacity-type In [on-demand spot]",
        "a pod without the request may use every offering"
    );
    assert_eq!(
        Plan::instance_type_names(&plan.new_nodeclaims[0]),
        ["overlaid"],
        "variants share the type's name once"
    );
}

#[test]
fn the_overridden_resource_is_not_available_outside_its_offerings() {
    let s = snapshot()
        .instance_types(vec![overridden(true)])
        .nodepool(nodepool("default"))
        .pod(pod().request(ACCELERATOR, "1").zone("test-zone-2"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty(), "{plan:#?}");
    assert!(plan.explanation_of(0).is_some());
}

#[test]
fn unavailable_override_offerings_are_rejected() {
    let s = snapshot()
        .instance_types(vec![overridden(false)])
        .nodepool(nodepool("default"))
        .pod(pod().name("accelerated").request(ACCELERATOR, "1"))
        .pod(pod().name("plain").cpu("1"))
        .build();
    let plan = run(&s);
    let accelerated = pod_named(&s, "accelerated");
    assert!(plan.nodeclaim_of(accelerated).is_none(), "{plan:#?}");
    assert!(plan.explanation_of(accelerated).is_some());
    assert_eq!(
        capacity_types(&plan, pod_named(&s, "plain")),
        "karpenter.sh/capacity-type In [on-demand]"
    );
}
