//! `joist controller`: runs the Kubernetes controller (kwok provider) until interrupted.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use joist_controller::provider::kwok::KwokProvider;
use joist_controller::settings::{Flags, LogLevel, Settings};

/// Arguments of `joist controller`: upstream's settings flags (spec core §7).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: Flags,
}

/// Validates the settings, connects to the cluster and runs until SIGINT/SIGTERM.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_flags(&args.flags)?;
    let level = match settings.log_level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Error => tracing::Level::ERROR,
    };
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let client = joist_controller::client(&settings).await?;
    let provider = KwokProvider::with_aws_catalog(client.clone(), "us-east-1")?;
    let controller = joist_controller::start(client, &settings, Arc::new(provider)).await?;
    tokio::select! {
        () = controller.wait() => anyhow::bail!("a controller task stopped"),
        signal = tokio::signal::ctrl_c() => {
            signal.context("waiting for SIGINT")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
