//! EC2NodeClass status: what the nodeclass controller resolved (spec aws §1.2).
//!
//! Fields the CRD marks required are plain values; the rest are options. The API server ignores
//! status on create, so validation never looks here.

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

use super::Extra;

/// Condition types the controller sets; `Ready` is their conjunction.
pub const CONDITION_TYPES: [&str; 7] = [
    "AMIsReady",
    "SubnetsReady",
    "SecurityGroupsReady",
    "InstanceProfileReady",
    "ValidationSucceeded",
    "PlacementGroupReady",
    "CapacityReservationsReady",
];

/// Resolved state of an EC2NodeClass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EC2NodeClassStatus {
    /// Subnets matched by the selector terms (available IPs descending, then ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Subnet>>,
    /// Security groups matched by the selector terms (by ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<SecurityGroup>>,
    /// Capacity reservations matched by the selector terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_reservations: Option<Vec<CapacityReservation>>,
    /// AMIs matched by the selector terms, with the requirements an instance type must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amis: Option<Vec<Ami>>,
    /// The resolved instance profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile: Option<String>,
    /// Readiness conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A resolved subnet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    /// Subnet ID.
    pub id: String,
    /// Availability zone name.
    pub zone: String,
    /// Availability zone ID.
    #[serde(rename = "zoneID", default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A resolved security group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    /// Security group ID.
    pub id: String,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A resolved AMI and the instance-type requirements it serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ami {
    /// Whether the AMI is deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
    /// AMI ID.
    pub id: String,
    /// AMI name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Requirements (sorted by key length, then key) an instance type must meet to use it.
    pub requirements: Vec<NodeSelectorRequirement>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A resolved capacity reservation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReservation {
    /// Zone the reservation is in.
    pub availability_zone: String,
    /// When the reservation ends (not hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// Reservation ID (`cr-…`).
    pub id: String,
    /// `open` or `targeted`.
    pub instance_match_criteria: String,
    /// Instance type the reservation is for.
    pub instance_type: String,
    /// Whether the reservation is interruptible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruptible: Option<bool>,
    /// Owning account.
    #[serde(rename = "ownerID")]
    pub owner_id: String,
    /// `default` or `capacity-block`; CRD default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_type: Option<String>,
    /// `active` or `expiring`; CRD default `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
