use std::time::Duration;

use crate::report::Report;
use crate::scenario::load;
use crate::scenario::tests::{NODECLASS, NODEPOOL, deployment, options, stream};

use super::{RunOptions, run};

const WEB: &str = include_str!("../../../../examples/simulate/web.yaml");

fn simulate(text: &str, seed: u64, until: Option<Duration>) -> Report {
    let scenario = load(text.as_bytes(), &options()).expect("scenario loads");
    run(&scenario, RunOptions { seed, until }).expect("simulation runs")
}

/// The example: 20 pods at 0s, 60 from 10m. Expected: every pod bound; at most 4 nodes (the
/// solver packs each batch onto few large nodes: one for the first batch, the rest of the
/// scale-up after filling the first node); only spot (cheapest class, allowed by the NodePool);
/// only c/m/r types; cost is the sum of the node prices; the timeline is in order.
#[test]
fn the_web_example_binds_every_pod_on_few_spot_nodes() {
    let report = simulate(WEB, 0, None);
    assert!(report.pending.is_empty(), "{:?}", report.pending);
    let bound: usize = report.nodes.iter().map(|n| n.pods.len()).sum();
    assert_eq!(bound, 60);
    assert!((2..=4).contains(&report.nodes.len()), "{:?}", report.nodes);
    for node in &report.nodes {
        assert_eq!(node.capacity_type, "spot", "{node:?}");
        assert!(node.instance_type.starts_with(['c', 'm', 'r']), "{node:?}");
        assert!(node.zone.starts_with("us-east-1"), "{node:?}");
        assert!(node.cpu_utilisation <= 1.0 && node.memory_utilisation <= 1.0);
        assert!(node.initialized);
    }
    let sum: f64 = report.nodes.iter().map(|n| n.price_per_hour).sum();
    assert!((report.cost_per_hour - sum).abs() < 1e-9);
    assert!(report.cost_per_hour > 0.0);
    let times: Vec<u128> = report.events.iter().map(|e| e.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // Batch closes after 1 s idle; the node is initialized 30 s + 15 s + 10 s after its claim.
    let first = |kind: &str| {
        report
            .events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.at.as_str())
    };
    assert_eq!(first("provisioning"), Some("1s"));
    assert_eq!(first("node-initialized"), Some("56s"));
    assert_eq!(first("scale"), Some("10m0s"));
    assert_eq!(
        report.ended_at, "40m56s",
        "30 quiet minutes after the last change"
    );
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let a = simulate(WEB, 7, None).to_json();
    let b = simulate(WEB, 7, None).to_json();
    assert_eq!(a, b);
    assert!(a.contains("\"cost_per_hour\""));
}

#[test]
fn until_cuts_the_run_short() {
    let report = simulate(WEB, 0, Some(Duration::from_secs(40)));
    assert_eq!(report.ended_at, "40s");
    assert_eq!(report.nodes.len(), 1);
    assert!(!report.nodes[0].initialized);
    assert_eq!(report.pending.len(), 20);
    assert!(
        report.pending[0]
            .reason
            .starts_with("nominated to general-"),
        "{:?}",
        report.pending[0]
    );
    // The node's price counts from its launch, bound pods or not.
    assert!(report.cost_per_hour > 0.0);
}

#[test]
fn scaling_down_deletes_the_surplus_pods() {
    let text = stream(&[
        NODEPOOL,
        NODECLASS,
        &deployment(6),
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps: [{at: 5m, scale: {deployment: web, replicas: 2}}]\n",
    ]);
    let report = simulate(&text, 0, None);
    let bound: usize = report.nodes.iter().map(|n| n.pods.len()).sum();
    assert_eq!(bound, 2);
    assert!(report.pending.is_empty());
    let scale = report
        .events
        .iter()
        .find(|e| e.kind == "scale")
        .expect("scale event");
    assert!(
        scale.detail.ends_with("0 pods created, 4 deleted"),
        "{}",
        scale.detail
    );
    assert!(report.nodes.iter().all(|n| n.capacity_type == "on-demand"));
}

#[test]
fn unschedulable_pods_are_reported_with_the_solvers_reason() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: wants-spot}\nspec:\n  nodeSelector: {karpenter.sh/capacity-type: spot}\n  containers: [{name: c, image: x, resources: {requests: {cpu: '1'}}}]\n";
    let report = simulate(&stream(&[NODEPOOL, NODECLASS, pod]), 0, None);
    assert!(report.nodes.is_empty());
    assert_eq!(report.pending.len(), 1);
    let pending = &report.pending[0];
    assert_eq!(pending.pod, "default/wants-spot");
    assert!(
        pending.reason.contains("capacity-type"),
        "{}",
        pending.reason
    );
    let event = report
        .events
        .iter()
        .find(|e| e.kind == "unschedulable")
        .expect("event");
    assert!(
        event
            .detail
            .starts_with("1 pods cannot be scheduled; default/wants-spot: "),
        "{}",
        event.detail
    );
}

#[test]
fn a_nodepool_without_its_nodeclass_launches_nothing() {
    let report = simulate(&stream(&[NODEPOOL, &deployment(2)]), 0, None);
    assert!(report.nodes.is_empty());
    assert_eq!(report.pending.len(), 2);
    assert!(report.events.iter().any(|e| e.kind == "nodepool-skipped"));
}

#[test]
fn a_batch_closes_at_its_maximum_while_pods_keep_arriving() {
    // A pod every 500 ms for 12 s: the idle window (1 s) never elapses, so the first batch
    // closes at batchMaxDuration (10 s) after it opened.
    let steps: Vec<String> = (1..=24)
        .map(|k| {
            format!(
                "    - {{at: {}ms, scale: {{deployment: web, replicas: {}}}}}\n",
                k * 500,
                k + 1
            )
        })
        .collect();
    let scenario = format!(
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: s}}\nspec:\n  steps:\n{}",
        steps.concat()
    );
    let report = simulate(
        &stream(&[NODEPOOL, NODECLASS, &deployment(1), &scenario]),
        0,
        None,
    );
    let solves: Vec<&str> = report
        .events
        .iter()
        .filter(|e| e.kind == "provisioning")
        .map(|e| e.at.as_str())
        .collect();
    assert_eq!(solves.first(), Some(&"10s"), "{solves:?}");
    assert!(report.pending.is_empty());
    let bound: usize = report.nodes.iter().map(|n| n.pods.len()).sum();
    assert_eq!(bound, 25);
}

#[test]
fn an_unknown_region_is_an_error() {
    let text = stream(&[
        NODEPOOL,
        NODECLASS,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec: {region: mars-north-1}\n",
    ]);
    let scenario = load(text.as_bytes(), &options()).expect("loads");
    let error = run(&scenario, RunOptions::default()).expect_err("no catalog for the region");
    assert!(
        error.to_string().starts_with("region mars-north-1: "),
        "{error}"
    );
}
