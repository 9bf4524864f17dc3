//! The discrete-event loop: a virtual clock, a queue of timed events, and the cluster state they
//! change. Nothing reads the wall clock; the same scenario and seed give the same run.
//!
//! Timings follow upstream (spec core §2.1, §3, §4; spec aws §3.8, §3.9, §9):
//! * provisioning: pending pods open a batch closed after `batchIdleDuration` without new pods or
//!   `batchMaxDuration` after it opened; the solve sees every pod, node and in-flight NodeClaim;
//! * NodeClaim lifecycle: launch, registration (DaemonSet pods appear), initialization (plus the
//!   GPU device-plugin time for GPU types); a launch that hits declared insufficient capacity marks
//!   the offering unavailable for 3 minutes and, when no offering of the chosen capacity type is
//!   left, deletes the NodeClaim so its pods are solved again;
//! * disruption: a poll every 10 s runs the [`DisruptionDriver`]s in order (emptiness today); a
//!   command is validated again 15 s later, then its nodes are deleted;
//! * termination: `karpenter.sh/disrupted:NoSchedule` taint, eviction honouring PDBs until the
//!   TerminationGracePeriod (or an interruption's 2 minutes) runs out, at least 5 s of drain;
//! * expiration (`expireAfter`), spot and capacity-reservation interruptions (2-minute notice),
//!   capacity blocks drained 40 minutes before their end, static NodePools kept at `replicas`.

mod capacity;
mod disruption;
mod drivers;
mod nodes;
mod provisioning;
mod statics;
mod steps;
mod termination;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_aws::labels::{CAPACITY_RESERVATION_ID, label_aliases, well_known_labels};
use joist_core::rng::SeededRng;
use joist_core::scheduling::SchedulingSettings;
use joist_core::snapshot::Snapshot;
use thiserror::Error;

use crate::report::{Event, Report};
use crate::scenario::Scenario;

pub use disruption::PendingCommand;
pub use drivers::{
    Consolidation, ConsolidationDriver, DisruptionDriver, DriftDriver, DriverContext,
    EmptinessDriver, default_drivers,
};
pub use nodes::SimNode;

use capacity::Capacity;

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
        /// Why (unknown region, catalog error, bad subnet zones).
        reason: String,
    },
    /// A step's objects cannot be converted.
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

/// Where a run is, for a progress display: virtual time reached and the planned end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Virtual time of the event being handled.
    pub now: Duration,
    /// The end of the run as known now (moves while an open-ended run keeps changing).
    pub end: Duration,
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
    /// The node's `expireAfter` is reached.
    Expired(String),
    /// Evict what may be evicted from a deleting node.
    Drain(String),
    /// The deleting node's instance is gone.
    Terminated(String),
    /// The disruption controller's 10 s poll.
    DisruptionPoll,
    /// The 15 s validation of the pending disruption command.
    ValidateCommand,
    /// An unavailable-offerings cache entry expires.
    OfferingAvailable,
    /// A capacity block reaches end − 40 min (index into the scenario's reservations).
    BlockExpiring(usize),
    /// kube-scheduler binds what it can (after nodes initialized).
    Bind,
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
    /// Cluster state as the core sees it: pods, nodes, NodePools, instance types, PDBs.
    cluster: Snapshot,
    /// Simulator facts of each node (by name), in the order nodes were created.
    nodes: BTreeMap<String, SimNode>,
    /// Mutable copies of the scenario's objects that steps change.
    objects: steps::Objects,
    capacity: Capacity,
    settings: SchedulingSettings,
    rng: SeededRng,
    now: Duration,
    last_change: Duration,
    queue: BTreeMap<(Duration, u64), Timed>,
    sequence: u64,
    batch: Option<Batch>,
    nominated: BTreeMap<String, String>,
    reasons: BTreeMap<String, String>,
    events: Vec<Event>,
    disruption: disruption::DisruptionState,
    /// Cost of nodes already gone (dollars).
    spent: f64,
    /// Largest node count seen.
    peak_nodes: usize,
    /// Whether a [`Timed::Bind`] is queued for the current instant.
    bind_queued: bool,
    /// Every node name used so far.
    used_names: std::collections::BTreeSet<String>,
    /// When each EC2NodeClass's AMI selection last changed (drift's `since`).
    class_changed: BTreeMap<String, Duration>,
}

/// Runs `scenario` to its end with the default disruption methods (emptiness, drift, multi- and
/// single-node consolidation) and reports the end state and the timeline.
pub fn run(scenario: &Scenario, options: RunOptions) -> Result<Report, SimError> {
    run_with(scenario, options, default_drivers(), &mut |_| {})
}

/// Runs `scenario` with the given disruption methods (tried in order on each poll) and reports
/// progress to `progress` after each event.
pub fn run_with(
    scenario: &Scenario,
    options: RunOptions,
    drivers: Vec<Box<dyn DisruptionDriver>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, SimError> {
    let capacity = Capacity::new(scenario)?;
    let mut sim = Simulation {
        scenario,
        cluster: Snapshot {
            pods: scenario.pods.clone(),
            pdbs: scenario.pdbs.clone(),
            volumes: scenario.volumes.clone(),
            daemonsets: scenario.daemonsets.clone(),
            ..Snapshot::default()
        },
        nodes: BTreeMap::new(),
        objects: steps::Objects::from_scenario(scenario),
        capacity,
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
        nominated: BTreeMap::new(),
        reasons: BTreeMap::new(),
        events: Vec::new(),
        disruption: disruption::DisruptionState::new(drivers),
        spent: 0.0,
        peak_nodes: 0,
        bind_queued: false,
        used_names: std::collections::BTreeSet::new(),
        class_changed: BTreeMap::new(),
    };
    sim.start()?;
    let until = options.until.or(scenario.until);
    let end = sim.run_until(until, progress)?;
    Ok(sim.report(end))
}

impl Simulation<'_> {
    fn start(&mut self) -> Result<(), SimError> {
        self.sync_nodepools()?;
        for node in &self.scenario.nodes {
            self.add_existing_node(node);
        }
        for (index, step) in self.scenario.steps.iter().enumerate() {
            self.schedule(step.at, Timed::Step(index));
        }
        for (at, index) in Capacity::block_expiries(self.scenario) {
            self.schedule(at, Timed::BlockExpiring(index));
        }
        self.schedule(disruption::POLL_PERIOD, Timed::DisruptionPoll);
        let initial = self
            .cluster
            .pods
            .iter()
            .filter(|p| p.node_name.is_none())
            .count();
        if initial > 0 {
            self.record("pods-created", format!("{initial} pods from the scenario"));
            self.pods_arrived();
        }
        self.reconcile_static();
        Ok(())
    }

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
    fn run_until(
        &mut self,
        until: Option<Duration>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Duration, SimError> {
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
            self.cluster.now = self.time();
            if self.handle(what)? {
                self.last_change = at;
            }
            progress(Progress {
                now: at,
                end: limit,
            });
        }
    }

    /// Handles one event; returns whether it changed anything (the disruption poll and stale
    /// checks do not keep an open-ended run alive).
    fn handle(&mut self, what: Timed) -> Result<bool, SimError> {
        match what {
            Timed::Step(index) => self.step(index).map(|()| true),
            Timed::BatchCheck => Ok(self.batch_check()),
            Timed::Launched(name) => Ok(self.launched(&name)),
            Timed::Registered(name) => Ok(self.registered(&name)),
            Timed::Initialized(name) => Ok(self.initialized(&name)),
            Timed::Expired(name) => Ok(self.expired(&name)),
            Timed::Drain(name) => Ok(self.drain(&name)),
            Timed::Terminated(name) => Ok(self.terminated(&name)),
            Timed::DisruptionPoll => {
                let acted = self.disruption_poll();
                if !self.nodes.is_empty() || !self.queue.is_empty() {
                    self.schedule(self.now + disruption::POLL_PERIOD, Timed::DisruptionPoll);
                }
                Ok(acted)
            }
            Timed::ValidateCommand => Ok(self.validate_command()),
            Timed::OfferingAvailable => Ok(self.offering_available()),
            Timed::BlockExpiring(index) => Ok(self.block_expiring(index)),
            Timed::Bind => {
                self.bind_queued = false;
                self.bind(true);
                Ok(true)
            }
        }
    }

    /// The end-of-run report.
    fn report(&self, end: Duration) -> Report {
        let running: f64 = self
            .nodes
            .values()
            .map(|n| n.price * (end.saturating_sub(n.created)).as_secs_f64() / 3600.0)
            .sum();
        let nodes: Vec<&SimNode> = self.nodes.values().collect();
        Report::build(
            end,
            &nodes,
            &self.cluster.pods,
            &self.reasons,
            &self.nominated,
            self.events.clone(),
            crate::report::Totals {
                total_cost: self.spent + running,
                peak_nodes: self.peak_nodes,
            },
        )
    }
}

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;
