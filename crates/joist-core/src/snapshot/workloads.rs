//! What default topology spread needs to deduce a pod's selector (spec core §2.3 step 5): the
//! Services of the cluster and the selectors of the controllers kube-scheduler reads
//! (ReplicationControllers, ReplicaSets, StatefulSets).
//!
//! Drivers only need to fill these when default topology spread constraints are configured;
//! without them the solver never looks here.

use std::collections::BTreeMap;

use super::selector::LabelSelector;

/// A Service, reduced to what selects its pods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Service {
    /// `metadata.namespace`: a Service only selects pods of its own namespace.
    pub namespace: String,
    /// `metadata.name` (reports only).
    pub name: String,
    /// `spec.selector`. `None` (headless or externally managed endpoints) selects no pod; an
    /// empty map selects every pod of the namespace but contributes no label.
    pub selector: Option<BTreeMap<String, String>>,
}

/// The controller kinds whose selectors kube-scheduler's default-selector deduction reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// `v1` ReplicationController: its equality selector is merged into the Services' labels
    /// (a conflicting key takes the controller's value).
    ReplicationController,
    /// `apps/v1` ReplicaSet: its selector is ANDed onto the Services' labels.
    ReplicaSet,
    /// `apps/v1` StatefulSet: its selector is ANDed onto the Services' labels.
    StatefulSet,
}

impl WorkloadKind {
    /// The kind an owner reference names, when it is one of the three (group/version included:
    /// an `extensions/v1beta1` ReplicaSet is not one, as upstream matches the full kind).
    pub fn from_owner(api_version: &str, kind: &str) -> Option<Self> {
        match (api_version, kind) {
            ("v1", "ReplicationController") => Some(WorkloadKind::ReplicationController),
            ("apps/v1", "ReplicaSet") => Some(WorkloadKind::ReplicaSet),
            ("apps/v1", "StatefulSet") => Some(WorkloadKind::StatefulSet),
            _ => None,
        }
    }
}

/// The pod selector of one ReplicationController, ReplicaSet or StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkloadSelector {
    /// `metadata.namespace`.
    pub namespace: String,
    /// Which controller kind.
    pub kind: WorkloadKind,
    /// `metadata.name` (what pods' owner references name).
    pub name: String,
    /// `spec.selector` (a ReplicationController's map as `matchLabels`).
    pub selector: LabelSelector,
}
