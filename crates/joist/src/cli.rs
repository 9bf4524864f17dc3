//! Command-line interface of the `joist` binary: argument parsing, dispatch to one file per
//! subcommand, and the mapping of failures to exit codes.

mod controller;
mod crds;
mod policy;
mod simulate;
mod validate;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// joist: a Karpenter-compatible Kubernetes node autoscaler.
#[derive(Debug, Parser)]
#[command(name = "joist", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate NodePool, NodeClaim and EC2NodeClass manifests as the API server would.
    ///
    /// Prints `valid: <kind>/<name>` for each valid object and `<kind>/<name>: <field path>:
    /// <message>` for each problem. Exit status: 0 if every object is valid, 1 if some object is
    /// invalid (schema, unknown fields, CEL rules, runtime checks), 2 if some document cannot be
    /// read as an object (YAML errors, duplicate keys, unknown kinds, values no type can hold) or
    /// an input cannot be read.
    Validate(validate::Args),
    /// Print the CustomResourceDefinitions of the joist API (multi-document YAML).
    Crds(crds::Args),
    /// Run a scenario (multi-document YAML) through the scheduler on a virtual clock and report
    /// the nodes launched, their cost, pending pods with reasons and the timeline. Exit status 2
    /// for a scenario that cannot be loaded.
    Simulate(simulate::Args),
    /// Run the controller against a cluster (kwok provider): provisioning and the NodeClaim
    /// lifecycle. Flags fall back to upstream's environment variables.
    Controller(controller::Args),
}

/// Exit status for input that cannot be processed at all (unreadable file, usage error).
const EXIT_UNREADABLE: u8 = 2;

/// Parses the command line, runs the subcommand and returns the process exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Crds(args) => crds::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Controller(args) => controller::run(args),
    };
    match outcome {
        Ok(code) => code,
        // A closed pipe (`joist crds | head`) is the reader's choice, not a failure to report.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = writeln!(io::stderr(), "error: {error:#}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
