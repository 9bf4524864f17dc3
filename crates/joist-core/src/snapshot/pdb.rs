//! [`PodDisruptionBudget`]: only what deciding "fully blocking" needs (spec core §2.2).

use super::selector::LabelSelector;

/// An `intstr.IntOrString` value such as `maxUnavailable: 1` or `"10%"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An absolute number.
    Int(i32),
    /// A string, normally a percentage like `"10%"`.
    String(String),
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDisruptionBudget {
    /// `metadata.namespace`; a PDB only covers pods of its namespace.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.selector`; `None` (nil) selects no pods, `{}` every pod of the namespace.
    pub selector: Option<LabelSelector>,
    /// `spec.minAvailable`.
    pub min_available: Option<IntOrString>,
    /// `spec.maxUnavailable`.
    pub max_unavailable: Option<IntOrString>,
}

impl PodDisruptionBudget {
    /// Whether the budget never allows an eviction whatever the pod count: `maxUnavailable` of
    /// `0` or `"0%"`, or `minAvailable` of `"100%"`.
    pub fn is_fully_blocking(&self) -> bool {
        let zero_unavailable = matches!(&self.max_unavailable, Some(IntOrString::Int(0)))
            || matches!(&self.max_unavailable, Some(IntOrString::String(s)) if s == "0%" || s == "0");
        let all_available =
            matches!(&self.min_available, Some(IntOrString::String(s)) if s == "100%");
        zero_unavailable || all_available
    }
}
