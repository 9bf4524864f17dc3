//! `joist simulate` on every scenario under `examples/simulate/` through the real binary: each
//! runs, prints the JSON report the architecture specifies, and writes nothing to stderr (the
//! progress bar only appears on a terminal). The facts of each scenario are asserted in
//! `crates/joist-sim/tests/examples.rs`.

mod support;

use support::{joist, repo_root, yaml_files};

/// Scenarios too long for a debug-build test (measured in release, see docs/benchmarks.md).
const LONG: [&str; 1] = ["diurnal-24h.yaml"];

#[test]
fn every_simulate_example_reports_json() {
    let files = yaml_files(&repo_root().join("examples/simulate"));
    assert!(files.len() >= 11, "examples are missing: {files:?}");
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 name");
        if LONG.contains(&name) {
            continue;
        }
        let path = file.to_str().expect("UTF-8 path");
        let run = joist(&["simulate", path, "--output", "json"], b"");
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, ""),
            "{name}: {}",
            run.stdout
        );
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
        assert!(report["cost_per_hour"].is_number(), "{name}");
        for node in report["nodes"].as_array().expect("nodes") {
            for field in ["name", "nodepool", "instance_type", "capacity_type", "zone"] {
                assert!(node[field].is_string(), "{name}: {field}");
            }
            assert!(node["price_per_hour"].is_number(), "{name}");
            assert!(node["pods"].is_array(), "{name}");
        }
        for pending in report["pending"].as_array().expect("pending") {
            assert!(
                pending["pod"].is_string() && pending["reason"].is_string(),
                "{name}"
            );
        }
        let events = report["events"].as_array().expect("events");
        assert!(!events.is_empty(), "{name}");
        assert!(
            events
                .iter()
                .all(|e| e["at"].is_string() && e["kind"].is_string() && e["detail"].is_string())
        );
    }
}

#[test]
fn the_table_shows_gpu_utilisation_and_the_spot_interruption() {
    let gpu = joist(
        &["simulate", "examples/simulate/gpu-inference-static.yaml"],
        b"",
    );
    assert_eq!(gpu.code, 0, "{}", gpu.stderr);
    assert!(
        gpu.stdout
            .lines()
            .next()
            .is_some_and(|l| l.contains("GPU%")),
        "{}",
        gpu.stdout
    );
    assert!(gpu.stdout.contains("  100% "), "{}", gpu.stdout);
    let spot = joist(
        &[
            "simulate",
            "examples/simulate/spot-training-interruption.yaml",
        ],
        b"",
    );
    assert_eq!(spot.code, 0, "{}", spot.stderr);
    assert!(spot.stdout.contains("spot-interrupted"), "{}", spot.stdout);
    assert!(
        spot.stdout.contains("4 nodes, 4 pods bound, 0 pending"),
        "{}",
        spot.stdout
    );
}
