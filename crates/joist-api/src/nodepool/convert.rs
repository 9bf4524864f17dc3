//! Conversion of a NodePool into joist-core's domain types: requirements, budgets and taints.

use joist_core::duration::parse_go_duration;
use joist_core::labels::LabelAliases;
use joist_core::nodepool::budgets::{self, DisruptionReason};
use joist_core::requirements::Requirements;
use joist_core::taints;

use super::{Budget, DEFAULT_BUDGET_NODES, NodePool};
use crate::common::convert::{ConversionError, to_core_requirement, to_core_taints};

impl NodePool {
    /// `NodePool <name>`, for error messages.
    fn object(&self) -> String {
        format!("{} {}", super::KIND, self.name())
    }

    /// The template's requirements as core [`Requirements`], keys normalised with `aliases` and
    /// repeated keys intersected. Template labels and `karpenter.sh/nodepool` are not included:
    /// the scheduler adds them when it builds the NodeClaim template.
    pub fn requirements(&self, aliases: &LabelAliases) -> Result<Requirements, ConversionError> {
        let base = "spec.template.spec.requirements";
        let wire = self
            .template_spec()
            .and_then(|s| s.requirements.as_deref())
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

    /// The disruption budgets as core budgets, with the CRD defaults applied (no `disruption` or
    /// no `budgets` gives the single `10%` budget; a budget without `nodes` gets `10%`).
    pub fn budgets(&self) -> Result<Vec<budgets::Budget>, ConversionError> {
        let default = [Budget::default()];
        let wire = self
            .spec
            .disruption
            .as_ref()
            .and_then(|d| d.budgets.as_deref())
            .unwrap_or(&default);
        wire.iter()
            .enumerate()
            .map(|(i, budget)| self.core_budget(budget, &format!("spec.disruption.budgets[{i}]")))
            .collect()
    }

    fn core_budget(&self, budget: &Budget, path: &str) -> Result<budgets::Budget, ConversionError> {
        let mut core =
            budgets::Budget::new(budget.nodes.as_deref().unwrap_or(DEFAULT_BUDGET_NODES));
        core.schedule.clone_from(&budget.schedule);
        core.duration = budget
            .duration
            .as_deref()
            .map(parse_go_duration)
            .transpose()
            .map_err(|source| ConversionError::Duration {
                object: self.object(),
                path: format!("{path}.duration"),
                source,
            })?;
        core.reasons = budget
            .reasons
            .as_ref()
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|r| r.parse::<DisruptionReason>())
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|source| ConversionError::Budget {
                object: self.object(),
                path: format!("{path}.reasons"),
                source: Box::new(source),
            })?;
        Ok(core)
    }

    /// The template's `taints` as core taints.
    pub fn taints(&self) -> Result<Vec<taints::Taint>, ConversionError> {
        let wire = self
            .template_spec()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default();
        to_core_taints(wire, &self.object(), "spec.template.spec.taints")
    }

    /// The template's `startupTaints` as core taints.
    pub fn startup_taints(&self) -> Result<Vec<taints::Taint>, ConversionError> {
        let wire = self
            .template_spec()
            .and_then(|s| s.startup_taints.as_deref())
            .unwrap_or_default();
        to_core_taints(wire, &self.object(), "spec.template.spec.startupTaints")
    }
}
