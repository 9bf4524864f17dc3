//! [`Plan`]: everything a solve decided, as data (no events, no logs, no API calls).

use std::collections::BTreeMap;
use std::sync::Arc;

pub use super::stats::SchedulingStats;
pub use super::template::{NO_COMPATIBLE_INSTANCE_TYPES, NodePoolEvent, SkippedNodePool};
use crate::explain::Explanation;
use crate::requirements::Requirements;
use crate::resources::ResourceList;
use crate::snapshot::NodeClassRef;
use crate::taints::Taint;

/// Index of a pod in [`Snapshot::pods`](crate::snapshot::Snapshot::pods).
pub type PodIndex = usize;

/// A NodeClaim to create (spec core §2.16).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNodeClaim {
    /// The NodePool the NodeClaim belongs to (`generateName: <nodepool>-`, owner reference).
    pub nodepool: String,
    /// Labels: template labels, `karpenter.sh/nodepool`, the node class label and resolved values
    /// for custom requirement keys.
    pub labels: BTreeMap<String, String>,
    /// Annotations: template annotations, the NodePool hash and hash version, and
    /// `karpenter.sh/nodeclaim-min-values-relaxed` when minValues were considered.
    pub annotations: BTreeMap<String, String>,
    /// `spec.requirements`: every merged requirement, including `node.kubernetes.io/instance-type
    /// In [≤ max names]` and the narrowed `karpenter.sh/capacity-type`.
    pub requirements: Requirements,
    /// The instance-type options, cheapest compatible available offering first (the requirement
    /// serialises them alphabetically; this keeps the price order for reports). Shared strings:
    /// a large solve lists the same hundreds of names on every NodeClaim, and NodeClaims with
    /// the same options share one list.
    pub instance_types: Arc<[Arc<str>]>,
    /// `spec.resources.requests`: the pods' requests plus the minimum DaemonSet overhead.
    pub requests: ResourceList,
    /// `spec.taints`.
    pub taints: Vec<Taint>,
    /// `spec.startupTaints`.
    pub startup_taints: Vec<Taint>,
    /// `spec.nodeClassRef`.
    pub node_class_ref: NodeClassRef,
    /// `spec.expireAfter` as written on the NodePool (`None` = Never).
    pub expire_after: Option<String>,
    /// `spec.terminationGracePeriod` as written on the NodePool.
    pub termination_grace_period: Option<String>,
    /// Whether BestEffort lowered some minValues for this NodeClaim.
    pub min_values_relaxed: bool,
    /// The hostname placeholder the solve used for topology (`hostname-placeholder-NNNN`).
    pub hostname_placeholder: String,
    /// The pods this NodeClaim was computed for, in placement order.
    pub pods: Vec<PodIndex>,
}

/// A pod expected to fit an existing or in-flight node (the driver emits `Nominated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nomination {
    /// The pod.
    pub pod: PodIndex,
    /// The node's name.
    pub node: String,
}

/// A pod that could not be placed this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    /// The pod.
    pub pod: PodIndex,
    /// Why.
    pub explanation: Explanation,
}

/// A pod left out of the round because it is invalid (spec core §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The pod.
    pub pod: PodIndex,
    /// Upstream's validation error text.
    pub message: String,
    /// Whether upstream would emit a `FailedScheduling` event (not for the "not on Karpenter
    /// nodes" case).
    pub emit_event: bool,
}

/// The outcome of [`solve`](super::solve).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// NodeClaims to create, in creation order.
    pub new_nodeclaims: Vec<NewNodeClaim>,
    /// Pods expected to land on existing or in-flight nodes.
    pub nominations: Vec<Nomination>,
    /// Pods that could not be placed, with explanations, in pod order.
    pub unschedulable: Vec<Unschedulable>,
    /// Invalid pods, in pod order.
    pub ignored: Vec<Ignored>,
    /// Pods waiting for reserved capacity (retried next round; not failures).
    pub deferred: Vec<PodIndex>,
    /// NodePools the solve could not use, with upstream's log reason.
    pub skipped_nodepools: Vec<SkippedNodePool>,
    /// Counts for the driver's scheduling metrics (the core emits none itself).
    pub stats: SchedulingStats,
}

impl Plan {
    /// The NodeClaim a pod was placed on, if any.
    pub fn nodeclaim_of(&self, pod: PodIndex) -> Option<&NewNodeClaim> {
        self.new_nodeclaims.iter().find(|nc| nc.pods.contains(&pod))
    }

    /// The instance-type names of a NodeClaim as plain strings (test and report convenience).
    pub fn instance_type_names(nodeclaim: &NewNodeClaim) -> Vec<&str> {
        nodeclaim.instance_types.iter().map(|n| &**n).collect()
    }

    /// The existing node a pod was nominated to, if any.
    pub fn nomination_of(&self, pod: PodIndex) -> Option<&str> {
        self.nominations
            .iter()
            .find(|n| n.pod == pod)
            .map(|n| n.node.as_str())
    }

    /// The explanation for an unschedulable pod, if it is one.
    pub fn explanation_of(&self, pod: PodIndex) -> Option<&Explanation> {
        self.unschedulable
            .iter()
            .find(|u| u.pod == pod)
            .map(|u| &u.explanation)
    }

    /// Number of pods placed (on new NodeClaims or nominated).
    pub fn scheduled_count(&self) -> usize {
        self.new_nodeclaims
            .iter()
            .map(|nc| nc.pods.len())
            .sum::<usize>()
            + self.nominations.len()
    }
}
