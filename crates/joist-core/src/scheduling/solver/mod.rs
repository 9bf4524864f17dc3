//! The solve loop (spec core §2.4): per pod, existing nodes first, then the least-loaded in-flight
//! NodeClaim that takes it, then a new NodeClaim from the first NodePool (by weight) that can.

mod existing_nodes;
mod inflight;
mod new_claim;

use std::borrow::Cow;

use super::claims::Claim;
use super::classes::Classes;
use super::dense::{Dense, ResourceIndex};
use super::existing::{self, ExistingNode};
use super::failure::Failure;
use super::hooks::{self, PreferencesHook, TopologyHook};
use super::hostname_watch::HostnameWatches;
use super::limits::{self, Remaining};
use super::masks::MaskCache;
use super::plan::PodIndex;
use super::provisionable::Batch;
use super::queue::{self, Queue};
use super::reservations::Reservations;
use super::settings::SchedulingSettings;
use super::template::{self, SkippedNodePool, Template};
use super::volumes::PodVolumes;
use crate::resources::names;
use crate::snapshot::{Pod, PodConstraints, Snapshot};
use crate::taints::Effect;

/// A pod of the round with its precomputed data.
#[derive(Debug)]
pub(crate) struct PodState {
    /// Index in the snapshot.
    pub(crate) index: PodIndex,
    /// Dense requests.
    pub(crate) requests: Dense,
    /// Class of its original (unrelaxed) constraints.
    pub(crate) class: usize,
    /// Its persistent volumes (topology alternatives, CSI claims), if any.
    pub(crate) volumes: Option<PodVolumes>,
}

/// All state of one solve.
pub(crate) struct Solver<'s> {
    /// The input.
    pub(crate) snapshot: &'s Snapshot,
    /// The options.
    pub(crate) settings: &'s SchedulingSettings,
    /// Resource slots.
    pub(crate) index: ResourceIndex,
    /// The round's pods.
    pub(crate) pods: Vec<PodState>,
    /// Pod classes.
    pub(crate) classes: Classes,
    /// Templates in weight order.
    pub(crate) templates: Vec<Template<'s>>,
    /// Remaining limits per template.
    pub(crate) limits: Vec<Option<Remaining>>,
    /// Existing and in-flight nodes.
    pub(crate) existing: Vec<ExistingNode<'s>>,
    /// NodeClaims opened this round, in creation order.
    pub(crate) claims: Vec<Claim>,
    /// Claim indices by ascending pod count (ties: upstream's stable order).
    pub(crate) claim_order: Vec<usize>,
    /// The topology engine.
    pub(crate) topology: Box<dyn TopologyHook + 's>,
    /// The preference engine.
    pub(crate) preferences: Box<dyn PreferencesHook>,
    /// Whether some usable NodePool has a PreferNoSchedule taint.
    pub(crate) tolerate_prefer_no_schedule: bool,
    /// Whether no NodePool is usable at all.
    pub(crate) no_dynamic_nodepools: bool,
    /// Hostname-topology rules that skip NodeClaims without asking topology.
    pub(crate) watches: HostnameWatches,
    /// Instance-type verdicts per requirements.
    pub(crate) masks: MaskCache,
    /// Reserved-capacity holds.
    pub(crate) reservations: Reservations,
}

impl std::fmt::Debug for Solver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solver")
            .field("pods", &self.pods.len())
            .field("templates", &self.templates.len())
            .field("claims", &self.claims.len())
            .finish_non_exhaustive()
    }
}

impl<'s> Solver<'s> {
    /// Builds the solver for the round's pods (spec core §2.3).
    pub(crate) fn new(
        snapshot: &'s Snapshot,
        settings: &'s SchedulingSettings,
        batch: &Batch,
        skipped: &mut Vec<SkippedNodePool>,
    ) -> Self {
        let index = resource_index(snapshot);
        let daemons = daemon_pods(snapshot, settings, &index);
        let templates = template::build_templates(snapshot, settings, &index, &daemons, skipped);
        let no_dynamic_nodepools = snapshot
            .nodepools
            .iter()
            .all(|np| np.is_static() || np.deleting || !np.ready);
        let existing = existing::build_existing(snapshot, settings, &index, &daemons);
        let mut volumes = batch.volumes.iter().cloned();
        let limits = templates
            .iter()
            .map(|t| Remaining::new(t.nodepool, &existing, &index))
            .collect();
        let tolerate_prefer_no_schedule = templates.iter().any(|t| {
            t.taints
                .iter()
                .any(|taint| taint.effect == Effect::PreferNoSchedule)
        });
        let mut classes = Classes::default();
        let pods = batch
            .pods
            .iter()
            .map(|&i| {
                let pod = &snapshot.pods[i];
                PodState {
                    index: i,
                    requests: index.dense(&pod.requests),
                    class: classes.class_of(&pod.constraints, settings, templates.len()),
                    volumes: volumes.next().flatten(),
                }
            })
            .collect();
        Solver {
            topology: hooks::build_topology(
                snapshot,
                settings,
                templates.iter().map(|t| t.nodepool),
                &batch.pods,
            ),
            preferences: hooks::build_preferences(settings, tolerate_prefer_no_schedule),
            snapshot,
            settings,
            index,
            pods,
            classes,
            templates,
            limits,
            existing,
            claims: Vec::new(),
            claim_order: Vec::new(),
            tolerate_prefer_no_schedule,
            no_dynamic_nodepools,
            watches: HostnameWatches::default(),
            masks: MaskCache::default(),
            reservations: Reservations::new(snapshot, settings),
        }
    }

    /// Runs the queue; returns the last failure of every pod that did not schedule, by position.
    pub(crate) fn run(&mut self) -> Vec<Option<Failure>> {
        let mut order: Vec<usize> = (0..self.pods.len()).collect();
        let (pods, snapshot, index) = (&self.pods, self.snapshot, &self.index);
        let amount = |p: &PodState, name: &str| index.slot(name).map_or(0, |s| p.requests[s]);
        order.sort_by(|&a, &b| {
            let key = |p: &PodState| {
                let pod = &snapshot.pods[p.index];
                queue::order_key(
                    amount(p, names::CPU),
                    amount(p, names::MEMORY),
                    pod.creation_timestamp,
                    &pod.uid,
                )
            };
            key(&pods[a]).cmp(&key(&pods[b]))
        });
        let mut queue = Queue::new(order, self.pods.len());
        let mut failures: Vec<Option<Failure>> = (0..self.pods.len()).map(|_| None).collect();
        while let Some(position) = queue.pop() {
            match self.try_schedule(position) {
                Ok(()) => failures[position] = None,
                Err(failure) => {
                    failures[position] = Some(failure);
                    queue.push(position);
                }
            }
        }
        failures
    }

    /// Tries a pod, relaxing its preferences one step at a time on failure (spec core §2.10).
    fn try_schedule(&mut self, position: usize) -> Result<(), Failure> {
        let pod = &self.snapshot.pods[self.pods[position].index];
        let mut constraints: Cow<'s, PodConstraints> = Cow::Borrowed(&pod.constraints);
        let mut class = self.pods[position].class;
        loop {
            let failure = match self.add(position, class, &constraints) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if !failure.may_relax() {
                return Err(failure);
            }
            let mut relaxed = constraints.into_owned();
            if self.preferences.relax(&mut relaxed).is_none() {
                return Err(self.note_relaxation(failure, &relaxed));
            }
            self.topology.update(pod, &relaxed);
            class = self
                .classes
                .class_of(&relaxed, self.settings, self.templates.len());
            constraints = Cow::Owned(relaxed);
        }
    }

    fn note_relaxation(&self, mut failure: Failure, constraints: &PodConstraints) -> Failure {
        if !self.preferences.relaxes()
            && hooks::has_relaxable_preferences(constraints, self.tolerate_prefer_no_schedule)
        {
            failure.note(
                "preferences were not relaxed: this build of joist has no preference relaxation yet",
            );
        }
        failure
    }

    /// One placement attempt (upstream `Scheduler.add`).
    fn add(
        &mut self,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Result<(), Failure> {
        let pod = &self.snapshot.pods[self.pods[position].index];
        if pod.has_resource_claims && self.settings.ignore_dra_requests {
            return Err(Failure::Dra);
        }
        if let Err(message) = &self.classes.get(class).requirements {
            return Err(Failure::General(message.clone()));
        }
        if self.add_to_existing(position, class, constraints) {
            return Ok(());
        }
        if self.add_to_inflight(position, class, constraints) {
            return Ok(());
        }
        if self.templates.is_empty() {
            return Err(Failure::General(super::NO_INSTANCE_TYPES.into()));
        }
        self.add_to_new_claim(position, class, constraints)
    }
}

/// Every resource name the solve will see.
fn resource_index(snapshot: &Snapshot) -> ResourceIndex {
    let pods = snapshot
        .pods
        .iter()
        .flat_map(|p| p.requests.iter().map(|(n, _)| n));
    let daemons = snapshot.daemonsets.iter().flat_map(|d| {
        let live = d
            .live_pod
            .iter()
            .flat_map(|p| p.requests.iter().map(|(n, _)| n));
        d.template.requests.iter().map(|(n, _)| n).chain(live)
    });
    let nodes = snapshot.nodes.iter().flat_map(|n| {
        n.allocatable
            .iter()
            .chain(n.capacity.iter())
            .map(|(name, _)| name)
    });
    let types = snapshot.instance_types.values().flat_map(|its| {
        its.iter().flat_map(|it| {
            it.capacity()
                .iter()
                .chain(it.allocatable().iter())
                .map(|(n, _)| n)
        })
    });
    ResourceIndex::new(
        pods.chain(daemons)
            .chain(nodes)
            .chain(types)
            .chain(limits::limit_names(&snapshot.nodepools)),
    )
}

/// The DaemonSet scheduling pods (spec core §2.3 step 7) with dense requests; pods with DRA
/// claims are left out while DRA requests are ignored.
fn daemon_pods(
    snapshot: &Snapshot,
    settings: &SchedulingSettings,
    index: &ResourceIndex,
) -> Vec<(Pod, Dense)> {
    snapshot
        .daemonsets
        .iter()
        .map(|d| d.scheduling_pod())
        .filter(|p| !(p.has_resource_claims && settings.ignore_dra_requests))
        .map(|p| {
            let requests = index.dense(&p.requests);
            (p, requests)
        })
        .collect()
}
