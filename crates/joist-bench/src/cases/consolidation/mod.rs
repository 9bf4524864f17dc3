//! `joist-bench consolidation [--json] [--size NODES[:upstream|:joist] ...] [--in-process]
//! [--max-seconds=S]`:
//! disruption passes over an under-utilised cluster ([`cluster`]).
//!
//! Per size: the cluster is generated, then disruption passes run until none produces a
//! command. A pass is what the disruption controller does (spec core §4.1): the Empty method,
//! then multi-node, then single-node consolidation; the first command wins and is applied to the
//! snapshot (replacements launched, pods moved, candidates removed). `seconds` is the wall time
//! of the first pass (the decision only; applying is not timed), `passes` counts the passes
//! that produced a command. The cost of packing the same pods from scratch with `solve()` is
//! `repack_cost`. Consolidation runs with [`ConsolidationSettings`] defaults (joist search, churn
//! floor $0.01/h) and the `SpotToSpotConsolidation` gate on; a `:upstream` suffix selects
//! upstream's search instead. Command validation (§4.11) is skipped: nothing changes between
//! the decision and its validation here.
//!
//! `--trace` prints one line per applied command to stderr (pass time, method, sizes, cost).
//!
//! Each size runs in a child process of this binary so `peak_rss_mb` is that size's alone.

pub mod cluster;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command as Process, ExitCode, Stdio};
use std::time::Instant;

use joist_core::disruption::{
    Command, ConsolidationSettings, SearchMode, empty_command, multi_node_consolidation,
    single_node_consolidation,
};
use joist_core::rng::SeededRng;
use joist_core::scheduling::{NewNodeClaim, Plan, solve};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{CaseError, aws, plan_cost};
use crate::rss;

/// The sizes (node counts) measured when none is given.
pub const DEFAULT_SIZES: [&str; 2] = ["500", "5000"];
/// The case name on the command line.
pub const CASE: &str = "consolidation";
/// A safety stop: no run needs more passes than this.
const MAX_PASSES: usize = 10_000;
/// Wall-clock seconds of passes after which a size stops and reports `converged: false`.
pub const DEFAULT_MAX_SECONDS: f64 = 1_800.0;

/// Errors of the consolidation benchmark.
#[derive(Debug, Error)]
pub enum BenchError {
    /// Building the AWS instance types or costing a plan failed.
    #[error(transparent)]
    Case(#[from] CaseError),
    /// A command could not be applied to the cluster.
    #[error("applying a command: {0}")]
    Apply(String),
    /// The size is not `<nodes>[:upstream|:joist]`.
    #[error("unknown size {0:?} (expected <nodes>[:upstream|:joist])")]
    Size(String),
    /// A child process failed.
    #[error("{size}: {detail}")]
    Child {
        /// The size it measured.
        size: String,
        /// What went wrong.
        detail: String,
    },
}

/// One size's result (one JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsolidationMeasurement {
    /// Always `consolidation`.
    pub case: String,
    /// Nodes before consolidation.
    pub nodes: usize,
    /// Pods in the cluster.
    pub pods: usize,
    /// Wall-clock seconds of the first disruption pass.
    pub seconds: f64,
    /// `pods / seconds`.
    pub pods_per_sec: f64,
    /// Hourly cost after the last pass (= `cost_after`).
    pub cost_per_hour: f64,
    /// Peak resident set of the measuring process, MiB.
    pub peak_rss_mb: Option<f64>,
    /// Hourly cost of the generated cluster.
    pub cost_before: f64,
    /// Hourly cost once no pass produces a command.
    pub cost_after: f64,
    /// Hourly cost of `solve()` packing every pod from scratch.
    pub repack_cost: f64,
    /// Passes that produced (and applied) a command.
    pub passes: usize,
    /// `upstream` or `joist`.
    pub mode: String,
    /// Nodes after the last pass.
    pub nodes_after: usize,
    /// `cost_after / repack_cost`.
    pub repack_ratio: f64,
    /// The slowest pass, seconds.
    pub max_pass_seconds: f64,
    /// All passes (including the final one that found nothing), seconds.
    pub total_pass_seconds: f64,
    /// Commands per method: empty, multi-node, single-node.
    pub commands_by_method: [usize; 3],
    /// Whether the last pass found no command (false: stopped by `--max-seconds`).
    pub converged: bool,
    /// `cost_after` per NodePool.
    pub cost_after_by_pool: BTreeMap<String, f64>,
    /// `repack_cost` per NodePool.
    pub repack_cost_by_pool: BTreeMap<String, f64>,
}

/// Parses `<nodes>[:upstream|:joist]`.
fn parse_size(size: &str) -> Result<(usize, SearchMode), BenchError> {
    let (count, mode) = size.split_once(':').unwrap_or((size, "joist"));
    let mode = match mode {
        "joist" => SearchMode::Joist,
        "upstream" => SearchMode::Upstream,
        _ => return Err(BenchError::Size(size.into())),
    };
    let count = count
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| BenchError::Size(size.into()))?;
    Ok((count, mode))
}

fn settings(mode: SearchMode) -> ConsolidationSettings {
    ConsolidationSettings {
        scheduling: aws::settings(),
        spot_to_spot: true,
        search: mode,
        ..ConsolidationSettings::default()
    }
}

/// One disruption pass: Empty, then multi-node, then single-node; the method index (0, 1, 2)
/// and command of the first that acts.
fn pass(
    cluster: &cluster::Cluster,
    settings: &ConsolidationSettings,
    unseen: &mut Vec<String>,
    rng: &mut SeededRng,
) -> Option<(usize, Command)> {
    let input = cluster.input();
    if let Some(command) = empty_command(&input).command {
        return Some((0, command));
    }
    if let Some(command) = multi_node_consolidation(&input, settings, rng).command {
        return Some((1, command));
    }
    let single = single_node_consolidation(&input, settings, unseen, rng);
    *unseen = single.unseen_nodepools;
    single.command.map(|command| (2, command))
}

/// The cheapest instance type a NodeClaim of `snapshot`'s plan may launch (for `--trace`).
fn cheapest_type(snapshot: &joist_core::snapshot::Snapshot, nodeclaim: &NewNodeClaim) -> String {
    let price = |it: &joist_core::instancetype::InstanceType| {
        it.cheapest_compatible_price(&nodeclaim.requirements)
    };
    snapshot
        .instance_types
        .get(&nodeclaim.nodepool)
        .and_then(|types| {
            types
                .iter()
                .filter(|it| nodeclaim.instance_types.iter().any(|n| **n == *it.name))
                .min_by(|a, b| price(a).total_cmp(&price(b)))
        })
        .map(|it| it.name.clone())
        .unwrap_or_default()
}

/// Measures one size in this process.
pub fn measure(
    size: &str,
    max_seconds: f64,
    trace: bool,
) -> Result<ConsolidationMeasurement, BenchError> {
    let (node_count, mode) = parse_size(size)?;
    let mut cluster = cluster::generate(node_count)?;
    let settings = settings(mode);
    let pods = cluster.snapshot.pods.len();
    let cost_before = cluster.cost();
    let repack = cluster::as_pending(&cluster.snapshot);
    let plan = solve(&repack, &settings.scheduling, &mut SeededRng::new(1));
    super::check_all_placed(&repack, &plan)?;
    let repack_cost = plan_cost(&repack, &plan)?;
    let mut repack_cost_by_pool: BTreeMap<String, f64> = BTreeMap::new();
    let mut repack_types: BTreeMap<(String, String), usize> = BTreeMap::new();
    for nodeclaim in &plan.new_nodeclaims {
        let single = Plan {
            new_nodeclaims: vec![nodeclaim.clone()],
            ..Plan::default()
        };
        *repack_cost_by_pool
            .entry(nodeclaim.nodepool.clone())
            .or_default() += plan_cost(&repack, &single)?;
        if trace {
            let cheapest = cheapest_type(&repack, nodeclaim);
            *repack_types
                .entry((nodeclaim.nodepool.clone(), cheapest))
                .or_default() += 1;
        }
    }
    drop(repack);
    let mut rng = SeededRng::new(cluster::SEED);
    let mut unseen = Vec::new();
    let (mut first, mut max, mut total) = (None, 0.0f64, 0.0);
    let mut passes = 0;
    let mut by_method = [0; 3];
    let mut converged = false;
    while passes < MAX_PASSES && total < max_seconds {
        let start = Instant::now();
        let outcome = pass(&cluster, &settings, &mut unseen, &mut rng);
        let seconds = start.elapsed().as_secs_f64();
        first.get_or_insert(seconds);
        max = max.max(seconds);
        total += seconds;
        let Some((method, command)) = outcome else {
            converged = true;
            break;
        };
        cluster.apply(&command, &settings, &mut rng)?;
        by_method[method] += 1;
        passes += 1;
        if trace {
            eprintln!(
                "pass {passes}: {seconds:.2}s method {method} {} -> {} replacement(s), \
                 saves ${:.3}/h; {} nodes, ${:.2}/h",
                command.candidates.len(),
                command.replacements.len(),
                command.savings,
                cluster.snapshot.nodes.len(),
                cluster.cost()
            );
        }
    }
    let seconds = first.unwrap_or_default();
    let cost_after = cluster.cost();
    if trace {
        eprintln!("repack first options: {repack_types:?}");
        eprintln!("after: {:?}", cluster.type_counts());
    }
    Ok(ConsolidationMeasurement {
        case: CASE.into(),
        nodes: node_count,
        pods,
        seconds,
        pods_per_sec: pods as f64 / seconds.max(f64::MIN_POSITIVE),
        cost_per_hour: cost_after,
        peak_rss_mb: rss::peak_rss_mib(),
        cost_before,
        cost_after,
        repack_cost,
        passes,
        mode: match mode {
            SearchMode::Upstream => "upstream".into(),
            SearchMode::Joist => "joist".into(),
        },
        nodes_after: cluster.snapshot.nodes.len(),
        repack_ratio: cost_after / repack_cost.max(f64::MIN_POSITIVE),
        max_pass_seconds: max,
        total_pass_seconds: total,
        commands_by_method: by_method,
        converged,
        cost_after_by_pool: cluster.cost_by_pool(),
        repack_cost_by_pool,
    })
}

/// Runs `size` in a child process of this binary and reads back its JSON line.
fn measure_in_child(
    size: &str,
    max_seconds: f64,
    trace: bool,
) -> Result<ConsolidationMeasurement, BenchError> {
    let child_error = |detail: String| BenchError::Child {
        size: size.into(),
        detail,
    };
    let exe = std::env::current_exe().map_err(|e| child_error(e.to_string()))?;
    let mut child = Process::new(exe)
        .args([CASE, "--size", size, "--json", "--in-process"])
        .arg(format!("--max-seconds={max_seconds}"))
        .args(trace.then_some("--trace"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| child_error(e.to_string()))?;
    let mut measurement = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| child_error(e.to_string()))?;
            if let Ok(parsed) = serde_json::from_str(&line) {
                measurement = Some(parsed);
            }
        }
    }
    let status = child.wait().map_err(|e| child_error(e.to_string()))?;
    if !status.success() {
        return Err(child_error(format!("exited with {status}")));
    }
    measurement.ok_or_else(|| child_error("printed no measurement".into()))
}

fn print(json: bool, m: &ConsolidationMeasurement) {
    if json {
        match serde_json::to_string(m) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("joist-bench: cannot print a measurement: {error}"),
        }
    } else {
        println!(
            "{:<8} {:>6} {:>7} {:>9.3} {:>10.2} {:>10.2} {:>10.2} {:>6.3} {:>7}",
            m.mode,
            m.nodes,
            m.pods,
            m.seconds,
            m.cost_before,
            m.cost_after,
            m.repack_cost,
            m.repack_ratio,
            m.passes
        );
    }
}

/// The `consolidation` command line (arguments after the case name).
pub fn run_cli(args: &[String]) -> ExitCode {
    let json = args.iter().any(|a| a == "--json");
    let in_process = args.iter().any(|a| a == "--in-process");
    let trace = args.iter().any(|a| a == "--trace");
    let mut sizes: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--size")
        .map(|w| w[1].clone())
        .collect();
    if sizes.is_empty() {
        sizes = DEFAULT_SIZES.iter().map(ToString::to_string).collect();
    }
    let max_seconds = args
        .iter()
        .find_map(|a| a.strip_prefix("--max-seconds="))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(DEFAULT_MAX_SECONDS);
    if !json {
        println!(
            "mode      nodes    pods   seconds  cost/h-in cost/h-out  repack/h  ratio  passes"
        );
    }
    let mut failed = false;
    for size in &sizes {
        let result = if in_process {
            measure(size, max_seconds, trace)
        } else {
            measure_in_child(size, max_seconds, trace)
        };
        match result {
            Ok(m) => print(json, &m),
            Err(error) => {
                eprintln!("joist-bench: {CASE} {size}: {error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_name_a_node_count_and_an_optional_mode() {
        assert_eq!(parse_size("500").unwrap(), (500, SearchMode::Joist));
        assert_eq!(
            parse_size("40:upstream").unwrap(),
            (40, SearchMode::Upstream)
        );
        assert!(parse_size("0").is_err());
        assert!(parse_size("10:fast").is_err());
    }

    #[test]
    fn the_cluster_is_under_utilised_with_pdbs_on_a_third_of_workloads() {
        let cluster = cluster::generate(30).expect("cluster");
        let snapshot = &cluster.snapshot;
        assert_eq!(snapshot.nodes.len(), 30);
        assert_eq!(snapshot.nodepools.len(), 3);
        let pods = snapshot.pods.len();
        assert!((30 * 4..=30 * 12).contains(&pods), "{pods} pods");
        let workloads: std::collections::BTreeSet<&str> = snapshot
            .pods
            .iter()
            .filter_map(|p| p.labels.get("app").map(String::as_str))
            .collect();
        assert!(!snapshot.pdbs.is_empty());
        assert!(snapshot.pdbs.len() * 3 <= workloads.len() + 3 * 3);
        assert!(cluster.cost() > 0.0);
    }

    #[test]
    fn applying_a_command_moves_every_pod_and_lowers_the_cost() {
        let mut cluster = cluster::generate(12).expect("cluster");
        let settings = settings(SearchMode::Upstream);
        let mut rng = SeededRng::new(3);
        let before = cluster.cost();
        let mut unseen = Vec::new();
        let (_, command) =
            pass(&cluster, &settings, &mut unseen, &mut rng).expect("an under-utilised cluster");
        cluster.apply(&command, &settings, &mut rng).expect("apply");
        assert!(cluster.cost() < before);
        let nodes: std::collections::BTreeSet<&str> = cluster
            .snapshot
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert!(
            cluster
                .snapshot
                .pods
                .iter()
                .all(|p| p.node_name.as_deref().is_some_and(|n| nodes.contains(n)))
        );
    }
}
