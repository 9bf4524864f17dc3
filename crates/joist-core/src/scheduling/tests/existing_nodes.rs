//! In-flight and existing nodes (spec core §9.2 items 39, 41–44).

use super::support::*;
use crate::labels::{INITIALIZED, REGISTERED, ZONE};
use crate::taints::Effect;
use crate::testing::*;

fn managed(name: &str) -> NodeBuilder {
    node(name)
        .nodepool("default")
        .instance_type("default-instance-type", "on-demand")
        .zone("test-zone-1")
        .cpu("3900m")
        .memory("4086Mi")
        .pods(5)
}

#[test]
fn a_node_with_room_takes_the_pod() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1"))
        .pod(pod().cpu("1"))
        .pod(pod().cpu("1").zone("test-zone-1"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(plan.nomination_of(0), Some("n1"));
    assert_eq!(plan.nomination_of(1), Some("n1"));
}

#[test]
fn full_or_incompatible_nodes_lead_to_new_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1"))
        .pod(pod().name("big").cpu("3"))
        .pod(pod().name("more").cpu("3"))
        .pod(pod().name("elsewhere").cpu("100m").zone("test-zone-2"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.nomination_of(pod_named(&s, "big")), Some("n1"));
    assert!(plan.nodeclaim_of(pod_named(&s, "more")).is_some());
    assert!(plan.nodeclaim_of(pod_named(&s, "elsewhere")).is_some());
}

#[test]
fn bound_pods_use_up_a_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1"))
        .pod(pod().cpu("3").node_name("n1"))
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&s);
    assert!(plan.nominations.is_empty());
    assert_eq!(plan.new_nodeclaims.len(), 1);
}

#[test]
fn nodes_marked_for_deletion_are_not_used() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1").marked_for_deletion())
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&s);
    assert!(plan.nominations.is_empty());
    assert_eq!(plan.new_nodeclaims.len(), 1);
}

#[test]
fn untolerated_taints_on_in_flight_nodes_block_them() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1").taint("team=a:NoSchedule"))
        .pod(pod())
        .pod(pod().tolerate("team", "a", Effect::NoSchedule))
        .build();
    let plan = run(&s);
    assert!(plan.nomination_of(0).is_none());
    assert_eq!(plan.nomination_of(1), Some("n1"));
}

#[test]
fn uninitialized_nodes_ignore_startup_and_ephemeral_taints() {
    let uninitialized = managed("n1")
        .initialized(false)
        .taint("node.kubernetes.io/not-ready:NoExecute")
        .startup_taint("example.com/agent:NoSchedule");
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(uninitialized.clone())
        .pod(pod())
        .build();
    assert_eq!(run(&s).nomination_of(0), Some("n1"));
    let initialized = snapshot()
        .nodepool(nodepool("default"))
        .node(uninitialized.initialized(true))
        .pod(pod())
        .build();
    assert_eq!(run(&initialized).nomination_of(0), None, "after initialization they count");
}

#[test]
fn expected_daemon_pods_are_reserved_on_existing_nodes() {
    let base = || {
        snapshot()
            .nodepool(nodepool("default"))
            .node(managed("n1"))
            .daemonset(daemonset("ds").template(pod().cpu("1")))
    };
    let s = base().pod(pod().cpu("3")).build();
    assert_eq!(run(&s).nomination_of(0), None, "3 + 1 expected daemon CPU > 3.9");
    let bound = base()
        .pod(pod().cpu("1").owner("apps/v1", "DaemonSet", "ds").node_name("n1"))
        .pod(pod().cpu("2.5"))
        .build();
    assert_eq!(run(&bound).nomination_of(1), Some("n1"), "the daemon pod is already counted");
    let unexpected = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1"))
        .daemonset(daemonset("ds").template(pod().cpu("1").node_selector("team", "x")))
        .pod(pod().cpu("500m").owner("apps/v1", "DaemonSet", "other").node_name("n1"))
        .pod(pod().cpu("3.4"))
        .build();
    assert_eq!(run(&unexpected).nomination_of(1), Some("n1"), "no negative daemon reservation");
}

#[test]
fn daemon_affinity_to_registration_labels_counts() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1").label(REGISTERED, "true").label(INITIALIZED, "true"))
        .daemonset(daemonset("ds").template(pod().cpu("1").node_selector(INITIALIZED, "true")))
        .pod(pod().cpu("3"))
        .build();
    assert_eq!(run(&s).nomination_of(0), None);
    let new = snapshot()
        .nodepool(nodepool("default"))
        .daemonset(daemonset("ds").template(pod().cpu("2").node_selector(REGISTERED, "true")))
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&new);
    assert_eq!(plan.new_nodeclaims[0].instance_types[0], "default-instance-type");
}

#[test]
fn initialized_nodes_come_first_and_unmanaged_nodes_are_used() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("a-uninitialized").initialized(false))
        .node(managed("b-initialized"))
        .pod(pod())
        .build();
    assert_eq!(run(&s).nomination_of(0), Some("b-initialized"));
    let unmanaged = snapshot()
        .nodepool(nodepool("default"))
        .node(node("self-managed").cpu("2").memory("2Gi").pods(10))
        .pod(pod())
        .build();
    assert_eq!(run(&unmanaged).nomination_of(0), Some("self-managed"));
}

#[test]
fn existing_nodes_need_labels_for_every_pod_key() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, crate::requirements::Operator::Exists, &[]).label("team", "a"))
        .node(managed("n1"))
        .pod(pod().node_selector("team", "a"))
        .build();
    let plan = run(&s);
    assert!(plan.nominations.is_empty(), "the node lacks the team label");
    assert_eq!(plan.new_nodeclaims.len(), 1);
}

#[test]
fn pods_with_the_same_host_port_use_different_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(3, |_| pod().host_port(8080))
        .build();
    assert_eq!(run(&s).new_nodeclaims.len(), 3);
    let with_node = snapshot()
        .nodepool(nodepool("default"))
        .node(managed("n1"))
        .pod(pod().host_port(8080).node_name("n1"))
        .pod(pod().host_port(8080))
        .build();
    let plan = run(&with_node);
    assert!(plan.nominations.is_empty());
    assert_eq!(plan.new_nodeclaims.len(), 1);
}
