//! Persistent volume objects the scheduler consults (spec core §2.2, §2.8).

use chrono::{DateTime, Utc};

use super::pod::NodeSelectorTerm;

/// `status.phase` of a PersistentVolumeClaim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClaimPhase {
    /// Not yet bound.
    #[default]
    Pending,
    /// Bound to a volume.
    Bound,
    /// The bound volume is gone.
    Lost,
}

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistentVolumeClaim {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.storageClassName`.
    pub storage_class_name: Option<String>,
    /// `spec.volumeName`: the bound volume.
    pub volume_name: Option<String>,
    /// `status.phase`.
    pub phase: ClaimPhase,
    /// Whether the claim has a deletion timestamp.
    pub deleting: bool,
    /// Whether the `pv.kubernetes.io/bind-completed` annotation is present.
    pub bind_completed: bool,
}

/// A PersistentVolume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistentVolume {
    /// `metadata.name`.
    pub name: String,
    /// `spec.nodeAffinity.required.nodeSelectorTerms` (ORed).
    pub node_affinity: Vec<NodeSelectorTerm>,
    /// `spec.csi.driver` (after CSI migration translation for in-tree sources).
    pub csi_driver: Option<String>,
    /// Whether the volume is a `local` or `hostPath` volume (their hostname affinity is ignored).
    pub local_or_host_path: bool,
    /// Whether the volume has a deletion timestamp.
    pub deleting: bool,
}

/// `volumeBindingMode` of a StorageClass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VolumeBindingMode {
    /// Bind as soon as the claim is created (unbound claims cannot be scheduled by Karpenter).
    Immediate,
    /// Bind when a consuming pod is scheduled.
    #[default]
    WaitForFirstConsumer,
}

/// One `allowedTopologies` term: `matchLabelExpressions` (key In values), ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologySelectorTerm {
    /// `(key, values)` pairs.
    pub match_label_expressions: Vec<(String, Vec<String>)>,
}

/// A StorageClass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageClass {
    /// `metadata.name`.
    pub name: String,
    /// `provisioner` (the CSI driver name for CSI classes).
    pub provisioner: String,
    /// `volumeBindingMode`.
    pub volume_binding_mode: VolumeBindingMode,
    /// `allowedTopologies` (ORed terms).
    pub allowed_topologies: Vec<TopologySelectorTerm>,
    /// Whether the class is annotated as the default class.
    pub is_default: bool,
    /// `metadata.creationTimestamp` (the newest default class wins).
    pub creation_timestamp: DateTime<Utc>,
}

/// The volume objects of the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Volumes {
    /// Every PersistentVolumeClaim.
    pub claims: Vec<PersistentVolumeClaim>,
    /// Every PersistentVolume.
    pub volumes: Vec<PersistentVolume>,
    /// Every StorageClass.
    pub storage_classes: Vec<StorageClass>,
}
