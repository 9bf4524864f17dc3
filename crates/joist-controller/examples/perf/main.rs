//! Benchmark of the controller on a real control plane (docs/benchmarks.md, "Controller on a real
//! control plane"): upstream's perf "basic" mix — half the pods ask for {900m, 3100Mi}, half for
//! {3500m, 28Gi} — applied as two Deployments at once, timed until every pod is Running.
//!
//! The controller runs as a separate process, the release `joist controller` binary next to this
//! example's (build it first: `cargo build --release -p joist`), as the `kube-system/joist`
//! ServiceAccount with the RBAC docs/controller.md lists, so its peak RSS (`VmHWM`) is its own.
//! kwok plays the kubelets.
//!
//! ```text
//! cargo build --release -p joist
//! cargo run --release -p joist-controller --example perf -- --pods 1000 [--json]
//! ```

#[path = "../../tests/support/mod.rs"]
mod support;

mod controller;
mod workload;

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use joist_testenv::{ControlPlane, ControlPlaneOptions};

use controller::ControllerProcess;
use workload::Progress;

/// The benchmark's command line.
#[derive(Debug, Parser)]
#[command(about = "Times joist's controller on a real control plane with upstream's perf mix")]
struct Args {
    /// Pods in total, split evenly between the two Deployments.
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
    /// Give up (and report how far it got) after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// The `joist` binary; by default the one in this example's profile directory.
    #[arg(long)]
    joist: Option<PathBuf>,
    /// Client QPS of kube-controller-manager and kube-scheduler (burst twice that); without it
    /// their defaults, under which the ReplicaSet controller creates ~20 pods a second.
    #[arg(long)]
    kube_api_qps: Option<u32>,
    /// Where the controller's log goes; by default `joist-perf-<pods>.log` in the temp directory.
    #[arg(long)]
    log: Option<PathBuf>,
}

/// What one run measured.
#[derive(Debug)]
struct Report {
    pods: usize,
    running: usize,
    nodes: usize,
    nodeclaims: usize,
    seconds: f64,
    peak_rss_mb: Option<f64>,
    load_before: String,
    load_after: String,
    finished: bool,
    kube_api_qps: Option<u32>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    print_report(&report, args.json);
    if report.finished {
        Ok(())
    } else {
        Err(format!(
            "only {} of {} pods Running after {:.0} s",
            report.running, report.pods, report.seconds
        )
        .into())
    }
}

async fn run(args: &Args) -> Result<Report, Box<dyn Error>> {
    let joist = match &args.joist {
        Some(path) => path.clone(),
        None => controller::sibling_joist_binary()?,
    };
    let log = args
        .log
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("joist-perf-{}.log", args.pods)));
    eprintln!("perf: starting the control plane");
    let control_plane = ControlPlane::start_with(ControlPlaneOptions {
        kube_api_qps: args.kube_api_qps,
        ..ControlPlaneOptions::default()
    })
    .await?;
    let admin = control_plane.client();
    support::install_crds(&admin).await;
    workload::apply_nodepool(&admin).await?;
    // Creates the ServiceAccount and its RBAC; the client it returns is not needed here.
    let _ = support::controller_config(&control_plane).await;
    let kubeconfig = control_plane
        .service_account_kubeconfig("kube-system", "joist")
        .await?;
    control_plane.create_namespace(workload::NAMESPACE).await?;

    let mut process = ControllerProcess::spawn(&joist, &kubeconfig, &log)?;
    eprintln!(
        "perf: controller pid {} ({}), log {}",
        process.pid(),
        joist.display(),
        log.display()
    );
    process.wait_ready(Duration::from_secs(120)).await?;

    let load_before = load_average();
    let started = Instant::now();
    workload::apply_deployments(&admin, args.pods).await?;
    let deadline = Duration::from_secs(args.timeout_secs);
    let outcome = workload::await_running(&admin, args.pods, started, deadline, |progress| {
        report_progress(&progress, process.current_rss_mb());
    })
    .await?;
    let load_after = load_average();
    let peak_rss_mb = process.peak_rss_mb();
    process.exited()?;
    let counts = workload::count_capacity(&admin).await?;
    drop(process);
    drop(control_plane);
    Ok(Report {
        pods: args.pods,
        running: outcome.running,
        nodes: counts.nodes,
        nodeclaims: counts.nodeclaims,
        seconds: outcome.seconds,
        peak_rss_mb,
        load_before,
        load_after,
        finished: outcome.all_running,
        kube_api_qps: args.kube_api_qps,
    })
}

fn report_progress(progress: &Progress, rss_mb: Option<f64>) {
    let rss = rss_mb.map_or_else(|| "?".to_owned(), |mb| format!("{mb:.1}"));
    eprintln!(
        "perf: {:>6.1} s  {:>5} pods seen  {:>5} Running  controller RSS {rss} MiB",
        progress.elapsed.as_secs_f64(),
        progress.seen,
        progress.running
    );
}

/// `/proc/loadavg`'s three averages, or `?` off Linux.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

fn print_report(report: &Report, json: bool) {
    let pods_per_sec = report.running as f64 / report.seconds;
    if json {
        let line = serde_json::json!({
            "case": "controller-basic",
            "pods": report.pods,
            "running": report.running,
            "nodes": report.nodes,
            "nodeclaims": report.nodeclaims,
            "seconds": (report.seconds * 100.0).round() / 100.0,
            "pods_per_sec": (pods_per_sec * 10.0).round() / 10.0,
            "cost_per_hour": null,
            "peak_rss_mb": report.peak_rss_mb.map(|mb| (mb * 10.0).round() / 10.0),
            "finished": report.finished,
            "kube_api_qps": report.kube_api_qps,
            "load_before": report.load_before,
            "load_after": report.load_after,
        });
        println!("{line}");
        return;
    }
    let rss = report
        .peak_rss_mb
        .map_or_else(|| "?".to_owned(), |mb| format!("{mb:.1}"));
    println!("case               pods  running  nodes  nodeclaims  seconds  pods/s  peak RSS MiB");
    println!(
        "controller-basic  {:>5}  {:>7}  {:>5}  {:>10}  {:>7.1}  {:>6.1}  {rss:>12}",
        report.pods, report.running, report.nodes, report.nodeclaims, report.seconds, pods_per_sec
    );
    let qps = report
        .kube_api_qps
        .map_or_else(|| "defaults".to_owned(), |qps| qps.to_string());
    println!(
        "load average before: {}  after: {}; controller-manager/scheduler QPS: {qps}",
        report.load_before, report.load_after
    );
}
