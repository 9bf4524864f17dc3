//! §9.2 checklist, consolidation (items 68, 76, 83, 84): decision labels and the multi-node
//! deadline, validation failures per consolidation type, topology, and consolidation racing
//! provisioning.

use super::consolidation::{app, machine, multi, od_types, open, settings, single, three_mediums};
use super::*;
use crate::instancetype::InstanceType;
use crate::labels::{HOSTNAME, ZONE};
use crate::rng::SeededRng;
use crate::scheduling::solve;
use crate::snapshot::WhenUnsatisfiable;
use crate::testing::fake_settings;

fn upstream() -> ConsolidationSettings {
    settings(SearchMode::Upstream)
}

// === decisions behind the metrics (§9.2 item 68) ===

#[test]
fn item_68_each_method_reports_its_decision_reason_and_eligible_nodes() {
    // Emptiness (consolidation type `empty`): a delete for reason Empty.
    let f = Fixture::new(empty_nodes("a", 2)).budgets("a", unlimited());
    let empty = f.empty();
    let command = empty.command.unwrap();
    assert_eq!(
        (command.reason, command.decision.as_str()),
        (DisruptionReason::Empty, "delete")
    );
    assert_eq!(empty.eligible_nodes, 2);
    // Multi-node (`multi`): three mediums merge into one large, a replace.
    let f = open(three_mediums());
    let decision = multi(&f, &upstream());
    let command = decision.command.unwrap();
    assert_eq!(
        (command.reason, command.decision.as_str()),
        (DisruptionReason::Underutilized, "replace")
    );
    assert_eq!(decision.eligible_nodes, 3);
    assert!(!decision.timed_out);
    // Single-node (`single`): a node whose pod fits elsewhere is deleted.
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("big", "a", "large", "on-demand", 8))
        .node(machine("small", "a", "medium", "on-demand", 4))
        .pod(app("p0", "big", "1"))
        .pod(app("p1", "small", "1"));
    let decision = single(&open(builder), &upstream());
    let command = decision.command.unwrap();
    assert_eq!(
        (command.reason, command.decision.as_str()),
        (DisruptionReason::Underutilized, "delete")
    );
}

#[test]
fn item_68_multi_node_stops_at_its_deadline_with_the_last_valid_command() {
    // Five mediums: the search tries 3 nodes (valid, one large) and would go on to try 4.
    let builder = (3..5).fold(three_mediums(), |s, i| {
        let name = format!("m{i}");
        s.node(machine(&name, "a", "medium", "on-demand", 4))
            .pod(app(&format!("p{i}"), &name, "2.5"))
    });
    let f = open(builder);
    let unbounded = multi(&f, &upstream());
    assert!(!unbounded.timed_out);
    assert!(unbounded.simulations > 1);
    let bounded = ConsolidationSettings {
        multi_node_max_simulations: 1,
        ..upstream()
    };
    let decision = multi(&f, &bounded);
    assert!(
        decision.timed_out,
        "the deadline is reported for the counter"
    );
    assert_eq!(decision.simulations, 1);
    let command = decision
        .command
        .expect("the last valid command is returned");
    assert_eq!(
        command
            .candidates
            .iter()
            .map(|c| c.node.as_str())
            .collect::<Vec<_>>(),
        vec!["m0", "m1", "m2"]
    );
}

// === invalidated commands per type (§9.2 item 76) ===

/// One `big` node whose pod fits on `small`: single-node deletes `big`.
fn big_and_small() -> SnapshotBuilder {
    snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("big", "a", "large", "on-demand", 8))
        .node(machine("small", "a", "medium", "on-demand", 4))
        .pod(app("p0", "big", "1"))
        .pod(app("p1", "small", "1"))
}

fn rejection(f: &Fixture, command: &Command) -> Option<ValidationError> {
    validate_command(&f.input(), &upstream(), command, &mut SeededRng::new(3)).err()
}

#[test]
fn item_76_budget_churn_and_nomination_invalidate_multi_and_single_commands() {
    let merged = multi(&open(three_mediums()), &upstream()).command.unwrap();
    let deleted = single(&open(big_and_small()), &upstream()).command.unwrap();
    let cases: [(fn() -> SnapshotBuilder, Command); 2] =
        [(three_mediums, merged), (big_and_small, deleted)];
    for (builder, command) in cases {
        let first = command.candidates[0].node.clone();
        assert_eq!(rejection(&open(builder()), &command), None);
        // Budget: the pool closed during the wait.
        let closed = open(builder()).budgets("a", vec![Budget::new("0")]);
        let error = rejection(&closed, &command).unwrap();
        assert_eq!(error.reason, RejectionReason::Budget);
        // Nomination: a candidate was nominated for a pending pod (counted as budget).
        let mut nominated = open(builder());
        nominated
            .snapshot
            .nodes
            .iter_mut()
            .for_each(|n| n.nominated = n.name == first);
        let error = rejection(&nominated, &command).unwrap();
        assert_eq!(error.reason, RejectionReason::Budget);
        assert_eq!(error.message, "a candidate was nominated during validation");
        // Churn: a do-not-disrupt pod landed on a candidate.
        let guard = app("guard", &first, "0.1").annotation(DO_NOT_DISRUPT, "true");
        let error = rejection(&open(builder().pod(guard)), &command).unwrap();
        assert_eq!(error.reason, RejectionReason::Churn);
        assert!(
            error.event_message(&command).contains("reason: churn"),
            "{}",
            error.event_message(&command)
        );
    }
}

// === topology (§9.2 item 83) ===

/// `medium` (4 CPU, $1) and `large` (8 CPU, $1.5), on-demand in three zones.
fn three_zone_types() -> Vec<InstanceType> {
    [("medium", 4, 1.0), ("large", 8, 1.5)]
        .into_iter()
        .map(|(name, cpu, price)| {
            ["test-zone-1", "test-zone-2", "test-zone-3"]
                .into_iter()
                .fold(
                    instance_type(name).cpu(cpu).memory("64Gi").pods(50),
                    |b, zone| b.offering("on-demand", zone, price, true),
                )
                .build()
        })
        .collect()
}

/// A pod of the zonal spread group `app=spread` (max skew 1, DoNotSchedule).
fn spread(name: &str, node: &str, cpu: &str) -> PodBuilder {
    app(name, node, cpu).label("app", "spread").spread(
        ZONE,
        1,
        WhenUnsatisfiable::DoNotSchedule,
        Some(LabelSelector::from_labels([("app", "spread")])),
    )
}

#[test]
fn item_83_a_replacement_keeps_the_zonal_spread() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(three_zone_types())
        .node(machine("z1", "a", "medium", "on-demand", 4).zone("test-zone-1"))
        .node(machine("z2", "a", "large", "on-demand", 8).zone("test-zone-2"))
        .node(machine("z3", "a", "medium", "on-demand", 4).zone("test-zone-3"))
        .pod(spread("s1", "z1", "3"))
        .pod(spread("s2", "z2", "2"))
        .pod(spread("s3", "z3", "3"));
    let f = open(builder);
    let command = single(&f, &upstream())
        .command
        .expect("the large is replaced");
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.candidates[0].node, "z2");
    let zones = command.replacements[0].nodeclaim.requirements.get(ZONE);
    assert!(zones.has("test-zone-2"));
    assert!(
        !zones.has("test-zone-1") && !zones.has("test-zone-3"),
        "{zones:?}"
    );
}

#[test]
fn item_83_required_anti_affinity_prevents_deletion() {
    let solo = |name: &str, node: &str, anti: bool| {
        let pod = app(name, node, "1").label("app", "solo");
        if anti {
            pod.anti_affinity(HOSTNAME, LabelSelector::from_labels([("app", "solo")]))
        } else {
            pod
        }
    };
    let pair = |anti: bool| {
        snapshot()
            .nodepool(nodepool("a"))
            .instance_types(od_types())
            .node(machine("n0", "a", "medium", "on-demand", 4))
            .node(machine("n1", "a", "medium", "on-demand", 4))
            .pod(solo("s0", "n0", anti))
            .pod(solo("s1", "n1", anti))
    };
    let free = single(&open(pair(false)), &upstream());
    assert_eq!(
        free.command.map(|c| c.decision),
        Some(Decision::Delete),
        "without anti-affinity one node goes"
    );
    let apart = open(pair(true));
    assert!(single(&apart, &upstream()).command.is_none());
    assert!(multi(&apart, &upstream()).command.is_none());
}

// === consolidation racing provisioning (§9.2 item 84) ===

#[test]
fn item_84_pending_pods_during_a_replace_use_the_in_flight_replacement() {
    // `old` is being replaced; its replacement `fresh` is launched but not initialized yet.
    let snapshot = snapshot()
        .nodepool(nodepool("a"))
        .node(
            managed("old", "a")
                .cpu("4")
                .memory("4Gi")
                .pods(10)
                .marked_for_deletion(),
        )
        .node(
            managed("fresh", "a")
                .cpu("8")
                .memory("8Gi")
                .pods(10)
                .initialized(false),
        )
        .pod(
            bound("moving", "old")
                .cpu("2")
                .owner("apps/v1", "ReplicaSet", "web"),
        )
        .pod(pod().name("arrived").uid("arrived").cpu("1"))
        .build();
    let plan = solve(&snapshot, &fake_settings(), &mut SeededRng::new(0));
    assert!(
        plan.new_nodeclaims.is_empty(),
        "no extra node: {:?}",
        plan.new_nodeclaims
    );
    let on_fresh: Vec<&str> = plan
        .nominations
        .iter()
        .filter(|n| n.node == "fresh")
        .map(|n| snapshot.pods[n.pod].name.as_str())
        .collect();
    assert_eq!(on_fresh.len(), 2, "{:?}", plan.nominations);
    assert!(on_fresh.contains(&"arrived") && on_fresh.contains(&"moving"));
}

#[test]
fn item_84_a_node_launched_for_a_deleting_nodes_pods_is_not_consolidated_at_once() {
    // `fresh` was just launched for the pods of `old` and is nominated for them: neither the
    // Empty method nor consolidation may take it while the pods are on their way.
    let mut f = Fixture::new(
        empty_nodes("a", 0)
            .node(managed("old", "a").marked_for_deletion())
            .node(managed("fresh", "a"))
            .pod(bound("moving", "old").owner("apps/v1", "ReplicaSet", "web")),
    )
    .budgets("a", unlimited());
    f.snapshot
        .nodes
        .iter_mut()
        .for_each(|n| n.nominated = n.name == "fresh");
    assert_eq!(f.blocked("fresh"), Some(BlockReason::Nominated));
    assert!(f.deleted().is_empty());
    assert!(multi(&f, &upstream()).command.is_none());
    assert!(single(&f, &upstream()).command.is_none());
    // Once the nomination lapses an empty `fresh` is fair game again.
    f.snapshot
        .nodes
        .iter_mut()
        .for_each(|n| n.nominated = false);
    assert_eq!(f.deleted(), vec!["fresh"]);
}

// === pending pods (§9.2 item 69) ===

#[test]
fn item_69_pending_pods_keep_the_node_they_need() {
    // `l0` runs a 1-CPU pod; alone it would be replaced by a medium. A pending 6-CPU pod needs
    // the large capacity, so consolidation leaves `l0` alone.
    let base = || {
        snapshot()
            .nodepool(nodepool("a"))
            .instance_types(od_types())
            .node(machine("l0", "a", "large", "on-demand", 8))
            .pod(app("p0", "l0", "1"))
    };
    let alone = single(&open(base()), &upstream()).command.unwrap();
    assert_eq!(alone.decision, Decision::Replace);
    let pending = pod().name("big").uid("big").cpu("6");
    let f = open(base().pod(pending));
    assert!(single(&f, &upstream()).command.is_none());
    assert!(multi(&f, &upstream()).command.is_none());
    assert!(f.deleted().is_empty());
}

// === replace and delete details (§9.2 items 78, 79) ===

/// `l0`, a large running a 1-CPU pod: a medium would do.
fn lone_large() -> SnapshotBuilder {
    snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("l0", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "1"))
}

#[test]
fn item_78_a_nodepool_without_instance_types_does_not_block_a_replace() {
    let f = open(
        lone_large()
            .nodepool(nodepool("b"))
            .instance_types_for("b", Vec::new()),
    );
    let command = single(&f, &upstream()).command.expect("still replaced");
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.replacements[0].options[0].name, "medium");
}

#[test]
fn item_79_ownerless_pods_move_to_a_node_karpenter_does_not_manage() {
    let external = node("external")
        .zone("test-zone-1")
        .cpu("4")
        .memory("64Gi")
        .pods(50);
    let ownerless = bound("bare", "l0").cpu("1");
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("l0", "a", "large", "on-demand", 8))
        .node(external)
        .pod(ownerless);
    let command = single(&open(builder), &upstream())
        .command
        .expect("the pod fits on the external node");
    assert_eq!(command.decision, Decision::Delete);
    assert_eq!(command.destinations, vec!["external"]);
}

#[test]
fn item_79_the_destination_rule_does_not_block_a_replace() {
    // `m1` has room for `p0` but is inside its consolidateAfter window: no delete onto it, but
    // a replace (onto a new node) is still allowed.
    let builder = lone_large()
        .node(machine("m1", "a", "medium", "on-demand", 4))
        .pod(app("p1", "m1", "1"));
    let mut f = open(builder);
    let delete = single(&f, &upstream()).command.unwrap();
    assert_eq!(
        delete.decision,
        Decision::Delete,
        "m1 usable as a destination"
    );
    f.node_state("m1").consolidatable = false;
    let command = single(&f, &upstream()).command.expect("a replace");
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.candidates[0].node, "l0");
}

// === preference policy (§9.2 item 86) ===

#[test]
fn item_86_ignoring_preferences_enables_a_delete_they_would_block() {
    // Two mediums, each pod preferring not to share a host with the other.
    let shy = |name: &str, node: &str| {
        app(name, node, "1")
            .label("app", "shy")
            .preferred_anti_affinity(100, HOSTNAME, LabelSelector::from_labels([("app", "shy")]))
    };
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("n0", "a", "medium", "on-demand", 4))
        .node(machine("n1", "a", "medium", "on-demand", 4))
        .pod(shy("s0", "n0"))
        .pod(shy("s1", "n1"));
    let f = open(builder);
    // Respected, the preference sends the pod to a new (no cheaper) node: nothing to do.
    assert!(single(&f, &upstream()).command.is_none());
    let mut ignoring = upstream();
    ignoring.scheduling.preference_policy = crate::scheduling::PreferencePolicy::Ignore;
    let command = single(&f, &ignoring).command.expect("a delete");
    assert_eq!(command.decision, Decision::Delete);
}
