//! The immutable cluster view the scheduler decides on (see `docs/design/scheduling.md`).
//!
//! A [`Snapshot`] is plain data that drivers (controller index, simulator, benchmarks, tests)
//! build from Kubernetes objects. Nothing in here reads a clock or talks to an API: `now` is part
//! of the snapshot, and every decision made from it is reproducible.

mod daemonset;
mod node;
mod nodepool;
mod pdb;
mod pod;
mod pod_requirements;
mod selector;
mod volumes;
mod workloads;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use daemonset::DaemonSet;
pub use node::Node;
pub use nodepool::{NodeClassRef, NodePool};
pub use pdb::{IntOrString, PodDisruptionBudget};
pub use pod::{
    HostPort, NodeAffinity, NodeInclusionPolicy, NodeSelectorTerm, OwnerReference, Pod,
    PodAffinity, PodAffinityTerm, PodConstraints, PodPhase, PodVolume, PreferredSchedulingTerm,
    Protocol, TopologySpreadConstraint, VolumeSource, WeightedPodAffinityTerm, WhenUnsatisfiable,
};
pub use selector::{
    LabelSelector, LabelSelectorRequirement, SelectorError, SelectorOperator,
    optional_selector_matches,
};
pub use volumes::{
    ClaimPhase, PersistentVolume, PersistentVolumeClaim, StorageClass, TopologySelectorTerm,
    VolumeBindingMode, Volumes,
};
pub use workloads::{Service, WorkloadKind, WorkloadSelector};

use crate::instancetype::InstanceType;

/// Everything one scheduling decision needs.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The time the snapshot was taken (the only clock the core sees).
    pub now: DateTime<Utc>,
    /// Every pod the driver knows: pending ones are candidates, bound ones count towards node
    /// usage and topology.
    pub pods: Vec<Pod>,
    /// Existing nodes and in-flight NodeClaims.
    pub nodes: Vec<Node>,
    /// NodePools (static, not-ready and deleting ones included: the solver skips them with a
    /// reason).
    pub nodepools: Vec<NodePool>,
    /// Instance types offered per NodePool name (upstream `GetInstanceTypes(nodePool)`), shared
    /// because several NodePools usually get the same list.
    pub instance_types: BTreeMap<String, Arc<[InstanceType]>>,
    /// DaemonSets, whose pods add overhead to every new node they can run on.
    pub daemonsets: Vec<DaemonSet>,
    /// PodDisruptionBudgets (which pods on deleting nodes may be rescheduled).
    pub pdbs: Vec<PodDisruptionBudget>,
    /// Namespace labels by namespace name, for affinity `namespaceSelector`s.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// PVCs, PVs and StorageClasses.
    pub volumes: Volumes,
    /// Services (their selectors), for default topology spread selector deduction; only read
    /// when default constraints are configured.
    pub services: Vec<Service>,
    /// Selectors of ReplicationControllers, ReplicaSets and StatefulSets, for default topology
    /// spread selector deduction; only read when default constraints are configured.
    pub workload_selectors: Vec<WorkloadSelector>,
}
