//! Static capacity and StaticDrift (§4.15, §4.6; §9.2 items 72, 73, 74).

use chrono::TimeDelta;

use super::*;
use crate::labels::LabelAliases;
use crate::snapshot::NodePool;
use crate::testing::NodePoolBuilder;

fn state(active: usize) -> StaticPoolState {
    StaticPoolState {
        active,
        ..StaticPoolState::default()
    }
}

fn pool(builder: NodePoolBuilder) -> NodePool {
    builder.build()
}

// === static provisioning (§9.2 item 73) ===

#[test]
fn item_73_creates_up_to_replicas() {
    let p = pool(nodepool("s").replicas(5));
    let mut s = state(2);
    let decision = static_scale_up(&p, &mut s).unwrap();
    assert_eq!(decision.create, 3);
    assert!(!decision.limit_reached);
    assert_eq!(decision.requeue_after, STATIC_REQUEUE);
    assert_eq!(
        s.reserved, 3,
        "the creations are reserved until they become active"
    );
}

#[test]
fn item_73_respects_node_limits_and_concurrent_reconciles_never_exceed_them() {
    let p = pool(nodepool("s").replicas(10).limit("nodes", "4"));
    let mut s = state(1);
    assert_eq!(static_scale_up(&p, &mut s).unwrap().create, 3);
    // A second reconcile before the NodeClaims register sees the reservation.
    let again = static_scale_up(&p, &mut s).unwrap();
    assert_eq!(again.create, 0);
    assert!(again.limit_reached);
    assert_eq!(again.requeue_after, STATIC_LIMIT_REQUEUE);
    // Deleting NodeClaims still count against the limit.
    let mut deleting = StaticPoolState {
        active: 1,
        deleting: 2,
        ..StaticPoolState::default()
    };
    assert_eq!(static_scale_up(&p, &mut deleting).unwrap().create, 1);
}

#[test]
fn item_73_zero_replicas_not_ready_and_dynamic_pools() {
    assert_eq!(
        static_scale_up(&pool(nodepool("s").replicas(0)), &mut state(0))
            .unwrap()
            .create,
        0
    );
    assert_eq!(
        static_scale_up(&pool(nodepool("s").replicas(3).not_ready()), &mut state(0)),
        None
    );
    assert_eq!(static_scale_up(&pool(nodepool("d")), &mut state(0)), None);
    let large = static_scale_up(&pool(nodepool("s").replicas(1000)), &mut state(0)).unwrap();
    assert_eq!(large.create, 1000);
}

#[test]
fn item_73_drift_replacements_in_flight_count_as_active() {
    let p = pool(nodepool("s").replicas(3));
    let mut s = StaticPoolState {
        active: 2,
        pending_disruption: 1,
        ..StaticPoolState::default()
    };
    assert_eq!(static_scale_up(&p, &mut s).unwrap().create, 0);
}

#[test]
fn template_nodeclaims_carry_the_pool_labels_hash_and_no_instance_types() {
    let p = pool(
        nodepool("s")
            .replicas(1)
            .label("team", "a")
            .taint("dedicated=a:NoSchedule"),
    );
    let nc = template_nodeclaim(&p, &LabelAliases::core());
    assert_eq!(nc.nodepool, "s");
    assert_eq!(nc.labels.get(NODEPOOL).map(String::as_str), Some("s"));
    assert_eq!(nc.labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        nc.annotations
            .get(crate::labels::NODEPOOL_HASH)
            .map(String::as_str),
        Some("test-hash")
    );
    assert!(nc.instance_types.is_empty());
    assert_eq!(nc.taints, p.taints);
    assert!(nc.requirements.has("team"));
}

// === static deprovisioning (§9.2 item 74) ===

/// A static pool of six nodes: two DaemonSet-only, two with cheap pods, one with a costly pod
/// and one with a `do-not-disrupt` pod.
fn six_nodes() -> Fixture {
    let ds = |name: &str, node: &str| bound(name, node).owner("apps/v1", "DaemonSet", "logger");
    let builder = (0..6)
        .fold(snapshot().nodepool(nodepool("s").replicas(6)), |s, i| {
            s.node(managed(&format!("n{i}"), "s"))
        })
        .pod(ds("ds0", "n0"))
        .pod(ds("ds1", "n1"))
        .pod(bound("low2", "n2"))
        .pod(
            bound("low3", "n3")
                .annotation("controller.kubernetes.io/pod-deletion-cost", "-100000000"),
        )
        .pod(
            bound("high", "n4")
                .annotation("controller.kubernetes.io/pod-deletion-cost", "500000000"),
        )
        .pod(bound("pinned", "n5").annotation(DO_NOT_DISRUPT, "true"));
    let mut f = Fixture::new(builder);
    for (i, node) in f.snapshot.nodes.iter_mut().enumerate() {
        node.nodeclaim = Some(format!("nc{i}"));
    }
    f
}

fn scale_down(f: &Fixture, replicas: i64, unlaunched: &[UnlaunchedNodeClaim]) -> Vec<String> {
    let mut p = f.snapshot.nodepools[0].clone();
    p.replicas = Some(replicas);
    static_scale_down(&f.input(), &p, &state(6), unlaunched)
}

#[test]
fn item_74_scale_down_drops_daemonset_only_then_cheapest_then_do_not_disrupt_last() {
    let f = six_nodes();
    assert!(scale_down(&f, 6, &[]).is_empty());
    assert_eq!(scale_down(&f, 4, &[]), vec!["nc0", "nc1"]);
    assert_eq!(scale_down(&f, 2, &[]), vec!["nc0", "nc1", "nc3", "nc2"]);
    assert_eq!(
        scale_down(&f, 0, &[]),
        vec!["nc0", "nc1", "nc3", "nc2", "nc4", "nc5"]
    );
}

#[test]
fn item_74_unlaunched_nodeclaims_go_first_and_deleting_ones_are_skipped() {
    let f = six_nodes();
    let unlaunched = [
        UnlaunchedNodeClaim {
            name: "pending-a".into(),
            deleting: true,
        },
        UnlaunchedNodeClaim {
            name: "pending-b".into(),
            deleting: false,
        },
    ];
    assert_eq!(scale_down(&f, 4, &unlaunched), vec!["pending-b", "nc0"]);
}

#[test]
fn item_74_nodes_already_marked_for_deletion_are_not_chosen() {
    let mut f = six_nodes();
    f.snapshot.nodes[0].marked_for_deletion = true;
    assert_eq!(scale_down(&f, 5, &[]), vec!["nc1"]);
}

// === StaticDrift (§9.2 item 72) ===

/// `count` nodes of static pool `name` with `replicas`, all drifted.
fn static_pool(
    builder: SnapshotBuilder,
    name: &str,
    replicas: i64,
    count: usize,
) -> SnapshotBuilder {
    (0..count).fold(
        builder.nodepool(nodepool(name).replicas(replicas)),
        |s, i| s.node(managed(&format!("{name}-n{i}"), name)),
    )
}

fn all_drifted(f: &Fixture) -> DriftedNodes {
    f.snapshot
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let since = now() - TimeDelta::minutes(60 - i as i64);
            (
                n.name.clone(),
                DriftedCondition {
                    reason: DriftReason::NodePoolDrifted,
                    since,
                },
            )
        })
        .collect()
}

fn static_drift_run(f: &Fixture, states: &mut BTreeMap<String, StaticPoolState>) -> Vec<String> {
    static_drift_commands(&f.input(), &all_drifted(f), states, &LabelAliases::core())
        .commands
        .into_iter()
        .map(|c| {
            assert_eq!(
                c.replacements.len(),
                1,
                "one fresh NodeClaim per drifted node"
            );
            assert_eq!(c.decision, Decision::Replace);
            c.candidates[0].node.clone()
        })
        .collect()
}

fn states(entries: &[(&str, usize)]) -> BTreeMap<String, StaticPoolState> {
    entries
        .iter()
        .map(|(pool, active)| ((*pool).to_owned(), state(*active)))
        .collect()
}

#[test]
fn item_72_static_drift_respects_budgets_by_count_and_percent() {
    let f = Fixture::new(static_pool(snapshot(), "s", 4, 4)).budgets("s", vec![Budget::new("2")]);
    let mut st = states(&[("s", 4)]);
    assert_eq!(static_drift_run(&f, &mut st), vec!["s-n0", "s-n1"]);
    assert_eq!(st["s"].pending_disruption, 2);
    assert_eq!(st["s"].active, 2);
    let f = Fixture::new(static_pool(snapshot(), "s", 4, 4)).budgets("s", vec![Budget::new("50%")]);
    assert_eq!(static_drift_run(&f, &mut states(&[("s", 4)])).len(), 2);
}

#[test]
fn item_72_pools_are_handled_independently() {
    let builder = static_pool(static_pool(snapshot(), "a", 2, 2), "b", 2, 2);
    let f = Fixture::new(builder)
        .budgets("a", vec![Budget::new("1")])
        .budgets("b", unlimited());
    let nodes = static_drift_run(&f, &mut states(&[("a", 2), ("b", 2)]));
    assert_eq!(nodes, vec!["a-n0", "b-n0", "b-n1"]);
}

#[test]
fn item_72_node_limit_headroom_none_means_no_drift_partial_means_partial() {
    let at_limit = snapshot().nodepool(nodepool("s").replicas(3).limit("nodes", "3"));
    let builder = (0..3).fold(at_limit, |s, i| s.node(managed(&format!("s-n{i}"), "s")));
    let f = Fixture::new(builder.clone()).budgets("s", unlimited());
    assert!(static_drift_run(&f, &mut states(&[("s", 3)])).is_empty());
    let mut f = Fixture::new(builder).budgets("s", unlimited());
    f.snapshot.nodepools[0].limits = crate::resources::ResourceList::new();
    f.snapshot.nodepools[0]
        .limits
        .insert("nodes", crate::testing::quantity("4"));
    let mut st = states(&[("s", 3)]);
    assert_eq!(static_drift_run(&f, &mut st), vec!["s-n0"]);
    // The next pass finds the headroom taken until the replacement registers.
    assert!(static_drift_run(&f, &mut st).is_empty());
}

#[test]
fn item_72_waits_while_over_scaled_and_handles_zero_replicas() {
    let f = Fixture::new(static_pool(snapshot(), "s", 2, 3)).budgets("s", unlimited());
    assert!(static_drift_run(&f, &mut states(&[("s", 3)])).is_empty());
    let f = Fixture::new(static_pool(snapshot(), "s", 0, 1)).budgets("s", unlimited());
    assert!(static_drift_run(&f, &mut states(&[("s", 1)])).is_empty());
}

#[test]
fn item_72_node_do_not_disrupt_is_respected_and_dynamic_pools_are_left_to_drift() {
    let builder = static_pool(snapshot(), "s", 2, 2)
        .nodepool(nodepool("d"))
        .node(managed("d-n0", "d"));
    let mut f = Fixture::new(builder)
        .budgets("s", unlimited())
        .budgets("d", unlimited());
    f.node_state("s-n0")
        .annotations
        .insert(DO_NOT_DISRUPT.into(), "true".into());
    assert_eq!(static_drift_run(&f, &mut states(&[("s", 2)])), vec!["s-n1"]);
}
