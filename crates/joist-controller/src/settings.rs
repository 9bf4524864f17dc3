//! The controller's settings (spec core §7): upstream's flag names, each with its environment
//! variable fallback and default, parsed by clap and then validated into typed values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Upstream's feature gates and their defaults, in upstream's order.
pub const DEFAULT_FEATURE_GATES: [(&str, bool); 6] = [
    ("NodeRepair", false),
    ("ReservedCapacity", true),
    ("SpotToSpotConsolidation", false),
    ("NodeOverlay", false),
    ("StaticCapacity", false),
    ("CapacityBuffer", false),
];

/// Command-line flags of `joist controller`, as written (see [`Settings::from_flags`] for the
/// checked form). Every flag falls back to upstream's environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// The cluster's name (used in logs and, for AWS, resource tags).
    #[arg(long, env = "CLUSTER_NAME", default_value = "")]
    pub cluster_name: String,
    /// Path to a kubeconfig; in-cluster configuration (or `KUBECONFIG`) when absent.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The longest a provisioning batch stays open after its first pending pod.
    #[arg(long, env = "BATCH_MAX_DURATION", default_value = "10s")]
    pub batch_max_duration: String,
    /// How long a batch waits for another pending pod before closing.
    #[arg(long, env = "BATCH_IDLE_DURATION", default_value = "1s")]
    pub batch_idle_duration: String,
    /// Port of the Prometheus `/metrics` endpoint.
    #[arg(long, env = "METRICS_PORT", default_value_t = 8080)]
    pub metrics_port: u16,
    /// Port of the `/healthz` and `/readyz` probes.
    #[arg(long, env = "HEALTH_PROBE_PORT", default_value_t = 8081)]
    pub health_probe_port: u16,
    /// Log level: `debug`, `info` or `error`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Feature gates, `Name=true|false` separated by commas; unnamed gates keep their defaults.
    #[arg(long, env = "FEATURE_GATES", default_value = "")]
    pub feature_gates: String,
    /// Run without leader election (one replica only).
    #[arg(long, env = "DISABLE_LEADER_ELECTION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "LEADER_ELECTION_NAME",
        default_value = "karpenter-leader-election"
    )]
    pub leader_election_name: String,
    /// Namespace of the leader-election Lease (empty: the pod's namespace).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE", default_value = "")]
    pub leader_election_namespace: String,
    /// Sustained requests per second of the Kubernetes client.
    #[arg(long, env = "KUBE_CLIENT_QPS", default_value_t = 200)]
    pub kube_client_qps: i64,
    /// Request burst of the Kubernetes client.
    #[arg(long, env = "KUBE_CLIENT_BURST", default_value_t = 300)]
    pub kube_client_burst: i64,
}

/// How much the controller logs (upstream's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, with the caller.
    Debug,
    /// The default.
    Info,
    /// Errors only.
    Error,
}

/// Validated settings the controller runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `--cluster-name`.
    pub cluster_name: String,
    /// `--kubeconfig`; `None` means in-cluster or `KUBECONFIG` inference.
    pub kubeconfig: Option<PathBuf>,
    /// `--batch-max-duration`.
    pub batch_max_duration: Duration,
    /// `--batch-idle-duration`.
    pub batch_idle_duration: Duration,
    /// `--metrics-port`.
    pub metrics_port: u16,
    /// `--health-probe-port`.
    pub health_probe_port: u16,
    /// `--log-level`.
    pub log_level: LogLevel,
    /// Every gate with its effective value (defaults overlaid by `--feature-gates`).
    pub feature_gates: BTreeMap<String, bool>,
    /// `--disable-leader-election`.
    pub disable_leader_election: bool,
    /// `--leader-election-name`.
    pub leader_election_name: String,
    /// `--leader-election-namespace`.
    pub leader_election_namespace: String,
    /// `--kube-client-qps`.
    pub kube_client_qps: u32,
    /// `--kube-client-burst`.
    pub kube_client_burst: u32,
}

/// Why the flags do not make valid settings. Each names the flag and the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    /// A duration flag does not parse as a Go-style duration.
    #[error("--{flag}: invalid duration {value:?}: {reason}")]
    Duration {
        /// The flag's name.
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A duration flag is zero or negative.
    #[error("--{flag}: {value:?} must be greater than zero")]
    NotPositive {
        /// The flag's name.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// The idle window is longer than the whole batch.
    #[error(
        "--batch-idle-duration ({idle:?}) must not be longer than --batch-max-duration ({max:?})"
    )]
    IdleLongerThanMax {
        /// The idle duration.
        idle: Duration,
        /// The max duration.
        max: Duration,
    },
    /// `--log-level` is not one of upstream's levels.
    #[error("--log-level: {value:?} is not one of debug, info, error")]
    LogLevel {
        /// The value given.
        value: String,
    },
    /// A `--feature-gates` entry is malformed, unknown or not a boolean.
    #[error("--feature-gates: {entry:?}: {reason}")]
    FeatureGate {
        /// The offending `Name=value` entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A client rate limit is not a positive 32-bit number.
    #[error("--{flag}: {value} must be between 1 and {}", u32::MAX)]
    RateLimit {
        /// The flag's name.
        flag: &'static str,
        /// The value given.
        value: i64,
    },
    /// Two ports collide.
    #[error("--metrics-port and --health-probe-port must differ (both {port})")]
    SamePort {
        /// The shared port.
        port: u16,
    },
}

// === impl Settings ===

impl Settings {
    /// Checks `flags` and turns them into settings.
    pub fn from_flags(flags: &Flags) -> Result<Self, SettingsError> {
        let batch_max_duration =
            positive_duration("batch-max-duration", &flags.batch_max_duration)?;
        let batch_idle_duration =
            positive_duration("batch-idle-duration", &flags.batch_idle_duration)?;
        if batch_idle_duration > batch_max_duration {
            return Err(SettingsError::IdleLongerThanMax {
                idle: batch_idle_duration,
                max: batch_max_duration,
            });
        }
        if flags.metrics_port == flags.health_probe_port {
            return Err(SettingsError::SamePort {
                port: flags.metrics_port,
            });
        }
        Ok(Self {
            cluster_name: flags.cluster_name.clone(),
            kubeconfig: flags.kubeconfig.clone(),
            batch_max_duration,
            batch_idle_duration,
            metrics_port: flags.metrics_port,
            health_probe_port: flags.health_probe_port,
            log_level: log_level(&flags.log_level)?,
            feature_gates: feature_gates(&flags.feature_gates)?,
            disable_leader_election: flags.disable_leader_election,
            leader_election_name: flags.leader_election_name.clone(),
            leader_election_namespace: flags.leader_election_namespace.clone(),
            kube_client_qps: rate_limit("kube-client-qps", flags.kube_client_qps)?,
            kube_client_burst: rate_limit("kube-client-burst", flags.kube_client_burst)?,
        })
    }

    /// Whether the feature gate `name` is on (unknown names are off).
    pub fn gate(&self, name: &str) -> bool {
        self.feature_gates.get(name).copied().unwrap_or(false)
    }
}

impl Default for Settings {
    /// Upstream's defaults (what `joist controller` runs with when nothing is set).
    fn default() -> Self {
        Self {
            cluster_name: String::new(),
            kubeconfig: None,
            batch_max_duration: Duration::from_secs(10),
            batch_idle_duration: Duration::from_secs(1),
            metrics_port: 8080,
            health_probe_port: 8081,
            log_level: LogLevel::Info,
            feature_gates: DEFAULT_FEATURE_GATES
                .iter()
                .map(|(name, on)| ((*name).to_owned(), *on))
                .collect(),
            disable_leader_election: false,
            leader_election_name: "karpenter-leader-election".to_owned(),
            leader_election_namespace: String::new(),
            kube_client_qps: 200,
            kube_client_burst: 300,
        }
    }
}

fn positive_duration(flag: &'static str, value: &str) -> Result<Duration, SettingsError> {
    let parsed =
        joist_core::duration::parse_go_duration(value).map_err(|e| SettingsError::Duration {
            flag,
            value: value.to_owned(),
            reason: e.to_string(),
        })?;
    if parsed.is_zero() {
        return Err(SettingsError::NotPositive {
            flag,
            value: value.to_owned(),
        });
    }
    Ok(parsed)
}

fn log_level(value: &str) -> Result<LogLevel, SettingsError> {
    match value.to_ascii_lowercase().as_str() {
        "debug" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "error" => Ok(LogLevel::Error),
        _ => Err(SettingsError::LogLevel {
            value: value.to_owned(),
        }),
    }
}

/// Upstream's gate parsing: `A=true,B=false`; spaces around entries are ignored, unnamed gates
/// keep their defaults, unknown gates and non-boolean values are errors.
fn feature_gates(value: &str) -> Result<BTreeMap<String, bool>, SettingsError> {
    let mut gates: BTreeMap<String, bool> = DEFAULT_FEATURE_GATES
        .iter()
        .map(|(name, on)| ((*name).to_owned(), *on))
        .collect();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let error = |reason: &str| SettingsError::FeatureGate {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let (name, on) = entry
            .split_once('=')
            .ok_or_else(|| error("missing bool value"))?;
        let name = name.trim();
        let slot = gates
            .get_mut(name)
            .ok_or_else(|| error("unrecognized feature gate"))?;
        *slot = match on.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(error("invalid value, must be true or false")),
        };
    }
    Ok(gates)
}

fn rate_limit(flag: &'static str, value: i64) -> Result<u32, SettingsError> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or(SettingsError::RateLimit { flag, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        flags: Flags,
    }

    fn parse(args: &[&str]) -> Result<Settings, SettingsError> {
        let cli = Cli::try_parse_from(std::iter::once("joist").chain(args.iter().copied()))
            .expect("flags parse");
        Settings::from_flags(&cli.flags)
    }

    #[test]
    fn defaults_are_upstreams() {
        // No flag given: every value is upstream's default (env vars of the test process are
        // not set for these names in CI).
        let settings = parse(&[]).expect("defaults are valid");
        assert_eq!(settings, Settings::default());
        assert!(settings.gate("ReservedCapacity"));
        assert!(!settings.gate("SpotToSpotConsolidation"));
    }

    #[test]
    fn flags_override_defaults() {
        let settings = parse(&[
            "--batch-max-duration=30s",
            "--batch-idle-duration=500ms",
            "--feature-gates=SpotToSpotConsolidation=true, ReservedCapacity=false",
            "--log-level=debug",
            "--disable-leader-election",
            "--kube-client-qps=50",
        ])
        .expect("valid");
        assert_eq!(settings.batch_max_duration, Duration::from_secs(30));
        assert_eq!(settings.batch_idle_duration, Duration::from_millis(500));
        assert!(settings.gate("SpotToSpotConsolidation"));
        assert!(!settings.gate("ReservedCapacity"));
        assert!(
            !settings.gate("StaticCapacity"),
            "unnamed gates keep defaults"
        );
        assert_eq!(settings.log_level, LogLevel::Debug);
        assert!(settings.disable_leader_election);
        assert_eq!(settings.kube_client_qps, 50);
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(&["--batch-max-duration=ten"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--batch-max-duration: invalid duration \"ten\""),
            "{err}"
        );
        let err = parse(&["--batch-idle-duration=0s"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--batch-idle-duration: \"0s\" must be greater than zero"
        );
        let err = parse(&["--batch-idle-duration=20s"]).unwrap_err();
        assert!(
            matches!(err, SettingsError::IdleLongerThanMax { .. }),
            "{err}"
        );
        let err = parse(&["--feature-gates=Teleport=true"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--feature-gates: \"Teleport=true\": unrecognized feature gate"
        );
        let err = parse(&["--feature-gates=NodeRepair=yes"]).unwrap_err();
        assert!(err.to_string().contains("must be true or false"), "{err}");
        let err = parse(&["--log-level=verbose"]).unwrap_err();
        assert!(matches!(err, SettingsError::LogLevel { .. }));
        let err = parse(&["--kube-client-burst=0"]).unwrap_err();
        assert!(matches!(
            err,
            SettingsError::RateLimit {
                flag: "kube-client-burst",
                ..
            }
        ));
        let err = parse(&["--metrics-port=9000", "--health-probe-port=9000"]).unwrap_err();
        assert_eq!(err, SettingsError::SamePort { port: 9000 });
    }
}
