//! The command line end to end: child processes, JSON lines, the table and failures.

use std::process::Command;

use joist_bench::report::Measurement;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_joist-bench"))
}

#[test]
fn json_mode_prints_one_parsable_line_per_size_measured_in_child_processes() {
    let output = bench()
        .args(["aws-mix-cpu", "--json", "--size", "60", "--size", "120"])
        .args(["--max-iterations", "1"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    let stdout = String::from_utf8(output.stdout).expect("utf8");
    let lines: Vec<Measurement> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a measurement per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    // 90 % of the mix are CPU and memory-heavy pods.
    assert_eq!((lines[0].pods, lines[1].pods), (54, 108));
    for m in &lines {
        assert_eq!(m.case, "aws-mix-cpu");
        assert!(m.nodes >= 1 && m.seconds > 0.0 && m.iterations == 1);
        let bound = m.lower_bound_cost_per_hour.expect("bound");
        assert!(bound > 0.0 && m.cost_per_hour >= bound, "{m:?}");
        assert!(m.peak_rss_mb.is_some_and(|mib| mib > 1.0));
        assert!(!m.lower_bound_mix.is_empty() && m.lower_bound_mix.iter().all(|(_, n)| *n > 0.0));
    }
}

#[test]
fn table_mode_prints_a_header_and_a_row() {
    let output = bench()
        .args([
            "aws-mix",
            "--size",
            "40",
            "--in-process",
            "--max-iterations",
            "1",
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("case") && lines[0].contains("pods/s"));
    assert!(lines[1].starts_with("aws-mix ") && lines[1].contains(" 40 "));
}

#[test]
fn a_bad_size_fails_with_a_message_naming_it() {
    let output = bench()
        .args(["upstream-mix", "--size", "lots", "--max-iterations", "1"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"lots\"") && stderr.contains("RespectPreferences"),
        "{stderr}"
    );
}
