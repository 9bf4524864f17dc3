//! `karpenter.sh/v1` NodePool (spec core §1.1, §1.2): wire types, defaults, CRD, validation and
//! conversion into joist-core's domain types.
//!
//! The types keep every constrained value as the raw text the user wrote and keep unknown fields,
//! so reading and writing a NodePool is lossless and a bad value becomes a validation error with a
//! field path instead of a parse failure. Fields the schema requires but users commonly forget
//! (`template`, `nodeClassRef`, `requirements`) are `Option`s for the same reason.

mod convert;
mod crd;
pub mod hash;
mod validation;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use serde::{Deserialize, Serialize};

use crate::common::{
    Extra, NodeClassReference, NodeSelectorRequirementWithMinValues, ResourceList, Taint,
};

pub use crate::common::convert::ConversionError;
pub use crd::{crd, crd_with, schema};
pub use validation::{
    validate, validate_status, validate_update, validate_update_with, validate_with,
};

/// `apiVersion` of NodePools.
pub const API_VERSION: &str = "karpenter.sh/v1";
/// `kind` of NodePools.
pub const KIND: &str = "NodePool";
/// Default `spec.template.spec.expireAfter` (also NodeClaim `spec.expireAfter`).
pub const DEFAULT_EXPIRE_AFTER: &str = "720h";
/// Default `spec.disruption.consolidateAfter` when `disruption` is absent.
pub const DEFAULT_CONSOLIDATE_AFTER: &str = "0s";
/// Default `spec.disruption.consolidationPolicy`.
pub const DEFAULT_CONSOLIDATION_POLICY: &str = "WhenEmptyOrUnderutilized";
/// Default budget `nodes` (and the single default budget).
pub const DEFAULT_BUDGET_NODES: &str = "10%";
/// The consolidation policies (`Balanced` since v1.14).
pub const CONSOLIDATION_POLICIES: [&str; 3] = ["WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"];
/// The disruption reasons a budget may be scoped to.
pub const DISRUPTION_REASONS: [&str; 3] = ["Underutilized", "Empty", "Drifted"];

/// A NodePool: a template for the nodes Karpenter may launch, with limits and disruption rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePool {
    /// `karpenter.sh/v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `NodePool`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object metadata.
    #[serde(default, skip_serializing_if = "is_empty_meta")]
    pub metadata: ObjectMeta,
    /// The desired state.
    pub spec: NodePoolSpec,
    /// The observed state, written by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodePoolStatus>,
    /// Unknown top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `metadata` is skipped on output only when it was absent (all fields unset).
pub(crate) fn is_empty_meta(meta: &ObjectMeta) -> bool {
    *meta == ObjectMeta::default()
}

/// NodePool `.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// Template of the NodeClaims this pool launches; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<NodeClaimTemplate>,
    /// Disruption settings; defaulted to `{consolidateAfter: 0s}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
    /// Upper bounds on the resources this pool may provision (any resource name, incl. `nodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
    /// Priority among NodePools, 1..100 (absent ≡ 0); not allowed on static pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Fixed node count for a static NodePool (alpha, gate `StaticCapacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.template`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplate {
    /// Labels and annotations given to every NodeClaim and node of the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// The NodeClaim spec template; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<NodeClaimTemplateSpec>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.template.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Node labels (≤100, restricted keys rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Node annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.template.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplateSpec {
    /// Taints every node gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Taints applied at startup and expected to be removed by someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_taints: Option<Vec<Taint>>,
    /// Scheduling requirements (≤100); required, may be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<NodeSelectorRequirementWithMinValues>>,
    /// The provider NodeClass; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class_ref: Option<NodeClassReference>,
    /// Node lifetime (`720h` default, or `Never`), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after: Option<String>,
    /// Maximum drain time before pods are forcibly deleted (absent = forever), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.disruption`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// Wait after the last pod change before consolidating (`Never` disables consolidation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidate_after: Option<String>,
    /// `WhenEmpty`, `WhenEmptyOrUnderutilized` or `Balanced`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation_policy: Option<String>,
    /// Disruption budgets (≤50); the most restrictive active one wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Vec<Budget>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One disruption budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Max nodes disrupted at once: an integer or a percentage (`10%` default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<String>,
    /// Cron schedule (UTC) at which the budget becomes active; needs `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long the budget stays active after each schedule hit (h/m only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Disruption reasons the budget applies to (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Budget {
    /// An always-active budget allowing `nodes` (`"10%"`, `"5"`).
    pub fn nodes(nodes: &str) -> Self {
        Self {
            nodes: Some(nodes.to_owned()),
            ..Self::default()
        }
    }
}

/// NodePool `.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolStatus {
    /// Capacity of the pool's nodes and in-flight NodeClaims (always has cpu, memory, pods,
    /// ephemeral-storage and nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceList>,
    /// Node count (the scale subresource's status replicas); defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i64>,
    /// Generation of the NodeClass last seen by the registration-health controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class_observed_generation: Option<i64>,
    /// `Ready`, `ValidationSucceeded`, `NodeClassReady`, `NodeRegistrationHealthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// === impl NodePool ===

impl NodePool {
    /// A NodePool named `name` with `spec`.
    pub fn new(name: &str, spec: NodePoolSpec) -> Self {
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

    /// Returns the NodePool with the CRD defaults applied, as the API server stores it.
    #[must_use]
    pub fn with_defaults(mut self) -> Self {
        self.apply_defaults();
        self
    }

    /// Applies the CRD defaults in place (structural defaulting: only absent fields of present
    /// objects are filled, top-down, so a defaulted `disruption` gets its own defaults too).
    pub fn apply_defaults(&mut self) {
        let disruption = self.spec.disruption.get_or_insert_with(|| Disruption {
            consolidate_after: Some(DEFAULT_CONSOLIDATE_AFTER.to_owned()),
            ..Disruption::default()
        });
        disruption
            .consolidation_policy
            .get_or_insert_with(|| DEFAULT_CONSOLIDATION_POLICY.to_owned());
        let budgets = disruption
            .budgets
            .get_or_insert_with(|| vec![Budget::default()]);
        for budget in budgets {
            budget
                .nodes
                .get_or_insert_with(|| DEFAULT_BUDGET_NODES.to_owned());
        }
        if let Some(spec) = self.spec.template.as_mut().and_then(|t| t.spec.as_mut()) {
            spec.expire_after
                .get_or_insert_with(|| DEFAULT_EXPIRE_AFTER.to_owned());
        }
        if let Some(status) = self.status.as_mut() {
            status.nodes.get_or_insert(0);
        }
    }

    /// `spec.template.spec`, if present.
    pub fn template_spec(&self) -> Option<&NodeClaimTemplateSpec> {
        self.spec.template.as_ref()?.spec.as_ref()
    }

    /// `spec.template.metadata.labels` (empty when absent).
    pub fn template_labels(&self) -> BTreeMap<String, String> {
        self.spec
            .template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }

    /// Whether the pool is static (`spec.replicas` set).
    pub fn is_static(&self) -> bool {
        self.spec.replicas.is_some()
    }
}
