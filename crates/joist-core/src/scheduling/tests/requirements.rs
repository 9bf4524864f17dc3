//! Requirements and selectors (spec core §9.2 items 17–23).

use super::support::*;
use crate::labels::{ARCH, HOSTNAME, INSTANCE_TYPE, NODEPOOL, ZONE};
use crate::requirements::Operator;
use crate::testing::*;

fn zone_of(plan: &crate::scheduling::Plan, pod: usize) -> String {
    plan.nodeclaim_of(pod)
        .expect("scheduled")
        .requirements
        .get(ZONE)
        .to_string()
}

#[test]
fn unconstrained_pods_schedule() {
    let s = snapshot().nodepool(nodepool("default")).pod(pod()).build();
    assert_eq!(run(&s).new_nodeclaims.len(), 1);
}

#[test]
fn selectors_conflicting_with_template_labels_fail() {
    let s = snapshot()
        .nodepool(nodepool("default").label("team", "a"))
        .pod(pod().node_selector("team", "b"))
        .pod(pod().node_selector("team", "a"))
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_none());
    assert!(plan.nodeclaim_of(1).is_some());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "incompatible requirements, key team, team In [b] not in team In [a]"
    );
}

#[test]
fn selectors_on_undefined_custom_keys_fail() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().node_selector("team", "a"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "incompatible requirements, label \"team\" does not have known values"
    );
}

#[test]
fn zones_from_nodepool_and_pod_narrow_together() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, Operator::In, &["test-zone-1", "test-zone-2"]))
        .pod(pod().name("any"))
        .pod(pod().name("two").zone("test-zone-2"))
        .pod(pod().name("three").zone("test-zone-3"))
        .build();
    let plan = run(&s);
    assert_eq!(
        zone_of(&plan, pod_named(&s, "two")),
        "topology.kubernetes.io/zone In [test-zone-2]"
    );
    assert!(plan.nodeclaim_of(pod_named(&s, "three")).is_none());
    assert!(plan.nodeclaim_of(pod_named(&s, "any")).is_some());
}

#[test]
fn unknown_selector_values_and_hostname_selectors_fail() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().zone("unknown-zone"))
        .pod(pod().node_selector(HOSTNAME, "node-1"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(plan.unschedulable.len(), 1);
    assert_eq!(plan.ignored.len(), 1, "hostname selectors are restricted: ignored");
}

#[test]
fn numeric_operators_pick_matching_types() {
    let cases: [(Operator, &str, &str); 4] = [
        (Operator::Gt, "8", "arm-instance-type"),
        (Operator::Lt, "8", "small-instance-type"),
        (Operator::Gte, "16", "arm-instance-type"),
        (Operator::Lte, "2", "small-instance-type"),
    ];
    for (op, value, expected) in cases {
        let s = snapshot()
            .nodepool(nodepool("default"))
            .pod(pod().node_requirement(FAKE_INTEGER_LABEL, op, &[value]))
            .build();
        let plan = run(&s);
        assert_eq!(instance_type_of(&plan, &s, "pod-0"), expected, "{op} {value}");
    }
}

#[test]
fn not_in_is_compatible_and_in_plus_exists_does_not_widen() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().node_requirement(ZONE, Operator::NotIn, &["test-zone-1"]))
        .pod(
            pod()
                .node_requirement(ZONE, Operator::In, &["unknown"])
                .node_requirement(ZONE, Operator::Exists, &[]),
        )
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_some());
    assert!(plan.nodeclaim_of(1).is_none());
}

#[test]
fn restricted_labels_are_ignored_but_well_known_and_kubernetes_domains_are_fine() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().node_requirement("karpenter.sh/custom", Operator::In, &["x"]))
        .pod(pod().node_selector(NODEPOOL, "default"))
        .pod(pod().node_selector(ARCH, "amd64"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.ignored.len(), 1);
    assert_eq!(plan.ignored[0].pod, 0);
    assert!(plan.nodeclaim_of(1).is_some() && plan.nodeclaim_of(2).is_some());
}

#[test]
fn undefined_and_defined_keys_follow_the_operator_table() {
    let undefined = |op: Operator| {
        let values: &[&str] = if matches!(op, Operator::In | Operator::NotIn) { &["x"] } else { &[] };
        let s = snapshot()
            .nodepool(nodepool("default"))
            .pod(pod().node_requirement("custom", op, values))
            .build();
        run(&s).nodeclaim_of(0).is_some()
    };
    assert!(!undefined(Operator::In));
    assert!(undefined(Operator::NotIn));
    assert!(!undefined(Operator::Exists));
    assert!(undefined(Operator::DoesNotExist));
    let defined = |op: Operator| {
        let s = snapshot()
            .nodepool(nodepool("default").requirement("custom", Operator::In, &["x"]))
            .pod(pod().node_requirement("custom", op, &[]))
            .build();
        run(&s).nodeclaim_of(0).is_some()
    };
    assert!(defined(Operator::Exists));
    assert!(!defined(Operator::DoesNotExist));
}

#[test]
fn compatible_pods_share_and_incompatible_pods_split() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement("team", Operator::In, &["a", "b"]))
        .pod(pod().node_selector("team", "a"))
        .pod(pod().node_selector("team", "a"))
        .pod(pod().node_selector("team", "b"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 2);
    assert_eq!(plan.nodeclaim_of(0).unwrap().pods, vec![0, 1]);
    assert_eq!(plan.nodeclaim_of(2).unwrap().requirements.get("team").to_string(), "team In [b]");
    assert!(plan.nodeclaim_of(2).unwrap().requirements.has(INSTANCE_TYPE));
}
