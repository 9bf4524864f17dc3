//! The discrete-event loop: a virtual clock, a queue of timed events, and the cluster state they
//! change. Nothing reads the wall clock; the same scenario and seed give the same run.
//!
//! One round: pending pods open a batch (closed after `batchIdleDuration` without new pods, at
//! most `batchMaxDuration` after it opened, as upstream's batcher); the batch's solve sees every
//! pending pod, every node and every in-flight NodeClaim; new NodeClaims are launched by the
//! [`Provider`] at once and become a registered Node after `launch + register` and an initialized
//! one after `initialize` more; the kube-scheduler stand-in ([`crate::kube`]) then binds pending
//! pods. Steps change the workload at their time.

mod nodes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_api::convert;
use joist_aws::catalog::Catalog;
use joist_aws::instancetype::{Settings, build_instance_types};
use joist_aws::labels::{CAPACITY_RESERVATION_ID, label_aliases, well_known_labels};
use joist_aws::offerings::Placement;
use joist_core::rng::SeededRng;
use joist_core::scheduling::{Plan, SchedulingSettings, solve};
use joist_core::snapshot::{Pod, Snapshot};
use thiserror::Error;

use crate::kube;
use crate::provider::Provider;
use crate::report::{Event, Report};
use crate::scenario::{Scenario, StepAction};

pub use nodes::SimNode;

/// How long nothing may change before an open-ended run stops.
pub const QUIET_PERIOD: Duration = Duration::from_secs(30 * 60);
/// The longest open-ended run.
pub const MAX_RUN: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a simulation cannot run.
#[derive(Debug, Error)]
pub enum SimError {
    /// The region's instance types cannot be built.
    #[error("region {region}: {reason}")]
    Region {
        /// The Scenario's region.
        region: String,
        /// Why (unknown region, catalog error).
        reason: String,
    },
    /// A scale step's pods cannot be converted.
    #[error("step at {at}: {reason}")]
    Step {
        /// The step's time.
        at: String,
        /// The conversion error.
        reason: String,
    },
}

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Seed of the solver's and the name generator's RNG.
    pub seed: u64,
    /// End time; overrides the Scenario's `until`.
    pub until: Option<Duration>,
}

/// Something that happens at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Timed {
    /// The Scenario's step with this index.
    Step(usize),
    /// A batch may close (stale checks are ignored).
    BatchCheck,
    /// The instance of this node is running.
    Launched(String),
    /// The Node registered.
    Registered(String),
    /// The Node is initialized.
    Initialized(String),
}

/// The open batch: when it opened and when the last pending pod joined.
#[derive(Debug, Clone, Copy)]
struct Batch {
    opened: Duration,
    last: Duration,
}

/// The simulation state.
struct Simulation<'s> {
    scenario: &'s Scenario,
    provider: Provider,
    settings: SchedulingSettings,
    rng: SeededRng,
    now: Duration,
    last_change: Duration,
    queue: BTreeMap<(Duration, u64), Timed>,
    sequence: u64,
    batch: Option<Batch>,
    pods: Vec<Pod>,
    nodes: Vec<SimNode>,
    nominated: BTreeMap<String, String>,
    reasons: BTreeMap<String, String>,
    events: Vec<Event>,
}

/// The instance types of `region`'s default zones, priced from the embedded catalog.
fn instance_types(region: &str) -> Result<Provider, SimError> {
    let error = |reason: String| SimError::Region {
        region: region.to_owned(),
        reason,
    };
    let placement = Placement::default_for_region(region).map_err(|e| error(e.to_string()))?;
    let catalog = Catalog::embedded().map_err(|e| error(e.to_string()))?;
    let settings = Settings {
        placement,
        ..Settings::default()
    };
    let types = build_instance_types(catalog, &settings).map_err(|e| error(e.to_string()))?;
    Ok(Provider::new(Arc::from(types)))
}

/// Runs `scenario` to its end and reports the end state and the timeline.
pub fn run(scenario: &Scenario, options: RunOptions) -> Result<Report, SimError> {
    let mut sim = Simulation {
        scenario,
        provider: instance_types(&scenario.region)?,
        settings: SchedulingSettings {
            preference_policy: scenario.preference_policy,
            min_values_policy: scenario.min_values_policy,
            well_known_labels: well_known_labels(),
            label_aliases: label_aliases(),
            reservation_id_label: Some(CAPACITY_RESERVATION_ID.to_owned()),
            ..SchedulingSettings::default()
        },
        rng: SeededRng::new(options.seed),
        now: Duration::ZERO,
        last_change: Duration::ZERO,
        queue: BTreeMap::new(),
        sequence: 0,
        batch: None,
        pods: scenario.pods.clone(),
        nodes: Vec::new(),
        nominated: BTreeMap::new(),
        reasons: BTreeMap::new(),
        events: Vec::new(),
    };
    for (index, step) in scenario.steps.iter().enumerate() {
        sim.schedule(step.at, Timed::Step(index));
    }
    let initial = sim.pods.iter().filter(|p| p.node_name.is_none()).count();
    if initial > 0 {
        sim.record("pods-created", format!("{initial} pods from the scenario"));
        sim.pods_arrived();
    }
    let until = options.until.or(scenario.until);
    let end = sim.run_until(until)?;
    Ok(Report::build(
        end,
        &sim.nodes,
        &sim.pods,
        &sim.reasons,
        &sim.nominated,
        sim.events,
    ))
}

impl Simulation<'_> {
    fn time(&self) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + self.now
    }

    fn schedule(&mut self, at: Duration, what: Timed) {
        self.sequence += 1;
        self.queue.insert((at, self.sequence), what);
    }

    fn record(&mut self, kind: &str, detail: String) {
        self.events.push(Event::new(self.now, kind, detail));
    }

    /// Processes events until the end; returns the end time.
    fn run_until(&mut self, until: Option<Duration>) -> Result<Duration, SimError> {
        loop {
            let limit = until.unwrap_or_else(|| (self.last_change + QUIET_PERIOD).min(MAX_RUN));
            let Some(entry) = self.queue.first_entry() else {
                return Ok(limit);
            };
            let at = entry.key().0;
            if at > limit {
                return Ok(limit);
            }
            let what = entry.remove();
            self.now = at;
            if self.handle(what)? {
                self.last_change = at;
            }
        }
    }

    /// Handles one event; returns whether it changed anything.
    fn handle(&mut self, what: Timed) -> Result<bool, SimError> {
        match what {
            Timed::Step(index) => self.step(index).map(|()| true),
            Timed::BatchCheck => Ok(self.batch_check()),
            Timed::Launched(name) => {
                self.record("node-launched", format!("instance of {name} is running"));
                Ok(true)
            }
            Timed::Registered(name) => {
                if let Some(node) = self.nodes.iter_mut().find(|n| n.name == name) {
                    node.registered = true;
                }
                self.record("node-registered", name);
                Ok(true)
            }
            Timed::Initialized(name) => {
                if let Some(node) = self.nodes.iter_mut().find(|n| n.name == name) {
                    node.initialize();
                }
                self.record("node-initialized", name);
                self.bind(true);
                Ok(true)
            }
        }
    }

    /// Pending pods appeared: open the batch or extend it.
    fn pods_arrived(&mut self) {
        let now = self.now;
        let batch = self.batch.get_or_insert(Batch {
            opened: now,
            last: now,
        });
        batch.last = now;
        let close =
            (now + self.scenario.batching.idle).min(batch.opened + self.scenario.batching.max);
        self.schedule(close, Timed::BatchCheck);
    }

    fn batch_check(&mut self) -> bool {
        let Some(batch) = self.batch else {
            return false;
        };
        let batching = self.scenario.batching;
        if self.now < batch.last + batching.idle && self.now < batch.opened + batching.max {
            return false;
        }
        self.batch = None;
        self.provision();
        true
    }

    /// Runs the solver on the current state and acts on its plan.
    fn provision(&mut self) {
        let snapshot = Snapshot {
            now: self.time(),
            pods: self.pods.clone(),
            nodes: self.nodes.iter().map(SimNode::to_snapshot).collect(),
            nodepools: self.scenario.nodepools.clone(),
            instance_types: self
                .scenario
                .nodepools
                .iter()
                .map(|p| (p.name.clone(), Arc::clone(self.provider.instance_types())))
                .collect(),
            daemonsets: self.scenario.daemonsets.clone(),
            pdbs: self.scenario.pdbs.clone(),
            volumes: self.scenario.volumes.clone(),
            ..Snapshot::default()
        };
        let plan = solve(&snapshot, &self.settings, &mut self.rng);
        let pending = self.pods.iter().filter(|p| p.node_name.is_none()).count();
        self.record(
            "provisioning",
            format!(
                "solved {pending} pending pods: {} new nodeclaims, {} pods nominated to existing nodes, {} unschedulable",
                plan.new_nodeclaims.len(),
                plan.nominations.len(),
                plan.unschedulable.len() + plan.ignored.len()
            ),
        );
        self.apply(&plan);
        // Pods the plan nominated to nodes that are already up bind at once; the ones that do
        // not fit wait for the next change rather than re-solving in a loop.
        self.bind(false);
    }

    fn apply(&mut self, plan: &Plan) {
        for pod in self.pods.iter().filter(|p| p.node_name.is_none()) {
            self.nominated.remove(&pod.key());
        }
        for nomination in &plan.nominations {
            let key = self.pods[nomination.pod].key();
            self.reasons.remove(&key);
            self.nominated.insert(key, nomination.node.clone());
        }
        for nodeclaim in &plan.new_nodeclaims {
            self.launch(nodeclaim);
        }
        for unschedulable in &plan.unschedulable {
            let key = self.pods[unschedulable.pod].key();
            self.reasons
                .insert(key, unschedulable.explanation.message.clone());
        }
        if let Some(first) = plan.unschedulable.first() {
            let detail = format!(
                "{} pods cannot be scheduled; {}: {}",
                plan.unschedulable.len(),
                self.pods[first.pod].key(),
                first.explanation.message
            );
            self.record("unschedulable", detail);
        }
        for ignored in &plan.ignored {
            let key = self.pods[ignored.pod].key();
            self.reasons.insert(key, ignored.message.clone());
        }
        for &deferred in &plan.deferred {
            let key = self.pods[deferred].key();
            self.reasons
                .insert(key, "waiting for reserved capacity".to_owned());
        }
        for (nodepool, reason) in plan
            .skipped_nodepools
            .iter()
            .map(|s| (s.nodepool.clone(), s.reason.clone()))
        {
            self.record("nodepool-skipped", format!("{nodepool}: {reason}"));
        }
    }

    /// Binds what kube-scheduler would bind now and records it per node. With `retry_stranded`,
    /// pods whose nominated node is up but full go back to the provisioner.
    fn bind(&mut self, retry_stranded: bool) {
        let nodes: Vec<_> = self.nodes.iter().map(SimNode::to_snapshot).collect();
        let bound = kube::bind_pending(&mut self.pods, &nodes, &self.nominated);
        let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
        for (index, node) in bound {
            let key = self.pods[index].key();
            self.nominated.remove(&key);
            self.reasons.remove(&key);
            *per_node.entry(node).or_default() += 1;
        }
        for (node, count) in per_node {
            self.record("pods-bound", format!("{count} pods bound to {node}"));
        }
        // Pods whose nominated node is up but could not take them go back to the provisioner.
        let stranded = self.pods.iter().any(|p| {
            p.node_name.is_none()
                && self.nominated.get(&p.key()).is_some_and(|n| {
                    self.nodes
                        .iter()
                        .any(|node| &node.name == n && node.initialized)
                })
        });
        if retry_stranded && stranded {
            self.pods_arrived();
        }
    }

    /// Applies a scale step: creates the missing replicas, deletes the surplus.
    fn step(&mut self, index: usize) -> Result<(), SimError> {
        let step = &self.scenario.steps[index];
        let StepAction::Scale {
            namespace,
            deployment,
            replicas,
        } = &step.action;
        let Some(found) = self.scenario.deployments.iter().find(|d| {
            d.metadata.name.as_deref() == Some(deployment.as_str())
                && d.metadata
                    .namespace
                    .as_deref()
                    .unwrap_or(&self.scenario.convert_options.default_namespace)
                    == namespace
        }) else {
            // The loader checked every scale step's Deployment; nothing to do otherwise.
            return Ok(());
        };
        let mut scaled = found.clone();
        if let Some(spec) = scaled.spec.as_mut() {
            spec.replicas = Some(*replicas);
        }
        let mut options = self.scenario.convert_options.clone();
        options.default_creation_timestamp = self.time();
        let failed = |e: &dyn std::fmt::Display| SimError::Step {
            at: crate::report::format_time(step.at),
            reason: e.to_string(),
        };
        let wanted = convert::expand_deployment(&scaled, &options).map_err(|e| failed(&e))?;
        let wanted = wanted
            .iter()
            .map(|p| convert::pod(p, &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&e))?;
        let replica_set = found.spec.as_ref().map(|spec| {
            format!(
                "{deployment}-{}",
                convert::pod_template_hash(&spec.template)
            )
        });
        let what = format!("Deployment {namespace}/{deployment}");
        self.reconcile_replicas(wanted, replica_set.as_deref(), namespace, &what, *replicas);
        Ok(())
    }

    /// Makes the pods of `replica_set` in `namespace` exactly `wanted`: missing ones are created,
    /// others deleted (with their nominations and reasons).
    fn reconcile_replicas(
        &mut self,
        wanted: Vec<Pod>,
        replica_set: Option<&str>,
        namespace: &str,
        what: &str,
        replicas: i32,
    ) {
        let keys: std::collections::BTreeSet<String> = wanted.iter().map(Pod::key).collect();
        let before = self.pods.len();
        let owned = |p: &Pod| {
            p.namespace == namespace
                && p.owner
                    .as_ref()
                    .is_some_and(|o| o.kind == "ReplicaSet" && Some(o.name.as_str()) == replica_set)
        };
        self.pods.retain(|p| !owned(p) || keys.contains(&p.key()));
        let removed = before - self.pods.len();
        let existing: std::collections::BTreeSet<String> = self.pods.iter().map(Pod::key).collect();
        let added: Vec<Pod> = wanted
            .into_iter()
            .filter(|p| !existing.contains(&p.key()))
            .collect();
        let created = added.len();
        self.pods.extend(added);
        let live: std::collections::BTreeSet<String> = self.pods.iter().map(Pod::key).collect();
        self.nominated.retain(|k, _| live.contains(k));
        self.reasons.retain(|k, _| live.contains(k));
        self.record(
            "scale",
            format!("{what} to {replicas} replicas: {created} pods created, {removed} deleted"),
        );
        if created > 0 {
            self.bind(true);
            if self.pods.iter().any(|p| p.node_name.is_none()) {
                self.pods_arrived();
            }
        }
    }
}

#[cfg(test)]
mod tests;
