//! The disruption controller's loop (spec core §4.1, §4.11): every 10 s the methods are tried in
//! order and the first that returns a command wins the pass; the command is validated again 15 s
//! later and its nodes are then deleted (graceful drain, see `termination`).
//!
//! Methods plug in as [`DisruptionDriver`]s fed a [`DisruptionInput`] built from the simulated
//! cluster. Emptiness ([`EmptinessDriver`], `joist_core::disruption::empty_command`) is the only
//! one today; drift and consolidation drivers slot in after it in upstream's order.
//!
//! Like upstream's consolidation state (§4.16), a pass is skipped while nothing changed since the
//! last pass that found nothing to do, for at most 5 minutes; here the count of consolidatable
//! nodes is part of the state, so a node reaching `consolidateAfter` is noticed on the next poll.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_core::disruption::{
    Command, DisruptionInput, NodeDisruptionState, PdbStatus, PoolDisruption, empty_command,
    eviction_cost, is_consolidatable, validate_empty_command,
};

use super::termination::pdb_allowances;
use super::{Simulation, Timed};

/// The disruption controller's polling period.
pub(crate) const POLL_PERIOD: Duration = Duration::from_secs(10);
/// Upstream's `commandValidationDelay`.
pub(crate) const VALIDATION_DELAY: Duration = Duration::from_secs(15);
/// Upstream refreshes its consolidation state at least this often.
const STATE_REFRESH: Duration = Duration::from_secs(5 * 60);

/// One disruption method as the simulator drives it.
pub trait DisruptionDriver {
    /// The method's name for the timeline (`emptiness`, `drift`, `multi-node consolidation`).
    fn method(&self) -> &str;
    /// Decides on one pass; `None` when the method has nothing to do.
    fn decide(&mut self, input: &DisruptionInput<'_>) -> Option<Command>;
    /// Re-checks `command` on the state 15 s later; the command to execute (possibly a subset),
    /// or why it is abandoned.
    fn validate(
        &mut self,
        input: &DisruptionInput<'_>,
        command: &Command,
    ) -> Result<Command, String>;
}

/// The Empty method (spec core §4.4) from `joist_core::disruption`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptinessDriver;

impl DisruptionDriver for EmptinessDriver {
    fn method(&self) -> &str {
        "emptiness"
    }

    fn decide(&mut self, input: &DisruptionInput<'_>) -> Option<Command> {
        if !may_have_empty_candidate(input) {
            return None;
        }
        empty_command(input).command
    }

    fn validate(
        &mut self,
        input: &DisruptionInput<'_>,
        command: &Command,
    ) -> Result<Command, String> {
        validate_empty_command(input, command).map_err(|e| e.to_string())
    }
}

/// A cheap necessary condition for the Empty method to act: some consolidatable node hosts no
/// pod that would count against emptiness (a reschedulable pod with a positive eviction cost,
/// spec core §4.2). Building the candidate set costs far more on large clusters, and most polls
/// have no empty node.
fn may_have_empty_candidate(input: &DisruptionInput<'_>) -> bool {
    let mut occupied: BTreeSet<&str> = BTreeSet::new();
    for pod in &input.snapshot.pods {
        if let Some(node) = pod.node_name.as_deref()
            && !pod.is_daemonset_pod()
            && !pod.is_mirror_pod()
            && !pod.is_terminal()
            && eviction_cost(pod) > 0.0
        {
            occupied.insert(node);
        }
    }
    input
        .nodes
        .iter()
        .any(|(name, state)| state.consolidatable && !occupied.contains(name.as_str()))
}

/// A command waiting for its validation.
#[derive(Debug, Clone)]
pub struct PendingCommand {
    /// Index of the driver that decided it.
    pub driver: usize,
    /// The command.
    pub command: Command,
}

/// The loop's state.
pub(super) struct DisruptionState {
    drivers: Vec<Box<dyn DisruptionDriver>>,
    /// Bumped by every change disruption decisions depend on.
    version: u64,
    /// `(version, consolidatable nodes, when)` of the last pass that found nothing to do.
    last_noop: Option<(u64, usize, Duration)>,
    pending: Option<PendingCommand>,
}

impl DisruptionState {
    pub(super) fn new(drivers: Vec<Box<dyn DisruptionDriver>>) -> Self {
        Self {
            drivers,
            version: 0,
            last_noop: None,
            pending: None,
        }
    }

    /// Something disruption depends on changed.
    pub(super) fn bump(&mut self) {
        self.version += 1;
    }
}

/// The facts a [`DisruptionInput`] borrows, built from the simulation.
struct Facts {
    nodes: BTreeMap<String, NodeDisruptionState>,
    pools: BTreeMap<String, PoolDisruption>,
    pdb_status: BTreeMap<(String, String), PdbStatus>,
    pod_start_times: BTreeMap<String, DateTime<Utc>>,
    unready_pods: BTreeSet<String>,
}

impl Simulation<'_> {
    fn at(&self, time: Duration) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + time
    }

    /// How many nodes are `Consolidatable` now (§4.3).
    fn consolidatable(&self) -> BTreeSet<&str> {
        let default = PoolDisruption::default();
        self.nodes
            .values()
            .filter(|node| {
                let pool = self
                    .objects
                    .pool_disruption
                    .get(&node.nodepool)
                    .unwrap_or(&default);
                is_consolidatable(
                    &pool.consolidate_after,
                    node.initialized_at.map(|t| self.at(t)),
                    node.last_pod_event.map(|t| self.at(t)),
                    self.cluster.now,
                )
            })
            .map(|node| node.name.as_str())
            .collect()
    }

    fn facts(&self) -> Facts {
        let consolidatable = self.consolidatable();
        let pending: BTreeSet<&str> = self
            .disruption
            .pending
            .iter()
            .flat_map(|p| p.command.candidates.iter().map(|c| c.node.as_str()))
            .collect();
        let nodes = self
            .nodes
            .values()
            .map(|node| {
                let state = NodeDisruptionState {
                    annotations: BTreeMap::new(),
                    ready: node.initialized,
                    instance_terminating: node.deletion.is_some(),
                    consolidatable: consolidatable.contains(node.name.as_str()),
                    queued: node.deletion.is_some() || pending.contains(node.name.as_str()),
                    created: Some(self.at(node.created)),
                };
                (node.name.clone(), state)
            })
            .collect();
        let pdb_status = self
            .cluster
            .pdbs
            .iter()
            .zip(pdb_allowances(&self.cluster))
            .map(|(pdb, allowed)| {
                let status = PdbStatus {
                    disruptions_allowed: allowed,
                    always_allow_unhealthy: false,
                };
                ((pdb.namespace.clone(), pdb.name.clone()), status)
            })
            .collect();
        Facts {
            nodes,
            pools: self.objects.pool_disruption.clone(),
            pdb_status,
            pod_start_times: BTreeMap::new(),
            unready_pods: BTreeSet::new(),
        }
    }

    /// The 10 s poll: runs the drivers in order unless nothing changed since the last idle pass.
    pub(super) fn disruption_poll(&mut self) -> bool {
        if self.disruption.pending.is_some() || self.nodes.is_empty() {
            return false;
        }
        let key = (self.disruption.version, self.consolidatable().len());
        if let Some((version, count, when)) = self.disruption.last_noop
            && (version, count) == key
            && self.now < when + STATE_REFRESH
        {
            return false;
        }
        let facts = self.facts();
        let input = input(&self.cluster, &facts);
        let mut decided = None;
        for (index, driver) in self.disruption.drivers.iter_mut().enumerate() {
            if let Some(command) = driver.decide(&input) {
                decided = Some((index, command));
                break;
            }
        }
        let Some((driver, command)) = decided else {
            self.disruption.last_noop = Some((key.0, key.1, self.now));
            return false;
        };
        let method = self.disruption.drivers[driver].method().to_owned();
        self.record(
            "disruption-decided",
            format!("{method}: {}", command.explanation),
        );
        self.disruption.pending = Some(PendingCommand { driver, command });
        self.schedule(self.now + VALIDATION_DELAY, Timed::ValidateCommand);
        true
    }

    /// The command's 15 s validation; a valid command's nodes are deleted.
    pub(super) fn validate_command(&mut self) -> bool {
        let Some(pending) = self.disruption.pending.take() else {
            return false;
        };
        let facts = self.facts();
        let input = input(&self.cluster, &facts);
        let driver = &mut self.disruption.drivers[pending.driver];
        let method = driver.method().to_owned();
        match driver.validate(&input, &pending.command) {
            Ok(command) => {
                let reason = command.reason.as_str().to_lowercase();
                let names: Vec<String> =
                    command.candidates.iter().map(|c| c.node.clone()).collect();
                let mut detail = format!("{method}: disrupting {}", names.join(", "));
                if !command.replacements.is_empty() {
                    // Replacements are provisioned for the evicted pods by the next solve.
                    detail.push_str(&format!(
                        " (replacement types: {})",
                        command.replacements.join(", ")
                    ));
                }
                self.record("disruption-started", detail);
                for name in names {
                    self.delete_node(&name, &reason, None);
                }
            }
            Err(message) => {
                self.record("disruption-abandoned", format!("{method}: {message}"));
            }
        }
        true
    }
}

fn input<'a>(cluster: &'a joist_core::snapshot::Snapshot, facts: &'a Facts) -> DisruptionInput<'a> {
    DisruptionInput {
        snapshot: cluster,
        nodes: &facts.nodes,
        pools: &facts.pools,
        pdb_status: &facts.pdb_status,
        pod_start_times: &facts.pod_start_times,
        unready_pods: &facts.unready_pods,
    }
}
