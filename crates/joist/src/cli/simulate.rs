//! `joist simulate SCENARIO.yaml`: runs a scenario through the scheduling core on a virtual
//! clock and prints the end state and the timeline (see `joist_sim`).

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use joist_core::duration::parse_go_duration;

/// Arguments of `joist simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (multi-document YAML).
    scenario: PathBuf,
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Virtual end time (Go duration, e.g. `2h`); overrides the Scenario's `spec.until`.
    #[arg(long, value_name = "DURATION", value_parser = parse_until)]
    until: Option<std::time::Duration>,
    /// Seed of the simulation's random choices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// A readable table and timeline.
    Table,
    /// The JSON report.
    Json,
}

fn parse_until(text: &str) -> Result<std::time::Duration, String> {
    parse_go_duration(text).map_err(|e| e.to_string())
}

/// Runs `joist simulate`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let input = fs::read(&args.scenario)
        .with_context(|| format!("cannot read {}", args.scenario.display()))?;
    let options = super::policy::aws_validation_options();
    let scenario = joist_sim::load(&input, &options)
        .with_context(|| format!("{}: invalid scenario", args.scenario.display()))?;
    let options = joist_sim::RunOptions {
        seed: args.seed,
        until: args.until,
    };
    let mut bar = ProgressBar::new(io::stderr().is_terminal());
    let report = joist_sim::engine::run_with(
        &scenario,
        options,
        joist_sim::engine::default_drivers(),
        &mut |progress| bar.update(progress),
    );
    bar.finish();
    let report = report?;
    let text = match args.output {
        Output::Table => report.to_table(),
        Output::Json => report.to_json() + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and the run has taken
/// more than a second of wall time (short runs print nothing), redrawn at most every 100 ms.
struct ProgressBar {
    enabled: bool,
    started: Instant,
    drawn: Option<Instant>,
}

/// Wall time before the bar appears.
const PROGRESS_DELAY: Duration = Duration::from_secs(1);
/// Minimum wall time between redraws.
const PROGRESS_REDRAW: Duration = Duration::from_millis(100);
/// Width of the bar in characters.
const PROGRESS_WIDTH: usize = 30;

impl ProgressBar {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            drawn: None,
        }
    }

    fn update(&mut self, progress: joist_sim::engine::Progress) {
        if !self.enabled || self.started.elapsed() < PROGRESS_DELAY {
            return;
        }
        if self.drawn.is_some_and(|at| at.elapsed() < PROGRESS_REDRAW) {
            return;
        }
        self.drawn = Some(Instant::now());
        let fraction = if progress.end.is_zero() {
            1.0
        } else {
            (progress.now.as_secs_f64() / progress.end.as_secs_f64()).clamp(0.0, 1.0)
        };
        // The fraction is within 0..=1, so the product fits the bar's width.
        let filled = (fraction * PROGRESS_WIDTH as f64) as usize;
        let line = format!(
            "\r[{}{}] {} / {} virtual",
            "#".repeat(filled),
            ".".repeat(PROGRESS_WIDTH - filled),
            joist_sim::report::format_time(progress.now),
            joist_sim::report::format_time(progress.end)
        );
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }

    fn finish(&self) {
        if self.drawn.is_some() {
            let blank = format!("\r{}\r", " ".repeat(PROGRESS_WIDTH + 40));
            let _ = io::stderr().lock().write_all(blank.as_bytes());
        }
    }
}
