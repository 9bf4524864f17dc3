//! The Empty method and `consolidateAfter` (§9.2 items 69, 75).

use super::*;

// === emptiness (§9.2 item 69) ===

#[test]
fn item_69_deletes_all_empty_consolidatable_nodes() {
    let f = Fixture::new(empty_nodes("a", 3)).budgets("a", unlimited());
    let decision = f.empty();
    let command = decision.command.expect("empty nodes are deleted");
    assert_eq!(command.reason, DisruptionReason::Empty);
    assert!(command.replacements.is_empty());
    assert_eq!(command.candidates.len(), 3);
    assert!(command.explanation.contains("deleting 3 empty node(s)"));
    assert!(!decision.budget_limited);
}

#[test]
fn item_69_nodes_with_pods_are_kept() {
    let f = Fixture::new(empty_nodes("a", 2).pod(bound("web", "a-n0").owner(
        "apps/v1",
        "ReplicaSet",
        "web",
    )))
    .budgets("a", unlimited());
    assert_eq!(f.deleted(), vec!["a-n1"]);
}

#[test]
fn item_69_budget_zero_percent_deletes_none() {
    let f = Fixture::new(empty_nodes("a", 5)).budgets("a", vec![Budget::new("0%")]);
    let decision = f.empty();
    assert!(decision.command.is_none());
    assert!(
        decision.budget_limited,
        "budget-blocked passes are not consolidated"
    );
}

#[test]
fn item_69_budget_30_percent_of_10_deletes_3() {
    let f = Fixture::new(empty_nodes("a", 10)).budgets("a", vec![Budget::new("30%")]);
    assert_eq!(f.deleted().len(), 3);
}

#[test]
fn item_69_budget_50_percent_allows_2_of_3_per_pool() {
    let builder = (0..3).fold(empty_nodes("a", 3).nodepool(nodepool("b")), |s, i| {
        s.node(managed(&format!("b-n{i}"), "b"))
    });
    let f = Fixture::new(builder)
        .budgets("a", vec![Budget::new("50%")])
        .budgets("b", vec![Budget::new("50%")]);
    let deleted = f.deleted();
    assert_eq!(deleted.iter().filter(|n| n.starts_with("a-")).count(), 2);
    assert_eq!(deleted.iter().filter(|n| n.starts_with("b-")).count(), 2);
}

#[test]
fn item_69_absolute_budget_and_disrupting_nodes_limit_the_count() {
    let mut f = Fixture::new(empty_nodes("a", 6)).budgets("a", vec![Budget::new("3")]);
    assert_eq!(f.deleted().len(), 3);
    // A NotReady node consumes one of the three.
    f.node_state("a-n5").ready = false;
    assert_eq!(f.deleted().len(), 2);
}

#[test]
fn item_69_budget_schedule_window_blocks_only_while_active() {
    let window = Budget::new("0").with_window("0 9 * * *", Duration::from_secs(2 * 3600));
    let mut f = Fixture::new(empty_nodes("a", 2)).budgets("a", vec![window]);
    assert!(
        f.deleted().is_empty(),
        "10:00 is inside the 09:00+2h window"
    );
    f.snapshot.now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
    assert_eq!(f.deleted().len(), 2, "12:00 is outside the window");
}

#[test]
fn item_69_invalid_budget_fails_closed() {
    let f = Fixture::new(empty_nodes("a", 2))
        .budgets("a", vec![Budget::new("100%"), Budget::new("abc")]);
    assert!(f.deleted().is_empty());
}

#[test]
fn item_69_ignores_nodes_that_are_not_consolidatable() {
    let mut f = Fixture::new(empty_nodes("a", 2)).budgets("a", unlimited());
    f.node_state("a-n0").consolidatable = false;
    assert_eq!(f.deleted(), vec!["a-n1"]);
}

#[test]
fn item_69_node_do_not_disrupt_true_blocks_but_false_is_deletable() {
    let mut f = Fixture::new(empty_nodes("a", 2)).budgets("a", unlimited());
    let set = |f: &mut Fixture, node: &str, value: &str| {
        f.node_state(node)
            .annotations
            .insert(DO_NOT_DISRUPT.into(), value.into());
    };
    set(&mut f, "a-n0", "true");
    set(&mut f, "a-n1", "false");
    assert_eq!(f.deleted(), vec!["a-n1"]);
    assert_eq!(
        f.blocked("a-n0").map(|r| r.event_message()).as_deref(),
        Some("Disruption is blocked through the \"karpenter.sh/do-not-disrupt\" annotation")
    );
}

#[test]
fn item_69_daemonset_only_nodes_are_empty() {
    let ds = bound("ds", "a-n0").owner("apps/v1", "DaemonSet", "logger");
    let f = Fixture::new(empty_nodes("a", 1).pod(ds)).budgets("a", unlimited());
    assert_eq!(f.deleted(), vec!["a-n0"]);
}

#[test]
fn item_69_terminating_deployment_pod_is_empty_but_statefulset_pod_is_not() {
    let deployment = bound("web", "a-n0")
        .owner("apps/v1", "ReplicaSet", "web")
        .terminating();
    let stateful = bound("db", "a-n1")
        .owner("apps/v1", "StatefulSet", "db")
        .terminating();
    let f =
        Fixture::new(empty_nodes("a", 2).pod(deployment).pod(stateful)).budgets("a", unlimited());
    assert_eq!(f.deleted(), vec!["a-n0"]);
}

#[test]
fn item_69_v1_14_pods_without_positive_eviction_cost_leave_a_node_empty() {
    let mut low = bound("batch", "a-n0")
        .owner("batch/v1", "Job", "batch")
        .build();
    low.priority = -(1 << 26);
    let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
    f.snapshot.pods.push(low);
    assert_eq!(f.deleted(), vec!["a-n0"]);
}

#[test]
fn item_69_static_pools_are_ignored() {
    let builder = snapshot()
        .nodepool(nodepool("s").replicas(2))
        .node(managed("s-n0", "s"));
    let f = Fixture::new(builder).budgets("s", unlimited());
    assert!(f.deleted().is_empty());
}

#[test]
fn item_69_every_consolidation_policy_allows_emptiness() {
    for policy in [
        ConsolidationPolicy::WhenEmpty,
        ConsolidationPolicy::WhenEmptyOrUnderutilized,
        ConsolidationPolicy::Balanced,
    ] {
        let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
        f.pools.entry("a".into()).or_default().consolidation_policy = policy;
        assert_eq!(f.deleted(), vec!["a-n0"], "{policy:?}");
    }
}

#[test]
fn item_69_deterministic_regardless_of_input_order() {
    let f = Fixture::new(empty_nodes("a", 10)).budgets("a", vec![Budget::new("30%")]);
    let mut reversed = Fixture::new(empty_nodes("a", 10)).budgets("a", vec![Budget::new("30%")]);
    reversed.snapshot.nodes.reverse();
    assert_eq!(f.deleted(), reversed.deleted());
    assert_eq!(f.empty(), f.empty());
}

// === consolidateAfter and events (§9.2 item 75) ===

#[test]
fn item_75_consolidate_after_never_is_unconsolidatable() {
    let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
    f.pools.entry("a".into()).or_default().consolidate_after = NillableDuration::never();
    let decision = f.empty();
    assert!(decision.command.is_none());
    assert_eq!(
        decision.unconsolidatable,
        vec![(
            "a-n0".to_owned(),
            "NodePool \"a\" has consolidation disabled".to_owned()
        )]
    );
}

#[test]
fn item_75_consolidatable_waits_for_consolidate_after() {
    let after = NillableDuration::from_duration(Duration::from_secs(300));
    let initialized = now() - chrono::TimeDelta::minutes(10);
    let pod_event = now() - chrono::TimeDelta::minutes(2);
    assert!(is_consolidatable(&after, Some(initialized), None, now()));
    assert!(!is_consolidatable(
        &after,
        Some(initialized),
        Some(pod_event),
        now()
    ));
    assert!(!is_consolidatable(&after, None, None, now()));
    let never = NillableDuration::never();
    assert!(!is_consolidatable(&never, Some(initialized), None, now()));
}

// === validation after the TTL (§9.2 items 69, 80) ===

#[test]
fn item_69_validation_keeps_the_nodes_still_empty() {
    let mut f = Fixture::new(empty_nodes("a", 3)).budgets("a", unlimited());
    let command = f.empty().command.expect("three empty nodes");
    // During the 15 s wait a pod lands on a-n0 and a-n1 gets nominated.
    f.snapshot.pods.push(bound("late", "a-n0").build());
    f.snapshot
        .nodes
        .iter_mut()
        .filter(|n| n.name == "a-n1")
        .for_each(|n| n.nominated = true);
    let validated = validate_empty_command(&f.input(), &command).expect("a-n2 is still empty");
    let nodes: Vec<&str> = validated
        .candidates
        .iter()
        .map(|c| c.node.as_str())
        .collect();
    assert_eq!(nodes, vec!["a-n2"]);
    assert_eq!(validated.reason, DisruptionReason::Empty);
}

#[test]
fn item_80_validation_abandons_when_nothing_remains_or_budget_closed() {
    let mut f = Fixture::new(empty_nodes("a", 2)).budgets("a", unlimited());
    let command = f.empty().command.expect("two empty nodes");
    f = f.budgets("a", vec![Budget::new("1")]);
    let validated = validate_empty_command(&f.input(), &command).expect("budget still allows 1");
    assert_eq!(validated.candidates.len(), 1);
    f = f.budgets("a", vec![Budget::new("0")]);
    let error = validate_empty_command(&f.input(), &command).unwrap_err();
    assert_eq!(
        error.to_string(),
        "abandoning empty node consolidation attempt due to pod churn, command is no longer valid"
    );
}
