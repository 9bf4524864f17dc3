//! Conversion of a NodeClaim into joist-core's domain types.

use joist_core::labels::LabelAliases;
use joist_core::requirements::Requirements;
use joist_core::taints;

use super::NodeClaim;
use crate::common::convert::{ConversionError, to_core_requirement, to_core_taints};

impl NodeClaim {
    /// `NodeClaim <name>`, for error messages.
    fn object(&self) -> String {
        format!("{} {}", super::KIND, self.name())
    }

    /// The claim's requirements as core [`Requirements`] (keys normalised with `aliases`).
    pub fn requirements(&self, aliases: &LabelAliases) -> Result<Requirements, ConversionError> {
        let base = "spec.requirements";
        let wire = self
            .spec
            .requirements
            .as_deref()
            .ok_or_else(|| ConversionError::Missing {
                object: self.object(),
                path: base.to_owned(),
            })?;
        let mut core = Vec::with_capacity(wire.len());
        for (i, requirement) in wire.iter().enumerate() {
            core.push(to_core_requirement(
                requirement,
                &self.object(),
                &format!("{base}[{i}]"),
            )?);
        }
        Requirements::from_node_selector_requirements(&core, aliases).map_err(|source| {
            ConversionError::Requirement {
                object: self.object(),
                path: base.to_owned(),
                source,
            }
        })
    }

    /// `spec.taints` as core taints.
    pub fn taints(&self) -> Result<Vec<taints::Taint>, ConversionError> {
        to_core_taints(
            self.spec.taints.as_deref().unwrap_or_default(),
            &self.object(),
            "spec.taints",
        )
    }

    /// `spec.startupTaints` as core taints.
    pub fn startup_taints(&self) -> Result<Vec<taints::Taint>, ConversionError> {
        to_core_taints(
            self.spec.startup_taints.as_deref().unwrap_or_default(),
            &self.object(),
            "spec.startupTaints",
        )
    }
}
