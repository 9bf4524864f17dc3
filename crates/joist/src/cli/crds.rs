//! `joist crds`: prints the CustomResourceDefinitions of the joist API.

use std::io::{self, Write};
use std::process::ExitCode;

/// Arguments of `joist crds` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `joist crds`.
pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    let yaml = joist_api::crds::to_yaml(&joist_api::crds::all());
    io::stdout().lock().write_all(yaml.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
