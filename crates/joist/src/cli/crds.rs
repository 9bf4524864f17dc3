//! `joist crds`: prints the CustomResourceDefinitions of the joist API.

use std::io::{self, Write};
use std::process::ExitCode;

/// Arguments of `joist crds` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `joist crds`: the `karpenter.sh` CRDs carry the AWS provider's label rules, as in
/// upstream's AWS distribution.
pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    let crds = joist_api::crds::all_with(&super::policy::aws_label_policy());
    let yaml = joist_api::crds::to_yaml(&crds);
    io::stdout().lock().write_all(yaml.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
