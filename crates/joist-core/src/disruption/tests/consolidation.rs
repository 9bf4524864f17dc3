//! Consolidation: eligibility, delete/replace, spot rules, budgets, multi/single-node,
//! Balanced, validation (§9.2 items 75, 77–82, 86, 87).

use std::sync::Arc;

use super::*;
use crate::instancetype::InstanceType;
use crate::labels::{CAPACITY_TYPE, INSTANCE_TYPE, ZONE};
use crate::requirements::Operator;
use crate::rng::SeededRng;
use crate::testing::fake_settings;

/// An instance type of `cpu` cores sold on-demand in test-zone-1/2 at `price`, and spot in
/// test-zone-1 at `spot` (when given).
pub(super) fn priced(name: &str, cpu: u32, price: f64, spot: Option<f64>) -> InstanceType {
    let mut builder = instance_type(name)
        .cpu(cpu)
        .memory("64Gi")
        .pods(50)
        .offering("on-demand", "test-zone-1", price, true)
        .offering("on-demand", "test-zone-2", price, true);
    if let Some(spot) = spot {
        builder = builder.offering("spot", "test-zone-1", spot, true);
    }
    builder.build()
}

/// `medium` (4 CPU, $1.00), `large` (8 CPU, $1.50), `xlarge` (16 CPU, $4.00): on-demand only.
pub(super) fn od_types() -> Vec<InstanceType> {
    vec![
        priced("medium", 4, 1.0, None),
        priced("large", 8, 1.5, None),
        priced("xlarge", 16, 4.0, None),
    ]
}

/// A node of pool `pool` running instance type `it` (`cpu` cores) with capacity type `ct`.
pub(super) fn machine(name: &str, pool: &str, it: &str, ct: &str, cpu: u32) -> NodeBuilder {
    node(name)
        .nodepool(pool)
        .instance_type(it, ct)
        .zone("test-zone-1")
        .cpu(&cpu.to_string())
        .memory("64Gi")
        .pods(50)
}

/// A running ReplicaSet pod of `cpu` cores on `node`.
pub(super) fn app(name: &str, node: &str, cpu: &str) -> PodBuilder {
    bound(name, node)
        .cpu(cpu)
        .owner("apps/v1", "ReplicaSet", "app")
}

/// The fixture with unlimited budgets for pools `a` and `b` (the CRD default 10% of three
/// nodes allows one).
pub(super) fn open(builder: SnapshotBuilder) -> Fixture {
    Fixture::new(builder)
        .budgets("a", unlimited())
        .budgets("b", unlimited())
}

pub(super) fn settings(search: SearchMode) -> ConsolidationSettings {
    ConsolidationSettings {
        scheduling: fake_settings(),
        search,
        ..ConsolidationSettings::default()
    }
}

fn upstream() -> ConsolidationSettings {
    settings(SearchMode::Upstream)
}

pub(super) fn multi(f: &Fixture, settings: &ConsolidationSettings) -> ConsolidationDecision {
    multi_node_consolidation(&f.input(), settings, &mut SeededRng::new(1))
}

pub(super) fn single(f: &Fixture, settings: &ConsolidationSettings) -> ConsolidationDecision {
    single_node_consolidation(&f.input(), settings, &[], &mut SeededRng::new(1))
}

pub(super) fn nodes_of(command: &Command) -> Vec<&str> {
    command.candidates.iter().map(|c| c.node.as_str()).collect()
}

fn message_for<'d>(decision: &'d ConsolidationDecision, node: &str) -> Option<&'d str> {
    decision
        .unconsolidatable
        .iter()
        .find(|(n, _)| n == node)
        .map(|(_, m)| m.as_str())
}

/// Three `medium` nodes each running a 2.5-CPU pod: no pod fits beside another, all three fit
/// one `large`.
pub(super) fn three_mediums() -> SnapshotBuilder {
    (0..3).fold(
        snapshot()
            .nodepool(nodepool("a"))
            .instance_types(od_types()),
        |s, i| {
            let name = format!("m{i}");
            s.node(machine(&name, "a", "medium", "on-demand", 4))
                .pod(app(&format!("p{i}"), &name, "2.5"))
        },
    )
}

// === eligibility and events (§9.2 item 75) ===

#[test]
fn item_75_unconsolidatable_events_have_upstream_texts() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .nodepool(nodepool("never"))
        .nodepool(nodepool("empty-only"))
        .instance_types(od_types())
        .node(machine("unknown-type", "a", "nope", "on-demand", 4))
        .node(
            node("no-ct")
                .nodepool("a")
                .label(INSTANCE_TYPE, "medium")
                .zone("test-zone-1"),
        )
        .node(
            node("no-zone")
                .nodepool("a")
                .instance_type("medium", "on-demand"),
        )
        .node(machine("off", "never", "medium", "on-demand", 4))
        .node(machine(
            "when-empty",
            "empty-only",
            "medium",
            "on-demand",
            4,
        ))
        .pod(app("p1", "unknown-type", "1"))
        .pod(app("p2", "no-ct", "1"))
        .pod(app("p3", "no-zone", "1"))
        .pod(app("p4", "off", "1"))
        .pod(app("p5", "when-empty", "1"));
    let mut f = open(builder);
    f.pools.entry("never".into()).or_default().consolidate_after = NillableDuration::never();
    f.pools
        .entry("empty-only".into())
        .or_default()
        .consolidation_policy = ConsolidationPolicy::WhenEmpty;
    let decision = single(&f, &upstream());
    let expect = [
        ("unknown-type", "Instance Type \"nope\" not found"),
        (
            "no-ct",
            "Node does not have label \"karpenter.sh/capacity-type\"",
        ),
        (
            "no-zone",
            "Node does not have label \"topology.kubernetes.io/zone\"",
        ),
        ("off", "NodePool \"never\" has consolidation disabled"),
        (
            "when-empty",
            "NodePool \"empty-only\" has consolidation policy WhenEmpty, but node is not empty",
        ),
    ];
    for (node, text) in expect {
        assert_eq!(message_for(&decision, node), Some(text), "{node}");
    }
    assert!(decision.command.is_none());
}

#[test]
fn empty_nodes_are_left_to_the_empty_method() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("idle", "a", "large", "on-demand", 8));
    let f = open(builder);
    let idle = CandidateSet::build(&f.input(), DisruptionClass::Graceful).candidates;
    assert_eq!(
        consolidation_eligibility(&f.input(), &idle[0]),
        Eligibility::No
    );
}

// === delete (§9.2 item 79) ===

#[test]
fn item_79_deletes_a_node_whose_pods_fit_elsewhere() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("big", "a", "large", "on-demand", 8))
        .node(machine("small", "a", "medium", "on-demand", 4))
        .pod(app("p0", "big", "1"))
        .pod(app("p1", "small", "1"));
    let f = open(builder);
    let decision = single(&f, &upstream());
    let command = decision.command.expect("one node can go");
    assert_eq!(command.decision, Decision::Delete);
    assert_eq!(nodes_of(&command), vec!["big"], "best savings ratio first");
    assert_eq!(command.destinations, vec!["small"]);
    assert!(command.replacements.is_empty());
    assert!((command.savings - 1.5).abs() < 1e-9);
    assert_eq!(
        command.candidate_event(),
        "Consolidation candidate: delete: nodepools=[a]: [big] (savings: $1.50)"
    );
}

#[test]
fn item_79_unschedulable_pods_block_with_the_not_all_pods_message() {
    let builder = snapshot()
        .nodepool(nodepool("a").requirement(INSTANCE_TYPE, Operator::In, &["medium"]))
        .instance_types(od_types())
        .node(machine("m0", "a", "medium", "on-demand", 4))
        .pod(app("wide", "m0", "3").node_selector(ZONE, "test-zone-9"));
    let f = open(builder);
    let decision = single(&f, &upstream());
    assert!(decision.command.is_none());
    let message = message_for(&decision, "m0").expect("an Unconsolidatable event");
    assert!(
        message.starts_with("Not all pods would schedule, default/wide => "),
        "{message}"
    );
}

// === replace (§9.2 item 78) ===

#[test]
fn item_78_replaces_with_a_cheaper_node() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("l0", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "2"));
    let f = open(builder);
    let command = single(&f, &upstream()).command.expect("a replace");
    assert_eq!(command.decision, Decision::Replace);
    let replacement = &command.replacements[0];
    let names: Vec<&str> = replacement
        .options
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, vec!["medium"], "only strictly cheaper types remain");
    assert_eq!(
        &*replacement.nodeclaim.instance_types,
        &[Arc::<str>::from("medium")]
    );
    assert!(
        replacement
            .nodeclaim
            .requirements
            .get(INSTANCE_TYPE)
            .has("medium")
    );
    assert!(
        !replacement
            .nodeclaim
            .requirements
            .get(INSTANCE_TYPE)
            .has("large")
    );
    assert!((replacement.price - 1.0).abs() < 1e-9);
    assert!((command.savings - 0.5).abs() < 1e-9);
    assert_eq!(
        command.summary(),
        "replace: nodepools=[a]: [l0] -> [1 replacement]"
    );
}

#[test]
fn item_78_never_replaces_with_a_more_expensive_node() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("m0", "a", "medium", "on-demand", 4))
        .pod(app("p0", "m0", "3"));
    let f = open(builder);
    let decision = single(&f, &upstream());
    assert!(decision.command.is_none());
    assert_eq!(
        message_for(&decision, "m0"),
        Some("Can't replace with a cheaper node")
    );
}

#[test]
fn item_78_on_demand_replacement_allowing_spot_is_forced_to_spot() {
    let types = vec![
        priced("medium", 4, 1.0, Some(0.3)),
        priced("large", 8, 1.5, Some(0.5)),
    ];
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(machine("l0", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "2"));
    let f = open(builder);
    let command = single(&f, &upstream()).command.expect("a replace");
    let replacement = &command.replacements[0];
    assert_eq!(replacement.capacity_types, vec!["spot"]);
    assert!((replacement.price - 0.3).abs() < 1e-9, "the spot price");
}

/// A spot candidate of type `big` ($10 spot) and `cheaper` spot types under it.
fn spot_case(cheaper: usize) -> Fixture {
    let mut types: Vec<InstanceType> = (0..cheaper)
        .map(|i| priced(&format!("c{i:02}"), 8, 5.0, Some(1.0 + i as f64 * 0.1)))
        .collect();
    types.push(priced("big", 8, 20.0, Some(10.0)));
    let builder = snapshot()
        .nodepool(nodepool("a").requirement(CAPACITY_TYPE, Operator::In, &["spot"]))
        .instance_types(types)
        .node(machine("s0", "a", "big", "spot", 8))
        .pod(app("p0", "s0", "2"));
    open(builder)
}

#[test]
fn item_78_spot_to_spot_needs_the_feature_gate() {
    let f = spot_case(20);
    let decision = single(&f, &upstream());
    assert!(decision.command.is_none());
    assert_eq!(
        message_for(&decision, "s0"),
        Some("SpotToSpotConsolidation is disabled, can't replace a spot node with a spot node")
    );
}

#[test]
fn item_78_spot_to_spot_needs_15_cheaper_types() {
    let f = spot_case(10);
    let gated = ConsolidationSettings {
        spot_to_spot: true,
        ..upstream()
    };
    let decision = single(&f, &gated);
    assert_eq!(
        message_for(&decision, "s0"),
        Some(
            "SpotToSpotConsolidation requires 15 cheaper instance type options than the \
             current candidate to consolidate, got 10"
        )
    );
}

#[test]
fn item_78_spot_to_spot_truncates_to_the_15_cheapest() {
    let f = spot_case(20);
    let gated = ConsolidationSettings {
        spot_to_spot: true,
        ..upstream()
    };
    let command = single(&f, &gated).command.expect("spot to spot");
    let options = &command.replacements[0].options;
    assert_eq!(options.len(), 15);
    assert_eq!(options[0].name, "c00");
    assert_eq!(options[14].name, "c14");
    assert!(options.iter().all(|o| o.name != "big"));
    assert_eq!(command.replacements[0].capacity_types, vec!["spot"]);
}

// === minValues (§9.2 item 86) ===

#[test]
fn item_86_min_values_broken_by_the_price_filter_refuses_consolidation() {
    let builder = snapshot()
        .nodepool(nodepool("a").requirement_with_min_values(
            INSTANCE_TYPE,
            Operator::In,
            &["medium", "large", "xlarge"],
            Some(2),
        ))
        .instance_types(od_types())
        .node(machine("l0", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "2"));
    let f = open(builder);
    let decision = single(&f, &upstream());
    assert!(decision.command.is_none());
    assert_eq!(
        message_for(&decision, "l0"),
        Some(
            "Filtering by price: minValues requirement is not met for label(s) \
             (label(s)=[node.kubernetes.io/instance-type])"
        )
    );
}

// === multi-node (§9.2 item 81) ===

#[test]
fn item_81_merges_three_nodes_into_one() {
    let f = open(three_mediums());
    let command = multi(&f, &upstream()).command.expect("a merge");
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(nodes_of(&command), vec!["m0", "m1", "m2"]);
    assert_eq!(command.replacements.len(), 1);
    assert_eq!(command.replacements[0].options[0].name, "large");
    assert!((command.savings - 1.5).abs() < 1e-9);
}

#[test]
fn item_81_wont_merge_two_into_one_of_the_same_type() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(od_types())
        .node(machine("l0", "a", "large", "on-demand", 8))
        .node(machine("l1", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "3"))
        .pod(app("p1", "l1", "4"));
    let f = open(builder);
    assert!(
        multi(&f, &upstream()).command.is_none(),
        "one large for two larges: delete one instead"
    );
    let command = single(&f, &upstream())
        .command
        .expect("single-node deletes one");
    assert_eq!(command.decision, Decision::Delete);
}

#[test]
fn multi_node_work_budget_returns_the_last_valid_command() {
    let f = open(three_mediums());
    let bounded = ConsolidationSettings {
        multi_node_max_simulations: 1,
        ..upstream()
    };
    let decision = multi(&f, &bounded);
    assert!(decision.timed_out);
    assert_eq!(decision.simulations, 1);
    assert_eq!(
        nodes_of(&decision.command.expect("first try was valid")),
        vec!["m0", "m1"]
    );
}

// === budgets (§9.2 item 77) ===

#[test]
fn item_77_budgets_limit_multi_node_consolidation() {
    let f = open(three_mediums()).budgets("a", vec![Budget::new("2")]);
    let decision = multi(&f, &upstream());
    assert!(decision.budget_limited);
    assert_eq!(nodes_of(&decision.command.unwrap()).len(), 2);
    let f = open(three_mediums()).budgets("a", vec![Budget::new("0%")]);
    let decision = multi(&f, &upstream());
    assert!(decision.command.is_none());
    assert!(
        decision.budget_limited,
        "budget-blocked passes are not consolidated"
    );
    let decision = single(&f, &upstream());
    assert!(decision.command.is_none());
    assert!(decision.budget_limited);
}

// === ordering (§9.2 items 82, 87) ===

#[test]
fn item_87_single_node_interleaves_pools_and_puts_unseen_pools_first() {
    let candidate = |node: &str, pool: &str| Candidate {
        node: node.into(),
        nodepool: pool.into(),
        instance_type: None,
        capacity_type: None,
        zone: None,
        reschedulable_pods: Vec::new(),
        price: 1.0,
        disruption_cost: 1.0,
        reschedule_disruption_cost: 1.0,
    };
    let list = vec![
        candidate("a1", "a"),
        candidate("a2", "a"),
        candidate("b1", "b"),
        candidate("a3", "a"),
        candidate("c1", "c"),
    ];
    let order = |first: &[String]| -> Vec<String> {
        interleave_by_nodepool(list.clone(), first)
            .into_iter()
            .map(|c| c.node)
            .collect()
    };
    assert_eq!(order(&[]), vec!["a1", "b1", "c1", "a2", "a3"]);
    assert_eq!(order(&["c".into()]), vec!["c1", "a1", "b1", "a2", "a3"]);
}

#[test]
fn item_87_single_node_work_budget_reports_unseen_pools() {
    let builder = (0..2).fold(three_mediums().nodepool(nodepool("b")), |s, i| {
        let name = format!("b{i}");
        s.node(machine(&name, "b", "medium", "on-demand", 4))
            .pod(app(&format!("q{i}"), &name, "2.5"))
    });
    let f = open(builder);
    let bounded = ConsolidationSettings {
        single_node_max_simulations: 1,
        ..upstream()
    };
    let decision = single(&f, &bounded);
    assert!(decision.timed_out);
    assert_eq!(decision.unseen_nodepools, vec!["a", "b"]);
}

// === Balanced (§4.10) ===

#[test]
fn balanced_pools_approve_only_moves_saving_enough_for_their_disruption() {
    let mut f = open(three_mediums());
    f.pools.entry("a".into()).or_default().consolidation_policy = ConsolidationPolicy::Balanced;
    let candidates = CandidateSet::build(&f.input(), DisruptionClass::Graceful).candidates;
    // Deleting one of three equal nodes: savings 1/3 of the cost, disruption 1/3: score 1.
    let scores = balanced_scores(&f.input(), &candidates[..1], 1.0);
    assert_eq!(scores.len(), 1);
    assert!(scores[0].approved);
    assert_eq!(
        scores[0].message(),
        "score 1.00 >= threshold 0.50 (k: 2, savings 33.3%, disruption 33.3%)"
    );
    // Saving 10 cents for the same disruption: score 0.1.
    let scores = balanced_scores(&f.input(), &candidates[..1], 0.1);
    assert!(!scores[0].approved);
    assert!(
        scores[0]
            .message()
            .starts_with("score 0.10 < threshold 0.50")
    );
    // Non-Balanced pools are not scored (they always approve).
    f.pools.clear();
    assert!(balanced_scores(&f.input(), &candidates[..1], 0.0).is_empty());
}

// === ordering (§9.2 item 82) ===

#[test]
fn item_82_the_best_savings_ratio_is_consolidated_first() {
    // m0's pod is expensive to evict (high deletion cost): the lowest savings ratio, so with room for
    // two candidates the merge takes m1 and m2.
    let builder = (0..3).fold(
        snapshot()
            .nodepool(nodepool("a"))
            .instance_types(od_types()),
        |s, i| {
            let name = format!("m{i}");
            let mut pod = app(&format!("p{i}"), &name, "2.5");
            if i == 0 {
                pod = pod.annotation("controller.kubernetes.io/pod-deletion-cost", "1000000000");
            }
            s.node(machine(&name, "a", "medium", "on-demand", 4))
                .pod(pod)
        },
    );
    let f = open(builder).budgets("a", vec![Budget::new("2")]);
    let command = multi(&f, &upstream()).command.expect("a merge");
    assert_eq!(nodes_of(&command), vec!["m1", "m2"]);
}

// === reserved capacity (§9.2 item 85) ===

#[test]
fn item_85_consolidates_onto_a_cheaper_reserved_offering() {
    let reserved = instance_type("reserved-medium")
        .cpu(4)
        .memory("64Gi")
        .pods(50)
        .offering("on-demand", "test-zone-1", 1.2, true)
        .reserved_offering("test-zone-1", 0.2, "cr-1", 5)
        .build();
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(vec![priced("large", 8, 1.5, None), reserved])
        .node(machine("l0", "a", "large", "on-demand", 8))
        .pod(app("p0", "l0", "2"));
    let f = open(builder);
    let command = single(&f, &upstream()).command.expect("a replace");
    let replacement = &command.replacements[0];
    assert_eq!(replacement.options[0].name, "reserved-medium");
    assert!((replacement.price - 0.2).abs() < 1e-9);
    assert!(replacement.capacity_types.iter().any(|ct| ct == "reserved"));
}
