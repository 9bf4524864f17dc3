//! Labels, annotations and taints (spec core §9.2 items 14–16).

use super::support::*;
use crate::labels::{CAPACITY_TYPE, ZONE};
use crate::requirements::Operator;
use crate::taints::{Effect, Toleration};
use crate::testing::*;

#[test]
fn template_labels_and_requirement_values_become_node_labels() {
    let s = snapshot()
        .nodepool(
            nodepool("default")
                .label("team", "a")
                .requirement("env", Operator::In, &["prod"])
                .requirement("tier", Operator::NotIn, &["1", "2"])
                .requirement("slot", Operator::Gt, &["8"])
                .requirement("rack", Operator::Lt, &["3"])
                .requirement("anything", Operator::Exists, &[])
                .requirement("absent", Operator::DoesNotExist, &[])
                .requirement(ZONE, Operator::In, &["test-zone-1"])
                .requirement(CAPACITY_TYPE, Operator::In, &["spot"]),
        )
        .pod(pod())
        .build();
    let plan = run(&s);
    let labels = &plan.new_nodeclaims[0].labels;
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(labels.get("env").map(String::as_str), Some("prod"));
    let tier = labels.get("tier").expect("NotIn gets a label");
    assert!(tier != "1" && tier != "2");
    let slot: i64 = labels.get("slot").expect("Gt gets a label").parse().unwrap();
    assert!(slot > 8);
    let rack: i64 = labels.get("rack").expect("Lt gets a label").parse().unwrap();
    assert!(rack < 3);
    assert!(labels.contains_key("anything"));
    assert!(!labels.contains_key("absent"));
    assert!(!labels.contains_key(ZONE), "well-known requirements are left to the provider");
    assert!(!labels.contains_key(CAPACITY_TYPE));
    assert_eq!(labels.get("karpenter.sh/nodepool").map(String::as_str), Some("default"));
}

#[test]
fn random_label_values_are_reproducible_from_the_seed() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement("slot", Operator::Exists, &[]))
        .pod(pod())
        .build();
    let a = run(&s);
    let b = run(&s);
    assert_eq!(a.new_nodeclaims[0].labels, b.new_nodeclaims[0].labels);
}

#[test]
fn kubernetes_domain_labels_and_template_annotations_are_applied() {
    let s = snapshot()
        .nodepool(
            nodepool("default")
                .label("node-role.kubernetes.io/worker", "true")
                .label("sub.k8s.io/x", "y")
                .annotation("example.com/owner", "team-a"),
        )
        .pod(pod())
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(
        nc.labels.get("node-role.kubernetes.io/worker").map(String::as_str),
        Some("true")
    );
    assert_eq!(nc.labels.get("sub.k8s.io/x").map(String::as_str), Some("y"));
    assert_eq!(
        nc.annotations.get("example.com/owner").map(String::as_str),
        Some("team-a")
    );
}

#[test]
fn nodepool_taints_are_applied_and_must_be_tolerated() {
    let base = || {
        snapshot().nodepool(
            nodepool("default")
                .taint("dedicated=gpu:NoSchedule")
                .startup_taint("example.com/booting:NoSchedule"),
        )
    };
    let intolerant = base().pod(pod()).build();
    let plan = run(&intolerant);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "did not tolerate taint (taint=dedicated=gpu:NoSchedule)"
    );
    let tolerant = base()
        .pod(pod().tolerate("dedicated", "gpu", Effect::NoSchedule))
        .build();
    let plan = run(&tolerant);
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(nc.taints.len(), 1);
    assert_eq!(nc.startup_taints.len(), 1, "startup taints need no toleration");
}

#[test]
fn exists_tolerations_do_not_create_taints() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().toleration(Toleration::everything()))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims[0].taints.is_empty());
}
