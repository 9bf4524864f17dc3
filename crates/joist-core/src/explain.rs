//! Structured explanations of scheduling decisions.
//!
//! Upstream Karpenter reports a pod that cannot be scheduled with one error string. joist keeps
//! that string (so events and logs read the same) and adds, per NodePool that was tried, why it was
//! rejected and how many instance types fell to each criterion, so `joist explain` and the
//! simulator can answer "why is this pod pending?" without re-running anything.

use std::fmt;

use serde::Serialize;

/// Why one NodePool could not take a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectReason {
    /// The pod does not tolerate the NodePool's taints.
    Taints,
    /// The pod's requirements conflict with the NodePool's (or use an undefined custom key).
    Requirements,
    /// No single instance type met the requirements, resources and offering criteria together.
    InstanceTypes,
    /// `minValues` could not be met with the remaining instance types.
    MinValues,
    /// The NodePool's `nodes` limit is exhausted.
    NodeLimit,
    /// Every instance type would exceed the NodePool's resource limits.
    Limits,
    /// Topology spread, pod affinity or anti-affinity left no domain.
    Topology,
    /// Reserved capacity could not be reserved (the pod is retried next round).
    ReservedCapacity,
    /// The pod's volumes constrain it to topology the NodePool cannot offer.
    Volumes,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RejectReason::Taints => "taints",
            RejectReason::Requirements => "requirements",
            RejectReason::InstanceTypes => "instance types",
            RejectReason::MinValues => "minValues",
            RejectReason::NodeLimit => "node limit",
            RejectReason::Limits => "limits",
            RejectReason::Topology => "topology",
            RejectReason::ReservedCapacity => "reserved capacity",
            RejectReason::Volumes => "volumes",
        };
        f.write_str(text)
    }
}

/// How many of a NodePool's instance types failed each criterion for a pod (an instance type may
/// fail several). Only filled when instance types were actually evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceTypeCounts {
    /// Instance types evaluated.
    pub considered: usize,
    /// Whose requirements do not intersect the NodeClaim's.
    pub requirements: usize,
    /// Without an allocatable group (with a compatible offering) that holds the requests plus
    /// DaemonSet overhead.
    pub resources: usize,
    /// Without an available offering compatible with the requirements.
    pub offerings: usize,
    /// Dropped because the NodePool's limits would be exceeded.
    pub limits: usize,
}

/// One NodePool's refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolRejection {
    /// The NodePool.
    pub nodepool: String,
    /// The deciding criterion.
    pub reason: RejectReason,
    /// Upstream's error text for this NodePool.
    pub message: String,
    /// Instance-type counts per criterion, when instance types were evaluated.
    pub instance_types: Option<InstanceTypeCounts>,
}

/// Why a pod could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The error upstream would report (`Failed to schedule pod, <message>`).
    pub message: String,
    /// Per NodePool tried (in weight order), why it refused the pod.
    pub nodepools: Vec<NodePoolRejection>,
    /// Further facts that are not upstream's (e.g. that preference relaxation was unavailable).
    pub notes: Vec<String>,
}

impl Explanation {
    /// An explanation that is not about particular NodePools.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            nodepools: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// An explanation built from NodePool rejections; the message joins theirs with `"; "`, as
    /// upstream's `multierr.Combine` does.
    pub fn from_rejections(nodepools: Vec<NodePoolRejection>) -> Self {
        let message = nodepools
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            message,
            nodepools,
            notes: Vec::new(),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
