//! Configuration validation and selector deduction (upstream `defaultconstraints_test.go` and
//! the scheduler-config option tests). Whole-solve outcomes are in `scheduling::tests`.

use super::inject::SelectorDeducer;
use super::*;
use crate::labels::ZONE;
use crate::snapshot::{
    LabelSelectorRequirement, OwnerReference, SelectorOperator, Snapshot, WorkloadKind,
};
use crate::testing::{pod, snapshot};

// === validation ===

fn zone(max_skew: i32, when: WhenUnsatisfiable) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: ZONE.into(),
        when_unsatisfiable: when,
        label_selector: None,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

fn error_of(constraints: Vec<TopologySpreadConstraint>) -> String {
    match DefaultTopologySpread::new(constraints) {
        Ok(_) => panic!("expected a validation error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn valid_defaults_keep_their_fields_and_order() {
    let mut with_min = zone(2, WhenUnsatisfiable::DoNotSchedule);
    with_min.min_domains = Some(3);
    let hostname = TopologySpreadConstraint {
        topology_key: "kubernetes.io/hostname".into(),
        ..zone(1, WhenUnsatisfiable::ScheduleAnyway)
    };
    let defaults = DefaultTopologySpread::new(vec![
        with_min.clone(),
        hostname.clone(),
        zone(1, WhenUnsatisfiable::ScheduleAnyway),
    ])
    .expect("valid");
    assert_eq!(defaults.constraints()[0], with_min);
    assert_eq!(defaults.constraints()[1], hostname);
    assert!(DefaultTopologySpread::default().is_empty());
}

#[test]
fn max_skew_must_be_positive() {
    assert_eq!(
        error_of(vec![zone(0, WhenUnsatisfiable::DoNotSchedule)]),
        "validating scheduler config, podTopologySpread.defaultConstraints[0].maxSkew must be greater than 0"
    );
}

#[test]
fn selectors_and_match_label_keys_are_refused() {
    let mut selected = zone(1, WhenUnsatisfiable::DoNotSchedule);
    selected.label_selector = Some(LabelSelector::from_labels([("app", "web")]));
    assert_eq!(
        error_of(vec![zone(1, WhenUnsatisfiable::ScheduleAnyway), selected]),
        "validating scheduler config, podTopologySpread.defaultConstraints[1].labelSelector must not be set, as selectors are deduced for each pod"
    );
    let mut keyed = zone(1, WhenUnsatisfiable::DoNotSchedule);
    keyed.match_label_keys = vec!["pod-template-hash".into()];
    assert_eq!(
        error_of(vec![keyed]),
        "validating scheduler config, podTopologySpread.defaultConstraints[0].matchLabelKeys must not be set, as it has no effect on default constraints"
    );
}

#[test]
fn key_and_when_unsatisfiable_must_be_unique() {
    assert_eq!(
        error_of(vec![
            zone(1, WhenUnsatisfiable::DoNotSchedule),
            zone(1, WhenUnsatisfiable::ScheduleAnyway),
            zone(3, WhenUnsatisfiable::DoNotSchedule),
        ]),
        "validating scheduler config, podTopologySpread.defaultConstraints[2] is a duplicate of [0], {topology.kubernetes.io/zone, DoNotSchedule}"
    );
}

#[test]
fn topology_key_and_min_domains_are_checked() {
    let mut missing = zone(1, WhenUnsatisfiable::DoNotSchedule);
    missing.topology_key.clear();
    assert!(error_of(vec![missing]).ends_with("topologyKey must be set"));
    let mut bad = zone(1, WhenUnsatisfiable::DoNotSchedule);
    bad.topology_key = "not a key".into();
    assert!(error_of(vec![bad]).contains("topologyKey \"not a key\" is not a valid label name"));
    let mut zero = zone(1, WhenUnsatisfiable::DoNotSchedule);
    zero.min_domains = Some(0);
    assert!(error_of(vec![zero]).ends_with("minDomains must be greater than 0"));
}

// === the --scheduler-config document ===

fn parse(json: &str) -> Result<DefaultTopologySpread, String> {
    let document: SchedulerConfigDocument =
        serde_json::from_str(json).map_err(|e| format!("decode: {e}"))?;
    DefaultTopologySpread::from_document(&document).map_err(|e| e.to_string())
}

#[test]
fn documents_convert_every_field() {
    let defaults = parse(
        r#"{"podTopologySpread": {"defaultConstraints": [
            {"maxSkew": 4, "topologyKey": "topology.kubernetes.io/zone",
             "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 3, "nodeTaintsPolicy": "Honor"}
        ]}}"#,
    )
    .expect("valid");
    let c = &defaults.constraints()[0];
    assert_eq!(
        (c.max_skew, c.when_unsatisfiable, c.min_domains),
        (4, WhenUnsatisfiable::ScheduleAnyway, Some(3))
    );
    assert_eq!(
        c.node_taints_policy,
        Some(crate::snapshot::NodeInclusionPolicy::Honor)
    );
    assert!(parse("{}").expect("empty").is_empty());
}

#[test]
fn documents_refuse_selectors_unknown_fields_and_bad_enums() {
    let selector = parse(
        r#"{"podTopologySpread": {"defaultConstraints": [{"maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {}}]}}"#,
    );
    assert!(
        selector
            .unwrap_err()
            .ends_with("labelSelector must not be set, as selectors are deduced for each pod")
    );
    let unknown = parse(r#"{"podTopologySpread": {"defaultConstraint": []}}"#);
    assert!(unknown.unwrap_err().starts_with("decode: unknown field"));
    let when = parse(
        r#"{"podTopologySpread": {"defaultConstraints": [{"maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "Sometimes"}]}}"#,
    );
    assert_eq!(
        when.unwrap_err(),
        "validating scheduler config, podTopologySpread.defaultConstraints[0].whenUnsatisfiable \"Sometimes\" must be one of \"DoNotSchedule\" or \"ScheduleAnyway\""
    );
}

// === selector deduction ===

fn deduce(snapshot: &Snapshot) -> Option<LabelSelector> {
    SelectorDeducer::new(snapshot).selector(&snapshot.pods[0])
}

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector::from_labels(pairs.iter().copied())
}

fn is_in(key: &str, value: &str) -> LabelSelectorRequirement {
    LabelSelectorRequirement::new(key, SelectorOperator::In, [value])
}

fn rs_pod(owner: &str) -> crate::testing::PodBuilder {
    pod()
        .label("app", "web")
        .label("pod-template-hash", "abc123")
        .label("extra", "ignored")
        .owner("apps/v1", "ReplicaSet", owner)
}

#[test]
fn a_replica_set_contributes_its_selector_not_the_pods_labels() {
    let s = snapshot()
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web-abc123",
            labels(&[("app", "web"), ("pod-template-hash", "abc123")]),
        )
        .pod(rs_pod("web-abc123"))
        .build();
    let selector = deduce(&s).expect("deduced");
    assert!(selector.match_labels.is_empty());
    assert_eq!(
        selector.match_expressions,
        [is_in("app", "web"), is_in("pod-template-hash", "abc123")]
    );
}

#[test]
fn owner_expressions_are_kept_and_replication_controllers_give_labels() {
    let not_other = LabelSelectorRequirement::new("app", SelectorOperator::NotIn, ["other"]);
    let s = snapshot()
        .workload(
            "default",
            WorkloadKind::StatefulSet,
            "db",
            LabelSelector::default().with_expression(not_other.clone()),
        )
        .pod(
            pod()
                .label("app", "db")
                .owner("apps/v1", "StatefulSet", "db"),
        )
        .build();
    assert_eq!(deduce(&s).expect("deduced").match_expressions, [not_other]);
    let s = snapshot()
        .workload(
            "default",
            WorkloadKind::ReplicationController,
            "legacy",
            labels(&[("app", "legacy")]),
        )
        .pod(
            pod()
                .label("app", "legacy")
                .owner("v1", "ReplicationController", "legacy"),
        )
        .build();
    assert_eq!(deduce(&s), Some(labels(&[("app", "legacy")])));
}

#[test]
fn unsupported_missing_or_non_controller_owners_give_nothing() {
    let web = || labels(&[("app", "web")]);
    let job = snapshot()
        .pod(pod().label("app", "web").owner("batch/v1", "Job", "job"))
        .build();
    assert_eq!(deduce(&job), None);
    let gone = snapshot().pod(rs_pod("gone")).build();
    assert_eq!(deduce(&gone), None);
    let mut not_controller = snapshot()
        .workload("default", WorkloadKind::ReplicaSet, "web", web())
        .pod(rs_pod("web"))
        .build();
    not_controller.pods[0].owner =
        Some(OwnerReference::new("apps/v1", "ReplicaSet", "web").with_controller(false));
    assert_eq!(deduce(&not_controller), None);
    let old_group = snapshot()
        .workload("default", WorkloadKind::ReplicaSet, "web", web())
        .pod(
            pod()
                .label("app", "web")
                .owner("extensions/v1beta1", "ReplicaSet", "web"),
        )
        .build();
    assert_eq!(deduce(&old_group), None);
}

#[test]
fn matching_services_in_the_namespace_are_merged() {
    let s = snapshot()
        .service("default", "web", Some(&[("app", "web")]))
        .service("default", "frontend", Some(&[("tier", "frontend")]))
        .service("default", "other", Some(&[("app", "other")]))
        .service("default", "headless", None)
        .service("elsewhere", "tier", Some(&[("extra", "x")]))
        .pod(
            pod()
                .label("app", "web")
                .label("tier", "frontend")
                .label("extra", "x"),
        )
        .build();
    assert_eq!(
        deduce(&s),
        Some(labels(&[("app", "web"), ("tier", "frontend")]))
    );
    let empty = snapshot()
        .service("default", "all", Some(&[]))
        .service("default", "none", None)
        .pod(pod().label("app", "web"))
        .build();
    assert_eq!(deduce(&empty), None, "empty and nil selectors add nothing");
}

#[test]
fn services_and_owners_combine_and_conflicts_follow_the_owner_kind() {
    let combined = snapshot()
        .service("default", "frontend", Some(&[("tier", "frontend")]))
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web",
            labels(&[("app", "web")]),
        )
        .pod(rs_pod("web").label("tier", "frontend"))
        .build();
    let selector = deduce(&combined).expect("deduced");
    assert_eq!(
        (selector.match_labels, selector.match_expressions),
        (
            labels(&[("tier", "frontend")]).match_labels,
            vec![is_in("app", "web")]
        )
    );
    let rc = snapshot()
        .service("default", "web", Some(&[("app", "web")]))
        .workload(
            "default",
            WorkloadKind::ReplicationController,
            "legacy",
            labels(&[("app", "legacy")]),
        )
        .pod(
            pod()
                .label("app", "web")
                .owner("v1", "ReplicationController", "legacy"),
        )
        .build();
    assert_eq!(
        deduce(&rc),
        Some(labels(&[("app", "legacy")])),
        "RC overwrites"
    );
    let rs = snapshot()
        .service("default", "web", Some(&[("app", "web")]))
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "other",
            labels(&[("app", "other")]),
        )
        .pod(
            pod()
                .label("app", "web")
                .owner("apps/v1", "ReplicaSet", "other"),
        )
        .build();
    let anded = deduce(&rs).expect("deduced");
    assert_eq!(anded.match_expressions, [is_in("app", "other")]);
    let web = [("app".to_owned(), "web".to_owned())].into();
    let other = [("app".to_owned(), "other".to_owned())].into();
    assert!(
        !anded.matches(&web) && !anded.matches(&other),
        "RS conflict selects nothing"
    );
}

#[test]
fn pods_of_one_owner_with_different_labels_deduce_different_selectors() {
    let s = snapshot()
        .service("default", "frontend", Some(&[("tier", "frontend")]))
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web",
            labels(&[("app", "web")]),
        )
        .pod(pod().label("app", "web").label("tier", "frontend").owner(
            "apps/v1",
            "ReplicaSet",
            "web",
        ))
        .pod(
            pod()
                .label("app", "web")
                .owner("apps/v1", "ReplicaSet", "web"),
        )
        .build();
    let mut deducer = SelectorDeducer::new(&s);
    let frontend = deducer.selector(&s.pods[0]).expect("deduced");
    let plain = deducer.selector(&s.pods[1]).expect("deduced");
    assert_eq!(frontend.match_labels.len(), 1);
    assert!(plain.match_labels.is_empty());
}
