//! Conversion of a NodePool's wire form into joist-core's domain types.
//!
//! Conversions expect a valid object (run [`super::validate`] first); they still return a typed
//! error rather than panicking when a field is missing or malformed.

use joist_core::labels::LabelAliases;
use joist_core::requirements::{NodeSelectorRequirement, Operator, RequirementError, Requirements};
use thiserror::Error;

use super::NodePool;
use crate::common::NodeSelectorRequirementWithMinValues;

/// Why a NodePool could not be converted into core types.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConversionError {
    /// A field the conversion needs is absent (the object did not pass validation).
    #[error("NodePool {nodepool}: {path}: Required value")]
    Missing {
        /// The NodePool's name.
        nodepool: String,
        /// The missing field's path.
        path: String,
    },
    /// A requirement could not be turned into a core requirement.
    #[error("NodePool {nodepool}: {path}: {source}")]
    Requirement {
        /// The NodePool's name.
        nodepool: String,
        /// The requirement's path.
        path: String,
        /// What was wrong with it.
        source: RequirementError,
    },
    /// `minValues` is outside 1..50.
    #[error("NodePool {nodepool}: {path}: minValues {value} is out of range")]
    MinValues {
        /// The NodePool's name.
        nodepool: String,
        /// The requirement's path.
        path: String,
        /// The value found.
        value: i64,
    },
}

impl NodePool {
    /// The template's requirements as core [`Requirements`], keys normalised with `aliases` and
    /// repeated keys intersected. Template labels and `karpenter.sh/nodepool` are not included:
    /// the scheduler adds them when it builds the NodeClaim template.
    pub fn requirements(&self, aliases: &LabelAliases) -> Result<Requirements, ConversionError> {
        let base = "spec.template.spec.requirements";
        let wire = self.template_spec().and_then(|s| s.requirements.as_deref()).ok_or_else(|| {
            ConversionError::Missing { nodepool: self.name().to_owned(), path: base.to_owned() }
        })?;
        let mut core = Vec::with_capacity(wire.len());
        for (i, requirement) in wire.iter().enumerate() {
            core.push(to_core_requirement(requirement, self.name(), &format!("{base}[{i}]"))?);
        }
        Requirements::from_node_selector_requirements(&core, aliases).map_err(|source| {
            ConversionError::Requirement { nodepool: self.name().to_owned(), path: base.to_owned(), source }
        })
    }
}

/// One wire requirement as core's [`NodeSelectorRequirement`].
pub(crate) fn to_core_requirement(
    requirement: &NodeSelectorRequirementWithMinValues,
    owner: &str,
    path: &str,
) -> Result<NodeSelectorRequirement, ConversionError> {
    let missing = |field: &str| ConversionError::Missing { nodepool: owner.to_owned(), path: format!("{path}.{field}") };
    let key = requirement.key.as_deref().ok_or_else(|| missing("key"))?;
    let operator: Operator = requirement
        .operator
        .as_deref()
        .ok_or_else(|| missing("operator"))?
        .parse()
        .map_err(|source| ConversionError::Requirement { nodepool: owner.to_owned(), path: path.to_owned(), source })?;
    let min_values = requirement
        .min_values
        .map(|value| {
            u32::try_from(value).ok().filter(|v| (1..=50).contains(v)).ok_or(ConversionError::MinValues {
                nodepool: owner.to_owned(),
                path: path.to_owned(),
                value,
            })
        })
        .transpose()?;
    Ok(NodeSelectorRequirement::new(key, operator, requirement.values().iter().cloned()).with_min_values(min_values))
}
