//! Candidates, budget counts, costs and ordering (§9.2 items 65, 66, 67, 82, 87).

use super::*;

// === candidates (§9.2 item 67) ===

#[test]
fn item_67_node_state_blockers_have_upstream_messages() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(managed("uninit", "a").initialized(false))
        .node(managed("nominated", "a"))
        .node(managed("deleting", "a").marked_for_deletion())
        .node(managed("unregistered", "a").registered(false))
        .node(node("unmanaged"))
        .node(managed("queued", "a"))
        .node(managed("orphan", "gone"));
    let mut f = Fixture::new(builder).budgets("a", unlimited());
    f.snapshot
        .nodes
        .iter_mut()
        .filter(|n| n.name == "nominated")
        .for_each(|n| n.nominated = true);
    f.node_state("queued").queued = true;
    let message = |node: &str| f.blocked(node).map(|r| r.to_string());
    assert_eq!(message("uninit").as_deref(), Some("node isn't initialized"));
    assert_eq!(
        message("nominated").as_deref(),
        Some("node is nominated for a pending pod")
    );
    assert_eq!(
        message("deleting").as_deref(),
        Some("node is deleting or marked for deletion")
    );
    assert_eq!(
        message("unregistered").as_deref(),
        Some("nodeclaim does not have an associated node")
    );
    assert_eq!(
        message("unmanaged").as_deref(),
        Some("node isn't managed by karpenter")
    );
    assert_eq!(
        message("queued").as_deref(),
        Some("candidate is already being disrupted")
    );
    assert_eq!(
        message("orphan").as_deref(),
        Some("nodepool not found (NodePool=gone)")
    );
    assert!(f.deleted().is_empty());
}

#[test]
fn item_67_missing_nodepool_label_and_instance_terminating() {
    let mut f = Fixture::new(empty_nodes("a", 2)).budgets("a", unlimited());
    f.snapshot.nodes[0].labels.remove(NODEPOOL);
    f.node_state("a-n1").instance_terminating = true;
    assert_eq!(
        f.blocked("a-n0").map(|r| r.to_string()).as_deref(),
        Some("node doesn't have required label (label=karpenter.sh/nodepool)")
    );
    assert_eq!(f.blocked("a-n1"), Some(BlockReason::MarkedForDeletion));
}

#[test]
fn item_67_active_do_not_disrupt_pods_block_including_daemonset_and_mirror_pods() {
    let ds = bound("ds", "a-n0")
        .owner("apps/v1", "DaemonSet", "logger")
        .annotation(DO_NOT_DISRUPT, "true");
    let mirror = bound("static", "a-n1")
        .owner("v1", "Node", "a-n1")
        .annotation(DO_NOT_DISRUPT, "true");
    let done = bound("done", "a-n2")
        .phase(PodPhase::Succeeded)
        .annotation(DO_NOT_DISRUPT, "true");
    let f =
        Fixture::new(empty_nodes("a", 3).pod(ds).pod(mirror).pod(done)).budgets("a", unlimited());
    assert_eq!(
        f.blocked("a-n0").map(|r| r.event_message()).as_deref(),
        Some("Pod has \"karpenter.sh/do-not-disrupt\" annotation (Pod=default/ds)")
    );
    assert!(f.blocked("a-n1").is_some());
    assert_eq!(f.deleted(), vec!["a-n2"], "terminal pods do not block");
}

#[test]
fn item_67_do_not_disrupt_durations_count_from_pod_start() {
    let timed = bound("timed", "a-n0").annotation(DO_NOT_DISRUPT, "30m");
    let mut f = Fixture::new(empty_nodes("a", 1).pod(timed)).budgets("a", unlimited());
    f.pod_start_times
        .insert("timed".into(), now() - chrono::TimeDelta::minutes(10));
    assert!(matches!(
        f.blocked("a-n0"),
        Some(BlockReason::PodDoNotDisrupt { .. })
    ));
    f.pod_start_times
        .insert("timed".into(), now() - chrono::TimeDelta::minutes(31));
    assert_eq!(f.blocked("a-n0"), None);
}

#[test]
fn item_67_invalid_do_not_disrupt_values_are_ignored_with_a_warning() {
    let bad = bound("bad", "a-n0").annotation(DO_NOT_DISRUPT, "abc");
    let zero = bound("zero", "a-n0").annotation(DO_NOT_DISRUPT, "0s");
    let off = bound("off", "a-n0").annotation(DO_NOT_DISRUPT, "false");
    let f = Fixture::new(empty_nodes("a", 1).pod(bad).pod(zero).pod(off));
    let set = CandidateSet::build(&f.input(), DisruptionClass::Graceful);
    assert_eq!(set.candidates.len(), 1);
    assert_eq!(set.warnings.len(), 3, "{:?}", set.warnings);
    assert!(
        set.warnings
            .contains(&"duration \"0s\" must be positive (Pod=default/zero)".to_owned())
    );
}

fn pdb(name: &str, app: &str) -> crate::snapshot::PodDisruptionBudget {
    crate::snapshot::PodDisruptionBudget {
        namespace: "default".into(),
        name: name.into(),
        selector: Some(LabelSelector::from_labels([("app", app)])),
        min_available: None,
        max_unavailable: Some(crate::snapshot::IntOrString::Int(1)),
    }
}

#[test]
fn item_67_pdb_without_allowed_disruptions_blocks() {
    let web = bound("web", "a-n0").label("app", "web");
    let mut f = Fixture::new(empty_nodes("a", 1).pod(web).pdb(pdb("web-pdb", "web")));
    f.pdb_status
        .insert(("default".into(), "web-pdb".into()), PdbStatus::default());
    assert_eq!(
        f.blocked("a-n0").map(|r| r.to_string()).as_deref(),
        Some("pdb prevents pod evictions (PodDisruptionBudget=[default/web-pdb])")
    );
    f.pdb_status
        .get_mut(&("default".into(), "web-pdb".into()))
        .unwrap()
        .disruptions_allowed = 1;
    assert_eq!(f.blocked("a-n0"), None);
}

#[test]
fn item_67_multiple_pdbs_on_a_pod_block() {
    let web = bound("web", "a-n0").label("app", "web");
    let f = Fixture::new(
        empty_nodes("a", 1)
            .pod(web)
            .pdb(pdb("one", "web"))
            .pdb(pdb("two", "web")),
    );
    let message = f.blocked("a-n0").map(|r| r.event_message()).unwrap();
    assert!(message.starts_with("Eviction does not support multiple PDBs"));
    assert!(message.contains("default/one") && message.contains("default/two"));
}

#[test]
fn item_67_fully_blocking_pdb_blocks_daemonset_pods_but_not_mirror_pods() {
    let mut blocking = pdb("all", "sys");
    blocking.max_unavailable = Some(crate::snapshot::IntOrString::Int(0));
    let ds = bound("ds", "a-n0")
        .label("app", "sys")
        .owner("apps/v1", "DaemonSet", "sys");
    let mirror = bound("mirror", "a-n1")
        .label("app", "sys")
        .owner("v1", "Node", "a-n1");
    let f = Fixture::new(empty_nodes("a", 2).pod(ds).pod(mirror).pdb(blocking));
    assert!(matches!(
        f.blocked("a-n0"),
        Some(BlockReason::PdbBlocks { .. })
    ));
    assert_eq!(f.blocked("a-n1"), None);
}

#[test]
fn item_67_always_allow_lets_unready_pods_through() {
    let web = bound("web", "a-n0").label("app", "web");
    let mut f = Fixture::new(empty_nodes("a", 1).pod(web).pdb(pdb("web-pdb", "web")));
    f.pdb_status.insert(
        ("default".into(), "web-pdb".into()),
        PdbStatus {
            disruptions_allowed: 0,
            always_allow_unhealthy: true,
        },
    );
    assert!(
        f.blocked("a-n0").is_some(),
        "ready pods are still protected"
    );
    f.unready_pods.insert("web".into());
    assert_eq!(f.blocked("a-n0"), None);
}

#[test]
fn item_67_eventual_class_with_tgp_ignores_pod_blockers() {
    let pinned = bound("pinned", "a-n0").annotation(DO_NOT_DISRUPT, "true");
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(managed("a-n0", "a"))
        .pod(pinned);
    let mut f = Fixture::new(builder);
    f.node_state("a-n0").termination_grace_period = Some("1h".into());
    let eventual = CandidateSet::build(&f.input(), DisruptionClass::Eventual);
    assert_eq!(eventual.candidates.len(), 1);
    assert!(f.blocked("a-n0").is_some(), "graceful methods stay blocked");
}

// === budget counts (§9.2 item 65) ===

#[test]
fn item_65_budget_counts_exclude_unmanaged_uninitialized_terminating() {
    let builder = empty_nodes("a", 3)
        .node(managed("uninit", "a").initialized(false))
        .node(managed("deleting", "a").marked_for_deletion())
        .node(node("unmanaged"));
    let mut f = Fixture::new(builder);
    f.node_state("a-n0").instance_terminating = true;
    f.node_state("a-n1").ready = false;
    let counts = budget_node_counts(&f.input());
    let a = counts["a"];
    assert_eq!(a.num_nodes, 3, "a-n1, a-n2 and deleting");
    assert_eq!(a.disrupting, 2, "NotReady a-n1 and deleting");
    let allowance = &pool_allowances(&f.input(), DisruptionReason::Empty)["a"];
    assert_eq!(allowance.allowed, 1, "10% of 3 rounds up to 1");
    assert_eq!(allowance.remaining, 0, "never negative");
}

// === costs and ordering (§9.2 items 66, 82, 87) ===

#[test]
fn item_66_disruption_cost_follows_deletion_cost_and_priority() {
    let base = pod().name("p").build();
    let mut high = base.clone();
    high.annotations.insert(
        "controller.kubernetes.io/pod-deletion-cost".into(),
        "100000000".into(),
    );
    let mut low = base.clone();
    low.annotations.insert(
        "controller.kubernetes.io/pod-deletion-cost".into(),
        "-100000000".into(),
    );
    let mut important = base.clone();
    important.priority = 1_000_000;
    assert_eq!(eviction_cost(&base), 1.0);
    assert!(eviction_cost(&high) > 1.0);
    assert!(eviction_cost(&low) < 1.0);
    assert!(eviction_cost(&important) > 1.0);
    assert_eq!(disruption_cost([&base, &base], 0.5), 1.0);
}

#[test]
fn item_82_lifetime_remaining_scales_with_expire_after() {
    let mut pool = nodepool("a").build();
    pool.expire_after = Some("10h".into());
    let created = now() - chrono::TimeDelta::hours(5);
    assert_eq!(lifetime_remaining(&pool, Some(created), now()), 0.5);
    pool.expire_after = None;
    assert_eq!(lifetime_remaining(&pool, Some(created), now()), 1.0);
}

#[test]
fn item_87_candidates_sorted_by_descending_savings_ratio() {
    let types = vec![
        instance_type("cheap")
            .offering("on-demand", "test-zone-1", 1.0, true)
            .build(),
        instance_type("pricey")
            .offering("on-demand", "test-zone-1", 4.0, true)
            .build(),
    ];
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(managed("cheap-node", "a").instance_type("cheap", "on-demand"))
        .node(managed("pricey-busy", "a").instance_type("pricey", "on-demand"))
        .node(managed("pricey-idle", "a").instance_type("pricey", "on-demand"))
        .pod(bound("w1", "pricey-busy"))
        .pod(bound("w2", "pricey-busy"))
        .pod(bound("w3", "pricey-busy"));
    let f = Fixture::new(builder);
    let set = CandidateSet::build(&f.input(), DisruptionClass::Graceful);
    let order: Vec<(&str, f64)> = set
        .candidates
        .iter()
        .map(|c| (c.node.as_str(), c.savings_ratio()))
        .collect();
    // 4/1, then 1/1 and 4/(1+3).
    assert_eq!(
        order,
        vec![
            ("pricey-idle", 4.0),
            ("cheap-node", 1.0),
            ("pricey-busy", 1.0)
        ]
    );
    assert_eq!(set.candidates[0].price, 4.0);
}
