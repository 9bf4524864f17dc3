//! NodePool limits and weights (spec core §9.2 items 36–37).

use super::support::*;
use crate::labels::NODEPOOL;
use crate::testing::*;

#[test]
fn exceeded_limits_schedule_nothing_and_met_limits_schedule() {
    let exceeded = snapshot()
        .nodepool(nodepool("default").limit("cpu", "1"))
        .node(node("existing").nodepool("default").cpu("2").memory("2Gi").pods(0))
        .pod(pod().cpu("100m"))
        .build();
    let plan = run(&exceeded);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "all available instance types exceed limits for nodepool (NodePool=default)"
    );
    let met = snapshot()
        .nodepool(nodepool("default").limit("cpu", "100"))
        .pod(pod().cpu("100m"))
        .build();
    assert_eq!(run(&met).new_nodeclaims.len(), 1);
}

#[test]
fn limits_are_pessimistic_within_a_round() {
    // Two 1.5-CPU pods that cannot share a node (same host port) under a 3-CPU limit: the first
    // NodeClaim may launch any type up to 2 CPU, which leaves too little for a second one.
    let s = snapshot()
        .nodepool(nodepool("default").limit("cpu", "3"))
        .pods(2, |_| pod().cpu("1.5").host_port(80))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.unschedulable.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].instance_types, ["small-instance-type"]);
}

#[test]
fn gpu_limits_are_enforced() {
    let s = snapshot()
        .nodepool(nodepool("default").limit(FAKE_GPU_VENDOR_A, "2"))
        .pods(2, |_| pod().request(FAKE_GPU_VENDOR_A, "2"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.unschedulable.len(), 1);
}

#[test]
fn limits_count_nodes_from_earlier_rounds() {
    let s = snapshot()
        .nodepool(nodepool("default").limit("cpu", "2"))
        .node(node("earlier").nodepool("default").cpu("2").memory("2Gi").pods(0))
        .pod(pod().cpu("1.75"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty() && plan.nominations.is_empty());
    assert_eq!(plan.unschedulable.len(), 1);
}

#[test]
fn node_limits_refuse_more_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default").limit("nodes", "2"))
        .node(node("a").nodepool("default").cpu("1").pods(1))
        .node(node("b").nodepool("default").cpu("1").pods(1))
        .pod(pod().cpu("2"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "node limits have been exhausted for nodepool (NodePool=default)"
    );
    let one_left = snapshot()
        .nodepool(nodepool("default").limit("nodes", "2"))
        .node(node("a").nodepool("default").cpu("1").pods(1))
        .pod(pod().cpu("2"))
        .build();
    assert_eq!(run(&one_left).new_nodeclaims.len(), 1);
}

#[test]
fn highest_weight_nodepool_is_used() {
    let s = snapshot()
        .nodepool(nodepool("unset"))
        .nodepool(nodepool("twenty").weight(20))
        .nodepool(nodepool("hundred").weight(100))
        .pods(3, |_| pod())
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.iter().all(|nc| nc.nodepool == "hundred"));
}

#[test]
fn equal_weights_go_by_reverse_name_and_selectors_override_weight() {
    let s = snapshot()
        .nodepool(nodepool("alpha").weight(10))
        .nodepool(nodepool("beta").weight(10))
        .nodepool(nodepool("low"))
        .pod(pod())
        .pod(pod().node_selector(NODEPOOL, "low"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.nodeclaim_of(0).unwrap().nodepool, "beta");
    assert_eq!(plan.nodeclaim_of(1).unwrap().nodepool, "low");
}

#[test]
fn lower_weight_pools_are_used_when_higher_ones_cannot_take_the_pod() {
    let s = snapshot()
        .nodepool(nodepool("tainted").weight(50).taint("dedicated=x:NoSchedule"))
        .nodepool(nodepool("open"))
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].nodepool, "open");
}
