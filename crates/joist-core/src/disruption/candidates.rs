//! Disruption candidates (spec core §4.2, upstream `NewCandidate` / `ValidateNodeDisruptable` /
//! `ValidatePodsDisruptable`): which nodes a voluntary method may consider, why the others may
//! not, and the costs and price that order them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use super::pdb_index::PdbIndex;
use super::{DisruptionInput, NodeDisruptionState, PdbStatus};
use crate::duration::parse_go_duration;
use crate::instancetype::InstanceType;
use crate::labels::{CAPACITY_TYPE, DO_NOT_DISRUPT, INSTANCE_TYPE, NODEPOOL, ZONE};
use crate::snapshot::{Node, NodePool, Pod, PodDisruptionBudget};

/// The annotation whose integer value raises or lowers a pod's eviction cost.
const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// How a method disrupts (upstream `DisruptionClass`): eventual methods (drift) may ignore pod
/// blockers when the NodeClaim has a `terminationGracePeriod`, graceful ones never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisruptionClass {
    /// Emptiness and consolidation.
    Graceful,
    /// Drift.
    Eventual,
}

/// Why a node is not a disruption candidate. `Display` gives upstream's error text; events
/// carry it capitalised ([`BlockReason::event_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// The node's providerID is already in the orchestration queue.
    AlreadyQueued,
    /// The node has no NodeClaim.
    Unmanaged,
    /// The NodeClaim has no Node yet.
    NotRegistered,
    /// The NodeClaim is not `Initialized`.
    NotInitialized,
    /// The node is deleting, marked for deletion or its instance is terminating.
    MarkedForDeletion,
    /// A recent scheduling decision nominated the node.
    Nominated,
    /// The node carries `karpenter.sh/do-not-disrupt: "true"`.
    NodeDoNotDisrupt,
    /// The node lacks the `karpenter.sh/nodepool` label.
    MissingNodePoolLabel,
    /// The NodePool does not exist or offers no instance types (upstream leaves such pools out
    /// of its map, so both read "nodepool not found").
    NodePoolNotFound {
        /// The NodePool named by the node's label.
        nodepool: String,
    },
    /// An active pod has an active `karpenter.sh/do-not-disrupt` annotation.
    PodDoNotDisrupt {
        /// `namespace/name` of the pod.
        pod: String,
    },
    /// A PDB allows no disruption for one of the node's evictable pods.
    PdbBlocks {
        /// `namespace/name` of the PDB.
        pdb: String,
    },
    /// An evictable pod is matched by several PDBs, which the eviction API refuses.
    MultiplePdbs {
        /// `namespace/name` of each matching PDB, in snapshot order.
        pdbs: Vec<String>,
    },
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyQueued => f.write_str("candidate is already being disrupted"),
            Self::Unmanaged => f.write_str("node isn't managed by karpenter"),
            Self::NotRegistered => f.write_str("nodeclaim does not have an associated node"),
            Self::NotInitialized => f.write_str("node isn't initialized"),
            Self::MarkedForDeletion => f.write_str("node is deleting or marked for deletion"),
            Self::Nominated => f.write_str("node is nominated for a pending pod"),
            Self::NodeDoNotDisrupt => write!(
                f,
                "disruption is blocked through the {DO_NOT_DISRUPT:?} annotation"
            ),
            Self::MissingNodePoolLabel => {
                write!(f, "node doesn't have required label (label={NODEPOOL})")
            }
            Self::NodePoolNotFound { nodepool } => {
                write!(f, "nodepool not found (NodePool={nodepool})")
            }
            Self::PodDoNotDisrupt { pod } => {
                write!(f, "pod has {DO_NOT_DISRUPT:?} annotation (Pod={pod})")
            }
            Self::PdbBlocks { pdb } => {
                write!(
                    f,
                    "pdb prevents pod evictions (PodDisruptionBudget=[{pdb}])"
                )
            }
            Self::MultiplePdbs { pdbs } => write!(
                f,
                "eviction does not support multiple PDBs (PodDisruptionBudget(s)=[{}])",
                pdbs.join(" ")
            ),
        }
    }
}

impl BlockReason {
    /// The `DisruptionBlocked` event message: the error text with its first letter upper-cased,
    /// except for a missing NodePool, whose event upstream words on its own
    /// ("NodePool not found (NodePool=x)").
    pub fn event_message(&self) -> String {
        if let Self::NodePoolNotFound { nodepool } = self {
            return format!("NodePool not found (NodePool={nodepool})");
        }
        let text = self.to_string();
        let mut chars = text.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect()
        })
    }

    /// Whether the reason comes from the node's pods (ignored for eventual methods when the
    /// NodeClaim has a `terminationGracePeriod`).
    pub const fn is_pod_blocker(&self) -> bool {
        matches!(
            self,
            Self::PodDoNotDisrupt { .. } | Self::PdbBlocks { .. } | Self::MultiplePdbs { .. }
        )
    }
}

/// A node a disruption method may act on, with what orders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The node's name.
    pub node: String,
    /// Its NodePool.
    pub nodepool: String,
    /// `node.kubernetes.io/instance-type`, if labelled.
    pub instance_type: Option<String>,
    /// `karpenter.sh/capacity-type`, if labelled.
    pub capacity_type: Option<String>,
    /// `topology.kubernetes.io/zone`, if labelled.
    pub zone: Option<String>,
    /// `namespace/name` of the pods that must move elsewhere if the node goes.
    pub reschedulable_pods: Vec<String>,
    /// Price of the node's offering (instance type, zone, capacity type); 0 when unknown.
    pub price: f64,
    /// Σ over all the node's pods of eviction cost × the node's remaining lifetime.
    pub disruption_cost: f64,
    /// 1 + Σ over reschedulable pods of their positive eviction costs.
    pub reschedule_disruption_cost: f64,
}

impl Candidate {
    /// v1.14 emptiness: no reschedulable pod with a positive eviction cost.
    pub fn is_empty(&self) -> bool {
        self.reschedule_disruption_cost <= 1.0
    }

    /// Price per unit of reschedule disruption: higher goes first (v1.14, spec §0.1).
    pub fn savings_ratio(&self) -> f64 {
        self.price / self.reschedule_disruption_cost
    }
}

/// The outcome of listing candidates: who may be disrupted, who may not and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandidateSet {
    /// Candidates, by descending savings ratio then node name.
    pub candidates: Vec<Candidate>,
    /// Nodes that are not candidates, by node name, with the first blocker found.
    pub blocked: Vec<(String, BlockReason)>,
    /// Warnings for the driver's `InvalidDoNotDisruptAnnotation` events (unparsable or
    /// non-positive pod `do-not-disrupt` values, which are ignored).
    pub warnings: Vec<String>,
}

// === impl CandidateSet ===

impl CandidateSet {
    /// Lists candidates for a method of `class` (spec core §4.2).
    pub fn build(input: &DisruptionInput<'_>, class: DisruptionClass) -> Self {
        let snapshot = input.snapshot;
        let mut pods_by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
        for pod in &snapshot.pods {
            if let Some(node) = pod.node_name.as_deref() {
                pods_by_node.entry(node).or_default().push(pod);
            }
        }
        let mut nodes: Vec<&Node> = snapshot.nodes.iter().collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let pools: BTreeMap<&str, &NodePool> = snapshot
            .nodepools
            .iter()
            .map(|pool| (pool.name.as_str(), pool))
            .collect();
        let pdb_index = PdbIndex::new(&snapshot.pdbs);
        let mut set = Self::default();
        for node in nodes {
            let pods = pods_by_node
                .get(node.name.as_str())
                .map_or(&[][..], Vec::as_slice);
            let context = (&pools, &pdb_index);
            match candidate(input, class, node, context, pods, &mut set.warnings) {
                Ok(candidate) => set.candidates.push(candidate),
                Err(reason) => set.blocked.push((node.name.clone(), reason)),
            }
        }
        set.candidates.sort_by(|a, b| {
            b.savings_ratio()
                .total_cmp(&a.savings_ratio())
                .then_with(|| a.node.cmp(&b.node))
        });
        set
    }
}

/// One node's candidacy: node checks first, then pod checks, as upstream.
fn candidate(
    input: &DisruptionInput<'_>,
    class: DisruptionClass,
    node: &Node,
    (nodepools, pdbs): (&BTreeMap<&str, &NodePool>, &PdbIndex<'_>),
    pods: &[&Pod],
    warnings: &mut Vec<String>,
) -> Result<Candidate, BlockReason> {
    let state = input.node_state(&node.name);
    let nodepool = validate_node(state, node)?;
    let pool = nodepools
        .get(nodepool)
        .ok_or_else(|| BlockReason::NodePoolNotFound {
            nodepool: nodepool.to_owned(),
        })?;
    let instance_types = input
        .snapshot
        .instance_types
        .get(nodepool)
        .filter(|types| !types.is_empty())
        .ok_or_else(|| BlockReason::NodePoolNotFound {
            nodepool: nodepool.to_owned(),
        })?;
    // Upstream reads the NodeClaim's own `spec.terminationGracePeriod`, not the NodePool's.
    let has_tgp = state.termination_grace_period.is_some();
    if let Err(reason) = validate_pods(input, pdbs, pods, warnings)
        && !(class == DisruptionClass::Eventual && has_tgp && reason.is_pod_blocker())
    {
        return Err(reason);
    }
    let label = |key: &str| node.labels.get(key).cloned();
    let (instance_type, capacity_type, zone) =
        (label(INSTANCE_TYPE), label(CAPACITY_TYPE), label(ZONE));
    let price = offering_price(
        instance_types,
        instance_type.as_deref(),
        zone.as_deref(),
        capacity_type.as_deref(),
    );
    let lifetime = lifetime_remaining(pool, state.created, input.snapshot.now);
    let reschedulable: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| is_reschedulable(p))
        .collect();
    Ok(Candidate {
        node: node.name.clone(),
        nodepool: nodepool.to_owned(),
        reschedulable_pods: reschedulable.iter().map(|p| p.key()).collect(),
        price,
        disruption_cost: disruption_cost(pods.iter().copied(), lifetime),
        reschedule_disruption_cost: 1.0
            + reschedulable
                .iter()
                .map(|p| eviction_cost(p).max(0.0))
                .sum::<f64>(),
        instance_type,
        capacity_type,
        zone,
    })
}

/// The price of the offering a node runs on: its instance type's offering in its zone and
/// capacity type; 0 when any of them is unknown (upstream leaves the price at zero then).
fn offering_price(
    instance_types: &[InstanceType],
    instance_type: Option<&str>,
    zone: Option<&str>,
    capacity_type: Option<&str>,
) -> f64 {
    instance_types
        .iter()
        .find(|it| Some(it.name.as_str()) == instance_type)
        .and_then(|it| {
            it.offerings
                .iter()
                .find(|o| o.zone() == zone && o.capacity_type() == capacity_type)
        })
        .map_or(0.0, |o| o.price)
}

/// The node-level checks of upstream `ValidateNodeDisruptable`, in its order; returns the
/// node's NodePool name.
fn validate_node<'n>(state: &NodeDisruptionState, node: &'n Node) -> Result<&'n str, BlockReason> {
    if state.queued {
        return Err(BlockReason::AlreadyQueued);
    }
    if node.nodeclaim.is_none() {
        return Err(BlockReason::Unmanaged);
    }
    if !node.registered {
        return Err(BlockReason::NotRegistered);
    }
    if !node.initialized {
        return Err(BlockReason::NotInitialized);
    }
    if node.marked_for_deletion || state.instance_terminating {
        return Err(BlockReason::MarkedForDeletion);
    }
    if node.nominated {
        return Err(BlockReason::Nominated);
    }
    if state.annotations.get(DO_NOT_DISRUPT).map(String::as_str) == Some("true") {
        return Err(BlockReason::NodeDoNotDisrupt);
    }
    node.labels
        .get(NODEPOOL)
        .map(String::as_str)
        .ok_or(BlockReason::MissingNodePoolLabel)
}

/// The pod-level checks: active `do-not-disrupt` pods first, then PDBs.
fn validate_pods(
    input: &DisruptionInput<'_>,
    pdbs: &PdbIndex<'_>,
    pods: &[&Pod],
    warnings: &mut Vec<String>,
) -> Result<(), BlockReason> {
    for pod in pods {
        if is_active(pod) && pod_do_not_disrupt_active(input, pod, warnings) {
            return Err(BlockReason::PodDoNotDisrupt { pod: pod.key() });
        }
    }
    for pod in pods.iter().filter(|p| is_evictable(p)) {
        let mut matching = pdbs.matching(&input.snapshot.pdbs, pod).into_iter();
        let Some(first) = matching.next() else {
            continue;
        };
        if let Some(second) = matching.next() {
            let pdbs = [first, second].into_iter().chain(matching);
            return Err(BlockReason::MultiplePdbs {
                pdbs: pdbs.map(pdb_key).collect(),
            });
        }
        let status = pdb_status(input, first);
        let unhealthy_exempt =
            status.always_allow_unhealthy && input.unready_pods.contains(&pod.uid);
        if status.disruptions_allowed <= 0 && !unhealthy_exempt {
            return Err(BlockReason::PdbBlocks {
                pdb: pdb_key(first),
            });
        }
    }
    Ok(())
}

/// Whether a pod's `do-not-disrupt` annotation is in force: `"true"`, or a positive duration
/// not yet elapsed since the pod started. Any other value (`"false"` included: upstream parses it
/// as a duration) is ignored with a warning; a duration value on a pod whose start time is
/// unknown is taken as in force, as upstream fails safe there.
fn pod_do_not_disrupt_active(
    input: &DisruptionInput<'_>,
    pod: &Pod,
    warnings: &mut Vec<String>,
) -> bool {
    let Some(value) = pod.do_not_disrupt() else {
        return false;
    };
    if value == "true" {
        return true;
    }
    let duration = match parse_go_duration(value) {
        Ok(duration) if !duration.is_zero() => duration,
        Ok(_) => {
            warnings.push(format!(
                "duration {value:?} must be positive (Pod={})",
                pod.key()
            ));
            return false;
        }
        Err(_) => {
            warnings.push(format!(
                "failed to parse {value:?} as a duration (Pod={})",
                pod.key()
            ));
            return false;
        }
    };
    let Some(started) = input.pod_start_times.get(&pod.uid) else {
        return true;
    };
    chrono::TimeDelta::from_std(duration)
        .ok()
        .and_then(|d| started.checked_add_signed(d))
        .is_none_or(|until| input.snapshot.now < until)
}

/// The status of a PDB, falling back to its spec when the driver gave none.
fn pdb_status(input: &DisruptionInput<'_>, pdb: &PodDisruptionBudget) -> PdbStatus {
    let key = (pdb.namespace.clone(), pdb.name.clone());
    input.pdb_status.get(&key).copied().unwrap_or(PdbStatus {
        disruptions_allowed: if pdb.is_fully_blocking() { 0 } else { 1 },
        always_allow_unhealthy: false,
    })
}

fn pdb_key(pdb: &PodDisruptionBudget) -> String {
    format!("{}/{}", pdb.namespace, pdb.name)
}

/// Neither terminal nor terminating.
fn is_active(pod: &Pod) -> bool {
    !pod.is_terminal() && !pod.is_terminating()
}

/// Pods the eviction API is asked about: active and not mirror pods.
fn is_evictable(pod: &Pod) -> bool {
    is_active(pod) && !pod.is_mirror_pod()
}

/// Pods that need a new home: active (or terminating StatefulSet pods, whose replacement waits
/// for them), and not DaemonSet or mirror pods.
fn is_reschedulable(pod: &Pod) -> bool {
    (is_active(pod) || (pod.is_terminating() && pod.is_statefulset_pod()))
        && !pod.is_daemonset_pod()
        && !pod.is_mirror_pod()
}

/// `clamp(1 + deletionCost/2^27 + priority/2^25, −10, 10)`: how costly evicting the pod is.
/// An unparsable deletion cost counts as 0.
pub fn eviction_cost(pod: &Pod) -> f64 {
    let deletion_cost = pod
        .annotations
        .get(POD_DELETION_COST)
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(0.0, f64::from);
    let cost = 1.0
        + deletion_cost / f64::from(1u32 << 27)
        + f64::from(pod.priority) / f64::from(1u32 << 25);
    cost.clamp(-10.0, 10.0)
}

/// Σ eviction cost × `lifetime_remaining` over `pods`.
pub fn disruption_cost<'p>(
    pods: impl IntoIterator<Item = &'p Pod>,
    lifetime_remaining: f64,
) -> f64 {
    pods.into_iter().map(eviction_cost).sum::<f64>() * lifetime_remaining
}

/// `clamp((expireAfter − age) / expireAfter, 0, 1)`; 1 when `expireAfter` is `Never`, unparsable
/// or zero, or the node's creation time is unknown.
pub fn lifetime_remaining(
    pool: &NodePool,
    created: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> f64 {
    let expire_after = pool
        .expire_after
        .as_deref()
        .and_then(|text| parse_go_duration(text).ok())
        .filter(|d| !d.is_zero());
    let (Some(expire_after), Some(created)) = (expire_after, created) else {
        return 1.0;
    };
    let age = (now - created).as_seconds_f64();
    let total = expire_after.as_secs_f64();
    ((total - age) / total).clamp(0.0, 1.0)
}
