//! Preferences and relaxation through the solver (spec core §9.2 items 24–27).

use super::support::*;
use crate::labels::ZONE;
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::scheduling::{PreferencePolicy, SchedulingSettings};
use crate::taints::Effect;
use crate::testing::*;

fn zone_term(zone: &str) -> Vec<NodeSelectorRequirement> {
    vec![NodeSelectorRequirement::new(ZONE, Operator::In, [zone])]
}

fn zone_of(plan: &crate::scheduling::Plan, pod: usize) -> String {
    plan.nodeclaim_of(pod)
        .expect("scheduled")
        .requirements
        .get(ZONE)
        .to_string()
}

#[test]
fn required_terms_are_relaxed_in_order_but_the_last_never() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(
            pod()
                .required_term(zone_term("invalid-1"))
                .required_term(zone_term("invalid-2"))
                .required_term(zone_term("test-zone-3")),
        )
        .pod(pod().required_term(zone_term("invalid")))
        .build();
    let plan = run(&s);
    assert_eq!(
        zone_of(&plan, 0),
        "topology.kubernetes.io/zone In [test-zone-3]"
    );
    assert!(
        plan.nodeclaim_of(1).is_none(),
        "the last required term stays"
    );
}

#[test]
fn preferred_terms_relax_to_lighter_weights() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(
            pod()
                .preferred(100, ZONE, Operator::In, &["invalid"])
                .preferred(50, ZONE, Operator::In, &["test-zone-2"])
                .preferred(1, ZONE, Operator::In, &["test-zone-1"]),
        )
        .pod(
            pod()
                .zone("test-zone-1")
                .preferred(10, ZONE, Operator::In, &["test-zone-2"]),
        )
        .build();
    let plan = run(&s);
    assert_eq!(
        zone_of(&plan, 0),
        "topology.kubernetes.io/zone In [test-zone-2]"
    );
    assert_eq!(
        zone_of(&plan, 1),
        "topology.kubernetes.io/zone In [test-zone-1]",
        "a preference conflicting with the requirement is dropped"
    );
}

#[test]
fn prefer_no_schedule_pools_are_a_last_resort() {
    let s = snapshot()
        .nodepool(
            nodepool("soft")
                .weight(100)
                .taint("soft=x:PreferNoSchedule"),
        )
        .nodepool(nodepool("plain"))
        .pod(pod())
        .build();
    assert_eq!(run(&s).new_nodeclaims[0].nodepool, "plain");
    let only_soft = snapshot()
        .nodepool(nodepool("soft").taint("soft=x:PreferNoSchedule"))
        .pod(pod())
        .build();
    assert_eq!(run(&only_soft).new_nodeclaims[0].nodepool, "soft");
    let tolerant = snapshot()
        .nodepool(
            nodepool("soft")
                .weight(100)
                .taint("soft=x:PreferNoSchedule"),
        )
        .nodepool(nodepool("plain"))
        .pod(pod().tolerate("soft", "x", Effect::PreferNoSchedule))
        .build();
    assert_eq!(run(&tolerant).new_nodeclaims[0].nodepool, "soft");
}

#[test]
fn ignore_policy_drops_node_preferences_from_the_start() {
    let settings = SchedulingSettings {
        preference_policy: PreferencePolicy::Ignore,
        ..fake_settings()
    };
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().preferred(100, ZONE, Operator::In, &["test-zone-1"]))
        .build();
    let ignored = run_with(&s, &settings);
    assert!(!ignored.new_nodeclaims[0].requirements.has(ZONE));
    let respected = run(&s);
    assert_eq!(
        zone_of(&respected, 0),
        "topology.kubernetes.io/zone In [test-zone-1]"
    );
}
