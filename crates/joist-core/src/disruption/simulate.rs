//! The scheduling simulation behind consolidation (spec core §4.9, upstream
//! `SimulateScheduling`): re-run [`scheduling::solve`] on the snapshot with the candidate nodes
//! removed and report where their pods would go.
//!
//! The simulated batch is what upstream schedules: pending provisionable pods, the candidates'
//! currently reschedulable pods (no active `do-not-disrupt`, not behind a fully blocking PDB) and
//! the currently reschedulable pods of nodes already being deleted. The solver's own batch rule
//! already takes pods of nodes marked for deletion, so the simulation marks the candidates for
//! deletion in a private copy of the snapshot and solves it, with reserved offerings in fallback
//! mode and upstream's greedy packing, as upstream's disruption scheduler does.
//!
//! One [`Simulator`] copies the snapshot once and flips the candidates' flags per run, so the
//! many simulations of one disruption pass do not each copy tens of thousands of pods.

use std::collections::{BTreeMap, BTreeSet};

use super::DisruptionInput;
use super::consolidation::{ConsolidationSettings, SearchMode};
use crate::instancetype::InstanceType;
use crate::labels::CAPACITY_TYPE_SPOT;
use crate::labels::{CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_RESERVED};
use crate::requirements::Requirements;
use crate::rng::SeededRng;
use crate::scheduling::{
    self, NewNodeClaim, PackingPolicy, Plan, PodIndex, ReservedOfferingMode, SchedulingSettings,
};
use crate::snapshot::Snapshot;
use crate::taints::{Effect, Taint, Toleration};

/// The taint the simulation puts on destination nodes still inside their NodePool's
/// `consolidateAfter` window (spec core §2.3 step 10): pods moved off candidates may not land
/// there, pending pods and pods of nodes already being deleted tolerate it. It never leaves the
/// simulation's private snapshot.
const CONSOLIDATION_WINDOW_TAINT: &str = "joist.dev/consolidation-window";

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// A candidate is already being deleted (another controller got there between candidate
    /// listing and the simulation); upstream turns this into a no-op.
    #[error("candidate is deleting")]
    CandidateDeleting,
    /// A candidate names a node the snapshot does not have.
    #[error("candidate node {node:?} is not in the snapshot")]
    UnknownNode {
        /// The node name.
        node: String,
    },
}

/// Where a pod lands in the simulation, when it lands on an existing node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPlacement {
    /// The pod (index into the snapshot's pods).
    pub pod: PodIndex,
    /// `namespace/name` of the pod.
    pub key: String,
    /// The existing node it would be nominated to.
    pub node: String,
}

/// A pod the simulation could not place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFailure {
    /// The pod (index into the snapshot's pods).
    pub pod: PodIndex,
    /// `namespace/name` of the pod.
    pub key: String,
    /// Whether the pod is pending (not bound): pending failures never block consolidation.
    pub pending: bool,
    /// The scheduling error (upstream's text).
    pub message: String,
}

/// One instance-type option of a simulated NodeClaim with its prices under the NodeClaim's
/// requirements.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceTypeOption {
    /// The instance type name.
    pub name: String,
    /// The cheapest available offering compatible with the requirements (upstream's
    /// `OrderByPrice` key); `f64::MAX` when none is.
    pub price: f64,
    /// The most that launching it may cost (upstream `WorstLaunchPrice`): the dearest compatible
    /// offering of the capacity type the launch prefers (reserved, then spot, then on-demand).
    pub worst_launch_price: f64,
}

/// A NodeClaim the simulation needs, with its options priced.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedNodeClaim {
    /// The NodeClaim as the solver finalised it.
    pub nodeclaim: NewNodeClaim,
    /// Its instance-type options, cheapest first (price, then name), truncated to the solve's
    /// `max_instance_types` (600).
    pub options: Vec<InstanceTypeOption>,
}

/// The outcome of one simulation (upstream `scheduling.Results` after `SimulateScheduling`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimulationResult {
    /// Pods (pending or moved) placed on existing nodes.
    pub placements: Vec<PodPlacement>,
    /// New NodeClaims the pods need, in creation order.
    pub new_nodeclaims: Vec<SimulatedNodeClaim>,
    /// Pods that would not schedule, in pod order.
    pub failures: Vec<PodFailure>,
}

impl SimulationResult {
    /// Upstream `AllNonPendingPodsScheduled`: every bound pod that must move found a place.
    pub fn all_non_pending_scheduled(&self) -> bool {
        self.failures.iter().all(|f| f.pending)
    }

    /// The errors of bound pods, `"ns/pod => error"`, in pod order.
    pub fn non_pending_errors(&self) -> Vec<String> {
        self.failures
            .iter()
            .filter(|f| !f.pending)
            .map(|f| format!("{} => {}", f.key, f.message))
            .collect()
    }

    /// Upstream's `Unconsolidatable` text for unschedulable pods (`NonPendingPodSchedulingErrors`
    /// through `pretty.Sentence`): "Not all pods would schedule, " then at most five
    /// `ns/pod => error ` entries, each followed by a space, then " and N other(s)" when there
    /// are more. Upstream walks a Go map, so its entry order varies; here it is pod order.
    pub fn unschedulable_message(&self) -> String {
        let errors = self.non_pending_errors();
        let mut text = String::from("Not all pods would schedule, ");
        for error in errors.iter().take(5) {
            text.push_str(error);
            text.push(' ');
        }
        if errors.len() > 5 {
            text.push_str(&format!(" and {} other(s)", errors.len() - 5));
        }
        text
    }

    /// The existing nodes receiving pods, sorted and de-duplicated.
    pub fn destinations(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self.placements.iter().map(|p| p.node.as_str()).collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

/// Runs consolidation simulations on one snapshot.
#[derive(Debug)]
pub struct Simulator<'a> {
    /// The pass's input (for node facts and instance types).
    input: DisruptionInput<'a>,
    /// The solve's settings, reserved offerings in fallback mode.
    settings: SchedulingSettings,
    /// A private copy of the snapshot with consolidation-window taints; candidate flags are
    /// flipped on it per run and restored.
    work: Snapshot,
    /// Node name to index in `work.nodes`.
    node_index: BTreeMap<String, usize>,
    /// Number of simulations run: the unit of the methods' work budgets.
    runs: usize,
}

// === impl Simulator ===

impl<'a> Simulator<'a> {
    /// Prepares simulations of `input`'s snapshot solved with `settings` and upstream's greedy
    /// packing (upstream's consolidation simulation).
    pub fn new(input: DisruptionInput<'a>, settings: &SchedulingSettings) -> Self {
        // Upstream's greedy packing: a node's pods stay on one NodeClaim while some type holds
        // them, which is what a single replacement needs. joist's cost-aware re-packing would
        // split them over several cheaper NodeClaims, which upstream's rules refuse ("Can't
        // remove without creating N candidates").
        Self::with_packing(input, settings, PackingPolicy::Upstream)
    }

    /// The simulator consolidation uses under `settings`: upstream's greedy packing in
    /// [`SearchMode::Upstream`], joist's cost-aware packing in [`SearchMode::Joist`], whose
    /// N → M replacements accept several NodeClaims and so can launch the cheapest mix (e.g.
    /// many small cheap spot nodes where greedy packing would pick one large dear one).
    /// Deciding and validating a command must use the same packing, or the re-simulation of
    /// a joist command would differ from the decision's.
    pub fn for_consolidation(input: DisruptionInput<'a>, settings: &ConsolidationSettings) -> Self {
        let packing = match settings.search {
            SearchMode::Upstream => PackingPolicy::Upstream,
            SearchMode::Joist => PackingPolicy::CostAware,
        };
        Self::with_packing(input, &settings.scheduling, packing)
    }

    /// Prepares simulations solved with `settings` and the packing policy `packing`.
    pub fn with_packing(
        input: DisruptionInput<'a>,
        settings: &SchedulingSettings,
        packing: PackingPolicy,
    ) -> Self {
        let mut settings = settings.clone();
        settings.reserved_offering_mode = ReservedOfferingMode::Fallback;
        settings.packing_policy = packing;
        let mut work = input.snapshot.clone();
        apply_consolidation_windows(&input, &mut work);
        let node_index = work
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        Self {
            input,
            settings,
            work,
            node_index,
            runs: 0,
        }
    }

    /// How many simulations this simulator has run.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The input the simulator was built on.
    pub fn input(&self) -> &DisruptionInput<'a> {
        &self.input
    }

    /// Simulates deleting the nodes named `candidates`.
    ///
    /// # Errors
    /// [`SimulationError::CandidateDeleting`] when a candidate is already marked for deletion,
    /// [`SimulationError::UnknownNode`] when one is not in the snapshot.
    pub fn simulate<S: AsRef<str>>(
        &mut self,
        candidates: &[S],
        rng: &mut SeededRng,
    ) -> Result<SimulationResult, SimulationError> {
        let mut flipped = Vec::with_capacity(candidates.len());
        for name in candidates {
            let name = name.as_ref();
            let &index = self
                .node_index
                .get(name)
                .ok_or_else(|| SimulationError::UnknownNode { node: name.into() })?;
            if self.input.snapshot.nodes[index].marked_for_deletion {
                return Err(SimulationError::CandidateDeleting);
            }
            flipped.push(index);
        }
        for &index in &flipped {
            self.work.nodes[index].marked_for_deletion = true;
        }
        self.runs += 1;
        let plan = scheduling::solve(&self.work, &self.settings, rng);
        for &index in &flipped {
            self.work.nodes[index].marked_for_deletion = false;
        }
        Ok(self.result(plan))
    }

    /// Turns a plan into the simulation's result (upstream's uninitialized-node rule included).
    fn result(&self, plan: Plan) -> SimulationResult {
        let snapshot = self.input.snapshot;
        let deleting: BTreeSet<&str> = snapshot
            .nodes
            .iter()
            .filter(|n| n.marked_for_deletion)
            .map(|n| n.name.as_str())
            .collect();
        let uninitialized: BTreeMap<&str, &crate::snapshot::Node> = snapshot
            .nodes
            .iter()
            .filter(|n| !n.initialized)
            .map(|n| (n.name.as_str(), n))
            .collect();
        let mut result = SimulationResult::default();
        for nomination in plan.nominations {
            let pod = &snapshot.pods[nomination.pod];
            let from_deleting = pod
                .node_name
                .as_deref()
                .is_some_and(|n| deleting.contains(n));
            if let Some(node) = uninitialized.get(nomination.node.as_str())
                && !from_deleting
            {
                result
                    .failures
                    .push(self.failure(nomination.pod, uninitialized_error(node)));
                continue;
            }
            result.placements.push(PodPlacement {
                pod: nomination.pod,
                key: pod.key(),
                node: nomination.node,
            });
        }
        let unplaced = plan
            .unschedulable
            .into_iter()
            .map(|u| (u.pod, u.explanation.message))
            .chain(plan.ignored.into_iter().map(|i| (i.pod, i.message)))
            .chain(
                plan.deferred
                    .into_iter()
                    .map(|pod| (pod, String::from("waiting for reserved capacity"))),
            );
        for (pod, message) in unplaced {
            result.failures.push(self.failure(pod, message));
        }
        result.failures.sort_by_key(|f| f.pod);
        result.new_nodeclaims = plan
            .new_nodeclaims
            .into_iter()
            .map(|nodeclaim| self.priced(nodeclaim))
            .collect();
        result
    }

    fn failure(&self, pod: PodIndex, message: String) -> PodFailure {
        let p = &self.input.snapshot.pods[pod];
        PodFailure {
            pod,
            key: p.key(),
            pending: p.node_name.is_none(),
            message,
        }
    }

    /// Prices a NodeClaim's options and orders them cheapest first (upstream `OrderByPrice`,
    /// then `TruncateInstanceTypes`).
    fn priced(&self, nodeclaim: NewNodeClaim) -> SimulatedNodeClaim {
        let types = self
            .input
            .snapshot
            .instance_types
            .get(&nodeclaim.nodepool)
            .map_or(&[][..], |types| &types[..]);
        let by_name: BTreeMap<&str, &InstanceType> =
            types.iter().map(|it| (it.name.as_str(), it)).collect();
        let mut options: Vec<InstanceTypeOption> = nodeclaim
            .instance_types
            .iter()
            .filter_map(|name| by_name.get(&**name))
            .map(|it| price_option(it, &nodeclaim.requirements))
            .collect();
        sort_options(&mut options);
        options.truncate(self.settings.max_instance_types);
        SimulatedNodeClaim { nodeclaim, options }
    }
}

/// Orders options by price, then name (a total, deterministic order).
pub(crate) fn sort_options(options: &mut [InstanceTypeOption]) {
    options.sort_by(|a, b| {
        a.price
            .total_cmp(&b.price)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Prices one instance type under `requirements`.
pub(crate) fn price_option(it: &InstanceType, requirements: &Requirements) -> InstanceTypeOption {
    InstanceTypeOption {
        name: it.name.clone(),
        price: it.cheapest_compatible_price(requirements),
        worst_launch_price: worst_launch_price(it, requirements),
    }
}

/// Upstream `WorstLaunchPrice`: among available offerings compatible with `requirements`, the
/// highest price of the first capacity type present in launch preference order (reserved, spot,
/// on-demand); `f64::MAX` when none is compatible.
pub fn worst_launch_price(it: &InstanceType, requirements: &Requirements) -> f64 {
    for capacity_type in [
        CAPACITY_TYPE_RESERVED,
        CAPACITY_TYPE_SPOT,
        CAPACITY_TYPE_ON_DEMAND,
    ] {
        let worst = it
            .offerings
            .iter()
            .filter(|o| o.capacity_type() == Some(capacity_type))
            .filter(|o| o.is_available_for(requirements))
            .map(|o| o.price)
            .fold(None, |acc: Option<f64>, p| {
                Some(acc.map_or(p, |a| a.max(p)))
            });
        if let Some(worst) = worst {
            return worst;
        }
    }
    f64::MAX
}

/// The capacity types a NodeClaim's requirements allow, in launch preference order.
pub fn allowed_capacity_types(requirements: &Requirements) -> Vec<String> {
    let requirement = requirements.get(CAPACITY_TYPE);
    [
        CAPACITY_TYPE_RESERVED,
        CAPACITY_TYPE_SPOT,
        CAPACITY_TYPE_ON_DEMAND,
    ]
    .into_iter()
    .filter(|ct| requirement.has(ct))
    .map(str::to_owned)
    .collect()
}

/// Upstream `UninitializedNodeError` text.
fn uninitialized_error(node: &crate::snapshot::Node) -> String {
    let mut parts = Vec::new();
    if let Some(nodeclaim) = &node.nodeclaim {
        parts.push(format!("nodeclaim/{nodeclaim}"));
    }
    if node.registered {
        parts.push(format!("node/{}", node.name));
    }
    format!("would schedule against uninitialized {}", parts.join(", "))
}

/// Puts [`CONSOLIDATION_WINDOW_TAINT`] on initialized managed nodes whose NodePool's
/// `consolidateAfter` has not elapsed (`Consolidatable` not true; `Never` leaves a node usable),
/// and lets pending pods, pods of deleting nodes and DaemonSet pods tolerate it.
fn apply_consolidation_windows(input: &DisruptionInput<'_>, work: &mut Snapshot) {
    let taint = Taint::new(CONSOLIDATION_WINDOW_TAINT, "", Effect::NoSchedule);
    let mut any = false;
    for node in &mut work.nodes {
        let Some(pool) = node.nodepool.as_deref() else {
            continue;
        };
        let in_window = node.initialized
            && !input.pool(pool).consolidate_after.is_never()
            && !input.node_state(&node.name).consolidatable;
        if in_window {
            node.taints.push(taint.clone());
            any = true;
        }
    }
    if !any {
        return;
    }
    let deleting: BTreeSet<String> = work
        .nodes
        .iter()
        .filter(|n| n.marked_for_deletion)
        .map(|n| n.name.clone())
        .collect();
    let toleration = Toleration::exists(CONSOLIDATION_WINDOW_TAINT, Some(Effect::NoSchedule));
    for pod in &mut work.pods {
        let exempt = pod.node_name.as_ref().is_none_or(|n| deleting.contains(n));
        if exempt {
            pod.constraints.tolerations.push(toleration.clone());
        }
    }
    for daemonset in &mut work.daemonsets {
        daemonset
            .template
            .constraints
            .tolerations
            .push(toleration.clone());
        if let Some(live) = &mut daemonset.live_pod {
            live.constraints.tolerations.push(toleration.clone());
        }
    }
}
