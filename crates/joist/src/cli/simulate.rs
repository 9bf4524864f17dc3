//! `joist simulate SCENARIO.yaml`: runs a scenario through the scheduling core on a virtual
//! clock and prints the end state and the timeline (see `joist_sim`).

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

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
    let report = joist_sim::run(
        &scenario,
        joist_sim::RunOptions {
            seed: args.seed,
            until: args.until,
        },
    )?;
    let text = match args.output {
        Output::Table => report.to_table(),
        Output::Json => report.to_json() + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
