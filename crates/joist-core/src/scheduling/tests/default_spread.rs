//! Default topology spread (spec core §9.2 item 59, `--scheduler-config`).

use std::collections::BTreeMap;

use super::support::*;
use crate::labels::ZONE;
use crate::requirements::Operator;
use crate::scheduling::{DefaultTopologySpread, Plan, SchedulingSettings};
use crate::snapshot::{LabelSelector, TopologySpreadConstraint, WhenUnsatisfiable, WorkloadKind};
use crate::testing::*;

fn zonal(when: WhenUnsatisfiable, min_domains: Option<i32>) -> SchedulingSettings {
    let constraint = TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE.into(),
        when_unsatisfiable: when,
        label_selector: None,
        min_domains,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    };
    SchedulingSettings {
        default_topology_spread: DefaultTopologySpread::new(vec![constraint]).expect("valid"),
        ..fake_settings()
    }
}

/// Pods of ReplicaSet `rs` (selector `app=<app>, pod-template-hash=<hash>`).
fn replica(app: &str, hash: &str, rs: &str) -> PodBuilder {
    pod()
        .label("app", app)
        .label("pod-template-hash", hash)
        .owner("apps/v1", "ReplicaSet", rs)
}

fn rs_selector(app: &str, hash: &str) -> LabelSelector {
    LabelSelector::from_labels([("app", app), ("pod-template-hash", hash)])
}

/// Pods of `app` on new NodeClaims, per zone of their NodeClaim ("" = zone-flexible).
fn per_zone(
    plan: &Plan,
    snapshot: &crate::snapshot::Snapshot,
    app: &str,
) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for claim in &plan.new_nodeclaims {
        let zone = claim.requirements.find(ZONE).filter(|r| r.len() == 1);
        let zone = zone.and_then(|r| r.values().next()).unwrap_or_default();
        let count = claim
            .pods
            .iter()
            .filter(|&&p| snapshot.pods[p].labels.get("app").map(String::as_str) == Some(app))
            .count();
        if count > 0 {
            *per.entry(zone.to_owned()).or_default() += count;
        }
    }
    per
}

fn zones(counts: &[(&str, usize)]) -> BTreeMap<String, usize> {
    counts.iter().map(|(z, c)| ((*z).to_owned(), *c)).collect()
}

fn web_replicas(count: usize) -> crate::testing::SnapshotBuilder {
    snapshot()
        .nodepool(nodepool("default"))
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web-1",
            rs_selector("web", "1"),
        )
        .pods(count, |_| replica("web", "1", "web-1"))
}

#[test]
fn pods_without_constraints_spread_by_their_replica_set() {
    let s = web_replicas(3).build();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(plan.scheduled_count(), 3);
    assert_eq!(
        per_zone(&plan, &s, "web"),
        zones(&[("test-zone-1", 1), ("test-zone-2", 1), ("test-zone-3", 1)])
    );
}

#[test]
fn no_config_or_no_deducible_selector_changes_nothing() {
    let s = web_replicas(3).build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims.len(), 1, "unconfigured: one node");
    let orphans = snapshot()
        .nodepool(nodepool("default"))
        .pods(3, |_| {
            pod().label("app", "web").owner("batch/v1", "Job", "job")
        })
        .build();
    let plan = run_with(&orphans, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(plan.new_nodeclaims.len(), 1, "no selector: one node");
}

#[test]
fn a_pods_own_constraints_take_precedence() {
    // A nil-selector constraint never restricts: if the default replaced it, pods would spread.
    let mut s = web_replicas(3).build();
    for p in &mut s.pods {
        p.constraints.topology_spread.push(nil_selector_hostname());
    }
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(plan.new_nodeclaims.len(), 1, "{plan:#?}");
}

fn nil_selector_hostname() -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: crate::labels::HOSTNAME.into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        label_selector: None,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

/// Three replicas, NodePool limited to two zones, defaults with minDomains 3.
fn two_zones_three_replicas() -> crate::snapshot::Snapshot {
    snapshot()
        .nodepool(nodepool("default").requirement(
            ZONE,
            Operator::In,
            &["test-zone-1", "test-zone-2"],
        ))
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web-1",
            rs_selector("web", "1"),
        )
        .pods(3, |_| replica("web", "1", "web-1"))
        .build()
}

#[test]
fn min_domains_is_carried_and_do_not_schedule_is_not_relaxed() {
    let s = two_zones_three_replicas();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, Some(3)));
    assert_eq!(plan.scheduled_count(), 2);
    assert_eq!(plan.unschedulable.len(), 1);
    assert!(
        plan.unschedulable[0]
            .explanation
            .message
            .starts_with("unsatisfiable topology constraint for topology spread"),
        "{:?}",
        plan.unschedulable[0].explanation
    );
}

#[test]
fn schedule_anyway_defaults_are_relaxed() {
    let s = two_zones_three_replicas();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::ScheduleAnyway, Some(3)));
    assert_eq!(plan.scheduled_count(), 3, "{plan:#?}");
}

/// An existing node in zone 1, full with `count` running pods built by `make`.
fn zone_one_node(
    builder: crate::testing::SnapshotBuilder,
    count: usize,
    make: impl Fn(usize) -> PodBuilder,
) -> crate::testing::SnapshotBuilder {
    let builder = builder.node(
        node("zone-1-node")
            .nodepool("default")
            .zone("test-zone-1")
            .cpu("1")
            .pods(count as u32),
    );
    builder.pods(count, |i| {
        make(i)
            .name(&format!("running-{i}"))
            .node_name("zone-1-node")
    })
}

#[test]
fn pre_existing_pods_of_the_workload_are_counted() {
    let s = zone_one_node(web_replicas(3), 2, |_| replica("web", "1", "web-1")).build();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(plan.scheduled_count(), 3);
    assert_eq!(
        per_zone(&plan, &s, "web"),
        zones(&[("test-zone-2", 2), ("test-zone-3", 1)]),
        "the two running replicas in zone 1 keep new ones out"
    );
}

#[test]
fn each_workload_and_each_revision_spreads_on_its_own() {
    // Running pods of another Deployment and of an older revision of this one fill zone 1:
    // neither counts for the new revision, which still uses zone 1.
    let base = web_replicas(3)
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "api-1",
            rs_selector("api", "1"),
        )
        .workload(
            "default",
            WorkloadKind::ReplicaSet,
            "web-0",
            rs_selector("web", "0"),
        );
    let s = zone_one_node(base, 4, |i| {
        if i % 2 == 0 {
            replica("api", "1", "api-1")
        } else {
            replica("web", "0", "web-0")
        }
    })
    .build();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(plan.scheduled_count(), 3);
    assert_eq!(
        per_zone(&plan, &s, "web"),
        zones(&[("test-zone-1", 1), ("test-zone-2", 1), ("test-zone-3", 1)])
    );
}

#[test]
fn service_selected_pods_without_an_owner_spread_too() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .service("default", "web", Some(&[("app", "web")]))
        .pods(3, |_| pod().label("app", "web"))
        .build();
    let plan = run_with(&s, &zonal(WhenUnsatisfiable::DoNotSchedule, None));
    assert_eq!(
        per_zone(&plan, &s, "web"),
        zones(&[("test-zone-1", 1), ("test-zone-2", 1), ("test-zone-3", 1)])
    );
}
