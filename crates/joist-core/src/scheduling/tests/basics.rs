//! Provisioning basics (spec core §9.2 items 1, 3–11, 13).

use super::support::*;
use crate::labels::{ARCH, INSTANCE_TYPE, NODEPOOL, NODEPOOL_HASH, OS};
use crate::requirements::Operator;
use crate::resources::{InitContainerResources, PodResources, ResourceList};
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

#[test]
fn deleting_nodepools_are_ignored() {
    let s = snapshot()
        .nodepool(nodepool("gone").weight(100).deleting())
        .nodepool(nodepool("default"))
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].nodepool, "default");
    assert!(plan.skipped_nodepools.iter().any(|s| s.nodepool == "gone"));
}

#[test]
fn not_ready_nodepools_schedule_nothing() {
    let s = snapshot()
        .nodepool(nodepool("default").not_ready())
        .pod(pod())
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "no dynamic nodepools found"
    );
    assert_eq!(
        plan.skipped_nodepools[0].reason,
        "ignoring nodepool, not ready"
    );
}

#[test]
fn without_nodepools_every_pod_is_marked() {
    let s = snapshot().pods(2, |_| pod()).build();
    let plan = run(&s);
    assert_eq!(plan.unschedulable.len(), 2);
    assert!(
        plan.unschedulable
            .iter()
            .all(|u| u.explanation.message == "no dynamic nodepools found")
    );
}

#[test]
fn static_nodepools_do_not_provision_but_dynamic_ones_still_do() {
    let only_static = snapshot()
        .nodepool(nodepool("static").replicas(3))
        .pod(pod())
        .build();
    let plan = run(&only_static);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(plan.unschedulable.len(), 1);
    let mixed = snapshot()
        .nodepool(nodepool("static").replicas(3))
        .nodepool(nodepool("dynamic"))
        .pod(pod())
        .build();
    let plan = run(&mixed);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].nodepool, "dynamic");
}

#[test]
fn requirements_carry_instance_types_nodepool_and_template_requirements() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement("team", Operator::In, &["a", "b"]))
        .pod(
            pod()
                .node_selector(ARCH, "amd64")
                .node_selector(OS, "linux"),
        )
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    let types = nc.requirements.get(INSTANCE_TYPE);
    let mut names: Vec<&str> = types.values().collect();
    names.sort_unstable();
    // arm64 types are excluded by the pod's arch selector.
    assert_eq!(
        names,
        [
            "default-instance-type",
            "gpu-vendor-b-instance-type",
            "gpu-vendor-instance-type",
            "single-pod-instance-type",
            "small-instance-type"
        ]
    );
    assert_eq!(
        nc.requirements.get(NODEPOOL).to_string(),
        "karpenter.sh/nodepool In [default]"
    );
    assert_eq!(nc.requirements.get("team").to_string(), "team In [a b]");
    assert!(!nc.requirements.has("karpenter.sh/registered"));
    assert!(!nc.requirements.has("kubernetes.io/hostname"));
    assert_eq!(
        &*nc.instance_types[0], "small-instance-type",
        "cheapest first"
    );
}

#[test]
fn nodeclaim_copies_node_class_ref_tgp_and_hash() {
    let s = snapshot()
        .nodepool(nodepool("default").termination_grace_period("1h"))
        .pod(pod())
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(nc.node_class_ref.kind, "TestNodeClass");
    assert_eq!(nc.node_class_ref.name, "default");
    assert_eq!(nc.termination_grace_period.as_deref(), Some("1h"));
    assert_eq!(nc.expire_after.as_deref(), Some("720h"));
    assert_eq!(
        nc.annotations.get(NODEPOOL_HASH).map(String::as_str),
        Some("test-hash")
    );
    assert_eq!(
        nc.labels
            .get("karpenter.test.sh/testnodeclass")
            .map(String::as_str),
        Some("default")
    );
}

#[test]
fn requests_add_daemonset_overhead_once() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .daemonset(daemonset("ds").template(pod().cpu("1").memory("1Mi")))
        .pods(2, |_| pod().cpu("1").memory("1Mi"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    let requests = &plan.new_nodeclaims[0].requests;
    assert_eq!(requests.get("cpu"), Some(quantity("3")));
    assert_eq!(requests.get("memory"), Some(quantity("3Mi")));
    assert_eq!(requests.get("pods"), Some(quantity("3")));
}

#[test]
fn accelerator_requests_pick_the_gpu_type() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().request(FAKE_GPU_VENDOR_A, "1"))
        .pod(pod().request(FAKE_GPU_VENDOR_B, "1"))
        .build();
    let plan = run(&s);
    assert_eq!(
        instance_type_of(&plan, &s, "pod-0"),
        "gpu-vendor-instance-type"
    );
    assert_eq!(
        instance_type_of(&plan, &s, "pod-1"),
        "gpu-vendor-b-instance-type"
    );
    assert_eq!(plan.new_nodeclaims.len(), 2);
}

#[test]
fn pod_capacity_forces_more_nodes() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(
            INSTANCE_TYPE,
            Operator::In,
            &["single-pod-instance-type"],
        ))
        .pods(3, |_| pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 3);
}

#[test]
fn nodeclaims_with_the_same_options_share_one_instance_type_list() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(
            INSTANCE_TYPE,
            Operator::In,
            &["single-pod-instance-type"],
        ))
        .pods(3, |_| pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 3);
    let first = &plan.new_nodeclaims[0];
    assert_eq!(&*first.instance_types[0], "single-pod-instance-type");
    for nc in &plan.new_nodeclaims[1..] {
        assert!(std::sync::Arc::ptr_eq(
            &nc.instance_types,
            &first.instance_types
        ));
        assert_eq!(
            nc.requirements.find(INSTANCE_TYPE),
            first.requirements.find(INSTANCE_TYPE)
        );
    }
}

#[test]
fn init_containers_and_runtime_overhead_count() {
    let init = PodResources {
        init_containers: vec![InitContainerResources::regular(
            [("cpu", quantity("2")), ("memory", quantity("1Gi"))]
                .into_iter()
                .collect(),
        )],
        ..PodResources::default()
    };
    let overhead = PodResources {
        overhead: [("cpu", quantity("2"))]
            .into_iter()
            .collect::<ResourceList>(),
        ..PodResources::default()
    };
    let huge_init = PodResources {
        init_containers: vec![InitContainerResources::regular(
            [("memory", quantity("1Ti"))].into_iter().collect(),
        )],
        ..PodResources::default()
    };
    let alone = |p: crate::testing::PodBuilder| {
        let s = snapshot().nodepool(nodepool("default")).pod(p).build();
        let plan = run(&s);
        plan.new_nodeclaims
            .first()
            .map(|nc| nc.instance_types[0].to_string())
    };
    assert_eq!(
        alone(pod().cpu("1").memory("1Gi").resources(init)).as_deref(),
        Some("default-instance-type")
    );
    assert_eq!(
        alone(pod().cpu("1").resources(overhead)).as_deref(),
        Some("default-instance-type")
    );
    assert_eq!(alone(pod().cpu("1").resources(huge_init)), None);
}

#[test]
fn pods_of_a_deleting_in_flight_node_move_to_one_new_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(
            node("in-flight")
                .nodepool("default")
                .initialized(false)
                .registered(false)
                .cpu("4")
                .memory("4Gi")
                .pods(5)
                .marked_for_deletion(),
        )
        .pods(3, |i| {
            pod().cpu("100m").node_name("in-flight").created(i as i64)
        })
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1);
    assert_eq!(plan.new_nodeclaims[0].pods.len(), 3);
    assert!(plan.nominations.is_empty());
}
