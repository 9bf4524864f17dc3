//! Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics (spec core §7:
//! Lease `karpenter-leader-election`, release on cancel). One replica holds the Lease and
//! renews it every retry period; the others poll and take it once it has not changed for a
//! lease duration (measured on their own clock, as client-go does, so clock skew does not
//! matter) or once the holder released it. A holder that cannot renew within the renew
//! deadline stops leading: the caller must stop its work (upstream exits the process).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::settings::Settings;

/// Where in-cluster pods find their namespace.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// client-go's jitter factor on the acquire loop's retry period.
const JITTER_FACTOR: f64 = 1.2;

/// Why leader election could not start or ended.
#[derive(Debug, Error)]
pub enum LeaderError {
    /// No namespace for the Lease: no flag, no `SYSTEM_NAMESPACE`, not in a pod.
    #[error(
        "leader election namespace unknown: set --leader-election-namespace, LEADER_ELECTION_NAMESPACE or SYSTEM_NAMESPACE"
    )]
    NoNamespace,
    /// The durations break client-go's rules.
    #[error("invalid leader election timing: {0}")]
    Timing(&'static str),
    /// The Lease could not be renewed within the renew deadline, or another holder took it.
    #[error("leader election lost: lease {namespace}/{name} not renewed by {identity}")]
    Lost {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// This replica's identity.
        identity: String,
    },
    /// Releasing the Lease on shutdown failed (the others then wait for it to expire).
    #[error("releasing lease {name}: {source}")]
    Release {
        /// The Lease's name.
        name: String,
        /// The client's error.
        source: kube::Error,
    },
    /// The election task panicked or was cancelled.
    #[error("leader election task ended abnormally: {0}")]
    Task(String),
}

/// The Lease and the timing of one elector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// The Lease's name (`--leader-election-name`).
    pub lease_name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// `holderIdentity` written by this replica: unique per process.
    pub identity: String,
    /// How long a Lease is valid after its last observed change (client-go default 15 s).
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it gives up leading (10 s).
    pub renew_deadline: Duration,
    /// How often electors try to acquire or renew (2 s).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// client-go's defaults for a Lease, in `namespace`, under a fresh identity.
    pub fn new(lease_name: impl Into<String>, namespace: impl Into<String>) -> Self {
        LeaderElectionConfig {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// The configuration the settings ask for: their Lease name, and the namespace from
    /// `--leader-election-namespace`, else `SYSTEM_NAMESPACE`, else the pod's own namespace.
    ///
    /// # Errors
    /// [`LeaderError::NoNamespace`] when none of those gives one.
    pub fn from_settings(settings: &Settings) -> Result<Self, LeaderError> {
        let system_namespace = std::env::var("SYSTEM_NAMESPACE").ok();
        let pod_namespace = std::fs::read_to_string(Path::new(SERVICE_ACCOUNT_NAMESPACE)).ok();
        let namespace = resolve_namespace(
            &settings.leader_election_namespace,
            system_namespace.as_deref(),
            pod_namespace.as_deref(),
        )?;
        Ok(Self::new(settings.leader_election_name.clone(), namespace))
    }

    /// Checks client-go's ordering: lease duration > renew deadline > jittered retry period.
    ///
    /// # Errors
    /// [`LeaderError::Timing`].
    pub fn validate(&self) -> Result<(), LeaderError> {
        if self.lease_duration <= self.renew_deadline {
            return Err(LeaderError::Timing(
                "lease duration must be greater than renew deadline",
            ));
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return Err(LeaderError::Timing(
                "renew deadline must be greater than retry period × 1.2",
            ));
        }
        if self.retry_period.is_zero() {
            return Err(LeaderError::Timing(
                "retry period must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// The first non-empty of: the flag, `SYSTEM_NAMESPACE`, the pod's namespace file.
pub fn resolve_namespace(
    flag: &str,
    system_namespace: Option<&str>,
    pod_namespace: Option<&str>,
) -> Result<String, LeaderError> {
    [Some(flag), system_namespace, pod_namespace]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|namespace| !namespace.is_empty())
        .map(str::to_owned)
        .ok_or(LeaderError::NoNamespace)
}

/// `<pod name or hostname>_<random hex>`, as controller-runtime builds its identity: the
/// suffix keeps a restarted pod with the same name from inheriting its predecessor's Lease.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "joist".to_owned());
    format!("{host}_{:016x}", random_u64())
}

/// Random bits from the standard library's per-process random hash keys.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_i128(Timestamp::now().as_nanosecond());
    hasher.finish()
}

// === impl LeaderElector ===

/// The Lease record as last seen, and when (on the local clock) it last changed.
#[derive(Debug, Clone)]
struct Observed {
    spec: LeaseSpec,
    changed_at: Instant,
}

/// Runs the election for one replica.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    observed: Option<Observed>,
}

/// What the caller holds while the election runs.
#[derive(Debug)]
pub struct LeaderHandle {
    is_leader: watch::Receiver<bool>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), LeaderError>>,
}

impl LeaderHandle {
    /// A receiver of "this replica leads now": becomes `true` once the Lease is acquired and
    /// `false` when leadership is lost or released. Work must stop when it turns `false`.
    pub fn is_leader(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }

    /// Waits until this replica leads (or the election ended, then `false`).
    pub async fn wait_for_leadership(&mut self) -> bool {
        self.is_leader.wait_for(|leads| *leads).await.is_ok()
    }

    /// Stops the election cleanly: if leading, releases the Lease (empty `holderIdentity`) so
    /// another replica takes over at once.
    ///
    /// # Errors
    /// [`LeaderError::Release`] or the error that had already ended the election.
    pub async fn release(self) -> Result<(), LeaderError> {
        // The task may already have ended (lost lease); its result says so below.
        let _ = self.shutdown.send(true);
        self.task
            .await
            .map_err(|err| LeaderError::Task(err.to_string()))?
    }

    /// Stops the election without releasing, as a crash would: the Lease expires on its own.
    pub fn abort(self) {
        self.task.abort();
    }
}

impl LeaderElector {
    /// An elector for `config`'s Lease through `client`.
    ///
    /// # Errors
    /// [`LeaderError::Timing`] when the durations break client-go's rules.
    pub fn new(client: kube::Client, config: LeaderElectionConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        let api = Api::namespaced(client, &config.namespace);
        Ok(LeaderElector {
            api,
            config,
            observed: None,
        })
    }

    /// Starts the election in a background task.
    pub fn spawn(self) -> LeaderHandle {
        let (leader_tx, is_leader) = watch::channel(false);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(self.run(leader_tx, shutdown_rx));
        LeaderHandle {
            is_leader,
            shutdown,
            task,
        }
    }

    async fn run(
        mut self,
        leader: watch::Sender<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), LeaderError> {
        tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "attempting to acquire leader lease");
        loop {
            if self.attempt().await {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(self.acquire_wait()) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
        tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "successfully acquired lease");
        leader.send_replace(true);
        let result = self.renew_until_shutdown(&mut shutdown).await;
        leader.send_replace(false);
        result
    }

    /// Renews every retry period until shutdown (then releases) or until the renew deadline
    /// passes without a successful renewal.
    async fn renew_until_shutdown(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), LeaderError> {
        let mut renewed_at = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.retry_period) => {}
                _ = shutdown.changed() => return self.release().await,
            }
            if self.attempt().await {
                renewed_at = Instant::now();
            } else if self.someone_else_holds()
                || renewed_at.elapsed() >= self.config.renew_deadline
            {
                tracing::info!(lease = %self.config.lease_name, "leader election lost");
                return Err(LeaderError::Lost {
                    namespace: self.config.namespace.clone(),
                    name: self.config.lease_name.clone(),
                    identity: self.config.identity.clone(),
                });
            }
        }
    }

    /// How long to wait before the next acquire attempt: the jittered retry period, cut short
    /// when the observed Lease expires sooner (so takeover does not wait for the jitter).
    fn acquire_wait(&self) -> Duration {
        let fraction = (random_u64() >> 11) as f64 / (1_u64 << 53) as f64;
        let jittered = self
            .config
            .retry_period
            .mul_f64(1.0 + fraction * JITTER_FACTOR);
        let until_expiry = self.observed.as_ref().map(|observed| {
            (observed.changed_at + self.config.lease_duration)
                .saturating_duration_since(Instant::now())
                + Duration::from_millis(10)
        });
        until_expiry.map_or(jittered, |until| until.min(jittered))
    }

    fn someone_else_holds(&self) -> bool {
        self.observed.as_ref().is_some_and(|observed| {
            let holder = observed.spec.holder_identity.as_deref().unwrap_or_default();
            !holder.is_empty() && holder != self.config.identity
        })
    }

    /// One try, bounded by the renew deadline; a failed call counts as "not acquired".
    async fn attempt(&mut self) -> bool {
        match tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew()).await {
            Ok(Ok(acquired)) => acquired,
            Ok(Err(err)) => {
                tracing::error!(lease = %self.config.lease_name, error = %err, "error retrieving or updating lease");
                false
            }
            Err(_) => false,
        }
    }

    /// client-go's `tryAcquireOrRenew`: create the Lease if missing; otherwise take or renew
    /// it unless another holder's record changed less than a lease duration ago. Writes use
    /// the read resourceVersion, so two electors cannot both win.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let Some(lease) = self.api.get_opt(&self.config.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(now.clone(), now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(created.spec.unwrap_or_default());
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(spec.clone());
        let holder = spec.holder_identity.as_deref().unwrap_or_default();
        let held_by_me = holder == self.config.identity;
        if !holder.is_empty() && !held_by_me && !self.observed_expired() {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or_default();
        let record = if held_by_me {
            self.record(
                spec.acquire_time.unwrap_or_else(|| now.clone()),
                now,
                transitions,
            )
        } else {
            self.record(now.clone(), now, transitions + 1)
        };
        let updated = Lease {
            metadata: lease.metadata,
            spec: Some(record),
        };
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &updated)
            .await
        {
            Ok(written) => {
                self.observe(written.spec.unwrap_or_default());
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Client-go's release: empty holder, 1 s duration, so the others take over at once.
    async fn release(&mut self) -> Result<(), LeaderError> {
        let release_error = |source| LeaderError::Release {
            name: self.config.lease_name.clone(),
            source,
        };
        let Some(lease) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(release_error)?
        else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(Timestamp::now());
        let released = LeaseSpec {
            holder_identity: Some(String::new()),
            lease_duration_seconds: Some(1),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..spec
        };
        let updated = Lease {
            metadata: lease.metadata,
            spec: Some(released),
        };
        let release_error = |source| LeaderError::Release {
            name: self.config.lease_name.clone(),
            source,
        };
        self.api
            .replace(&self.config.lease_name, &PostParams::default(), &updated)
            .await
            .map_err(release_error)?;
        tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "released leader lease");
        Ok(())
    }

    fn record(
        &self,
        acquire_time: MicroTime,
        renew_time: MicroTime,
        transitions: i32,
    ) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.config.lease_duration.as_secs())
                    .unwrap_or(i32::MAX)
                    .max(1),
            ),
            acquire_time: Some(acquire_time),
            renew_time: Some(renew_time),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Remembers the record; the expiry clock restarts only when it changed.
    fn observe(&mut self, spec: LeaseSpec) {
        if self
            .observed
            .as_ref()
            .is_none_or(|observed| observed.spec != spec)
        {
            self.observed = Some(Observed {
                spec,
                changed_at: Instant::now(),
            });
        }
    }

    fn observed_expired(&self) -> bool {
        self.observed
            .as_ref()
            .is_none_or(|observed| observed.changed_at.elapsed() >= self.config.lease_duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_comes_from_the_flag_then_system_namespace_then_the_pod() {
        assert_eq!(
            resolve_namespace("kube-system", Some("karpenter"), Some("pod")).ok(),
            Some("kube-system".to_owned())
        );
        assert_eq!(
            resolve_namespace("", Some("karpenter"), Some("pod")).ok(),
            Some("karpenter".to_owned())
        );
        assert_eq!(
            resolve_namespace("", Some(""), Some("pod-ns\n")).ok(),
            Some("pod-ns".to_owned())
        );
        assert!(matches!(
            resolve_namespace("", None, None),
            Err(LeaderError::NoNamespace)
        ));
    }

    #[test]
    fn identities_are_unique_per_elector() {
        let first = default_identity();
        let second = default_identity();
        assert_ne!(first, second);
        let (_, suffix) = first.rsplit_once('_').expect("suffix");
        assert_eq!(suffix.len(), 16);
    }

    #[test]
    fn defaults_are_client_gos_and_timing_is_validated() {
        let config = LeaderElectionConfig::new("karpenter-leader-election", "kube-system");
        assert_eq!(
            (
                config.lease_duration,
                config.renew_deadline,
                config.retry_period
            ),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(2)
            )
        );
        assert!(config.validate().is_ok());
        let short_lease = LeaderElectionConfig {
            lease_duration: Duration::from_secs(10),
            ..config.clone()
        };
        assert!(matches!(
            short_lease.validate(),
            Err(LeaderError::Timing(_))
        ));
        let slow_retry = LeaderElectionConfig {
            retry_period: Duration::from_secs(9),
            ..config
        };
        assert!(matches!(slow_retry.validate(), Err(LeaderError::Timing(_))));
    }
}
