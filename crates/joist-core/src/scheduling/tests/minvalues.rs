//! minValues and MinValuesPolicy (spec core §9.2 items 34–35).

use super::support::*;
use crate::labels::{INSTANCE_TYPE, NODECLAIM_MIN_VALUES_RELAXED, ZONE};
use crate::requirements::Operator;
use crate::scheduling::{MinValuesPolicy, SchedulingSettings};
use crate::testing::*;

fn best_effort() -> SchedulingSettings {
    SchedulingSettings {
        min_values_policy: MinValuesPolicy::BestEffort,
        ..fake_settings()
    }
}

fn pool_with_min_types(min: u32) -> NodePoolBuilder {
    nodepool("default").requirement_with_min_values(INSTANCE_TYPE, Operator::Exists, &[], Some(min))
}

#[test]
fn min_values_keep_enough_instance_types() {
    let s = snapshot()
        .nodepool(pool_with_min_types(3))
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    assert!(nc.instance_types.len() >= 3);
    assert_eq!(nc.requirements.get(INSTANCE_TYPE).min_values(), Some(3));
    assert_eq!(
        nc.annotations.get(NODECLAIM_MIN_VALUES_RELAXED).map(String::as_str),
        Some("false")
    );
}

#[test]
fn strict_min_values_refuse_pods_that_leave_too_few_types() {
    let s = snapshot()
        .nodepool(pool_with_min_types(2))
        .pod(pod().cpu("10"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    let explanation = plan.explanation_of(0).unwrap();
    assert!(
        explanation.message.starts_with(
            "minValues requirement is not met for label(s) (label(s)=[node.kubernetes.io/instance-type]), requirements="
        ),
        "{}",
        explanation.message
    );
}

#[test]
fn numeric_requirements_with_min_values() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement_with_min_values(
            FAKE_INTEGER_LABEL,
            Operator::Gt,
            &["3"],
            Some(2),
        ))
        .pod(pod())
        .build();
    let plan = run(&s);
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(nc.instance_types[0], "default-instance-type");
    assert!(nc.instance_types.contains(&"arm-instance-type".to_owned()));
    let unmet = snapshot()
        .nodepool(nodepool("default").requirement_with_min_values(
            FAKE_INTEGER_LABEL,
            Operator::Gt,
            &["3"],
            Some(3),
        ))
        .pod(pod())
        .build();
    assert!(run(&unmet).new_nodeclaims.is_empty(), "only 4 and 16 exist");
}

#[test]
fn the_largest_min_values_on_a_key_wins() {
    let s = snapshot()
        .nodepool(
            nodepool("default")
                .requirement_with_min_values(INSTANCE_TYPE, Operator::Exists, &[], Some(1))
                .requirement_with_min_values(
                    INSTANCE_TYPE,
                    Operator::In,
                    &["default-instance-type", "small-instance-type", "arm-instance-type"],
                    Some(3),
                ),
        )
        .pod(pod())
        .build();
    let plan = run(&s);
    assert_eq!(plan.new_nodeclaims[0].requirements.get(INSTANCE_TYPE).min_values(), Some(3));
    let too_big = snapshot()
        .nodepool(
            nodepool("default")
                .requirement_with_min_values(INSTANCE_TYPE, Operator::Exists, &[], Some(1))
                .requirement_with_min_values(
                    INSTANCE_TYPE,
                    Operator::In,
                    &["default-instance-type", "small-instance-type", "arm-instance-type"],
                    Some(3),
                ),
        )
        .pod(pod().cpu("3"))
        .build();
    assert!(run(&too_big).new_nodeclaims.is_empty(), "small no longer fits: 2 types left");
}

#[test]
fn several_keys_must_all_be_met() {
    let s = snapshot()
        .nodepool(
            nodepool("default")
                .requirement_with_min_values(INSTANCE_TYPE, Operator::Exists, &[], Some(2))
                .requirement_with_min_values(FAKE_SIZE_LABEL, Operator::Exists, &[], Some(2)),
        )
        .pod(pod().cpu("3"))
        .pod(pod().cpu("100m").node_selector(FAKE_SIZE_LABEL, "small"))
        .build();
    let plan = run(&s);
    assert!(plan.nodeclaim_of(0).is_some(), "default and arm give two sizes");
    assert!(plan.nodeclaim_of(1).is_none(), "one size left");
}

#[test]
fn truncation_that_breaks_min_values_drops_the_nodeclaim() {
    let settings = SchedulingSettings {
        max_instance_types: 1,
        ..fake_settings()
    };
    let s = snapshot()
        .nodepool(pool_with_min_types(2))
        .pod(pod())
        .build();
    let plan = run_with(&s, &settings);
    assert!(plan.new_nodeclaims.is_empty());
    assert_eq!(
        plan.explanation_of(0).unwrap().message,
        "pod didn’t schedule because NodePool couldn’t meet minValues requirements, validating \
         minValues, minValues requirement is not met for label(s) \
         (label(s)=[node.kubernetes.io/instance-type]) (NodePool=default)"
    );
    let best = SchedulingSettings {
        max_instance_types: 1,
        ..best_effort()
    };
    assert_eq!(run_with(&s, &best).new_nodeclaims[0].instance_types.len(), 1);
}

#[test]
fn best_effort_relaxes_and_annotates() {
    let s = snapshot()
        .nodepool(pool_with_min_types(2))
        .pod(pod().cpu("10"))
        .build();
    let plan = run_with(&s, &best_effort());
    let nc = &plan.new_nodeclaims[0];
    assert_eq!(nc.instance_types, ["arm-instance-type"]);
    assert!(nc.min_values_relaxed);
    assert_eq!(
        nc.annotations.get(NODECLAIM_MIN_VALUES_RELAXED).map(String::as_str),
        Some("true")
    );
    assert_eq!(nc.requirements.get(INSTANCE_TYPE).min_values(), Some(1));
}

#[test]
fn best_effort_prefers_relaxing_over_a_lower_weight_nodepool() {
    let s = snapshot()
        .nodepool(pool_with_min_types(2).weight(10))
        .nodepool(nodepool("fallback"))
        .pod(pod().cpu("10"))
        .build();
    assert_eq!(run_with(&s, &best_effort()).new_nodeclaims[0].nodepool, "default");
    assert_eq!(run(&s).new_nodeclaims[0].nodepool, "fallback", "Strict falls back");
}

#[test]
fn zone_min_values_count_the_types_zones() {
    let types = vec![
        instance_type("a").offering("on-demand", "test-zone-1", 1.0, true).build(),
        instance_type("b").offering("on-demand", "test-zone-2", 2.0, true).build(),
    ];
    let pool = || nodepool("default").requirement_with_min_values(ZONE, Operator::Exists, &[], Some(2));
    let s = snapshot().nodepool(pool()).instance_types(types.clone()).pod(pod()).build();
    assert_eq!(run(&s).new_nodeclaims[0].instance_types, ["a", "b"]);
    let pinned = snapshot()
        .nodepool(pool())
        .instance_types(types)
        .pod(pod().zone("test-zone-1"))
        .build();
    assert!(run(&pinned).new_nodeclaims.is_empty());
    assert_eq!(run_with(&pinned, &best_effort()).new_nodeclaims[0].instance_types, ["a"]);
}
