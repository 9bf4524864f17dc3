//! The scenarios under `examples/simulate/`: each run is compared with its golden JSON report
//! (`tests/golden/<name>.json`, re-blessed with `JOIST_BLESS=1`) and the facts that matter are
//! asserted explicitly, so a golden re-bless cannot hide a behaviour change.

use std::path::PathBuf;

use joist_api::common::ValidationOptions;
use joist_aws::labels::{label_aliases, well_known_labels};
use joist_sim::report::{Event, NodeReport};
use joist_sim::{Report, RunOptions, load, run};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `examples/simulate/<name>.yaml` with seed 0 and checks it against its golden report.
fn simulate(name: &str) -> Report {
    let path = repo_root().join(format!("examples/simulate/{name}.yaml"));
    let text = std::fs::read(&path).expect("example exists");
    let validation = ValidationOptions {
        well_known: well_known_labels(),
        aliases: label_aliases(),
        ..ValidationOptions::default()
    };
    let scenario = load(&text, &validation).expect("example loads");
    let report = run(&scenario, RunOptions::default()).expect("example runs");
    check_golden(name, &report);
    report
}

fn check_golden(name: &str, report: &Report) {
    let golden =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let json = report.to_json() + "\n";
    if std::env::var_os("JOIST_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().expect("golden dir")).expect("golden dir");
        std::fs::write(&golden, &json).expect("bless golden");
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} missing: run with JOIST_BLESS=1", golden.display()));
    assert!(
        expected == json,
        "{name}: report differs from {} (re-bless with JOIST_BLESS=1 if intended)",
        golden.display()
    );
}

fn pool<'r>(report: &'r Report, nodepool: &str) -> Vec<&'r NodeReport> {
    report
        .nodes
        .iter()
        .filter(|n| n.nodepool == nodepool)
        .collect()
}

fn events<'r>(report: &'r Report, kind: &str) -> Vec<&'r Event> {
    report.events.iter().filter(|e| e.kind == kind).collect()
}

fn bound(report: &Report) -> usize {
    report.nodes.iter().map(|n| n.pods.len()).sum()
}

const MINUTE: u128 = 60_000;

/// Static pool of 4 × g5.2xlarge (limits.nodes 6) keeps the base load; the burst from 4 to 10
/// replicas goes to the dynamic GPU pool; GPU nodes initialize 45 s later than CPU nodes would.
#[test]
fn gpu_inference_on_a_static_pool_with_dynamic_burst() {
    let report = simulate("gpu-inference-static");
    let statics = pool(&report, "gpu-static");
    assert_eq!(statics.len(), 4);
    assert!(
        statics
            .iter()
            .all(|n| n.instance_type == "g5.2xlarge" && n.pods.len() == 1)
    );
    assert!(
        statics
            .iter()
            .all(|n| (n.gpu_utilisation - 1.0).abs() < 1e-9)
    );
    let burst = pool(&report, "gpu-burst");
    assert!(!burst.is_empty());
    let burst_gpus: f64 = burst.iter().map(|n| n.gpus).sum();
    assert!((6.0..=16.0).contains(&burst_gpus), "{burst_gpus}");
    assert_eq!(bound(&report), 10);
    assert!(report.pending.is_empty());
    let provisioning = events(&report, "static-provisioning");
    assert_eq!(provisioning.len(), 1);
    assert!(provisioning[0].detail.contains("provision-count 4"));
    // launch 30 s + register 15 s + initialize 10 s + device plugin 45 s.
    let first_init = events(&report, "node-initialized")[0];
    assert_eq!(first_init.at, "1m40s");
    assert!(
        report
            .events
            .iter()
            .any(|e| e.kind == "scale" && e.at == "10m0s")
    );
}

/// The interrupted spot node is drained within the 2-minute notice; its (type, zone) spot
/// offering is unavailable, so the replacement worker runs on another spot offering; all four
/// workers run at the end and no pod was evicted beyond the PDB.
#[test]
fn spot_training_survives_an_interruption() {
    let report = simulate("spot-training-interruption");
    let interrupted = events(&report, "spot-interrupted");
    assert_eq!(interrupted.len(), 1);
    assert_eq!(interrupted[0].at, "20m0s");
    let victim = interrupted[0].detail.split(':').next().expect("node name");
    let terminated = events(&report, "node-terminated");
    assert_eq!(terminated.len(), 1);
    assert!(terminated[0].detail.starts_with(victim));
    assert!(terminated[0].at_ms <= 22 * MINUTE);
    let evicted = events(&report, "pods-evicted");
    assert_eq!(evicted.len(), 1);
    assert!(evicted[0].detail.starts_with("1 pods"));
    assert_eq!(report.nodes.len(), 4);
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.capacity_type == "spot" && n.pods.len() == 1)
    );
    let replacement = events(&report, "nodeclaim-created")
        .into_iter()
        .find(|e| e.at_ms >= 20 * MINUTE)
        .expect("replacement launched");
    // "c6a.4xlarge spot in us-east-1e" is the unavailable offering.
    let marked = interrupted[0].detail.split("; ").nth(1).expect("offering");
    let offering = marked.trim_end_matches(" unavailable for 3m0s");
    assert!(
        !replacement.detail.contains(offering),
        "{}",
        replacement.detail
    );
    assert!(report.pending.is_empty());
}

/// Both trainers run in the capacity block (reserved, price 0) until end − 40 min, when the block
/// is expiring: its nodes are drained and the trainers move to on-demand p5.48xlarge.
#[test]
fn a_capacity_block_is_drained_forty_minutes_before_its_end() {
    let report = simulate("capacity-block-expiry");
    let created = events(&report, "nodeclaim-created");
    assert_eq!(created.len(), 4);
    assert!(
        created[..2]
            .iter()
            .all(|e| e.detail.contains("p5.48xlarge reserved"))
    );
    assert!(
        created[2..]
            .iter()
            .all(|e| e.detail.contains("p5.48xlarge on-demand"))
    );
    let expiring = events(&report, "capacity-block-expiring");
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0].at, "2h20m0s");
    assert!(expiring[0].detail.contains("draining 2 nodes"));
    assert!(created[2..].iter().all(|e| e.at_ms >= 140 * MINUTE));
    assert_eq!(report.nodes.len(), 2);
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.capacity_type == "on-demand" && n.reservation_id.is_none())
    );
    assert_eq!(bound(&report), 2);
    // Reserved capacity costs nothing here; the on-demand nodes run from 2h20m1s to 3h.
    let on_demand_hours = (180.0 * 60.0 - (140.0 * 60.0 + 1.0)) / 3600.0;
    assert!(
        (report.total_cost - 2.0 * 55.04 * on_demand_hours).abs() < 0.01,
        "{}",
        report.total_cost
    );
}

/// The ODCR's three instances are taken first (preferred affinity), the rest falls back to
/// on-demand m5.2xlarge.
#[test]
fn an_odcr_is_preferred_with_on_demand_fallback() {
    let report = simulate("odcr-preferred");
    let reserved: Vec<_> = report
        .nodes
        .iter()
        .filter(|n| n.capacity_type == "reserved")
        .collect();
    assert_eq!(reserved.len(), 3);
    assert!(reserved.iter().all(
        |n| n.reservation_id.as_deref() == Some("cr-0odcr00000000001") && n.zone == "us-east-1a"
    ));
    let on_demand: Vec<_> = report
        .nodes
        .iter()
        .filter(|n| n.capacity_type == "on-demand")
        .collect();
    assert_eq!(on_demand.len(), 2);
    assert!(report.nodes.iter().all(|n| n.instance_type == "m5.2xlarge"));
    // Reserved offerings are priced at the on-demand price / 10,000,000 (spec aws §3.9).
    assert!(
        (report.cost_per_hour - 2.0 * 0.384).abs() < 1e-5,
        "{}",
        report.cost_per_hour
    );
    assert!(report.pending.is_empty());
}

/// Weight 100 (reserved) is filled first, up to the reservation's two instances; the rest goes
/// to spot (weight 50); on-demand (weight 10) is not used.
#[test]
fn weighted_pools_fill_reserved_then_spot() {
    let report = simulate("weighted-pools");
    let reserved = pool(&report, "reserved");
    assert_eq!(reserved.len(), 2);
    assert!(
        reserved
            .iter()
            .all(|n| n.capacity_type == "reserved" && n.instance_type == "m5.xlarge")
    );
    let spot = pool(&report, "spot");
    assert!(!spot.is_empty());
    assert!(spot.iter().all(|n| n.capacity_type == "spot"));
    assert!(pool(&report, "on-demand").is_empty());
    assert_eq!(bound(&report), 12);
}

/// GPU pods land only on tainted GPU nodes, CPU pods only on general nodes; the GPU pool never
/// exceeds its 8-GPU limit and the pods beyond it are pending because of the limit.
#[test]
fn a_gpu_pool_with_taints_and_a_gpu_limit() {
    let report = simulate("gpu-taints-limits");
    let gpu = pool(&report, "gpu");
    let gpus: f64 = gpu.iter().map(|n| n.gpus).sum();
    assert!(gpus <= 8.0, "{gpus}");
    assert!(
        gpu.iter()
            .flat_map(|n| &n.pods)
            .all(|p| p.starts_with("default/embed-"))
    );
    let general = pool(&report, "general");
    assert!(
        general
            .iter()
            .flat_map(|n| &n.pods)
            .all(|p| p.starts_with("default/frontend-"))
    );
    assert!(general.iter().all(|n| n.gpus == 0.0));
    let frontend: usize = general.iter().map(|n| n.pods.len()).sum();
    assert_eq!(frontend, 6);
    let embedded: usize = gpu.iter().map(|n| n.pods.len()).sum();
    assert_eq!(embedded + report.pending.len(), 10);
    assert!(!report.pending.is_empty());
    assert!(report.pending.iter().all(|p| {
        p.reason
            .contains("exceed limits for nodepool (NodePool=gpu)")
    }));
}

/// Seven of ten single-pod nodes are empty after the scale-in at 30m; after consolidateAfter
/// (2m) the Empty method deletes them in one command, validated 15 s later.
#[test]
fn scale_in_deletes_empty_nodes() {
    let report = simulate("scale-in-emptiness");
    assert_eq!(report.peak_nodes, 10);
    assert_eq!(report.nodes.len(), 3);
    assert_eq!(bound(&report), 3);
    let decided = events(&report, "disruption-decided");
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].at, "32m0s");
    assert!(
        decided[0]
            .detail
            .starts_with("emptiness: delete: nodepools=[web]")
    );
    assert!(decided[0].detail.contains("deleting 7 empty node(s)"));
    let started = events(&report, "disruption-started");
    assert_eq!(started[0].at, "32m15s");
    let terminated = events(&report, "node-terminated");
    assert_eq!(terminated.len(), 7);
    assert!(
        terminated.iter().all(|e| e.at == "32m20s"),
        "5 s minimum drain"
    );
    assert!((report.cost_per_hour - 3.0 * 0.17).abs() < 1e-9);
}

/// The AMI change drifts the class's three nodes (AWS `AMIDrift`); the Drift method replaces
/// them one at a time (the `Drifted` budget is 1 node): each replacement is launched first, and
/// the drifted node is deleted once it is initialized.
#[test]
fn an_ami_change_drifts_and_replaces_the_nodes_one_at_a_time() {
    let report = simulate("drift-ami");
    let applied = events(&report, "apply");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].at, "20m0s");
    assert_eq!(
        applied[0].detail,
        "EC2NodeClass default: AMI selection changed; 3 nodes run the previous selection"
    );
    let started = events(&report, "disruption-started");
    assert_eq!(started.len(), 3, "{started:?}");
    assert!(
        started
            .iter()
            .all(|e| e.detail.starts_with("drift: replace: nodepools=[default]"))
    );
    let deleting = events(&report, "node-deleting");
    assert_eq!(deleting.len(), 3);
    assert!(deleting.iter().all(|e| e.detail.ends_with(": drifted")));
    // One at a time: each deletion follows its replacement's initialization, and the next
    // command starts only after the previous drifted node is deleting.
    let starts: Vec<u128> = started.iter().map(|e| e.at_ms).collect();
    let deletes: Vec<u128> = deleting.iter().map(|e| e.at_ms).collect();
    assert!(starts[0] < deletes[0] && deletes[0] < starts[1] && starts[1] < deletes[1]);
    assert_eq!(report.nodes.len(), 3);
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.initialized && n.pods.len() == 1)
    );
    assert_eq!(report.peak_nodes, 4);
    assert!(report.pending.is_empty());
}

/// The scale-down at 10:00 falls in the 09:00 + 8h zero budget: the empty nodes stay until
/// 17:00, when the 100% budget lets the Empty method delete all six.
#[test]
fn business_hours_budgets_hold_disruption_until_five_pm() {
    let report = simulate("business-hours-budgets");
    let decided = events(&report, "disruption-decided");
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].at, "17h0m0s");
    assert!(decided[0].detail.contains("deleting 6 empty node(s)"));
    let terminated = events(&report, "node-terminated");
    assert_eq!(terminated.len(), 6);
    assert!(terminated.iter().all(|e| e.at_ms >= 17 * 60 * MINUTE));
    assert_eq!(report.nodes.len(), 2);
    assert_eq!(report.peak_nodes, 8);
}

/// Spot c6i.2xlarge has no capacity: its cheapest offerings are marked unavailable for 3
/// minutes and the launches fall through to the next cheapest spot offering (c5.2xlarge).
#[test]
fn insufficient_capacity_falls_back_to_the_next_offering() {
    let report = simulate("ice-fallback");
    let ice = events(&report, "insufficient-capacity");
    assert!(!ice.is_empty());
    assert!(
        ice.iter()
            .all(|e| e.detail.starts_with("c6i.2xlarge spot in ")
                && e.detail.ends_with("offering unavailable for 3m0s"))
    );
    assert_eq!(report.nodes.len(), 3);
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.instance_type == "c5.2xlarge" && n.capacity_type == "spot")
    );
    assert!(report.pending.is_empty());
}

/// The web example: 20 pods, then 60 from 10m, all on spot c/m/r nodes.
#[test]
fn the_web_example_scales_on_spot() {
    let report = simulate("web");
    assert_eq!(bound(&report), 60);
    assert!(report.pending.is_empty());
    assert!(report.nodes.iter().all(|n| n.capacity_type == "spot"));
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.instance_type.starts_with(['c', 'm', 'r']))
    );
    assert_eq!(events(&report, "scale")[0].at, "10m0s");
}

/// After the scale-in the c6i.8xlarge holding 3 of 14 pods is underutilised: one minute later
/// (consolidateAfter) multi-node consolidation replaces it with a c6i.xlarge, validated 15 s
/// after the decision; the old node goes once the replacement is initialized.
#[test]
fn scale_in_consolidates_an_underutilised_node() {
    let report = simulate("scale-in-consolidation");
    let decided = events(&report, "disruption-decided");
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0].at, "31m0s");
    assert!(
        decided[0]
            .detail
            .starts_with("multi-node consolidation: replace:")
    );
    let started = events(&report, "disruption-started");
    assert_eq!(started[0].at, "31m15s");
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].instance_type, "c6i.xlarge");
    assert_eq!(report.nodes[0].pods.len(), 3);
    assert!((report.cost_per_hour - 0.17).abs() < 1e-9);
    let deleting = events(&report, "node-deleting");
    assert_eq!(deleting.len(), 1);
    assert!(deleting[0].detail.ends_with(": underutilized"));
    let initialized = events(&report, "node-initialized");
    assert!(deleting[0].at_ms >= initialized.last().map_or(0, |e| e.at_ms));
}
