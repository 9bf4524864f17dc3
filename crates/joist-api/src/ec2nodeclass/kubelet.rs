//! `spec.kubelet`: the typed v1.14.1 kubelet overrides (spec aws §1.1, §5.1).
//!
//! Upstream main turned this into an open map of any KubeletConfiguration field; to stay
//! forward compatible, every other field is kept verbatim in [`KubeletConfiguration::extra`]
//! (nested subtrees included) instead of failing, and joist's CRD preserves them too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Extra;

/// The eviction signals valid as keys of `evictionHard`, `evictionSoft` and
/// `evictionSoftGracePeriod`, in the order of upstream's messages.
pub const EVICTION_SIGNALS: [&str; 6] = [
    "memory.available",
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
    "pid.available",
];

/// The resources valid as keys of `kubeReserved` and `systemReserved`.
pub const RESERVABLE_RESOURCES: [&str; 4] = ["cpu", "memory", "ephemeral-storage", "pid"];

/// Kubelet settings Karpenter renders into the node's bootstrap and uses for overhead and pod
/// density. Quantities and durations are raw strings, as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    /// Cluster DNS server IPs; defaults to kube-dns's ClusterIP.
    #[serde(
        rename = "clusterDNS",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_dns: Option<Vec<String>>,
    /// Maximum pods per node (≥0); otherwise computed from ENI limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<i64>,
    /// Pods per vCPU (≥0); caps `max_pods` (ignored by Bottlerocket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_per_core: Option<i64>,
    /// Resources reserved for OS daemons (`cpu`, `memory`, `ephemeral-storage`, `pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_reserved: Option<BTreeMap<String, String>>,
    /// Resources reserved for Kubernetes daemons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_reserved: Option<BTreeMap<String, String>>,
    /// Hard eviction thresholds: signal → quantity or percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_hard: Option<BTreeMap<String, String>>,
    /// Soft eviction thresholds; each needs a grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_soft: Option<BTreeMap<String, String>>,
    /// Grace periods (Go durations) of the soft thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_soft_grace_period: Option<BTreeMap<String, String>>,
    /// Longest pod termination grace period (seconds) used for soft evictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_max_pod_grace_period: Option<i64>,
    /// Disk usage percent (0..100) above which image GC always runs; must exceed the low one.
    #[serde(
        rename = "imageGCHighThresholdPercent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub image_gc_high_threshold_percent: Option<i64>,
    /// Disk usage percent (0..100) below which image GC never runs.
    #[serde(
        rename = "imageGCLowThresholdPercent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub image_gc_low_threshold_percent: Option<i64>,
    /// CPU CFS quota enforcement for containers with CPU limits.
    #[serde(
        rename = "cpuCFSQuota",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_cfs_quota: Option<bool>,
    /// Any other KubeletConfiguration field, kept verbatim (upstream main accepts them).
    #[serde(flatten)]
    pub extra: Extra,
}
