//! Provisioning basics (spec core §9.2 items 1–13).

use super::support::*;
use crate::testing::*;

#[test]
fn single_pending_pod_gets_one_nodeclaim() {
    let s = snapshot().nodepool(nodepool("default")).pod(pod()).build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].pods, vec![0]);
    assert!(plan.unschedulable.is_empty());
}

#[test]
fn several_small_pods_share_one_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(3, |_| pod().cpu("100m"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].pods.len(), 3);
}
