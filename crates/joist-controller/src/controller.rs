//! Wiring: the watches, the provisioner, the NodeClaim lifecycle, node termination, the
//! disruption loop, NodePool readiness and counters, garbage collection and the health probes,
//! each a task; dropping the [`RunningController`] stops them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::disruption::{Disruption, PodEvents, consolidation_settings};
use crate::events::Recorder;
use crate::index::{Hook, Index, own_watches};
use crate::lifecycle::{self, Context};
use crate::metrics::{self, Metrics};
use crate::objects::NodePoolObject;
use crate::provider::CloudProvider;
use crate::provisioner::batcher::Window;
use crate::provisioner::{self, Provisioner, is_provisionable};
use crate::settings::Settings;
use crate::{garbage_collection, health, node_termination, nodepool, nodepool_counter};

/// Why the controller could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The health probe port cannot be bound.
    #[error("binding the health probe port {port}: {source}")]
    HealthPort {
        /// The port.
        port: u16,
        /// The bind error.
        source: std::io::Error,
    },
    /// The metrics port cannot be bound.
    #[error("binding the metrics port {port}: {source}")]
    MetricsPort {
        /// The port.
        port: u16,
        /// The bind error.
        source: std::io::Error,
    },
    /// No client can be built from the configuration.
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The drain's client cannot be built.
    #[error("drain client: {0}")]
    Drain(#[from] crate::termination::DrainError),
}

/// A running controller: its tasks, the index they share, and the probe address.
#[derive(Debug)]
pub struct RunningController {
    tasks: Vec<JoinHandle<()>>,
    index: Index,
    health_address: std::net::SocketAddr,
    metrics_address: std::net::SocketAddr,
    metrics: Arc<Metrics>,
}

impl RunningController {
    /// The index the controller decides from.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Where `/healthz` and `/readyz` are served.
    pub fn health_address(&self) -> std::net::SocketAddr {
        self.health_address
    }

    /// Where `/metrics` is served.
    pub fn metrics_address(&self) -> std::net::SocketAddr {
        self.metrics_address
    }

    /// The metrics the controller records.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs until one of the tasks ends (none does unless it fails) or the future is dropped.
    pub async fn wait(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        let _ = futures::future::select_all(tasks).await;
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The instance name on the events (`reportingInstance`, `source.host`): `POD_NAME` when set,
/// else `HOSTNAME` (the kubelet sets it to the pod's name).
fn event_host() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "joist".to_owned())
}

/// Starts every controller against the cluster `config` describes, with `provider`, as the only
/// replica (no leader election; see [`start_gated`]).
///
/// Takes the configuration rather than a client because the drain needs a second client with
/// kube's 429 retry turned off: with it, every eviction a PDB refuses stalls for minutes.
pub async fn start<P: CloudProvider>(
    config: kube::Config,
    settings: &Settings,
    provider: Arc<P>,
) -> Result<RunningController, StartError> {
    let (_always, leading) = watch::channel(true);
    start_gated(config, settings, provider, leading).await
}

/// Waits until `leading` is `true`, then runs `work`. Watches, probes and metrics run on every
/// replica (a standby keeps warm caches and passes its probes, as with controller-runtime);
/// everything that writes to the cluster runs only on the leader.
async fn when_leading(mut leading: watch::Receiver<bool>, work: impl Future<Output = ()>) {
    if leading.wait_for(|leads| *leads).await.is_ok() {
        work.await;
    }
}

/// Like [`start`], with the controllers that act on the cluster held back until `leading` turns
/// `true`. Losing leadership later is the caller's to handle (upstream exits the process).
pub async fn start_gated<P: CloudProvider>(
    config: kube::Config,
    settings: &Settings,
    provider: Arc<P>,
    leading: watch::Receiver<bool>,
) -> Result<RunningController, StartError> {
    let client = Client::try_from(config.clone())?;
    let drainer = crate::termination::Drainer::from_config(config)?;
    let (triggers, trigger_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let pod_trigger = triggers.clone();
    let pod_events = PodEvents::default();
    let observed = pod_events.clone();
    let on_pod: Hook<Pod> = Arc::new(move |pod: &Pod| {
        observed.observe(pod, chrono::Utc::now());
        if is_provisionable(pod)
            && let Some(uid) = pod.metadata.uid.clone()
        {
            // The provisioner only stops when the controller does.
            let _ = pod_trigger.send(uid);
        }
    });
    let nodepool_changed = Arc::new(Notify::new());
    let notify = Arc::clone(&nodepool_changed);
    let on_nodepool: Hook<NodePoolObject> = Arc::new(move |_| notify.notify_one());
    let watches = own_watches(&client, on_pod, on_nodepool);
    let (nodes, termination_controller) = node_termination::controller(&client);
    let (nodeclaims, lifecycle_controller) = lifecycle::controller(&client);
    let index = Index {
        pods: watches.pods,
        nodes,
        nodepools: watches.nodepools,
        nodeclaims,
        daemonsets: watches.daemonsets,
        pdbs: watches.pdbs,
        nodeclasses: watches.nodeclasses,
        storage: watches.storage,
    };
    let listener = TcpListener::bind(("0.0.0.0", settings.health_probe_port))
        .await
        .map_err(|source| StartError::HealthPort {
            port: settings.health_probe_port,
            source,
        })?;
    let health_address = listener
        .local_addr()
        .map_err(|source| StartError::HealthPort {
            port: settings.health_probe_port,
            source,
        })?;
    let ready = Arc::new(AtomicBool::new(false));
    let metrics_error = |source| StartError::MetricsPort {
        port: settings.metrics_port,
        source,
    };
    let metrics_listener = TcpListener::bind(("0.0.0.0", settings.metrics_port))
        .await
        .map_err(metrics_error)?;
    let metrics_address = metrics_listener.local_addr().map_err(metrics_error)?;
    let metrics = Arc::new(Metrics::default());
    // One recorder for every controller, as upstream: one dedupe cache, one `Nominated` limit.
    let recorder = Arc::new(Recorder::new(client.clone(), event_host()));

    let mut tasks: Vec<JoinHandle<()>> = watches.tasks.into_iter().map(tokio::spawn).collect();
    let context = Arc::new(Context {
        client: client.clone(),
        index: index.clone(),
        provider: Arc::clone(&provider),
        metrics: Arc::clone(&metrics),
        registrations_counted: std::sync::Mutex::default(),
    });
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        lifecycle::run(lifecycle_controller, Arc::clone(&context)),
    )));
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        node_termination::run(
            termination_controller,
            Arc::new(
                node_termination::TerminationContext::new(context, drainer)
                    .observed_by(Arc::clone(&recorder), Arc::clone(&metrics)),
            ),
        ),
    )));
    let window = Window {
        idle: settings.batch_idle_duration,
        max: settings.batch_max_duration,
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let nominations = crate::provisioner::nominations::Nominations::default();
    let provisioner = Arc::new(
        Provisioner::new(
            client.clone(),
            index.clone(),
            Arc::clone(&provider),
            window,
            seed,
            Arc::clone(&metrics),
            Arc::clone(&recorder),
        )
        .with_nominations(nominations.clone()),
    );
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        provisioner.run(trigger_rx),
    )));
    let disruption = Disruption::new(
        client.clone(),
        index.clone(),
        Arc::clone(&provider),
        pod_events,
        settings.disruption_validation_delay,
        consolidation_settings(settings.gate("SpotToSpotConsolidation")),
        seed,
    )
    .observed_by(recorder, Arc::clone(&metrics))
    .with_nominations(nominations);
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        disruption.run(),
    )));
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        provisioner::retrigger(index.clone(), triggers),
    )));
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        nodepool::run(client.clone(), index.clone(), nodepool_changed),
    )));
    tasks.push(tokio::spawn(when_leading(
        leading.clone(),
        nodepool_counter::run(client.clone(), index.clone()),
    )));
    tasks.push(tokio::spawn(when_leading(
        leading,
        garbage_collection::run(client, index.clone(), Arc::clone(&provider)),
    )));
    tasks.push(tokio::spawn(metrics::serve(
        metrics_listener,
        Arc::clone(&metrics),
    )));
    tasks.push(tokio::spawn(health::serve(listener, Arc::clone(&ready))));
    let synced = index.clone();
    tasks.push(tokio::spawn(async move {
        synced.wait_until_ready().await;
        ready.store(true, Ordering::Relaxed);
        tracing::info!("informers synced");
        // Stays up so that `wait` only returns when a real task ends.
        std::future::pending::<()>().await;
    }));
    Ok(RunningController {
        tasks,
        index,
        health_address,
        metrics_address,
        metrics,
    })
}
