//! Wiring: the watches, the provisioner, the NodeClaim lifecycle, NodePool readiness and the
//! health probes, each a task; dropping the [`RunningController`] stops them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{Api, Client};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::index::{Hook, Index, own_watches, watch};
use crate::lifecycle::{self, Context};
use crate::objects::NodePoolObject;
use crate::provider::CloudProvider;
use crate::provisioner::batcher::Window;
use crate::provisioner::{self, Provisioner, is_provisionable};
use crate::settings::Settings;
use crate::{health, nodepool};

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
}

/// A running controller: its tasks, the index they share, and the probe address.
#[derive(Debug)]
pub struct RunningController {
    tasks: Vec<JoinHandle<()>>,
    index: Index,
    health_address: std::net::SocketAddr,
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

/// Starts every controller against `client` with `provider`.
pub async fn start<P: CloudProvider>(
    client: Client,
    settings: &Settings,
    provider: Arc<P>,
) -> Result<RunningController, StartError> {
    let (triggers, trigger_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let pod_trigger = triggers.clone();
    let on_pod: Hook<Pod> = Arc::new(move |pod: &Pod| {
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
    let (nodes, nodes_task) = watch(Api::<Node>::all(client.clone()), None);
    let (nodeclaims, lifecycle_controller) = lifecycle::controller(&client);
    let index = Index {
        pods: watches.pods,
        nodes,
        nodepools: watches.nodepools,
        nodeclaims,
        daemonsets: watches.daemonsets,
        pdbs: watches.pdbs,
        nodeclasses: watches.nodeclasses,
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

    let mut tasks: Vec<JoinHandle<()>> = watches.tasks.into_iter().map(tokio::spawn).collect();
    tasks.push(tokio::spawn(nodes_task));
    let context = Arc::new(Context {
        client: client.clone(),
        index: index.clone(),
        provider: Arc::clone(&provider),
    });
    tasks.push(tokio::spawn(lifecycle::run(lifecycle_controller, context)));
    let window = Window {
        idle: settings.batch_idle_duration,
        max: settings.batch_max_duration,
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let provisioner = Arc::new(Provisioner::new(
        client.clone(),
        index.clone(),
        provider,
        window,
        seed,
    ));
    tasks.push(tokio::spawn(provisioner.run(trigger_rx)));
    tasks.push(tokio::spawn(provisioner::retrigger(
        index.clone(),
        triggers,
    )));
    tasks.push(tokio::spawn(nodepool::run(
        client,
        index.clone(),
        nodepool_changed,
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
    })
}
