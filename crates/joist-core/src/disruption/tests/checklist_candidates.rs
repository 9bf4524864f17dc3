//! §9.2 checklist, candidates and budgets (items 63, 65, 66, 67, 70's TGP rule): the outcomes the
//! older tests exercised without asserting, and the NodeClaim `terminationGracePeriod` rule.

use super::*;
use crate::rng::SeededRng;
use crate::snapshot::{IntOrString, PodDisruptionBudget};
use crate::testing::fake_settings;

/// A 4-CPU managed node of `pool`.
fn sized(name: &str, pool: &str) -> NodeBuilder {
    managed(name, pool).cpu("4").memory("4Gi").pods(10)
}

/// A running ReplicaSet pod of `cpu` cores bound to `node`.
fn web(name: &str, node: &str, cpu: &str) -> PodBuilder {
    bound(name, node)
        .cpu(cpu)
        .owner("apps/v1", "ReplicaSet", "web")
}

/// A PDB over pods labelled `app=<app>` allowing no disruption.
fn blocking_pdb(name: &str, app: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        namespace: "default".into(),
        name: name.into(),
        selector: Some(LabelSelector::from_labels([("app", app)])),
        min_available: None,
        max_unavailable: Some(IntOrString::Int(0)),
    }
}

fn eventual(f: &Fixture) -> CandidateSet {
    CandidateSet::build(&f.input(), DisruptionClass::Eventual)
}

fn drift(f: &Fixture, nodes: &[&str]) -> DriftDecision {
    let drifted: DriftedNodes = nodes
        .iter()
        .map(|n| {
            let condition = DriftedCondition {
                reason: DriftReason::NodePoolDrifted,
                since: now() - chrono::TimeDelta::hours(1),
            };
            ((*n).to_owned(), condition)
        })
        .collect();
    drift_command(
        &f.input(),
        &drifted,
        &fake_settings(),
        &mut SeededRng::new(7),
    )
}

// === the NodeClaim's own terminationGracePeriod (§4.2, §9.2 items 67, 70) ===

#[test]
fn item_67_nodeclaim_tgp_lets_eventual_methods_past_pod_blockers() {
    // The NodePool sets no TGP; the NodeClaim was launched with one (or had it set directly).
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(web("pinned", "a-n0", "1").annotation(DO_NOT_DISRUPT, "true"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    f.node_state("a-n0").termination_grace_period = Some("1h".into());
    let set = eventual(&f);
    assert_eq!(
        set.candidates
            .iter()
            .map(|c| c.node.as_str())
            .collect::<Vec<_>>(),
        vec!["a-n0"]
    );
    assert!(
        matches!(f.blocked("a-n0"), Some(BlockReason::PodDoNotDisrupt { .. })),
        "graceful methods never ignore pod blockers"
    );
    let command = drift(&f, &["a-n0"]).command.expect("the drifted node goes");
    assert_eq!(command.candidates[0].node, "a-n0");
    assert!(
        command.replacements.is_empty(),
        "no capacity is pre-spun for the do-not-disrupt pod"
    );
}

#[test]
fn item_67_nodepool_tgp_alone_does_not_unblock_a_nodeclaim_without_one() {
    // The NodePool gained a TGP after the NodeClaim launched: the NodeClaim still has none, so
    // its pods' blockers hold (upstream reads `NodeClaim.spec.terminationGracePeriod`).
    let builder = snapshot()
        .nodepool(nodepool("a").termination_grace_period("1h"))
        .node(sized("a-n0", "a"))
        .pod(web("db", "a-n0", "1").label("app", "db"))
        .pdb(blocking_pdb("db-pdb", "db"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    let set = eventual(&f);
    assert!(set.candidates.is_empty());
    assert_eq!(
        set.blocked,
        vec![(
            "a-n0".to_owned(),
            BlockReason::PdbBlocks {
                pdb: "default/db-pdb".into()
            }
        )]
    );
    let decision = drift(&f, &["a-n0"]);
    assert!(decision.command.is_none());
}

#[test]
fn item_70_nodeclaim_tgp_drifts_past_a_blocking_pdb_without_a_replacement() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(web("db", "a-n0", "3").label("app", "db"))
        .pdb(blocking_pdb("db-pdb", "db"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    f.node_state("a-n0").termination_grace_period = Some("30m".into());
    let command = drift(&f, &["a-n0"]).command.expect("drift proceeds");
    assert_eq!(command.decision, Decision::Delete);
    assert!(command.replacements.is_empty());
}

// === replacements and deleting nodes (§9.2 item 63) ===

#[test]
fn item_63_pods_of_deleting_nodes_land_on_the_uninitialized_replacement() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("old", "a").marked_for_deletion())
        .node(sized("fresh", "a").initialized(false))
        .pod(web("moving", "old", "3"))
        .pod(web("stays", "a-n0", "3"));
    let f = Fixture::new(builder);
    let settings = fake_settings();
    let mut simulator = Simulator::new(f.input(), &settings);
    let result = simulator
        .simulate(&["a-n0"], &mut SeededRng::new(7))
        .unwrap();
    let landed = |key: &str| {
        result
            .placements
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.node.clone())
    };
    assert_eq!(landed("default/moving").as_deref(), Some("fresh"));
    // The candidate's own pod may not use the uninitialized node: it needs a new NodeClaim.
    assert_ne!(landed("default/stays").as_deref(), Some("fresh"));
    assert_eq!(result.new_nodeclaims.len(), 1);
}

#[test]
fn item_63_successive_drift_replaces_skip_nodes_already_being_replaced() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "3"))
        .pod(web("p1", "a-n1", "3"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    let first = drift(&f, &["a-n0", "a-n1"]).command.unwrap();
    assert_eq!(first.decision, Decision::Replace);
    let first_node = first.candidates[0].node.clone();
    // The first command is queued: the next pass replaces the other node.
    f.node_state(&first_node).queued = true;
    let second = drift(&f, &["a-n0", "a-n1"]).command.unwrap();
    assert_eq!(second.decision, Decision::Replace);
    assert_ne!(second.candidates[0].node, first_node);
}

// === budget counts (§9.2 item 65) ===

#[test]
fn item_65_deleting_and_not_ready_nodes_consume_budget_and_the_rest_is_never_negative() {
    let builder = empty_nodes("a", 10)
        .node(managed("going", "a").marked_for_deletion())
        .node(managed("uninit", "a").initialized(false));
    let mut f = Fixture::new(builder).budgets("a", vec![Budget::new("2")]);
    f.node_state("a-n0").ready = false;
    f.node_state("a-n1").ready = false;
    f.node_state("uninit").ready = false;
    let counts = budget_node_counts(&f.input())["a"];
    assert_eq!(counts.num_nodes, 11, "ten nodes plus the deleting one");
    assert_eq!(
        counts.disrupting, 3,
        "two NotReady nodes plus the deleting one"
    );
    let allowance = &pool_allowances(&f.input(), DisruptionReason::Empty)["a"];
    assert_eq!(allowance.allowed, 2);
    assert_eq!(allowance.remaining, 0);
    assert!(f.deleted().is_empty(), "no budget left for the empty nodes");
}

// === disruption cost (§9.2 item 66) ===

#[test]
fn item_66_candidate_costs_sum_pod_eviction_costs() {
    let deletion_cost = "controller.kubernetes.io/pod-deletion-cost";
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("plain", "a"))
        .node(sized("costly", "a"))
        .node(sized("cheap", "a"))
        .pod(web("p0", "plain", "1"))
        .pod(web("p1", "costly", "1").annotation(deletion_cost, "134217728"))
        .pod(web("p2", "cheap", "1").annotation(deletion_cost, "-134217728"));
    let f = Fixture::new(builder);
    let set = CandidateSet::build(&f.input(), DisruptionClass::Graceful);
    let cost = |node: &str| {
        let c = set.candidates.iter().find(|c| c.node == node).unwrap();
        (c.disruption_cost, c.reschedule_disruption_cost)
    };
    // 1 per pod by default; a deletion cost of 2^27 adds one, −2^27 removes one.
    assert_eq!(cost("plain"), (1.0, 2.0));
    assert_eq!(cost("costly"), (2.0, 3.0));
    assert_eq!(cost("cheap"), (0.0, 1.0));
}

// === candidacy (§9.2 item 67) ===

#[test]
fn item_67_blockers_on_terminating_pods_do_not_count() {
    let leaving = bound("leaving", "a-n0")
        .owner("apps/v1", "ReplicaSet", "web")
        .label("app", "db")
        .annotation(DO_NOT_DISRUPT, "true")
        .terminating();
    let f = Fixture::new(
        empty_nodes("a", 1)
            .pod(leaving)
            .pdb(blocking_pdb("db-pdb", "db")),
    )
    .budgets("a", unlimited());
    assert_eq!(f.blocked("a-n0"), None);
    assert_eq!(f.deleted(), vec!["a-n0"]);
}

#[test]
fn item_67_a_fully_blocking_pdb_on_a_mirror_pod_does_not_block() {
    let mirror = bound("static", "a-n0")
        .owner("v1", "Node", "a-n0")
        .label("app", "static");
    let f = Fixture::new(
        empty_nodes("a", 1)
            .pod(mirror)
            .pdb(blocking_pdb("static-pdb", "static")),
    )
    .budgets("a", unlimited());
    assert_eq!(f.blocked("a-n0"), None);
}

#[test]
fn item_67_nodes_without_capacity_type_zone_or_instance_type_labels_are_candidates() {
    let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
    for key in [
        crate::labels::CAPACITY_TYPE,
        crate::labels::ZONE,
        crate::labels::INSTANCE_TYPE,
    ] {
        f.snapshot.nodes[0].labels.remove(key);
    }
    let set = CandidateSet::build(&f.input(), DisruptionClass::Graceful);
    assert_eq!(set.candidates.len(), 1);
    let candidate = &set.candidates[0];
    assert_eq!(
        (candidate.instance_type.as_deref(), candidate.price),
        (None, 0.0),
        "an unknown offering is priced at zero"
    );
    assert_eq!(f.deleted(), vec!["a-n0"]);
}

#[test]
fn item_67_a_pool_without_instance_types_is_not_found() {
    let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
    f.snapshot
        .instance_types
        .insert("a".into(), std::sync::Arc::from(Vec::new()));
    assert_eq!(
        f.blocked("a-n0").map(|r| r.event_message()).as_deref(),
        Some("NodePool not found (NodePool=a)")
    );
}

#[test]
fn item_67_the_node_do_not_disrupt_event_text() {
    let mut f = Fixture::new(empty_nodes("a", 1)).budgets("a", unlimited());
    f.node_state("a-n0")
        .annotations
        .insert(DO_NOT_DISRUPT.into(), "true".into());
    assert_eq!(
        f.blocked("a-n0").map(|r| r.event_message()).as_deref(),
        Some("Disruption is blocked through the \"karpenter.sh/do-not-disrupt\" annotation")
    );
    assert!(f.deleted().is_empty());
}

#[test]
fn item_63_local_volume_hostname_affinity_is_ignored_when_replacing() {
    use crate::labels::HOSTNAME;
    use crate::requirements::{NodeSelectorRequirement, Operator};
    use crate::snapshot::{ClaimPhase, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim};
    // The pod's local volume pins it to the candidate's hostname and zone.
    let local = PersistentVolume {
        name: "local".into(),
        node_affinity: vec![NodeSelectorTerm::new(vec![
            NodeSelectorRequirement::new(HOSTNAME, Operator::In, ["a-n0"]),
            NodeSelectorRequirement::new(crate::labels::ZONE, Operator::In, ["test-zone-1"]),
        ])],
        local_or_host_path: true,
        ..PersistentVolume::default()
    };
    let claim = PersistentVolumeClaim {
        namespace: "default".into(),
        name: "data".into(),
        volume_name: Some("local".into()),
        phase: ClaimPhase::Bound,
        bind_completed: true,
        ..PersistentVolumeClaim::default()
    };
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .volume(local)
        .claim(claim)
        .node(sized("a-n0", "a"))
        .pod(web("db", "a-n0", "3").pvc("data"));
    let f = Fixture::new(builder).budgets("a", unlimited());
    // Honouring the hostname term would leave the pod nowhere to go but the node being
    // replaced: no command. Ignoring it, the pod gets a replacement, in the volume's zone.
    let decision = drift(&f, &["a-n0"]);
    assert!(
        decision.unschedulable.is_empty(),
        "{:?}",
        decision.unschedulable
    );
    let command = decision.command.expect("the node is replaced");
    assert_eq!(command.decision, Decision::Replace);
    let zones = command.replacements[0]
        .nodeclaim
        .requirements
        .get(crate::labels::ZONE);
    assert!(
        zones.has("test-zone-1") && !zones.has("test-zone-2"),
        "{zones:?}"
    );
}
