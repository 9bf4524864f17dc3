//! `karpenter.sh/v1` NodeClaim (spec core §1.3): wire types, defaults, CRD and validation.
//!
//! A NodeClaim is Karpenter's request for one node; its spec is immutable once created. Like the
//! NodePool types, everything constrained is kept as raw text and unknown fields are kept.

mod convert;
mod crd;
mod validation;

#[cfg(test)]
mod tests;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use serde::{Deserialize, Serialize};

use crate::common::{
    Extra, NodeClassReference, NodeSelectorRequirementWithMinValues, ResourceList, Taint,
};
use crate::nodepool::{DEFAULT_EXPIRE_AFTER, is_empty_meta};

pub use crd::{crd, crd_with, schema};
pub use validation::{validate, validate_status, validate_update, validate_with};

/// `apiVersion` of NodeClaims.
pub const API_VERSION: &str = "karpenter.sh/v1";
/// `kind` of NodeClaims.
pub const KIND: &str = "NodeClaim";

/// A NodeClaim: one node Karpenter launched or is launching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaim {
    /// `karpenter.sh/v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `NodeClaim`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object metadata (labels carry instance type, zone, capacity type, nodepool).
    #[serde(default, skip_serializing_if = "is_empty_meta")]
    pub metadata: ObjectMeta,
    /// The desired node; immutable.
    pub spec: NodeClaimSpec,
    /// What the cloud provider and the node reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeClaimStatus>,
    /// Unknown top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// NodeClaim `.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimSpec {
    /// Taints copied from the NodePool template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Startup taints copied from the NodePool template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_taints: Option<Vec<Taint>>,
    /// The scheduling result (may include `karpenter.sh/nodepool`); required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<NodeSelectorRequirementWithMinValues>>,
    /// Pod requests plus daemonset overhead the node must fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The provider NodeClass; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class_ref: Option<NodeClassReference>,
    /// Maximum drain time, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period: Option<String>,
    /// Node lifetime (`720h` default, or `Never`), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// The minimum resources the node must provide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// NodeClaim `.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimStatus {
    /// Name of the Node that registered for this claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Cloud provider ID of the instance.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// Image the node runs.
    #[serde(default, rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Estimated full capacity of the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<ResourceList>,
    /// Estimated allocatable capacity of the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<ResourceList>,
    /// Last time a pod was scheduled to or removed from the node (RFC 3339, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pod_event_time: Option<String>,
    /// `Launched`, `Registered`, `Initialized`, `Ready`, `Drifted`, `Consolidatable`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// === impl NodeClaim ===

impl NodeClaim {
    /// A NodeClaim named `name` with `spec`.
    pub fn new(name: &str, spec: NodeClaimSpec) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
            extra: Extra::new(),
        }
    }

    /// The object's name (empty when unset).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Returns the NodeClaim with the CRD defaults applied (`spec.expireAfter: 720h`).
    #[must_use]
    pub fn with_defaults(mut self) -> Self {
        self.apply_defaults();
        self
    }

    /// Applies the CRD defaults in place.
    pub fn apply_defaults(&mut self) {
        self.spec
            .expire_after
            .get_or_insert_with(|| DEFAULT_EXPIRE_AFTER.to_owned());
    }
}
