//! `joist-bench <case> [--json] [--size N|VARIANT ...]`: see `docs/benchmarks.md`.

use std::process::ExitCode;

use clap::Parser;
use joist_bench::cases::Case;
use joist_bench::report::{Measurement, table_header, table_row};
use joist_bench::runner::{RunOptions, measure, run_in_children};

/// Benchmarks of joist's scheduling engine.
#[derive(Debug, Parser)]
#[command(name = "joist-bench")]
struct Cli {
    /// The case to run.
    #[arg(value_enum)]
    case: Case,
    /// One JSON object per line and measured size instead of a table.
    #[arg(long)]
    json: bool,
    /// Sizes to measure (a pod count, or RespectPreferences / IgnorePreferences for
    /// upstream-mix); repeatable. Default: the case's standard sizes.
    #[arg(long = "size")]
    sizes: Vec<String>,
    /// Measure in this process instead of one child process per size (the peak RSS is then
    /// the process's, not the size's).
    #[arg(long)]
    in_process: bool,
    /// Repeat solve() until this many seconds were spent in it.
    #[arg(long, default_value_t = RunOptions::default().min_seconds)]
    min_seconds: f64,
    /// At most this many solve() calls per size.
    #[arg(long, default_value_t = RunOptions::default().max_iterations)]
    max_iterations: u32,
}

fn print(json: bool, measurement: &Measurement) {
    if json {
        match serde_json::to_string(measurement) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("joist-bench: cannot print a measurement: {error}"),
        }
    } else {
        println!("{}", table_row(measurement));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(joist_bench::cases::consolidation::CASE) {
        return joist_bench::cases::consolidation::run_cli(&args[2..]);
    }
    let cli = Cli::parse();
    let options = RunOptions {
        min_seconds: cli.min_seconds,
        max_iterations: cli.max_iterations.max(1),
    };
    let variants = if cli.sizes.is_empty() {
        cli.case.default_variants()
    } else {
        cli.sizes.clone()
    };
    if !cli.json {
        println!("{}", table_header());
    }
    let mut failed = false;
    if cli.in_process {
        for variant in &variants {
            match measure(cli.case, variant, options) {
                Ok(measurement) => print(cli.json, &measurement),
                Err(error) => {
                    eprintln!("joist-bench: {} {variant}: {error}", cli.case.name());
                    failed = true;
                }
            }
        }
    } else {
        match run_in_children(cli.case, &variants, options, |m| print(cli.json, m)) {
            Ok(failures) => {
                for failure in &failures {
                    eprintln!("joist-bench: {} {failure}", cli.case.name());
                }
                failed = !failures.is_empty();
            }
            Err(error) => {
                eprintln!("joist-bench: {error}");
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
