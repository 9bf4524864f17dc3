//! The Drift method (§4.5 disruption; §9.2 item 70).

use chrono::TimeDelta;

use super::*;
use crate::rng::SeededRng;
use crate::testing::fake_settings;

/// A 4-CPU managed node of `pool` (the fake `default-instance-type`, on-demand).
fn sized(name: &str, pool: &str) -> NodeBuilder {
    managed(name, pool).cpu("4").memory("4Gi").pods(10)
}

/// A running ReplicaSet pod of `cpu` cores bound to `node`.
fn web(name: &str, node: &str, cpu: &str) -> PodBuilder {
    bound(name, node)
        .cpu(cpu)
        .owner("apps/v1", "ReplicaSet", "web")
}

/// `Drifted=True` on each node, the first drifted longest ago.
fn drifted(nodes: &[&str]) -> DriftedNodes {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let condition = DriftedCondition {
                reason: DriftReason::NodePoolDrifted,
                since: now() - TimeDelta::hours(10) + TimeDelta::minutes(i as i64),
            };
            ((*node).to_owned(), condition)
        })
        .collect()
}

fn run(f: &Fixture, drifted: &DriftedNodes) -> DriftDecision {
    drift_command(
        &f.input(),
        drifted,
        &fake_settings(),
        &mut SeededRng::new(7),
    )
}

fn disrupted(decision: &DriftDecision) -> Vec<String> {
    decision.command.as_ref().map_or_else(Vec::new, |c| {
        c.candidates.iter().map(|c| c.node.clone()).collect()
    })
}

#[test]
fn item_70_empty_drifted_nodes_are_deleted_together_first() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .node(sized("a-n2", "a"))
        .node(sized("a-n3", "a"))
        .pod(web("p0", "a-n0", "1"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let decision = run(&f, &drifted(&["a-n0", "a-n1", "a-n2"]));
    let command = decision.command.as_ref().unwrap();
    assert_eq!(command.decision, Decision::Delete);
    assert_eq!(command.reason, DisruptionReason::Drifted);
    assert!(command.replacements.is_empty());
    assert_eq!(
        disrupted(&decision),
        vec!["a-n1", "a-n2"],
        "a-n3 is not drifted"
    );
    assert_eq!(decision.eligible_nodes, 3);
}

#[test]
fn item_70_one_non_empty_node_at_a_time_oldest_drift_first_with_a_replacement() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "3"))
        .pod(web("p1", "a-n1", "3"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let decision = run(&f, &drifted(&["a-n1", "a-n0"]));
    let command = decision.command.unwrap();
    let nodes: Vec<&str> = command.candidates.iter().map(|c| c.node.as_str()).collect();
    assert_eq!(nodes, ["a-n1"], "a-n1 drifted first");
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.replacements.len(), 1);
    assert_eq!(command.replacements[0].nodeclaim.nodepool, "a");
    assert!(!command.replacements[0].options.is_empty());
}

#[test]
fn item_70_drifted_node_whose_pods_fit_elsewhere_is_deleted_without_replacement() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "1"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let command = run(&f, &drifted(&["a-n0"])).command.unwrap();
    assert_eq!(command.decision, Decision::Delete);
    assert!(command.replacements.is_empty());
    assert_eq!(command.destinations, vec!["a-n1"]);
}

#[test]
fn item_70_can_replace_with_multiple_nodes() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(web("p0", "a-n0", "1").host_port(8080))
        .pod(web("p1", "a-n0", "1").host_port(8080));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let command = run(&f, &drifted(&["a-n0"])).command.unwrap();
    assert_eq!(command.replacements.len(), 2, "{}", command.explanation);
}

#[test]
fn item_70_budgets_limit_drift_per_pool() {
    let builder = (0..4).fold(snapshot().nodepool(nodepool("a")), |s, i| {
        s.node(sized(&format!("a-n{i}"), "a"))
    });
    let names = ["a-n0", "a-n1", "a-n2", "a-n3"];
    let f = Fixture::new(builder.clone()).budgets("a", vec![Budget::new("2")]);
    let decision = run(&f, &drifted(&names));
    assert_eq!(disrupted(&decision), vec!["a-n0", "a-n1"]);
    assert!(decision.budget_limited);
    // In-flight disruptions (marked for deletion) count against the budget.
    let mut f = Fixture::new(builder.clone()).budgets("a", vec![Budget::new("2")]);
    f.snapshot.nodes[3].marked_for_deletion = true;
    assert_eq!(disrupted(&run(&f, &drifted(&names))), vec!["a-n0"]);
    // A budget scoped to another reason does not apply; a zero one for Drifted blocks all.
    let f = Fixture::new(builder.clone()).budgets(
        "a",
        vec![Budget::new("0").with_reasons([DisruptionReason::Empty])],
    );
    assert_eq!(disrupted(&run(&f, &drifted(&names))).len(), 4);
    let f = Fixture::new(builder).budgets(
        "a",
        vec![Budget::new("0").with_reasons([DisruptionReason::Drifted])],
    );
    let decision = run(&f, &drifted(&names));
    assert!(decision.command.is_none());
    assert!(decision.budget_limited);
}

#[test]
fn item_70_non_empty_candidates_skip_pools_without_budget() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .nodepool(nodepool("b"))
        .node(sized("a-n0", "a"))
        .node(sized("b-n0", "b"))
        .pod(web("pa", "a-n0", "3"))
        .pod(web("pb", "b-n0", "3"));
    let f = Fixture::new(builder)
        .budgets("a", vec![Budget::new("0")])
        .budgets("b", unlimited());
    let decision = run(&f, &drifted(&["a-n0", "b-n0"]));
    assert_eq!(disrupted(&decision), vec!["b-n0"]);
}

#[test]
fn item_70_missing_drifted_condition_and_node_do_not_disrupt_are_ignored() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    f.node_state("a-n0")
        .annotations
        .insert(DO_NOT_DISRUPT.into(), "true".into());
    let decision = run(&f, &drifted(&["a-n0"]));
    assert!(decision.command.is_none());
    assert!(
        decision
            .blocked
            .iter()
            .any(|(node, reason)| node == "a-n0" && *reason == BlockReason::NodeDoNotDisrupt)
    );
    assert!(run(&f, &DriftedNodes::new()).command.is_none());
}

#[test]
fn item_70_pod_blockers_stop_drift_without_tgp_but_not_with_one() {
    let blocked_pod = || web("p0", "a-n0", "1").annotation(DO_NOT_DISRUPT, "true");
    let without = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(blocked_pod());
    let f = Fixture::new(without).budgets("a", unlimited());
    assert!(run(&f, &drifted(&["a-n0"])).command.is_none());
    let with_tgp = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(blocked_pod());
    let mut f = Fixture::new(with_tgp).budgets("a", unlimited());
    f.node_state("a-n0").termination_grace_period = Some("1h".into());
    let command = run(&f, &drifted(&["a-n0"])).command.unwrap();
    assert_eq!(command.candidates[0].node, "a-n0");
    // The do-not-disrupt pod is left out of the simulation: no capacity is pre-spun for it.
    assert!(command.replacements.is_empty());
}

#[test]
fn item_70_active_duration_do_not_disrupt_blocks_but_an_invalid_value_does_not() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .node(sized("a-n2", "a"))
        .pod(web("p0", "a-n0", "1").annotation(DO_NOT_DISRUPT, "1h"))
        .pod(web("p1", "a-n1", "1").annotation(DO_NOT_DISRUPT, "abc"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    f.pod_start_times
        .insert("p0".into(), now() - TimeDelta::minutes(10));
    let decision = run(&f, &drifted(&["a-n0", "a-n1"]));
    assert_eq!(disrupted(&decision), vec!["a-n1"]);
}

#[test]
fn item_70_nodes_whose_pods_cannot_reschedule_are_skipped_for_the_next() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("big", "a-n0", "1").node_selector("example.com/nowhere", "x"))
        .pod(web("small", "a-n1", "1"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let decision = run(&f, &drifted(&["a-n0", "a-n1"]));
    assert_eq!(disrupted(&decision), vec!["a-n1"]);
    let (node, message) = &decision.unschedulable[0];
    assert_eq!(node, "a-n0");
    assert!(message.starts_with("default/big => "), "{message}");
}

#[test]
fn item_70_static_pools_are_excluded() {
    let builder = snapshot()
        .nodepool(nodepool("s").replicas(1))
        .node(sized("s-n0", "s"));
    let f = Fixture::new(builder).budgets("s", unlimited());
    let decision = run(&f, &drifted(&["s-n0"]));
    assert!(decision.command.is_none());
    assert_eq!(decision.eligible_nodes, 0);
}

#[test]
fn drift_is_deterministic() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "3"))
        .pod(web("p1", "a-n1", "3"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let names = drifted(&["a-n0", "a-n1"]);
    assert_eq!(run(&f, &names), run(&f, &names));
}
