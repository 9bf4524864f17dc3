//! The EC2NodeClass spec and its selector terms (spec aws §1.1).
//!
//! Every optional field is an `Option` (absent and empty are different things to the API server:
//! `has(x.tags)` is true for `tags: {}`), enum-like values are raw strings, and each struct keeps
//! unknown fields in `extra` so a round trip never loses what the user wrote.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Extra;
use super::kubelet::KubeletConfiguration;
use super::launch::{
    BlockDeviceMapping, ConnectionTracking, CpuOptions, MetadataOptions, NetworkInterface,
    PlacementGroupSelector,
};

/// EC2NodeClassSpec: everything Karpenter needs to launch an instance for a NodeClaim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EC2NodeClassSpec {
    /// Subnets to launch into; terms are ORed, fields inside a term ANDed. Required, 1..30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_selector_terms: Option<Vec<SubnetSelectorTerm>>,
    /// Security groups for the instances' network interfaces. Required, 1..30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_selector_terms: Option<Vec<SecurityGroupSelectorTerm>>,
    /// Capacity reservations (ODCRs, capacity blocks) the class may launch into; ≤30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_reservation_selector_terms: Option<Vec<CapacityReservationSelectorTerm>>,
    /// Whether instances get a public IPv4 address on their primary (or EFA) interfaces.
    #[serde(
        rename = "associatePublicIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub associate_public_ip_address: Option<bool>,
    /// IPv4 (or IPv6) prefixes assigned per network interface; ≥0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_prefix_count: Option<i64>,
    /// AMIs to choose from: an `alias` (EKS-optimized family@version) or selectors. Required, 1..30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_selector_terms: Option<Vec<AmiSelectorTerm>>,
    /// User-data format and default disks (`AL2`, `AL2023`, `Bottlerocket`, `Custom`,
    /// `Windows2019`, `Windows2022`, `Windows2025`); optional only with an alias term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_family: Option<String>,
    /// User data merged with the bootstrap Karpenter generates for the family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// IAM role for the nodes; Karpenter manages the instance profile. Exclusive with
    /// `instance_profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A pre-existing, unmanaged instance profile. Exclusive with `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile: Option<String>,
    /// Tags applied to instances, volumes, fleets, ENIs and launch templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Kubelet overrides (typed v1.14.1 fields plus any other field, kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<KubeletConfiguration>,
    /// Disks of the launched instances (≤50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_device_mappings: Option<Vec<BlockDeviceMapping>>,
    /// How local instance-store disks are used (`RAID0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_store_policy: Option<String>,
    /// Enables detailed CloudWatch monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_monitoring: Option<bool>,
    /// Instance metadata service options; defaulted by the CRD (see `with_defaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_options: Option<MetadataOptions>,
    /// Explicit network-interface layout (e.g. EFA); replaces the default single NIC. ≤150.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterface>>,
    /// Idle connection-tracking timeouts for the instances' interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_tracking: Option<ConnectionTracking>,
    /// An existing placement group to launch into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_group_selector: Option<PlacementGroupSelector>,
    /// EC2 CreateFleet `Context` (reserved field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// CPU options (nested virtualization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_options: Option<CpuOptions>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl EC2NodeClassSpec {
    /// The `family@version` of the first term with a non-empty alias, split like upstream's
    /// `Alias()` helper (the parts before and after the first `@`, up to a second one):
    /// `al2023@v20240625` gives `("al2023", "v20240625")`. `None` without an alias term or when
    /// the alias has no `@` (validation rejects both forms that could reach here).
    pub fn ami_alias(&self) -> Option<(&str, &str)> {
        let terms = self.ami_selector_terms.as_deref()?;
        let alias = terms
            .iter()
            .find_map(|term| term.alias.as_deref().filter(|a| !a.is_empty()))?;
        let mut parts = alias.split('@');
        let family = parts.next()?;
        let version = parts.next()?;
        Some((family, version))
    }

    /// The AMI family Karpenter uses for this class: the explicit `amiFamily`, else the family
    /// of the alias (upstream's `AMIFamily()` helper). `None` when neither names a known family.
    pub fn resolved_ami_family(&self) -> Option<AmiFamily> {
        match self.ami_family.as_deref() {
            Some(name) => AmiFamily::from_name(name),
            None => AmiFamily::from_alias_family(self.ami_alias()?.0),
        }
    }
}

/// Selects subnets by tags or by ID.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetSelectorTerm {
    /// Tag key/values to match; a value of `*` means "key exists". ≤20 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// A subnet ID (`subnet-…`); exclusive with `tags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Selects security groups by tags, ID or group name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupSelectorTerm {
    /// Tag key/values to match; ≤20 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// A security group ID (`sg-…`); exclusive with the other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group's GroupName (not its Name tag); exclusive with the other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Selects capacity reservations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReservationSelectorTerm {
    /// Tag key/values to match; ≤20 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// A reservation ID (`cr-…`); exclusive with the other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The owning account (12 digits); narrows another field, never valid alone.
    #[serde(rename = "ownerID", default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// `open` or `targeted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_match_criteria: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Selects AMIs: an EKS-optimized `alias`, or AMIs by tags/ID/name/owner/SSM parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmiSelectorTerm {
    /// `family@version`, e.g. `al2023@latest`; must be the only field and the only term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Tag key/values to match; ≤20 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// An AMI ID (`ami-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The AMI's name (not its Name tag); may contain wildcards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Owner: account IDs, `self`, `amazon` or `aws-marketplace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Name or ARN of an SSM parameter holding an image ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssm_parameter: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The AMI families of `spec.amiFamily` (the CRD enum) — what decides user-data format, default
/// disks and kubelet handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AmiFamily {
    /// Amazon Linux 2 (bootstrap.sh).
    AL2,
    /// Amazon Linux 2023 (nodeadm).
    AL2023,
    /// Bottlerocket (TOML settings).
    Bottlerocket,
    /// A user-provided AMI: the user data is passed through unchanged.
    Custom,
    /// Windows Server 2019.
    Windows2019,
    /// Windows Server 2022.
    Windows2022,
    /// Windows Server 2025.
    Windows2025,
}

impl AmiFamily {
    /// Every family, in the CRD enum's order.
    pub const ALL: [AmiFamily; 7] = [
        AmiFamily::AL2,
        AmiFamily::AL2023,
        AmiFamily::Bottlerocket,
        AmiFamily::Custom,
        AmiFamily::Windows2019,
        AmiFamily::Windows2022,
        AmiFamily::Windows2025,
    ];

    /// The value as written in `spec.amiFamily` (`"AL2023"`).
    pub fn as_str(self) -> &'static str {
        match self {
            AmiFamily::AL2 => "AL2",
            AmiFamily::AL2023 => "AL2023",
            AmiFamily::Bottlerocket => "Bottlerocket",
            AmiFamily::Custom => "Custom",
            AmiFamily::Windows2019 => "Windows2019",
            AmiFamily::Windows2022 => "Windows2022",
            AmiFamily::Windows2025 => "Windows2025",
        }
    }

    /// The family for a `spec.amiFamily` value (exact, case-sensitive, like the CRD enum).
    pub fn from_name(name: &str) -> Option<AmiFamily> {
        Self::ALL.into_iter().find(|family| family.as_str() == name)
    }

    /// The family for the part of an alias before `@` (`"al2023"`); `Custom` has no alias.
    pub fn from_alias_family(alias_family: &str) -> Option<AmiFamily> {
        Self::ALL
            .into_iter()
            .find(|family| family.alias_name() == Some(alias_family))
    }

    /// How this family is written in an alias (`"bottlerocket"`); `None` for `Custom`.
    pub fn alias_name(self) -> Option<&'static str> {
        match self {
            AmiFamily::AL2 => Some("al2"),
            AmiFamily::AL2023 => Some("al2023"),
            AmiFamily::Bottlerocket => Some("bottlerocket"),
            AmiFamily::Custom => None,
            AmiFamily::Windows2019 => Some("windows2019"),
            AmiFamily::Windows2022 => Some("windows2022"),
            AmiFamily::Windows2025 => Some("windows2025"),
        }
    }

    /// Whether this is a Windows family (aliases only accept `@latest`; no ENI-limited pods).
    pub fn is_windows(self) -> bool {
        matches!(
            self,
            AmiFamily::Windows2019 | AmiFamily::Windows2022 | AmiFamily::Windows2025
        )
    }
}

impl fmt::Display for AmiFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
