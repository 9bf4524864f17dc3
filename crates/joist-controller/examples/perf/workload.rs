//! The benchmark's cluster objects and clock: the NodePool, upstream's perf "basic" Deployments,
//! the watch that sees every pod Running, and the capacity counted afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::time::{Duration, Instant};

use futures::StreamExt;
use joist_controller::objects::{NodeClaimObject, NodePoolObject};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Node, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::support;

/// The namespace the Deployments run in.
pub const NAMESPACE: &str = "perf";

/// How often progress is reported while waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Upstream's perf "basic" mix: (Deployment, cpu, memory); the pods split evenly between them.
const MIX: [(&str, &str, &str); 2] = [("small", "900m", "3100Mi"), ("large", "3500m", "28Gi")];

/// Where the wait for Running ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Pods Running when it ended.
    pub running: usize,
    /// Seconds from the apply to the end.
    pub seconds: f64,
    /// Whether every pod was Running (otherwise the deadline passed).
    pub all_running: bool,
}

/// A progress sample while waiting.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Time since the apply.
    pub elapsed: Duration,
    /// Pods of the Deployments that exist.
    pub seen: usize,
    /// Of those, Running.
    pub running: usize,
}

/// NodeClaims and Nodes the controller created.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// NodeClaims of any NodePool.
    pub nodeclaims: usize,
    /// Nodes labelled with a NodePool (the kwok nodes joist launched).
    pub nodes: usize,
}

/// The general-purpose example's NodePool and EC2NodeClass, with the CPU limit raised so 5,000
/// pods of the mix fit (they need 11,000 CPUs) and consolidation off, so the run measures
/// provisioning alone.
pub async fn apply_nodepool(admin: &Client) -> Result<(), Box<dyn Error>> {
    support::apply_example(admin).await;
    let patch = serde_json::json!({
        "spec": {
            "limits": { "cpu": "100000" },
            "disruption": { "consolidateAfter": "Never" },
        }
    });
    Api::<NodePoolObject>::all(admin.clone())
        .patch("default", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Creates both Deployments of the mix with `pods` replicas between them.
pub async fn apply_deployments(admin: &Client, pods: usize) -> Result<(), Box<dyn Error>> {
    let api: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    let first_half = pods.div_ceil(2);
    for (index, (name, cpu, memory)) in MIX.into_iter().enumerate() {
        let replicas = if index == 0 {
            first_half
        } else {
            pods - first_half
        };
        api.create(
            &PostParams::default(),
            &deployment(name, replicas, cpu, memory)?,
        )
        .await?;
    }
    Ok(())
}

fn deployment(
    name: &str,
    replicas: usize,
    cpu: &str,
    memory: &str,
) -> Result<Deployment, Box<dyn Error>> {
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    let requests = BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ]);
    let container = Container {
        name: "app".to_owned(),
        image: Some(format!("registry.invalid/{name}:1")),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    };
    Ok(Deployment {
        metadata: support::named(name),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(replicas)?),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// Watches the namespace's pods until `pods` of them are Running or `deadline` (from `started`)
/// passes, calling `on_progress` every few seconds.
pub async fn await_running(
    admin: &Client,
    pods: usize,
    started: Instant,
    deadline: Duration,
    mut on_progress: impl FnMut(Progress),
) -> Result<Outcome, Box<dyn Error>> {
    let api: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let events = watcher(api, watcher::Config::default()).default_backoff();
    let mut events = std::pin::pin!(events);
    let mut state = PodStates::default();
    let mut progress = tokio::time::interval(PROGRESS_EVERY);
    let timeout = tokio::time::sleep(deadline.saturating_sub(started.elapsed()));
    let mut timeout = std::pin::pin!(timeout);
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else {
                    return Err("the pod watch ended".into());
                };
                match event {
                    Ok(event) => state.apply(event),
                    Err(err) => eprintln!("perf: pod watch error (retrying): {err}"),
                }
                if state.running.len() >= pods {
                    return Ok(state.outcome(started, true));
                }
            }
            _ = progress.tick() => on_progress(state.progress(started)),
            () = &mut timeout => return Ok(state.outcome(started, false)),
        }
    }
}

/// The pods the watch has seen and which of them are Running, by name.
#[derive(Debug, Default)]
struct PodStates {
    seen: BTreeSet<String>,
    running: BTreeSet<String>,
    /// A re-list in progress: the names it has delivered so far, which replace `seen` at its end.
    relisting: Option<Vec<Pod>>,
}

impl PodStates {
    fn apply(&mut self, event: Event<Pod>) {
        match event {
            Event::Apply(pod) => self.upsert(&pod),
            Event::Delete(pod) => {
                let name = pod.metadata.name.unwrap_or_default();
                self.seen.remove(&name);
                self.running.remove(&name);
            }
            Event::Init => self.relisting = Some(Vec::new()),
            Event::InitApply(pod) => self.relisting.get_or_insert_with(Vec::new).push(pod),
            Event::InitDone => {
                self.seen.clear();
                self.running.clear();
                for pod in self.relisting.take().unwrap_or_default() {
                    self.upsert(&pod);
                }
            }
        }
    }

    fn upsert(&mut self, pod: &Pod) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase == Some("Running") {
            self.running.insert(name.clone());
        } else {
            self.running.remove(&name);
        }
        self.seen.insert(name);
    }

    fn progress(&self, started: Instant) -> Progress {
        Progress {
            elapsed: started.elapsed(),
            seen: self.seen.len(),
            running: self.running.len(),
        }
    }

    fn outcome(&self, started: Instant, all_running: bool) -> Outcome {
        Outcome {
            running: self.running.len(),
            seconds: started.elapsed().as_secs_f64(),
            all_running,
        }
    }
}

/// Counts the NodeClaims and the NodePool-labelled Nodes.
pub async fn count_capacity(admin: &Client) -> Result<Capacity, Box<dyn Error>> {
    let nodeclaims = Api::<NodeClaimObject>::all(admin.clone())
        .list(&ListParams::default())
        .await?
        .items
        .len();
    let nodes = Api::<Node>::all(admin.clone())
        .list(&ListParams::default().labels("karpenter.sh/nodepool"))
        .await?
        .items
        .len();
    Ok(Capacity { nodeclaims, nodes })
}
