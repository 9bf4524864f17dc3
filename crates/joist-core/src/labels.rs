//! Well-known label, annotation, taint and finalizer keys (spec core §1.4), and the label sets that
//! depend on the cloud provider.
//!
//! The constants are plain `&str`s. The sets ([`WellKnownLabels`], [`LabelAliases`],
//! [`RestrictedLabels`]) are *values*, not globals: upstream mutates package-level sets at provider
//! init time, whereas joist builds `core()` sets and lets the provider crate extend them with
//! `.with(..)`, then passes them explicitly to whatever needs them.
//!
//! The Kubernetes syntax checks used by API validation (qualified names, label values) live in
//! [`syntax`] and are re-exported here.

mod restricted;
mod sets;
pub mod syntax;

pub use restricted::{LabelContext, RestrictedLabels};
pub use sets::{LabelAliases, WellKnownLabels};
pub use syntax::{validate_label_value, validate_qualified_name};

// === API groups ===

/// Karpenter's API group; also the restricted label domain every key below lives in.
pub const GROUP: &str = "karpenter.sh";
/// Group used for compatibility annotations written during API-version conversion.
pub const COMPATIBILITY_GROUP: &str = "compatibility.karpenter.sh";

// === Labels Karpenter manages ===

/// Name of the NodePool that launched a NodeClaim/Node. Allowed on NodeClaims, restricted on
/// NodePool templates (Karpenter sets it itself).
pub const NODEPOOL: &str = "karpenter.sh/nodepool";
/// Purchase option of the node: one of [`CAPACITY_TYPE_SPOT`], [`CAPACITY_TYPE_ON_DEMAND`],
/// [`CAPACITY_TYPE_RESERVED`]. The only `karpenter.sh` label users may set on a template.
pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
/// Set to `"true"` on a Node once it has joined the cluster and been linked to its NodeClaim.
pub const REGISTERED: &str = "karpenter.sh/registered";
/// Set to `"true"` on a Node once it is Ready, startup taints are gone and resources registered.
pub const INITIALIZED: &str = "karpenter.sh/initialized";
/// If `"true"` on a Node, Karpenter does not sync the NodeClaim's taints onto it.
pub const DO_NOT_SYNC_TAINTS: &str = "karpenter.sh/do-not-sync-taints";
/// Set on a Node when its termination starts so load balancers stop sending it traffic.
pub const EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS: &str =
    "node.kubernetes.io/exclude-from-external-load-balancers";
/// The value Karpenter writes for [`EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS`].
pub const EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS_VALUE: &str = "karpenter";

// === Capacity-type and architecture values ===

/// [`CAPACITY_TYPE`] value for spare capacity the provider may reclaim.
pub const CAPACITY_TYPE_SPOT: &str = "spot";
/// [`CAPACITY_TYPE`] value for regular pay-as-you-go capacity.
pub const CAPACITY_TYPE_ON_DEMAND: &str = "on-demand";
/// [`CAPACITY_TYPE`] value for capacity held in a reservation.
pub const CAPACITY_TYPE_RESERVED: &str = "reserved";
/// The capacity types upstream knows values for (`WellKnownValuesForRequirements`), sorted.
pub const CAPACITY_TYPES: [&str; 3] = [
    CAPACITY_TYPE_ON_DEMAND,
    CAPACITY_TYPE_RESERVED,
    CAPACITY_TYPE_SPOT,
];
/// [`ARCH`] value for x86-64.
pub const ARCH_AMD64: &str = "amd64";
/// [`ARCH`] value for 64-bit ARM.
pub const ARCH_ARM64: &str = "arm64";
/// [`OS`] value for Linux.
pub const OS_LINUX: &str = "linux";
/// [`OS`] value for Windows.
pub const OS_WINDOWS: &str = "windows";

// === Kubernetes well-known labels ===

/// Availability zone of the node.
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// Region of the node.
pub const REGION: &str = "topology.kubernetes.io/region";
/// Instance type name of the node.
pub const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// CPU architecture of the node (`amd64`, `arm64`).
pub const ARCH: &str = "kubernetes.io/arch";
/// Operating system of the node (`linux`, `windows`).
pub const OS: &str = "kubernetes.io/os";
/// Windows build number of a Windows node.
pub const WINDOWS_BUILD: &str = "node.kubernetes.io/windows-build";
/// The node's hostname. Restricted: Karpenter cannot know it before launch, so it is never a
/// requirement, never printed in requirement strings and never written as a label.
pub const HOSTNAME: &str = "kubernetes.io/hostname";

// === Deprecated aliases (normalised to the keys above, see `LabelAliases::core`) ===

/// Deprecated alias of [`ZONE`].
pub const FAILURE_DOMAIN_BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
/// Deprecated alias of [`REGION`].
pub const FAILURE_DOMAIN_BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
/// Deprecated alias of [`ARCH`].
pub const BETA_ARCH: &str = "beta.kubernetes.io/arch";
/// Deprecated alias of [`OS`].
pub const BETA_OS: &str = "beta.kubernetes.io/os";
/// Deprecated alias of [`INSTANCE_TYPE`].
pub const BETA_INSTANCE_TYPE: &str = "beta.kubernetes.io/instance-type";

// === Annotations ===

/// On a pod or node: blocks voluntary disruption (`"true"`, or on pods a duration such as `"5m"`).
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
/// Hash of a NodePool's template (requirements and budgets excluded); drives static drift.
pub const NODEPOOL_HASH: &str = "karpenter.sh/nodepool-hash";
/// Version of the scheme behind [`NODEPOOL_HASH`].
pub const NODEPOOL_HASH_VERSION: &str = "karpenter.sh/nodepool-hash-version";
/// The value of [`NODEPOOL_HASH_VERSION`] joist writes: upstream's `v3` field set hashed with
/// joist's encoding. It differs from upstream's `"v3"` because the hash values differ, so a
/// migration either way re-stamps NodeClaims instead of drifting them (joist-api
/// `nodepool::hash`).
pub const NODEPOOL_HASH_VERSION_VALUE: &str = "v3-joist1";
/// RFC 3339 time after which a deleting NodeClaim's drain stops being graceful.
pub const NODECLAIM_TERMINATION_TIMESTAMP: &str = "karpenter.sh/nodeclaim-termination-timestamp";
/// `"true"`/`"false"`: whether the scheduler relaxed a `minValues` to launch this NodeClaim.
pub const NODECLAIM_MIN_VALUES_RELAXED: &str = "karpenter.sh/nodeclaim-min-values-relaxed";
/// Comma-separated DRA drivers whose devices were allocated to pods on this NodeClaim.
pub const REQUESTED_DRA_DRIVERS: &str = "karpenter.sh/requested-dra-drivers";
/// `"true"` when a NodeOverlay changed the price of a chosen instance type.
pub const PRICE_OVERLAY_APPLIED: &str = "karpenter.sh/price-overlay-applied";
/// `"true"` when a NodeOverlay changed the capacity of a chosen instance type.
pub const CAPACITY_OVERLAY_APPLIED: &str = "karpenter.sh/capacity-overlay-applied";
/// Provider-specific data kept across API-version conversion.
pub const PROVIDER_COMPATIBILITY: &str = "compatibility.karpenter.sh/provider";

// === Taints ===

/// `karpenter.sh/disrupted:NoSchedule`, put on nodes being disrupted or terminated.
pub const DISRUPTED_TAINT_KEY: &str = "karpenter.sh/disrupted";
/// `karpenter.sh/unregistered:NoExecute`, put on new nodes by the provider and removed at
/// registration.
pub const UNREGISTERED_TAINT_KEY: &str = "karpenter.sh/unregistered";
/// Known ephemeral taint: the node is not ready (NoSchedule and NoExecute).
pub const NOT_READY_TAINT_KEY: &str = "node.kubernetes.io/not-ready";
/// Known ephemeral taint: the node is unreachable (NoSchedule).
pub const UNREACHABLE_TAINT_KEY: &str = "node.kubernetes.io/unreachable";
/// Known ephemeral taint: the cloud controller has not initialised the node (`=true:NoSchedule`).
pub const UNINITIALIZED_TAINT_KEY: &str = "node.cloudprovider.kubernetes.io/uninitialized";
/// Any taint whose key starts with this prefix is a known ephemeral (readiness) taint.
pub const READINESS_TAINT_PREFIX: &str = "readiness.k8s.io/";

// === Finalizers ===

/// Finalizer on NodeClaims and Nodes that holds deletion until drain and instance termination.
pub const TERMINATION_FINALIZER: &str = "karpenter.sh/termination";

// === Helpers ===

/// The domain part of a label key: the text before the first `/`, or `""` if there is none
/// (upstream `GetLabelDomain`).
pub fn label_domain(key: &str) -> &str {
    key.split_once('/').map_or("", |(domain, _)| domain)
}

/// The NodeClass label key for a NodeClass group and kind: `<group>/<lowercase kind>`
/// (e.g. `karpenter.k8s.aws/ec2nodeclass`). Its value is the NodeClass name.
pub fn nodeclass_label_key(group: &str, kind: &str) -> String {
    format!("{group}/{}", kind.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_domain_is_text_before_first_slash() {
        assert_eq!(label_domain("karpenter.sh/nodepool"), "karpenter.sh");
        assert_eq!(label_domain("a/b/c"), "a");
        assert_eq!(label_domain("no-slash"), "");
        assert_eq!(label_domain("/name"), "");
    }

    #[test]
    fn nodeclass_label_key_lowercases_the_kind() {
        assert_eq!(
            nodeclass_label_key("karpenter.k8s.aws", "EC2NodeClass"),
            "karpenter.k8s.aws/ec2nodeclass"
        );
    }

    #[test]
    fn capacity_types_are_sorted() {
        let mut sorted = CAPACITY_TYPES;
        sorted.sort_unstable();
        assert_eq!(sorted, CAPACITY_TYPES);
    }
}
