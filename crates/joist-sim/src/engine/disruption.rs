//! The disruption controller's loop (spec core §4.1, §4.11): every 10 s the methods are tried in
//! order and the first that returns a command wins the pass; the command is validated again 15 s
//! later and its nodes are then deleted (graceful drain, see `termination`).
//!
//! Methods plug in as [`DisruptionDriver`]s (see `drivers`) fed a [`DisruptionInput`] built from
//! the simulated cluster plus the `Drifted` conditions (AMI drift: a node launched with another
//! AMI selection than its EC2NodeClass has now). A replace command launches its replacements
//! first, taints its candidates, and deletes them once every replacement is initialized.
//!
//! Like upstream's consolidation state (§4.16), a pass is skipped while nothing changed since the
//! last pass that found nothing to do, for at most 5 minutes; here the count of consolidatable
//! nodes is part of the state, so a node reaching `consolidateAfter` is noticed on the next poll.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_core::disruption::{
    Command, DisruptionInput, DriftReason, DriftedCondition, DriftedNodes, NodeDisruptionState,
    PdbStatus, PoolDisruption, is_consolidatable,
};
use joist_core::labels::DISRUPTED_TAINT_KEY;
use joist_core::taints::{Effect, Taint};

use super::drivers::{DisruptionDriver, DriverContext};

use super::termination::pdb_allowances;
use super::{Simulation, Timed};

/// The disruption controller's polling period.
pub(crate) const POLL_PERIOD: Duration = Duration::from_secs(10);
/// Upstream refreshes its consolidation state at least this often.
const STATE_REFRESH: Duration = Duration::from_secs(5 * 60);

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
    /// Replace commands waiting for their replacements to initialize.
    in_flight: Vec<InFlight>,
}

/// A started replace command.
#[derive(Debug, Clone)]
struct InFlight {
    method: String,
    reason: String,
    candidates: Vec<String>,
    replacements: Vec<String>,
}

impl DisruptionState {
    pub(super) fn new(drivers: Vec<Box<dyn DisruptionDriver>>) -> Self {
        Self {
            drivers,
            version: 0,
            last_noop: None,
            pending: None,
            in_flight: Vec::new(),
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
            .chain(
                self.disruption
                    .in_flight
                    .iter()
                    .flat_map(|f| f.candidates.iter().map(String::as_str)),
            )
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
                    // The simulator launches NodeClaims with their pool's current value.
                    termination_grace_period: self
                        .objects
                        .nodepools
                        .iter()
                        .find(|p| p.name == node.nodepool)
                        .and_then(|p| p.termination_grace_period.clone()),
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
        let drifted = self.drifted();
        let input = input(&self.cluster, &facts);
        let mut context = DriverContext {
            drifted: &drifted,
            scheduling: &self.settings,
            spot_to_spot: self.scenario.feature_gates.spot_to_spot_consolidation,
            rng: &mut self.rng,
        };
        let mut decided = None;
        for (index, driver) in self.disruption.drivers.iter_mut().enumerate() {
            if let Some(command) = driver.decide(&input, &mut context) {
                decided = Some((index, command));
                break;
            }
        }
        let Some((driver, command)) = decided else {
            self.disruption.last_noop = Some((key.0, key.1, self.now));
            return false;
        };
        let method = self.disruption.drivers[driver].method().to_owned();
        let delay = self.disruption.drivers[driver].validation_delay();
        self.record(
            "disruption-decided",
            format!("{method}: {} ({})", command.summary(), command.explanation),
        );
        self.disruption.pending = Some(PendingCommand { driver, command });
        self.schedule(self.now + delay, Timed::ValidateCommand);
        true
    }

    /// The command's 15 s validation; a valid command's nodes are deleted.
    pub(super) fn validate_command(&mut self) -> bool {
        let Some(pending) = self.disruption.pending.take() else {
            return false;
        };
        let facts = self.facts();
        let drifted = self.drifted();
        let input = input(&self.cluster, &facts);
        let mut context = DriverContext {
            drifted: &drifted,
            scheduling: &self.settings,
            spot_to_spot: self.scenario.feature_gates.spot_to_spot_consolidation,
            rng: &mut self.rng,
        };
        let driver = &mut self.disruption.drivers[pending.driver];
        let method = driver.method().to_owned();
        match driver.validate(&input, &mut context, &pending.command) {
            Ok(command) => self.execute(&method, &command),
            Err(message) => {
                self.record("disruption-abandoned", format!("{method}: {message}"));
            }
        }
        true
    }

    /// Starts a validated command: a delete deletes its nodes now; a replace launches its
    /// replacements, taints its candidates and deletes them once the replacements are up.
    fn execute(&mut self, method: &str, command: &Command) {
        let reason = command.reason.as_str().to_lowercase();
        let names: Vec<String> = command.candidates.iter().map(|c| c.node.clone()).collect();
        self.record(
            "disruption-started",
            format!(
                "{method}: {} (savings ${:.4}/h)",
                command.summary(),
                command.savings
            ),
        );
        if command.replacements.is_empty() {
            for name in names {
                self.delete_node(&name, &reason, None);
            }
            return;
        }
        let mut replacements = Vec::new();
        for replacement in &command.replacements {
            // The command's pod indices belong to the snapshot it was decided on; the evicted
            // pods are nominated by the provisioner's next solve instead.
            let mut nodeclaim = replacement.nodeclaim.clone();
            nodeclaim.pods.clear();
            match self.launch(&nodeclaim) {
                Some(name) => replacements.push(name),
                None => {
                    self.record(
                        "disruption-abandoned",
                        format!("{method}: a replacement could not be launched"),
                    );
                    return;
                }
            }
        }
        for name in &names {
            if let Some(index) = self.node_index(name) {
                let node = &mut self.cluster.nodes[index];
                node.taints.retain(|t| t.key != DISRUPTED_TAINT_KEY);
                node.taints
                    .push(Taint::new(DISRUPTED_TAINT_KEY, "", Effect::NoSchedule));
            }
        }
        self.disruption.in_flight.push(InFlight {
            method: method.to_owned(),
            reason,
            candidates: names,
            replacements,
        });
    }

    /// Deletes the candidates of replace commands whose replacements are all initialized; a
    /// replacement that is gone fails its command (the candidates are untainted).
    pub(super) fn advance_in_flight(&mut self) {
        let in_flight = std::mem::take(&mut self.disruption.in_flight);
        for command in in_flight {
            let gone = command
                .replacements
                .iter()
                .any(|r| !self.nodes.contains_key(r));
            let ready = command
                .replacements
                .iter()
                .all(|r| self.nodes.get(r).is_some_and(|n| n.initialized));
            if gone {
                self.record(
                    "disruption-abandoned",
                    format!("{}: a replacement disappeared", command.method),
                );
                for name in &command.candidates {
                    if let Some(index) = self.node_index(name) {
                        self.cluster.nodes[index]
                            .taints
                            .retain(|t| t.key != DISRUPTED_TAINT_KEY);
                    }
                }
            } else if ready {
                for name in &command.candidates {
                    self.delete_node(name, &command.reason, None);
                }
            } else {
                self.disruption.in_flight.push(command);
            }
        }
    }

    /// `Drifted=True` conditions: nodes launched with another AMI selection than their
    /// EC2NodeClass has now (AWS `AMIDrift`), since the class changed.
    fn drifted(&self) -> DriftedNodes {
        self.nodes
            .values()
            .filter(|node| node.deletion.is_none() && !node.nodeclass.is_empty())
            .filter_map(|node| {
                let class = self.objects.node_classes.get(&node.nodeclass)?;
                if class.ami_selection == node.ami_selection {
                    return None;
                }
                let since = self
                    .class_changed
                    .get(&node.nodeclass)
                    .copied()
                    .unwrap_or(self.now);
                let condition = DriftedCondition {
                    reason: DriftReason::Provider("AMIDrift".to_owned()),
                    since: self.at(since),
                };
                Some((node.name.clone(), condition))
            })
            .collect()
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
