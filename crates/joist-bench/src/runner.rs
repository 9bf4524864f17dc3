//! Measuring one size in this process, and running several sizes each in a fresh child process.
//!
//! Only `solve()` is timed: pods, snapshot and settings are built first. Each timed call gets a
//! fresh RNG from the same seed, so every iteration computes the same plan; the first plan is
//! checked (every pod placed) and costed, and every later one is checked to place every pod too.
//! Calls repeat until [`RunOptions::min_seconds`] have been spent solving or
//! [`RunOptions::max_iterations`] calls were made (at least one), like Go's `b.N` loop; the
//! reported `seconds` is the mean.
//!
//! `VmHWM` only grows, so [`run_in_children`] runs every size in its own child process of this
//! binary (`<case> --size <variant> --json --in-process`) and reads back its one JSON line: the
//! peak RSS is then that size's alone (including building its snapshot).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use joist_core::rng::SeededRng;
use joist_core::scheduling::{PackingPolicy, Plan, SchedulingSettings, solve};
use thiserror::Error;

use crate::cases::{self, Case, CaseError, Prepared};
use crate::fit_bound::fit_bound;
use crate::lower_bound::lower_bound;
use crate::report::Measurement;
use crate::rss;

/// The seed of every solve (upstream's benchmark seeds its RNG with 42).
pub const SOLVE_SEED: u64 = 42;

/// How long to measure each size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Keep calling `solve()` until this many seconds were spent in it.
    pub min_seconds: f64,
    /// But never more than this many calls.
    pub max_iterations: u32,
}

impl Default for RunOptions {
    /// One second or 50 calls, whichever comes first.
    fn default() -> Self {
        RunOptions {
            min_seconds: 1.0,
            max_iterations: 50,
        }
    }
}

/// Errors of running sizes in child processes.
#[derive(Debug, Error)]
pub enum RunError {
    /// This binary's path could not be found to start a child.
    #[error("cannot find the benchmark binary: {0}")]
    CurrentExe(std::io::Error),
    /// The child could not be started or read.
    #[error("{variant}: child process: {source}")]
    Spawn {
        /// The size being measured.
        variant: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The child failed (its own error went to stderr).
    #[error("{variant}: child process failed ({status})")]
    ChildFailed {
        /// The size being measured.
        variant: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The child printed no measurement line.
    #[error("{variant}: child process printed no measurement ({detail})")]
    NoMeasurement {
        /// The size being measured.
        variant: String,
        /// What was wrong with its output.
        detail: String,
    },
}

/// Measures `case` at `variant` in this process.
pub fn measure(case: Case, variant: &str, options: RunOptions) -> Result<Measurement, CaseError> {
    let setup_start = Instant::now();
    let prepared = cases::prepare(case, variant)?;
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    let bound = lower_bound(prepared.distinct_instance_types(), &prepared.demand)?;

    let (plan, mut spent) = timed_solve(&prepared)?;
    let mut iterations = 1u32;
    while spent < options.min_seconds && iterations < options.max_iterations {
        spent += timed_solve(&prepared)?.1;
        iterations += 1;
    }
    let cost = cases::plan_cost(&prepared.snapshot, &plan)?;
    let fit = fit_bound(&prepared.snapshot.pods, prepared.distinct_instance_types());
    let upstream_cost = upstream_greedy_cost(&prepared)?;
    let seconds = spent / f64::from(iterations);
    let pods = prepared.snapshot.pods.len();
    let lower = bound.cost_per_hour;
    Ok(Measurement {
        case: case.name().to_string(),
        pods,
        nodes: plan.new_nodeclaims.len(),
        seconds,
        pods_per_sec: pods as f64 / seconds,
        cost_per_hour: cost,
        peak_rss_mb: rss::peak_rss_mib(),
        variant: variant.to_string(),
        lower_bound_cost_per_hour: Some(lower),
        cost_ratio: (lower > 0.0).then(|| cost / lower),
        lower_bound_mix: bound.mix,
        iterations,
        setup_seconds,
        instance_types: prepared.offered_instance_types(),
        fit_bound_cost_per_hour: fit.as_ref().map(|f| f.cost_per_hour),
        fit_cost_ratio: fit
            .as_ref()
            .filter(|f| f.cost_per_hour > 0.0)
            .map(|f| cost / f.cost_per_hour),
        upstream_cost_per_hour: upstream_cost,
    })
}

/// The plan cost under upstream's greedy packing alone, or `None` when the case already uses it
/// (nothing to compare). Untimed; checked to place every pod like the timed solves.
fn upstream_greedy_cost(prepared: &Prepared) -> Result<Option<f64>, CaseError> {
    if prepared.settings.packing_policy == PackingPolicy::Upstream {
        return Ok(None);
    }
    let settings = SchedulingSettings {
        packing_policy: PackingPolicy::Upstream,
        ..prepared.settings.clone()
    };
    let plan = solve(
        &prepared.snapshot,
        &settings,
        &mut SeededRng::new(SOLVE_SEED),
    );
    cases::check_all_placed(&prepared.snapshot, &plan)?;
    cases::plan_cost(&prepared.snapshot, &plan).map(Some)
}

/// One `solve()` with a fresh RNG, timed, and checked to place every pod.
fn timed_solve(prepared: &Prepared) -> Result<(Plan, f64), CaseError> {
    let mut rng = SeededRng::new(SOLVE_SEED);
    let start = Instant::now();
    let plan = solve(&prepared.snapshot, &prepared.settings, &mut rng);
    let seconds = start.elapsed().as_secs_f64();
    cases::check_all_placed(&prepared.snapshot, &plan)?;
    Ok((plan, seconds))
}

/// Runs each variant in a fresh child process of this binary, handing every measurement to
/// `sink` as it arrives. Variants that fail are reported in the returned list (after the others
/// ran), so one failing size does not hide the rest.
pub fn run_in_children(
    case: Case,
    variants: &[String],
    options: RunOptions,
    mut sink: impl FnMut(&Measurement),
) -> Result<Vec<RunError>, RunError> {
    let exe = std::env::current_exe().map_err(RunError::CurrentExe)?;
    let mut failures = Vec::new();
    for variant in variants {
        match run_child(&exe, case, variant, options) {
            Ok(measurement) => sink(&measurement),
            Err(error) => failures.push(error),
        }
    }
    Ok(failures)
}

fn run_child(
    exe: &std::path::Path,
    case: Case,
    variant: &str,
    options: RunOptions,
) -> Result<Measurement, RunError> {
    let spawn_error = |source| RunError::Spawn {
        variant: variant.to_string(),
        source,
    };
    let mut child = Command::new(exe)
        .arg(case.name())
        .args(["--size", variant, "--json", "--in-process"])
        .arg(format!("--min-seconds={}", options.min_seconds))
        .arg(format!("--max-iterations={}", options.max_iterations))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;
    let mut measurement = None;
    let mut detail = String::from("no output");
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(spawn_error)?;
            match serde_json::from_str::<Measurement>(&line) {
                Ok(parsed) => measurement = Some(parsed),
                Err(error) => detail = format!("unparsable line {line:?}: {error}"),
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if !status.success() {
        return Err(RunError::ChildFailed {
            variant: variant.to_string(),
            status,
        });
    }
    measurement.ok_or_else(|| RunError::NoMeasurement {
        variant: variant.to_string(),
        detail,
    })
}
