//! `joist controller`: runs the Kubernetes controller (kwok provider) until interrupted.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use joist_controller::leader::{LeaderElectionConfig, LeaderElector};
use joist_controller::provider::kwok::KwokProvider;
use joist_controller::settings::{Flags, LogLevel, Settings};

/// Arguments of `joist controller`: upstream's settings flags (spec core §7).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: Flags,
    /// How long a disruption command waits between tainting its candidates and re-validating
    /// them. Upstream's `commandValidationDelay` is a fixed 15 s; this hidden flag exists so the
    /// end-to-end tests of the binary need not wait that long.
    #[arg(long, hide = true, default_value = "15s", value_parser = parse_delay)]
    disruption_validation_delay: Duration,
}

fn parse_delay(text: &str) -> Result<Duration, String> {
    joist_core::duration::parse_go_duration(text).map_err(|e| e.to_string())
}

/// Validates the settings, connects to the cluster and runs until SIGINT/SIGTERM.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let settings = Settings {
        disruption_validation_delay: args.disruption_validation_delay,
        ..Settings::from_flags(&args.flags)?
    };
    let level = match settings.log_level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Error => tracing::Level::ERROR,
    };
    joist_controller::logging::init(level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let config = joist_controller::client::config(&settings).await?;
    let client = joist_controller::client(&settings).await?;
    let provider = KwokProvider::with_aws_catalog(client.clone(), "us-east-1")?;
    let election = if settings.disable_leader_election {
        None
    } else {
        let lease = LeaderElectionConfig::from_settings(&settings)?;
        Some(LeaderElector::new(client, lease)?.spawn())
    };
    // Without an election this replica always leads; the sender lives as long as `serve`.
    let (_single_replica, always) = tokio::sync::watch::channel(true);
    let leading = match &election {
        Some(handle) => handle.is_leader(),
        None => always,
    };
    let controller =
        joist_controller::start_gated(config, &settings, Arc::new(provider), leading.clone())
            .await?;
    tokio::select! {
        () = controller.wait() => anyhow::bail!("a controller task stopped"),
        () = leadership_lost(leading) => {
            // As controller-runtime does: a replica that lost its Lease exits, and its
            // restart joins the election as a standby.
            anyhow::bail!("leader election lost")
        }
        signal = shutdown_signal() => {
            signal?;
            if let Some(handle) = election {
                handle.release().await.context("releasing the leader Lease")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Resolves once this replica led and then stopped leading, or the election ended.
async fn leadership_lost(mut leading: tokio::sync::watch::Receiver<bool>) {
    if leading.wait_for(|leads| *leads).await.is_ok() {
        let _ = leading.wait_for(|leads| !*leads).await;
    }
}

/// Resolves on SIGINT or SIGTERM (what the kubelet sends a terminating pod): both shut down
/// cleanly, releasing the Lease so a standby takes over without waiting for it to expire.
async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for SIGINT")?,
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    Ok(())
}
