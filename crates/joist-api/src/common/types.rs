//! Types shared by NodePool and NodeClaim: requirements, taints, the NodeClass reference and
//! resource lists.
//!
//! Every string that upstream constrains (operators, effects, quantities) is kept as the raw text
//! the user wrote: parsing must never fail on a bad value, so that validation can point at the
//! field and say what is wrong, and so that writing an object back out reproduces it exactly.
//! Fields that the schema requires are `Option`s for the same reason (`Required value` is a
//! validation error, not a parse error). Each struct keeps unknown fields in `extra` so that a
//! field added by a newer Karpenter survives a read-modify-write through joist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unknown fields of an object, kept verbatim (forward compatibility).
pub type Extra = BTreeMap<String, Value>;

/// A resource quantity exactly as written: `4`, `"16Gi"`, `"500m"`.
///
/// Kubernetes accepts both JSON integers and strings here (`x-kubernetes-int-or-string`); anything
/// else is kept too and rejected by validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuantityValue(pub Value);

impl QuantityValue {
    /// A quantity from its string form.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Value::String(text.into()))
    }

    /// The quantity as Kubernetes would read it (`4` and `"4"` are the same), if it is an
    /// integer or a string.
    pub fn text(&self) -> Option<String> {
        match &self.0 {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Resource name to quantity (`cpu: 1000`, `memory: 1000Gi`, `nodes: 10`).
pub type ResourceList = BTreeMap<String, QuantityValue>;

/// A node selector requirement, optionally with `minValues` (upstream
/// `NodeSelectorRequirementWithMinValues`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirementWithMinValues {
    /// The label key; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`, `Gte` or `Lte`, as written; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The values; absent and empty are kept apart for a faithful round-trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Minimum number of distinct values the scheduler must keep available (1..50, alpha).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_values: Option<i64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl NodeSelectorRequirementWithMinValues {
    /// A requirement `key operator values...`.
    pub fn new(key: &str, operator: &str, values: &[&str]) -> Self {
        Self {
            key: Some(key.to_owned()),
            operator: Some(operator.to_owned()),
            values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
            ..Self::default()
        }
    }

    /// The values, empty when absent.
    pub fn values(&self) -> &[String] {
        self.values.as_deref().unwrap_or_default()
    }
}

/// A node taint (`core/v1 Taint`), kept as raw strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// The taint key; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`, as written; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// RFC 3339 time the taint was added (NoExecute only), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Taint {
    /// A taint `key=value:effect` (`value` may be empty for a key-only taint).
    pub fn new(key: &str, value: &str, effect: &str) -> Self {
        Self {
            key: Some(key.to_owned()),
            value: (!value.is_empty()).then(|| value.to_owned()),
            effect: Some(effect.to_owned()),
            ..Self::default()
        }
    }
}

/// Reference to the provider's NodeClass (`{group, kind, name}`), all required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClassReference {
    /// API group of the NodeClass, e.g. `karpenter.k8s.aws` (no `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the NodeClass, e.g. `EC2NodeClass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the NodeClass object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unknown fields (e.g. a leftover v1beta1 `apiVersion`).
    #[serde(flatten)]
    pub extra: Extra,
}

impl NodeClassReference {
    /// A reference to `group`/`kind` named `name`.
    pub fn new(group: &str, kind: &str, name: &str) -> Self {
        Self {
            group: Some(group.to_owned()),
            kind: Some(kind.to_owned()),
            name: Some(name.to_owned()),
            extra: Extra::new(),
        }
    }
}
