//! Behaviour tests through the whole solver (`scheduling::solve`): spec core §9.2 items 24–27,
//! 48, 49, 56, 57 as the solver wires topology and relaxation in.

use std::collections::BTreeMap;

use crate::labels::{HOSTNAME, ZONE};
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::rng::SeededRng;
use crate::scheduling::{Plan, PreferencePolicy, SchedulingSettings, solve};
use crate::snapshot::{LabelSelector, Snapshot, WhenUnsatisfiable};
use crate::taints::Effect;
use crate::testing::*;

fn run(snapshot: &Snapshot, settings: &SchedulingSettings) -> Plan {
    solve(snapshot, settings, &mut SeededRng::new(0))
}

fn app(name: &str) -> LabelSelector {
    LabelSelector::from_labels([("app", name)])
}

/// Scheduled pods per zone of their NodeClaim (a zone-flexible NodeClaim counts as "").
fn per_zone(plan: &Plan) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for claim in &plan.new_nodeclaims {
        let zone = claim.requirements.find(ZONE).filter(|r| r.len() == 1);
        let zone = zone.and_then(|r| r.values().next()).unwrap_or_default();
        *per.entry(zone.to_owned()).or_default() += claim.pods.len();
    }
    per
}

fn skew(plan: &Plan) -> Vec<usize> {
    let mut counts: Vec<usize> = per_zone(plan).into_values().collect();
    counts.sort_unstable();
    counts
}

#[test]
fn zonal_spread_of_four_pods_is_one_one_two() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(4, |_| {
            pod().label("app", "web").spread(ZONE, 1, WhenUnsatisfiable::DoNotSchedule, Some(app("web")))
        })
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 4, "{plan:#?}");
    assert_eq!(skew(&plan), [1, 1, 2]);
}

#[test]
fn min_domains_beyond_the_allowed_zones_schedules_only_one_per_zone() {
    let mut s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, Operator::In, &["test-zone-1", "test-zone-2"]))
        .pods(3, |_| {
            pod().label("app", "web").spread(ZONE, 1, WhenUnsatisfiable::DoNotSchedule, Some(app("web")))
        })
        .build();
    for p in &mut s.pods {
        p.constraints.topology_spread[0].min_domains = Some(3);
    }
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 2);
    assert_eq!(skew(&plan), [1, 1]);
    let message = &plan.unschedulable[0].explanation.message;
    assert!(
        message.starts_with("unsatisfiable topology constraint for topology spread, key=topology.kubernetes.io/zone (counts = test-zone-1: 1, test-zone-2: 1"),
        "{message}"
    );
}

#[test]
fn hostname_anti_affinity_gives_each_pod_its_own_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(5, |_| pod().cpu("100m").label("app", "nginx").anti_affinity(HOSTNAME, app("nginx")))
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 5);
    assert_eq!(plan.new_nodeclaims.len(), 5);
}

#[test]
fn zonal_self_affinity_keeps_every_pod_in_one_zone() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(6, |_| pod().cpu("1500m").label("app", "db").affinity(ZONE, app("db")))
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 6);
    assert!(plan.new_nodeclaims.len() > 1);
    assert_eq!(per_zone(&plan).len(), 1, "{:?}", per_zone(&plan));
}

#[test]
fn preferred_node_affinity_relaxes_to_lighter_weights() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(
            pod()
                .preferred(100, ZONE, Operator::In, &["invalid"])
                .preferred(50, ZONE, Operator::In, &["test-zone-2"])
                .preferred(1, ZONE, Operator::In, &["test-zone-1"]),
        )
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 1);
    assert_eq!(per_zone(&plan).keys().collect::<Vec<_>>(), ["test-zone-2"]);
}

#[test]
fn required_node_affinity_terms_are_relaxed_but_never_the_last() {
    let term = |zone: &str| vec![NodeSelectorRequirement::new(ZONE, Operator::In, [zone])];
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().required_term(term("invalid")).required_term(term("test-zone-3")))
        .pod(pod().required_term(term("invalid")))
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.nodeclaim_of(0).map(|c| c.pods.len()), Some(1));
    assert_eq!(per_zone(&plan).keys().collect::<Vec<_>>(), ["test-zone-3"]);
    assert!(plan.nodeclaim_of(1).is_none());
}

#[test]
fn prefer_no_schedule_nodepool_is_used_only_when_nothing_else_fits() {
    let tainted = || nodepool("tainted").taint("soft=x:PreferNoSchedule");
    // An un-tainted NodePool that matches wins, whatever the weights.
    let both = snapshot()
        .nodepool(tainted().weight(100))
        .nodepool(nodepool("plain"))
        .pod(pod())
        .build();
    let plan = run(&both, &fake_settings());
    assert_eq!(plan.new_nodeclaims[0].nodepool, "plain");
    // Alone, the tainted pool is used once the toleration has been added by relaxation.
    let alone = snapshot().nodepool(tainted()).pod(pod()).build();
    let plan = run(&alone, &fake_settings());
    assert_eq!(plan.new_nodeclaims[0].nodepool, "tainted");
    assert!(matches!(plan.new_nodeclaims[0].taints[0].effect, Effect::PreferNoSchedule));
}

#[test]
fn ignore_policy_drops_preferred_anti_affinity_and_schedule_anyway() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, Operator::In, &["test-zone-1"]))
        .pods(3, |_| {
            pod()
                .label("app", "web")
                .preferred_anti_affinity(10, ZONE, app("web"))
                .spread(HOSTNAME, 1, WhenUnsatisfiable::ScheduleAnyway, Some(app("web")))
        })
        .build();
    let ignore = SchedulingSettings {
        preference_policy: PreferencePolicy::Ignore,
        ..fake_settings()
    };
    let plan = run(&s, &ignore);
    assert_eq!(plan.scheduled_count(), 3);
    assert_eq!(plan.new_nodeclaims.len(), 1, "nothing spreads the pods apart");
    // Under Respect the preferences hold first and are relaxed only when they cannot be met:
    // all three pods still schedule.
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 3);
}

#[test]
fn existing_pods_anti_affinity_keeps_newcomers_out_of_its_zone() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(node("existing").nodepool("default").zone("test-zone-1"))
        .pod(pod().name("guard").label("app", "guard").node_name("existing").anti_affinity(ZONE, app("web")))
        .pods(4, |_| pod().cpu("1500m").label("app", "web"))
        .build();
    let plan = run(&s, &fake_settings());
    assert_eq!(plan.scheduled_count(), 4);
    assert!(!per_zone(&plan).contains_key("test-zone-1"), "{:?}", per_zone(&plan));
}
