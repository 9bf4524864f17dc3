//! Node lifecycle, termination and step tests on small inline scenarios.

use std::time::Duration;

use crate::report::{Event, Report};
use crate::scenario::load;
use crate::scenario::tests::{NODECLASS, NODEPOOL, deployment, options, stream};

use super::{RunOptions, run};

fn simulate(documents: &[&str], until: u64) -> Report {
    let scenario = load(stream(documents).as_bytes(), &options()).expect("scenario loads");
    let options = RunOptions {
        seed: 0,
        until: Some(Duration::from_secs(until)),
    };
    run(&scenario, options).expect("simulation runs")
}

fn events<'r>(report: &'r Report, kind: &str) -> Vec<&'r Event> {
    report.events.iter().filter(|e| e.kind == kind).collect()
}

/// The NodePool with extra `spec.template.spec` lines (indented for the template spec).
fn nodepool_with(template_lines: &str, spec_lines: &str) -> String {
    NODEPOOL.replace(
        "      nodeClassRef:",
        &format!("{template_lines}      nodeClassRef:"),
    ) + spec_lines
}

fn scenario(lines: &str) -> String {
    format!("apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: s}}\nspec:\n{lines}")
}

/// A PDB over the web pods.
const PDB_ONE: &str = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: web}}\n";

/// Pods each needing most of a 4-vCPU node, so every pod gets its own node.
fn big_pods(replicas: u32) -> String {
    deployment(replicas).replace("cpu: 500m", "cpu: \"3\"")
}

const ONE_TYPE: &str =
    "        - {key: node.kubernetes.io/instance-type, operator: In, values: [m6i.xlarge]}\n";

#[test]
fn expired_nodes_are_replaced_and_the_pdb_staggers_evictions() {
    let pool = nodepool_with(&format!("{ONE_TYPE}      expireAfter: 10m\n"), "");
    // Until 18m: the replacements expire at 20m2s.
    let report = simulate(&[&pool, NODECLASS, &big_pods(3), PDB_ONE], 1080);
    let deleting = events(&report, "node-deleting");
    assert_eq!(deleting.len(), 3, "{deleting:?}");
    assert!(
        deleting
            .iter()
            .all(|e| e.at == "10m1s" && e.detail.ends_with(": expired"))
    );
    // maxUnavailable 1: one pod at a time, the next once the replacement runs the first.
    let evicted: Vec<u128> = events(&report, "pods-evicted")
        .iter()
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(evicted.len(), 3, "{evicted:?}");
    assert!(evicted.windows(2).all(|w| w[0] < w[1]), "{evicted:?}");
    assert!(report.pending.is_empty(), "{:?}", report.pending);
    assert_eq!(report.nodes.iter().map(|n| n.pods.len()).sum::<usize>(), 3);
}

#[test]
fn the_termination_grace_period_forces_blocked_pods_out() {
    let pool = nodepool_with(
        &format!("{ONE_TYPE}      expireAfter: 5m\n      terminationGracePeriod: 30s\n"),
        "",
    );
    let blocking = PDB_ONE.replace("maxUnavailable: 1", "maxUnavailable: 0");
    let report = simulate(&[&pool, NODECLASS, &big_pods(1), &blocking], 360);
    let forced = events(&report, "pods-evicted");
    assert_eq!(forced.len(), 1, "{forced:?}");
    assert_eq!(forced[0].at, "5m31s");
    assert!(
        forced[0]
            .detail
            .starts_with("1 pods deleted at the deadline from general-"),
        "{forced:?}"
    );
}

#[test]
fn static_pools_need_the_gate_and_follow_replica_changes() {
    let pool = nodepool_with(ONE_TYPE, "  replicas: 3\n");
    let off = simulate(&[&pool, NODECLASS], 120);
    assert!(off.nodes.is_empty());
    assert_eq!(events(&off, "static-capacity-disabled").len(), 1);
    let applied = pool.replace("replicas: 3", "replicas: 1");
    let step = format!(
        "  featureGates: {{StaticCapacity: true}}\n  steps:\n    - at: 5m\n      apply:\n{}",
        applied
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    );
    let on = simulate(&[&pool, NODECLASS, &scenario(&step)], 900);
    assert_eq!(on.peak_nodes, 3);
    assert_eq!(on.nodes.len(), 1);
    let down = events(&on, "static-deprovisioning");
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].at, "5m0s");
    assert_eq!(events(&on, "node-terminated").len(), 2);
}

#[test]
fn deleting_a_nodepool_deletes_its_nodes_and_strands_its_pods() {
    let step = scenario("  steps:\n    - {at: 5m, delete: {kind: NodePool, name: general}}\n");
    let report = simulate(&[NODEPOOL, NODECLASS, &deployment(4), &step], 900);
    assert!(report.nodes.is_empty());
    assert_eq!(report.pending.len(), 4);
    let deleted = events(&report, "delete");
    assert_eq!(deleted[0].detail, "NodePool general: 0 pods deleted");
    assert!(
        events(&report, "node-deleting")
            .iter()
            .all(|e| e.detail.ends_with(": nodepool deleted"))
    );
}

#[test]
fn applying_a_new_template_replaces_the_pods() {
    let changed = deployment(2).replace("image: nginx", "image: nginx:2");
    let step = format!(
        "  steps:\n    - at: 5m\n      apply:\n{}",
        changed
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    );
    let report = simulate(
        &[NODEPOOL, NODECLASS, &deployment(3), &scenario(&step)],
        900,
    );
    let scale = events(&report, "scale");
    assert_eq!(scale.len(), 1);
    assert_eq!(
        scale[0].detail,
        "apply Deployment default/web to 2 replicas: 2 pods created, 3 deleted"
    );
    let pods: Vec<&String> = report.nodes.iter().flat_map(|n| &n.pods).collect();
    assert_eq!(pods.len(), 2);
    assert!(report.pending.is_empty());
}

#[test]
fn an_interruption_of_no_node_is_recorded() {
    let step = scenario("  steps:\n    - {at: 5m, interrupt: {node: nowhere}}\n");
    let report = simulate(&[NODEPOOL, NODECLASS, &deployment(1), &step], 600);
    let missed = events(&report, "interrupt-missed");
    assert_eq!(missed.len(), 1);
    assert_eq!(report.nodes.len(), 1);
}

#[test]
fn daemonset_pods_run_on_every_registered_node() {
    let daemonset = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: a, image: a, resources: {requests: {cpu: 100m}}}]\n";
    let pool = nodepool_with(ONE_TYPE, "");
    let report = simulate(&[&pool, NODECLASS, &big_pods(2), daemonset], 300);
    assert_eq!(report.nodes.len(), 2);
    for node in &report.nodes {
        assert!(
            node.pods.contains(&format!("default/agent-{}", node.name)),
            "{node:?}"
        );
    }
}

#[test]
fn scenario_nodes_take_pods_before_anything_is_launched() {
    let node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: existing\n  labels: {node.kubernetes.io/instance-type: m5.2xlarge, topology.kubernetes.io/zone: us-east-1a}\nstatus:\n  allocatable: {cpu: \"8\", memory: 32Gi, pods: \"58\"}\n";
    let report = simulate(&[NODEPOOL, NODECLASS, &deployment(4), node], 300);
    assert_eq!(report.nodes.len(), 1, "{:?}", report.nodes);
    assert_eq!(report.nodes[0].name, "existing");
    assert_eq!(report.nodes[0].pods.len(), 4);
    assert!((report.nodes[0].price_per_hour - 0.384).abs() < 1e-9);
    assert!(events(&report, "nodeclaim-created").is_empty());
}

#[test]
fn a_reservation_interruption_closes_the_reservation() {
    let pool = NODEPOOL.replace("values: [on-demand]", "values: [reserved, on-demand]");
    let class = format!("{NODECLASS}  capacityReservationSelectorTerms: [{{id: cr-1}}]\n");
    let step = scenario(
        "  capacityReservations: [{id: cr-1, instanceType: m6i.xlarge, zone: us-east-1a, count: 1, interruptible: true}]\n  steps:\n    - {at: 5m, interrupt: {node: \"karpenter.sh/capacity-type=reserved\", kind: capacity-reservation}}\n",
    );
    let report = simulate(&[&pool, &class, &big_pods(1), &step], 900);
    assert_eq!(events(&report, "capacity-reservation-interrupted").len(), 1);
    let created = events(&report, "nodeclaim-created");
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(
        created[0].detail.contains("m6i.xlarge reserved"),
        "{created:?}"
    );
    assert!(
        !created[1].detail.contains("reserved"),
        "the reservation is closed: {created:?}"
    );
    assert_eq!(report.nodes.len(), 1);
    assert!(report.nodes[0].reservation_id.is_none());
    assert!(report.pending.is_empty());
}
