//! The solve loop (spec core §2.4): per pod, existing nodes first, then the least-loaded in-flight
//! NodeClaim that takes it, then a new NodeClaim from the first NodePool (by weight) that can.

use std::borrow::Cow;

use super::classes::{Classes, TemplateFit};
use super::claims::{self, Claim, Fit, Narrowing};
use super::dense::{Dense, ResourceIndex};
use super::existing::{self, ExistingNode};
use super::failure::Failure;
use super::filter::Known;
use super::hooks::{self, PreferencesHook, TopologyHook};
use super::limits::{self, Remaining};
use super::plan::PodIndex;
use super::queue::{self, Queue};
use super::settings::SchedulingSettings;
use super::template::{self, SkippedNodePool, Template};
use crate::explain::{NodePoolRejection, RejectReason};
use crate::labels::HOSTNAME;
use crate::requirements::{Requirement, Requirements};
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
        batch: &[PodIndex],
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
            .iter()
            .map(|&i| {
                let pod = &snapshot.pods[i];
                PodState {
                    index: i,
                    requests: index.dense(&pod.requests),
                    class: classes.class_of(&pod.constraints, settings, templates.len()),
                }
            })
            .collect();
        Solver {
            topology: hooks::build_topology(
                snapshot,
                settings,
                templates.iter().map(|t| t.nodepool),
                batch,
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
        if hooks::has_relaxable_preferences(constraints, self.tolerate_prefer_no_schedule) {
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
            return Err(Failure::General(
                "nodepool requirements filtered out all available instance types".into(),
            ));
        }
        self.add_to_new_claim(position, class, constraints)
    }

    /// The first existing node (initialized first, then by name) that takes the pod.
    fn add_to_existing(&mut self, position: usize, class: usize, constraints: &PodConstraints) -> bool {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let pod_class = self.classes.get(class);
        let Ok(pod_requirements) = &pod_class.requirements else {
            return false;
        };
        let constrained = self.topology.constrains(pod, constraints);
        for node in self.existing.iter_mut() {
            let Some(mut merged) =
                node.admits(pod, &constraints.tolerations, &state.requests, pod_requirements)
            else {
                continue;
            };
            if constrained {
                let Ok(narrowed) = self.topology.add_requirements(
                    pod,
                    constraints,
                    &pod_class.strict,
                    &merged,
                    node.taint_slice(),
                    None,
                ) else {
                    continue;
                };
                if !merged.is_compatible(&narrowed, &crate::labels::WellKnownLabels::empty()) {
                    continue;
                }
                merged.add_all(&narrowed);
            }
            self.topology
                .record(pod, constraints, &merged, node.taint_slice(), None);
            node.add(state.index, pod, &state.requests, merged);
            return true;
        }
        false
    }

    /// The first in-flight NodeClaim, least loaded first, that takes the pod.
    fn add_to_inflight(&mut self, position: usize, class: usize, constraints: &PodConstraints) -> bool {
        for k in 0..self.claim_order.len() {
            let c = self.claim_order[k];
            if let Some(fit) = self.inflight_fit(c, position, class, constraints) {
                self.commit_inflight(c, k, position, fit, constraints);
                return true;
            }
        }
        false
    }

    fn inflight_fit(
        &mut self,
        c: usize,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Option<Fit> {
        let claim = &self.claims[c];
        let state = &self.pods[position];
        if claim.cannot_hold(&state.requests) {
            return None;
        }
        let template = &self.templates[claim.template];
        let fit = self
            .classes
            .template_fit(class, claim.template, template, self.settings);
        if !matches!(*fit, TemplateFit::Compatible { .. }) {
            return None;
        }
        let pod_class = self.classes.get(class);
        let pod_requirements = pod_class.requirements.as_ref().ok()?;
        let wk = &self.settings.well_known_labels;
        let mut requirements = Cow::Borrowed(&claim.requirements);
        if !pod_requirements.is_empty() {
            if !claim.requirements.is_compatible(pod_requirements, wk) {
                return None;
            }
            requirements = Cow::Owned(claim.requirements.intersection(pod_requirements));
        }
        let pod = &self.snapshot.pods[state.index];
        if self.topology.constrains(pod, constraints) {
            let narrowed = self
                .topology
                .add_requirements(
                    pod,
                    constraints,
                    &pod_class.strict,
                    &requirements,
                    template.taints.as_slice(),
                    Some(wk),
                )
                .ok()?;
            if !requirements.is_compatible(&narrowed, wk) {
                return None;
            }
            requirements.to_mut().add_all(&narrowed);
        }
        let known = if *requirements == claim.requirements {
            Known::AllOk
        } else {
            Known::Unknown
        };
        let narrowing = Narrowing {
            options: &claim.options,
            requirements,
            known,
            claim_requests: &claim.requests,
            pod_requests: &state.requests,
            pod_ports: &pod.host_ports,
            claim_ports: &claim.host_ports,
        };
        claims::narrow(template, narrowing, self.settings).ok()
    }

    fn commit_inflight(
        &mut self,
        c: usize,
        k: usize,
        position: usize,
        fit: Fit,
        constraints: &PodConstraints,
    ) {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let claim = &mut self.claims[c];
        let template = &self.templates[claim.template];
        claim.add(template, fit, state.index, &state.requests, &pod.host_ports);
        let wk = &self.settings.well_known_labels;
        self.topology.record(
            pod,
            constraints,
            &claim.requirements,
            template.taints.as_slice(),
            Some(wk),
        );
        let count = claim.pods.len();
        self.claim_order.remove(k);
        let claims = &self.claims;
        let at = self
            .claim_order
            .partition_point(|&other| claims[other].pods.len() < count);
        self.claim_order.insert(at, c);
    }

    /// A new NodeClaim from the first template, in weight order, that can take the pod.
    fn add_to_new_claim(
        &mut self,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Result<(), Failure> {
        let mut rejections = Vec::new();
        for t in 0..self.templates.len() {
            match self.new_claim_fit(t, position, class, constraints) {
                Ok((fit, hostname)) => {
                    self.open_claim(t, position, fit, hostname, constraints);
                    return Ok(());
                }
                Err(rejection) => rejections.push(rejection),
            }
        }
        Err(Failure::NodePools(rejections))
    }

    fn new_claim_fit(
        &mut self,
        t: usize,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Result<(Fit, String), NodePoolRejection> {
        let template = &self.templates[t];
        let name = template.nodepool.name.clone();
        let reject = |reason, message: String| NodePoolRejection {
            nodepool: name.clone(),
            reason,
            message,
            instance_types: None,
        };
        let allowed: Cow<'_, [u32]> = match &self.limits[t] {
            None => Cow::Owned((0..template.options.len() as u32).collect()),
            Some(remaining) => match remaining.allowed_options(template) {
                Ok(allowed) => Cow::Owned(allowed),
                Err(e @ limits::LimitError::NodesExhausted) => {
                    return Err(reject(RejectReason::NodeLimit, e.message(&name)));
                }
                Err(e) => return Err(reject(RejectReason::Limits, e.message(&name))),
            },
        };
        let fit = self.classes.template_fit(class, t, template, self.settings);
        let (base, options_ok) = match &*fit {
            TemplateFit::Taints(m) => return Err(reject(RejectReason::Taints, m.clone())),
            TemplateFit::Requirements(m) => {
                return Err(reject(RejectReason::Requirements, m.clone()));
            }
            TemplateFit::Compatible {
                requirements,
                options_ok,
            } => (requirements, options_ok),
        };
        let hostname = format!("hostname-placeholder-{:04}", self.claims.len() + 1);
        let mut requirements = base.clone();
        requirements.add(Requirement::in_values(HOSTNAME, [hostname.as_str()]));
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let mut known = Known::Mask(options_ok);
        if self.topology.constrains(pod, constraints) {
            let narrowed = self.topology_for_new(pod, class, constraints, &requirements, template);
            let narrowed = narrowed.map_err(|m| reject(RejectReason::Topology, m))?;
            requirements.add_all(&narrowed);
            known = Known::Unknown;
        }
        let narrowing = Narrowing {
            options: &allowed,
            requirements: Cow::Borrowed(&requirements),
            known,
            claim_requests: &vec![0; state.requests.len()],
            pod_requests: &state.requests,
            pod_ports: &pod.host_ports,
            claim_ports: &[],
        };
        match claims::narrow(template, narrowing, self.settings) {
            Ok(fit) => Ok((fit, hostname)),
            Err(rejection) => {
                let message = rejection.message(&requirements, &pod.requests);
                let (reason, counts) = match &rejection {
                    claims::FilterRejection::InstanceTypes(f) => {
                        (RejectReason::InstanceTypes, Some(f.counts))
                    }
                    claims::FilterRejection::MinValues(..) => (RejectReason::MinValues, None),
                };
                let mut r = reject(reason, message);
                r.instance_types = counts;
                Err(r)
            }
        }
    }

    fn topology_for_new(
        &self,
        pod: &Pod,
        class: usize,
        constraints: &PodConstraints,
        requirements: &Requirements,
        template: &Template<'_>,
    ) -> Result<Requirements, String> {
        let wk = &self.settings.well_known_labels;
        let narrowed = self
            .topology
            .add_requirements(
                pod,
                constraints,
                &self.classes.get(class).strict,
                requirements,
                template.taints.as_slice(),
                Some(wk),
            )
            .map_err(|e| self.topology.explain(&e))?;
        requirements
            .compatible(&narrowed, wk)
            .map_err(|e| e.to_string())?;
        Ok(narrowed)
    }

    fn open_claim(
        &mut self,
        t: usize,
        position: usize,
        fit: Fit,
        hostname: String,
        constraints: &PodConstraints,
    ) {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let template = &self.templates[t];
        let claim = Claim::open(t, template, hostname, fit, state.index, &state.requests, &pod.host_ports);
        self.topology.register(HOSTNAME, &claim.hostname);
        let wk = &self.settings.well_known_labels;
        self.topology.record(
            pod,
            constraints,
            &claim.requirements,
            template.taints.as_slice(),
            Some(wk),
        );
        if let Some(remaining) = &mut self.limits[t] {
            remaining.subtract_max(template, &claim.options);
        }
        let c = self.claims.len();
        self.claims.push(claim);
        let claims = &self.claims;
        let at = self
            .claim_order
            .partition_point(|&other| claims[other].pods.len() <= 1);
        self.claim_order.insert(at, c);
    }
}

/// Every resource name the solve will see.
fn resource_index(snapshot: &Snapshot) -> ResourceIndex {
    let pods = snapshot.pods.iter().flat_map(|p| p.requests.iter().map(|(n, _)| n));
    let daemons = snapshot.daemonsets.iter().flat_map(|d| {
        let live = d.live_pod.iter().flat_map(|p| p.requests.iter().map(|(n, _)| n));
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
