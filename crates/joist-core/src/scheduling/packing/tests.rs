//! Concrete outcomes of cost-aware re-packing against upstream's greedy packing.

use crate::labels::ZONE;
use crate::rng::SeededRng;
use crate::scheduling::{PackingPolicy, Plan, SchedulingSettings, solve};
use crate::snapshot::{LabelSelector, Snapshot, WhenUnsatisfiable};
use crate::testing::*;

/// A cheap 4-CPU type and an enormous, badly priced 64-CPU one.
fn small_and_huge() -> Vec<crate::instancetype::InstanceType> {
    vec![
        instance_type("small")
            .cpu(4)
            .memory("16Gi")
            .pods(110)
            .price(0.10)
            .build(),
        instance_type("huge")
            .cpu(64)
            .memory("256Gi")
            .pods(110)
            .price(10.0)
            .build(),
    ]
}

fn batch(pods: usize, make: impl Fn(usize) -> PodBuilder) -> Snapshot {
    snapshot()
        .nodepool(nodepool("default"))
        .instance_types(small_and_huge())
        .pods(pods, make)
        .build()
}

fn plan_with(snapshot: &Snapshot, policy: PackingPolicy) -> Plan {
    let settings = SchedulingSettings {
        packing_policy: policy,
        ..fake_settings()
    };
    solve(snapshot, &settings, &mut SeededRng::new(0))
}

/// The price of each NodeClaim's cheapest option (what it launches), summed.
fn cost(plan: &Plan) -> f64 {
    plan.new_nodeclaims
        .iter()
        .map(|nc| match &*nc.instance_types[0] {
            "small" => 0.10,
            "huge" => 10.0,
            other => panic!("unexpected type {other}"),
        })
        .sum()
}

fn placed(plan: &Plan) -> Vec<usize> {
    let mut pods: Vec<usize> = plan
        .new_nodeclaims
        .iter()
        .flat_map(|nc| nc.pods.iter().copied())
        .collect();
    pods.sort_unstable();
    pods
}

#[test]
fn a_batch_upstream_piles_onto_one_huge_type_lands_on_several_cheap_ones() {
    let s = batch(30, |_| pod().cpu("1").memory("1Gi"));
    let upstream = plan_with(&s, PackingPolicy::Upstream);
    assert_eq!(upstream.new_nodeclaims.len(), 1);
    assert_eq!(&*upstream.new_nodeclaims[0].instance_types[0], "huge");

    let cost_aware = plan_with(&s, PackingPolicy::CostAware);
    // 4 CPU minus the fake 100m overhead holds three 1-CPU pods: ten small NodeClaims.
    assert_eq!(cost_aware.new_nodeclaims.len(), 10);
    assert!(
        cost_aware
            .new_nodeclaims
            .iter()
            .all(|nc| { &*nc.instance_types[0] == "small" && nc.pods.len() == 3 })
    );
    assert!((cost(&cost_aware) - 1.0).abs() < 1e-9);
    assert!(cost(&cost_aware) < cost(&upstream));
    assert_eq!(placed(&cost_aware), (0..30).collect::<Vec<_>>());
    assert!(cost_aware.unschedulable.is_empty());
    let hostnames: std::collections::BTreeSet<&str> = cost_aware
        .new_nodeclaims
        .iter()
        .map(|nc| nc.hostname_placeholder.as_str())
        .collect();
    assert_eq!(
        hostnames.len(),
        10,
        "every NodeClaim keeps a distinct placeholder"
    );
}

#[test]
fn a_pod_only_the_huge_type_holds_stays_on_it() {
    let s = batch(13, |i| {
        if i == 0 {
            pod().cpu("40").memory("1Gi")
        } else {
            pod().cpu("1").memory("1Gi")
        }
    });
    let plan = plan_with(&s, PackingPolicy::CostAware);
    let huge: Vec<_> = plan
        .new_nodeclaims
        .iter()
        .filter(|nc| &*nc.instance_types[0] == "huge")
        .collect();
    assert_eq!(huge.len(), 1);
    assert!(huge[0].pods.contains(&0));
    // Upstream's single huge NodeClaim (40 + 12 CPU) costs 10.0; the re-packing keeps the big
    // pod on it and still fits the small ones beside it, so no more money is spent.
    assert!(cost(&plan) <= cost(&plan_with(&s, PackingPolicy::Upstream)));
    assert_eq!(placed(&plan), (0..13).collect::<Vec<_>>());
}

#[test]
fn pods_that_topology_counts_are_not_moved() {
    let s = batch(30, |_| {
        pod().cpu("1").memory("1Gi").label("app", "web").spread(
            ZONE,
            30,
            WhenUnsatisfiable::DoNotSchedule,
            Some(LabelSelector::from_labels([("app", "web")])),
        )
    });
    assert_eq!(
        plan_with(&s, PackingPolicy::CostAware),
        plan_with(&s, PackingPolicy::Upstream)
    );
}

#[test]
fn nodepools_with_limits_keep_upstreams_packing() {
    let s = snapshot()
        .nodepool(nodepool("default").limit("cpu", "1000"))
        .instance_types(small_and_huge())
        .pods(30, |_| pod().cpu("1").memory("1Gi"))
        .build();
    let plan = plan_with(&s, PackingPolicy::CostAware);
    assert_eq!(plan, plan_with(&s, PackingPolicy::Upstream));
    assert_eq!(plan.new_nodeclaims.len(), 1);
}

#[test]
fn re_packing_is_deterministic() {
    let s = batch(60, |i| {
        pod()
            .cpu(["250m", "500m", "1", "2"][i % 4])
            .memory(["256Mi", "1Gi", "4Gi"][i % 3])
    });
    let first = plan_with(&s, PackingPolicy::CostAware);
    for _ in 0..3 {
        assert_eq!(plan_with(&s, PackingPolicy::CostAware), first);
    }
    assert!(cost(&first) < cost(&plan_with(&s, PackingPolicy::Upstream)));
}

/// A dear general-purpose type, a compute type and a memory type.
fn general_compute_memory() -> Vec<crate::instancetype::InstanceType> {
    let make = |name: &str, cpu: u32, memory: &str, price: f64| {
        instance_type(name)
            .cpu(cpu)
            .memory(memory)
            .pods(110)
            .price(price)
            .build()
    };
    vec![
        make("general", 16, "128Gi", 1.00),
        make("compute", 8, "8Gi", 0.45),
        make("memory", 2, "64Gi", 0.30),
    ]
}

#[test]
fn complementary_pods_share_general_nodes_while_the_largest_go_to_memory_nodes() {
    // 24 CPU pods, 16 memory pods (30Gi) and 24 large memory pods (60Gi). Alone, every pod is
    // cheapest per share on compute or memory (13.20/h in all), and the whole pool on general
    // costs 16.00/h. Splitting the pods that load memory least (the CPU pods) together with a
    // few memory pods onto general nodes, which they share well, and the rest onto memory nodes
    // costs 4 × 1.00 + 24 × 0.30 = 11.20/h.
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(general_compute_memory())
        .pods(64, |i| match i {
            0..24 => pod().cpu("2").memory("512Mi"),
            24..40 => pod().cpu("500m").memory("30Gi"),
            _ => pod().cpu("500m").memory("60Gi"),
        })
        .build();
    let plan = plan_with(&s, PackingPolicy::CostAware);
    let mut by_type: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for nc in &plan.new_nodeclaims {
        by_type
            .entry(&*nc.instance_types[0])
            .or_default()
            .push(nc.pods.len());
    }
    assert_eq!(by_type["general"].len(), 4, "{by_type:?}");
    assert_eq!(by_type["memory"].len(), 24, "{by_type:?}");
    assert_eq!(by_type.len(), 2, "{by_type:?}");
    let cost: f64 = plan
        .new_nodeclaims
        .iter()
        .map(|nc| {
            if &*nc.instance_types[0] == "general" {
                1.00
            } else {
                0.30
            }
        })
        .sum();
    assert!((cost - 11.20).abs() < 1e-9, "{cost}");
    assert_eq!(placed(&plan), (0..64).collect::<Vec<_>>());
    assert!(plan.unschedulable.is_empty());
}

/// Compute, memory and balanced types for small pods, and a dear big type for a large one.
fn with_one_big_type() -> Vec<crate::instancetype::InstanceType> {
    let make = |name: &str, cpu: u32, memory: &str, price: f64| {
        instance_type(name)
            .cpu(cpu)
            .memory(memory)
            .pods(110)
            .price(price)
            .build()
    };
    vec![
        make("compute", 8, "8Gi", 0.20),
        make("memory", 2, "32Gi", 0.20),
        make("balanced", 8, "32Gi", 0.30),
        make("big", 16, "128Gi", 2.00),
    ]
}

#[test]
fn one_large_pod_does_not_keep_the_others_off_a_type_that_cannot_hold_it() {
    // A 12-CPU pod only "big" holds, 12 CPU pods and 12 memory pods. Per pod, compute and
    // memory are cheapest (3.60/h with the big node), and every packing on types that hold
    // all pods needs big nodes; three CPU and three memory pods fill a balanced node, so the
    // small pods on four balanced nodes and the large one on a big node cost 3.20/h.
    let s = snapshot()
        .nodepool(nodepool("default"))
        .instance_types(with_one_big_type())
        .pods(25, |i| match i {
            0 => pod().cpu("12").memory("4Gi"),
            1..13 => pod().cpu("2").memory("1Gi"),
            _ => pod().cpu("500m").memory("7Gi"),
        })
        .build();
    let plan = plan_with(&s, PackingPolicy::CostAware);
    let mut by_type: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for nc in &plan.new_nodeclaims {
        by_type
            .entry(&*nc.instance_types[0])
            .or_default()
            .push(nc.pods.len());
    }
    assert_eq!(by_type["balanced"], vec![6; 4], "{by_type:?}");
    assert_eq!(by_type["big"], vec![1], "{by_type:?}");
    assert_eq!(by_type.len(), 2, "{by_type:?}");
    assert_eq!(placed(&plan), (0..25).collect::<Vec<_>>());
    assert!(plan.unschedulable.is_empty());
}
