//! `joist simulate` on the scenarios under `examples/simulate/`, through the real binary.

mod support;

use support::{joist, repo_root};

const WEB: &str = "examples/simulate/web.yaml";

#[test]
fn the_web_scenario_reports_json_with_every_pod_bound() {
    let run = joist(&["simulate", WEB, "--output", "json", "--seed", "3"], b"");
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{}", run.stdout);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let nodes = report["nodes"].as_array().expect("nodes");
    let bound: usize = nodes
        .iter()
        .map(|n| n["pods"].as_array().expect("pods").len())
        .sum();
    assert_eq!(bound, 60);
    assert_eq!(report["pending"].as_array().map(Vec::len), Some(0));
    let sum: f64 = nodes
        .iter()
        .map(|n| n["price_per_hour"].as_f64().expect("price"))
        .sum();
    let cost = report["cost_per_hour"].as_f64().expect("cost");
    assert!((cost - sum).abs() < 1e-9 && cost > 0.0);
    for field in ["name", "nodepool", "instance_type", "capacity_type", "zone"] {
        assert!(nodes.iter().all(|n| n[field].is_string()), "{field}");
    }
    let again = joist(&["simulate", WEB, "--output", "json", "--seed", "3"], b"");
    assert_eq!(run.stdout, again.stdout, "same seed, same report");
}

#[test]
fn the_table_shows_nodes_totals_and_the_timeline() {
    let run = joist(&["simulate", WEB, "--until", "5m"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("NODE "), "{}", run.stdout);
    assert!(
        run.stdout.contains("20 pods bound, 0 pending"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("TIMELINE"));
    assert!(
        !run.stdout.contains("scale"),
        "the 10m step is after --until"
    );
}

#[test]
fn a_bad_scenario_exits_non_zero_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("joist-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.yaml");
    let web = std::fs::read_to_string(repo_root().join(WEB)).expect("example");
    let bad = web.replace("scale: {deployment: web", "reboot: {deployment: web");
    std::fs::write(&path, bad).expect("write");
    let run = joist(&["simulate", path.to_str().expect("UTF-8 path")], b"");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("spec.steps[0]: step \"reboot\" is not supported yet"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}
