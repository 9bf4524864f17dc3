//! Instance selection and bin-packing (spec core §9.2 items 29–33).

use std::collections::BTreeSet;

use super::support::*;
use crate::labels::{ARCH, CAPACITY_TYPE, INSTANCE_TYPE, OS, ZONE};
use crate::requirements::Operator;
use crate::testing::*;

fn amd64() -> PodBuilder {
    pod().node_selector(ARCH, "amd64")
}

#[test]
fn small_pods_get_the_smallest_type() {
    for memory in ["100M", "2000M"] {
        let s = snapshot()
            .nodepool(nodepool("default"))
            .pod(pod().memory(memory))
            .build();
        assert_eq!(instance_type_of(&run(&s), &s, "pod-0"), "small-instance-type", "{memory}");
    }
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(5, |_| pod().memory("10M"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].instance_types[0], "small-instance-type");
}

#[test]
fn forty_large_pods_need_twenty_default_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(40, |_| amd64().memory("1.8G"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 20);
    assert!(plan
        .new_nodeclaims
        .iter()
        .all(|nc| nc.instance_types[0] == "default-instance-type" && nc.pods.len() == 2));
}

#[test]
fn small_pods_fill_the_gaps_of_large_ones() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(40, |_| amd64().memory("1.8G"))
        .pods(20, |_| amd64().memory("400M"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 20);
    assert_eq!(plan.scheduled_count(), 60);
    assert!(plan
        .new_nodeclaims
        .iter()
        .all(|nc| nc.instance_types[0] == "default-instance-type"));
}

#[test]
fn pod_capacity_splits_tiny_pods_five_per_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(25, |_| amd64().cpu("1m").memory("1m"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 5);
    assert!(plan
        .new_nodeclaims
        .iter()
        .all(|nc| nc.instance_types[0] == "small-instance-type" && nc.pods.len() == 5));
}

#[test]
fn tight_packing_gives_different_types() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(fake_instance_types_n(5))
        .pod(pod().cpu("4.5"))
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 2);
    assert_ne!(
        plan.new_nodeclaims[0].instance_types[0],
        plan.new_nodeclaims[1].instance_types[0]
    );
}

#[test]
fn zero_requests_of_unknown_resources_fit_and_oversized_requests_do_not() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().request("foo.com/weird-resources", "0"))
        .pod(pod().memory("2Ti"))
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_some());
    assert!(plan.nodeclaim_of(1).is_none());
    let explanation = plan.explanation_of(1).unwrap();
    assert!(
        explanation.message.starts_with("no instance type has enough resources, requirements="),
        "{}",
        explanation.message
    );
    let counts = explanation.nodepools[0].instance_types.unwrap();
    assert_eq!(counts.considered, 6);
    assert_eq!(counts.resources, 6);
    assert_eq!(counts.requirements, 0);
}

#[test]
fn cpu_typos_are_pointed_out() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().cpu("2M"))
        .build();
    let plan = run(&s);
    assert!(plan
        .explanation_of(0)
        .unwrap()
        .message
        .ends_with(" (CPU request >= 1 Million, m vs M typo?)"));
}

#[test]
fn cheapest_compatible_type_wins_regardless_of_size_order() {
    let types = vec![
        instance_type("medium").cpu(2).memory("2Gi").offering("on-demand", "test-zone-1a", 3.0, true).build(),
        instance_type("small").cpu(1).memory("1Gi").offering("on-demand", "test-zone-1a", 2.0, true).build(),
        instance_type("large").cpu(4).memory("4Gi").offering("on-demand", "test-zone-1a", 1.0, true).build(),
    ];
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(types)
        .pod(pod().cpu("1m").memory("1Mi"))
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(nc.instance_types, ["large", "small", "medium"]);
    let requirement = nc.requirements.get(INSTANCE_TYPE);
    let names: BTreeSet<&str> = requirement.values().collect();
    assert_eq!(names, BTreeSet::from(["large", "medium", "small"]));
}

#[test]
fn cheaper_on_demand_wins_over_pricier_spot() {
    let types = vec![
        instance_type("spot-pricey").offering("spot", "test-zone-1", 2.0, true).build(),
        instance_type("od-cheap").offering("on-demand", "test-zone-1", 1.0, true).build(),
    ];
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(types)
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].instance_types[0], "od-cheap");
    assert_eq!(
        plan.new_nodeclaims[0].requirements.get(CAPACITY_TYPE).to_string(),
        "karpenter.sh/capacity-type In [on-demand spot]"
    );
}

#[test]
fn capacity_type_and_zone_constraints_narrow_offerings() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(CAPACITY_TYPE, Operator::In, &["spot"]))
        .pod(pod().zone("test-zone-3"))
        .pod(pod().zone("test-zone-2"))
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_none(), "no spot offering in test-zone-3");
    assert_eq!(
        plan.explanation_of(0).unwrap().nodepools[0].instance_types.unwrap().offerings,
        6
    );
    let nc = plan.nodeclaim_of(1).unwrap();
    assert_eq!(nc.requirements.get(CAPACITY_TYPE).to_string(), "karpenter.sh/capacity-type In [spot]");
}

#[test]
fn unavailable_offerings_are_invisible() {
    let types = vec![
        instance_type("gone").offering("on-demand", "test-zone-1", 0.01, false).build(),
        instance_type("here").offering("on-demand", "test-zone-1", 1.0, true).build(),
    ];
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(types)
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].instance_types, ["here"]);
}

#[test]
fn different_selectors_go_to_different_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().node_selector(ARCH, "arm64"))
        .pod(pod().node_selector(ARCH, "amd64"))
        .pod(pod().node_selector(OS, "ios"))
        .pod(pod().zone("test-zone-3"))
        .pod(pod().node_selector(INSTANCE_TYPE, "small-instance-type"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.scheduled_count(), 5);
    assert!(plan.new_nodeclaims.len() >= 2);
    assert_eq!(instance_type_of(&plan, &s, "pod-0"), "arm-instance-type");
    assert_eq!(instance_type_of(&plan, &s, "pod-2"), "arm-instance-type");
    let zone3 = plan.nodeclaim_of(3).unwrap();
    assert_eq!(zone3.requirements.get(ZONE).to_string(), "topology.kubernetes.io/zone In [test-zone-3]");
}

#[test]
fn resources_no_single_type_has_fail() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().request(FAKE_GPU_VENDOR_A, "1").request(FAKE_GPU_VENDOR_B, "1"))
        .pod(pod().request(FAKE_GPU_VENDOR_A, "1"))
        .pod(pod().request(FAKE_GPU_VENDOR_B, "1"))
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_none());
    assert_eq!(plan.new_nodeclaims.len(), 2);
}

#[test]
fn provider_labels_filter_types() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().node_selector(FAKE_SIZE_LABEL, "large"))
        .pod(pod().node_requirement(FAKE_SPECIAL_LABEL, Operator::DoesNotExist, &[]))
        .pod(pod().node_requirement(FAKE_SPECIAL_LABEL, Operator::In, &["optional"]))
        .build();
    let plan = run(&s);
    assert_eq!(instance_type_of(&plan, &s, "pod-0"), "arm-instance-type");
    assert_ne!(instance_type_of(&plan, &s, "pod-1"), "arm-instance-type");
    assert_eq!(instance_type_of(&plan, &s, "pod-2"), "arm-instance-type");
}
