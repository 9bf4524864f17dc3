//! The requirement operators and the plain wire form of a requirement.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::RequirementError;

/// A node selector operator, spelled on the wire exactly as upstream (`In`, `NotIn`, ...).
///
/// `Gte`/`Lte` are Karpenter extensions (since v1.9); `Gt n`/`Lt n` are canonicalised to inclusive
/// bounds when a [`Requirement`](super::Requirement) is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present (any value).
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The value is an integer strictly greater than the single value.
    Gt,
    /// The value is an integer strictly less than the single value.
    Lt,
    /// The value is an integer greater than or equal to the single value.
    Gte,
    /// The value is an integer less than or equal to the single value.
    Lte,
}

impl Operator {
    /// Every operator, in declaration order.
    pub const ALL: [Operator; 8] = [
        Operator::In,
        Operator::NotIn,
        Operator::Exists,
        Operator::DoesNotExist,
        Operator::Gt,
        Operator::Lt,
        Operator::Gte,
        Operator::Lte,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
            Operator::Gt => "Gt",
            Operator::Lt => "Lt",
            Operator::Gte => "Gte",
            Operator::Lte => "Lte",
        }
    }

    /// Whether the operator is an integer comparison taking exactly one integer value.
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            Operator::Gt | Operator::Lt | Operator::Gte | Operator::Lte
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operator {
    type Err = RequirementError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operator::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| RequirementError::UnknownOperator(s.to_owned()))
    }
}

/// A requirement as written in YAML/JSON: Karpenter's `NodeSelectorRequirementWithMinValues`
/// (a Kubernetes `NodeSelectorRequirement` plus the optional `minValues`).
///
/// The plain data form used by the API types and for serialising scheduling results; convert to a
/// [`Requirement`](super::Requirement) to reason about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// The label key.
    pub key: String,
    /// How the key relates to the values.
    pub operator: Operator,
    /// The values; omitted on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Minimum number of distinct values the scheduler must keep flexible for this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_values: Option<u32>,
}

impl NodeSelectorRequirement {
    /// A requirement without `minValues`.
    pub fn new<I, S>(key: impl Into<String>, operator: Operator, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            key: key.into(),
            operator,
            values: values.into_iter().map(Into::into).collect(),
            min_values: None,
        }
    }

    /// Returns the requirement with `minValues` set.
    #[must_use]
    pub fn with_min_values(mut self, min_values: Option<u32>) -> Self {
        self.min_values = min_values;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_round_trip_through_their_wire_spelling() {
        for op in Operator::ALL {
            assert_eq!(op.as_str().parse::<Operator>().unwrap(), op);
            assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{op}\""));
            assert_eq!(
                serde_json::from_str::<Operator>(&format!("\"{op}\"")).unwrap(),
                op
            );
        }
    }

    #[test]
    fn unknown_operator_is_a_clear_error() {
        let err = "Equals".parse::<Operator>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown operator \"Equals\": expected one of In, NotIn, Exists, DoesNotExist, Gt, \
             Lt, Gte, Lte"
        );
        assert!(
            "in".parse::<Operator>().is_err(),
            "operators are case-sensitive"
        );
    }

    #[test]
    fn wire_form_is_camel_case_and_omits_empty_fields() {
        let exists = NodeSelectorRequirement::new("k", Operator::Exists, Vec::<String>::new());
        assert_eq!(
            serde_json::to_string(&exists).unwrap(),
            r#"{"key":"k","operator":"Exists"}"#
        );
        let with_min =
            NodeSelectorRequirement::new("k", Operator::In, ["a", "b"]).with_min_values(Some(2));
        let json = serde_json::to_string(&with_min).unwrap();
        assert_eq!(
            json,
            r#"{"key":"k","operator":"In","values":["a","b"],"minValues":2}"#
        );
        assert_eq!(
            serde_json::from_str::<NodeSelectorRequirement>(&json).unwrap(),
            with_min
        );
        let parsed: NodeSelectorRequirement =
            serde_json::from_str(r#"{"key":"k","operator":"DoesNotExist"}"#).unwrap();
        assert!(parsed.values.is_empty() && parsed.min_values.is_none());
    }
}
