//! [`Pod`]: the scheduling view of a Kubernetes pod.
//!
//! Drivers fill these from `v1.Pod` objects. Everything the scheduler may relax while looking for a
//! place (node affinity terms, preferred pod (anti-)affinity, `ScheduleAnyway` spread constraints,
//! tolerations) lives in [`PodConstraints`], so preference relaxation works on a cheap copy of that
//! part only (spec core §2.10) and never on the whole pod.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::selector::LabelSelector;
use crate::labels::DO_NOT_DISRUPT;
use crate::requirements::NodeSelectorRequirement;
use crate::resources::ResourceList;
use crate::taints::Toleration;

/// Identity of an owner (`metadata.ownerReferences[]` with `controller: true`, or the first one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerReference {
    /// `apiVersion` of the owner, e.g. `apps/v1`.
    pub api_version: String,
    /// Kind of the owner, e.g. `ReplicaSet`, `DaemonSet`, `StatefulSet`, `Node`.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// Whether the reference has `controller: true`. Only a controller's selector feeds default
    /// topology spread; drivers that fall back to a non-controller reference say so here.
    pub controller: bool,
}

impl OwnerReference {
    /// Builds a controller owner reference (`controller: true`, what workload controllers set).
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            controller: true,
        }
    }

    /// Returns the reference with `controller` set as given.
    #[must_use]
    pub fn with_controller(mut self, controller: bool) -> Self {
        self.controller = controller;
        self
    }
}

/// `status.phase` of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PodPhase {
    /// Accepted but not all containers running (pending pods are here).
    #[default]
    Pending,
    /// Bound and at least one container running.
    Running,
    /// All containers terminated successfully (terminal).
    Succeeded,
    /// All containers terminated, at least one failed (terminal).
    Failed,
    /// The state could not be obtained.
    Unknown,
}

impl PodPhase {
    /// Whether the phase is terminal (`Succeeded` or `Failed`).
    pub const fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// One node selector term (`nodeSelectorTerms[]` / a preferred term's `preference`): the
/// expressions are ANDed. `matchFields` is kept only so validation can reject it (§2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NodeSelectorTerm {
    /// `matchExpressions`: label requirements, ANDed.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// `matchFields`: unsupported by Karpenter; a non-empty list makes the pod invalid.
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// A term of label expressions.
    pub fn new(match_expressions: Vec<NodeSelectorRequirement>) -> Self {
        Self {
            match_expressions,
            match_fields: Vec::new(),
        }
    }
}

/// A weighted preferred node selector term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PreferredSchedulingTerm {
    /// Weight 1..100; the heaviest preference is tried as a requirement first.
    pub weight: i32,
    /// The preferred term.
    pub preference: NodeSelectorTerm,
}

/// Node affinity: required terms are ORed (Karpenter tries them one at a time, first first);
/// preferred terms are tried heaviest first under `PreferencePolicy::Respect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NodeAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
    pub required: Vec<NodeSelectorTerm>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred: Vec<PreferredSchedulingTerm>,
}

/// A pod (anti-)affinity term.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodAffinityTerm {
    /// Which pods the term is about; `None` (nil) selects no pods.
    pub label_selector: Option<LabelSelector>,
    /// Namespaces to look in; with no `namespace_selector`, empty means the pod's own namespace.
    pub namespaces: Vec<String>,
    /// Namespaces selected by their labels (in addition to `namespaces`); `Some(empty)` selects
    /// every namespace.
    pub namespace_selector: Option<LabelSelector>,
    /// The node label whose values are the topology domains.
    pub topology_key: String,
    /// Pod label keys whose values (from the incoming pod) are ANDed into the selector as `In`.
    pub match_label_keys: Vec<String>,
    /// Pod label keys whose values are ANDed into the selector as `NotIn`.
    pub mismatch_label_keys: Vec<String>,
}

/// A weighted preferred pod (anti-)affinity term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightedPodAffinityTerm {
    /// Weight 1..100; relaxation removes the heaviest first.
    pub weight: i32,
    /// The term.
    pub term: PodAffinityTerm,
}

/// Pod affinity or anti-affinity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    pub required: Vec<PodAffinityTerm>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred: Vec<WeightedPodAffinityTerm>,
}

impl PodAffinity {
    /// Whether there is no term at all.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// `whenUnsatisfiable` of a topology spread constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WhenUnsatisfiable {
    /// Hard constraint.
    #[default]
    DoNotSchedule,
    /// Soft constraint: treated as hard under `Respect` until relaxed away.
    ScheduleAnyway,
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy` of a topology spread constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeInclusionPolicy {
    /// Only nodes that pass the filter (affinity / tolerated taints) count.
    Honor,
    /// Every node counts.
    Ignore,
}

/// A topology spread constraint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopologySpreadConstraint {
    /// The maximum allowed difference between a domain's count and the global minimum.
    pub max_skew: i32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// Hard or soft.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// Which pods are counted; `None` (nil) selects no pods, so the constraint never restricts.
    pub label_selector: Option<LabelSelector>,
    /// Minimum number of eligible domains; below it the global minimum is taken as 0.
    pub min_domains: Option<i32>,
    /// Default (`None`) is `Honor`.
    pub node_affinity_policy: Option<NodeInclusionPolicy>,
    /// Default (`None`) is `Ignore`.
    pub node_taints_policy: Option<NodeInclusionPolicy>,
    /// Pod label keys whose values are ANDed into the selector.
    pub match_label_keys: Vec<String>,
}

/// Transport protocol of a host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Protocol {
    /// TCP (the Kubernetes default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// A container port with `hostPort` set: two pods using the same (ip, port, protocol) cannot share
/// a node (spec core §2.5, §2.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// `hostIP`; empty means `0.0.0.0` (all addresses).
    pub ip: String,
    /// `hostPort`.
    pub port: i32,
    /// `protocol`.
    pub protocol: Protocol,
}

impl HostPort {
    /// Whether two host port usages conflict: same protocol and port, and equal IPs or either
    /// unspecified (`""`, `0.0.0.0`, `::`).
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        let unspecified = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
        self.protocol == other.protocol
            && self.port == other.port
            && (self.ip == other.ip || unspecified(&self.ip) || unspecified(&other.ip))
    }
}

/// Where a pod volume's data comes from, as far as scheduling cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VolumeSource {
    /// `persistentVolumeClaim.claimName` in the pod's namespace.
    PersistentVolumeClaim {
        /// The claim's name.
        claim_name: String,
    },
    /// A generic ephemeral volume; its PVC is named `<pod name>-<volume name>`.
    Ephemeral {
        /// `volumeClaimTemplate.spec.storageClassName`; `None` means the default class.
        storage_class_name: Option<String>,
    },
    /// Any other volume (emptyDir, configMap, NFS ...): ignored by scheduling.
    Other,
}

/// One entry of `spec.volumes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodVolume {
    /// The volume's name in the pod.
    pub name: String,
    /// Its source.
    pub source: VolumeSource,
}

/// The parts of a pod's spec that decide where it may run and that preference relaxation may
/// change (spec core §2.10). Kept apart from [`Pod`] so a relaxed copy is cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodConstraints {
    /// `spec.nodeSelector`: each entry is an `In [value]` requirement.
    pub node_selector: BTreeMap<String, String>,
    /// `spec.affinity.nodeAffinity`.
    pub node_affinity: NodeAffinity,
    /// `spec.affinity.podAffinity`.
    pub pod_affinity: PodAffinity,
    /// `spec.affinity.podAntiAffinity`.
    pub pod_anti_affinity: PodAffinity,
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// `spec.topologySpreadConstraints`.
    pub topology_spread: Vec<TopologySpreadConstraint>,
}

impl PodConstraints {
    /// Whether any topology constraint (spread, pod affinity, pod anti-affinity) is present;
    /// such pods need the topology engine (spec core §2.9).
    pub fn has_topology(&self) -> bool {
        !self.topology_spread.is_empty()
            || !self.pod_affinity.is_empty()
            || !self.pod_anti_affinity.is_empty()
    }
}

/// The scheduling view of a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// `metadata.uid`; the tie-breaker of the queue order and the pod's identity in a plan.
    pub uid: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels` (selectors of spread constraints and affinities match these).
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (`karpenter.sh/do-not-disrupt` ...).
    pub annotations: BTreeMap<String, String>,
    /// The controlling owner, if any (DaemonSet and Node owners exclude a pod from provisioning).
    pub owner: Option<OwnerReference>,
    /// `metadata.creationTimestamp`: the queue order's third key.
    pub creation_timestamp: DateTime<Utc>,
    /// `metadata.deletionTimestamp`: set when the pod is terminating.
    pub deletion_timestamp: Option<DateTime<Utc>>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// `spec.nodeName`: set once bound.
    pub node_name: Option<String>,
    /// `status.nominatedNodeName`: set while kube-scheduler preempts for the pod.
    pub nominated_node_name: Option<String>,
    /// `status.phase`.
    pub phase: PodPhase,
    /// Whether the pod has condition `PodScheduled=False` with reason `Unschedulable` (set by
    /// kube-scheduler; what makes a pending pod provisionable).
    pub unschedulable: bool,
    /// Requests as computed by [`crate::resources::pod_requests`], including `pods: 1`.
    pub requests: ResourceList,
    /// Where the pod may run.
    pub constraints: PodConstraints,
    /// Host ports of its containers.
    pub host_ports: Vec<HostPort>,
    /// `spec.volumes`.
    pub volumes: Vec<PodVolume>,
    /// Whether the pod references DRA ResourceClaims (`spec.resourceClaims`).
    pub has_resource_claims: bool,
}

impl Pod {
    /// `namespace/name`, how logs and events name the pod.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the pod is owned by a DaemonSet.
    pub fn is_daemonset_pod(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet")
    }

    /// Whether the pod is a static/mirror pod (owned by a Node).
    pub fn is_mirror_pod(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind == "Node")
    }

    /// Whether the pod is owned by a StatefulSet.
    pub fn is_statefulset_pod(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind == "StatefulSet")
    }

    /// Whether the pod is terminating (has a deletion timestamp).
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    /// Whether the pod is in a terminal phase.
    pub fn is_terminal(&self) -> bool {
        self.phase.is_terminal()
    }

    /// The raw `karpenter.sh/do-not-disrupt` annotation value, if set.
    pub fn do_not_disrupt(&self) -> Option<&str> {
        self.annotations.get(DO_NOT_DISRUPT).map(String::as_str)
    }
}
