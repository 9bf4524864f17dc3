//! Conversion of the wire types into joist-core's domain types.
//!
//! Conversions expect a valid object (validate it first); they still return a typed error naming
//! the object and field rather than panicking when something is missing or malformed.

use joist_core::duration::DurationError;
use joist_core::nodepool::budgets::BudgetError;
use joist_core::requirements::{NodeSelectorRequirement, Operator, RequirementError};
use joist_core::taints::{self, TaintsError};
use thiserror::Error;

use super::types::{NodeSelectorRequirementWithMinValues, Taint};

/// Why an object could not be converted into core types.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConversionError {
    /// A field the conversion needs is absent (the object did not pass validation).
    #[error("{object}: {path}: Required value")]
    Missing {
        /// `<Kind> <name>`.
        object: String,
        /// The missing field's path.
        path: String,
    },
    /// A requirement could not be turned into a core requirement.
    #[error("{object}: {path}: {source}")]
    Requirement {
        /// `<Kind> <name>`.
        object: String,
        /// The requirement's path.
        path: String,
        /// What was wrong with it.
        source: RequirementError,
    },
    /// `minValues` is outside 1..50.
    #[error("{object}: {path}: minValues {value} is out of range 1..50")]
    MinValues {
        /// `<Kind> <name>`.
        object: String,
        /// The requirement's path.
        path: String,
        /// The value found.
        value: i64,
    },
    /// A taint effect is not one of the three effects.
    #[error("{object}: {path}: {source}")]
    Taint {
        /// `<Kind> <name>`.
        object: String,
        /// The taint's path.
        path: String,
        /// What was wrong with it.
        source: TaintsError,
    },
    /// A budget `duration` is not a Go duration.
    #[error("{object}: {path}: {source}")]
    Duration {
        /// `<Kind> <name>`.
        object: String,
        /// The field's path.
        path: String,
        /// What was wrong with it.
        source: DurationError,
    },
    /// A budget reason is not one of `Underutilized`, `Empty`, `Drifted`.
    #[error("{object}: {path}: {source}")]
    Budget {
        /// `<Kind> <name>`.
        object: String,
        /// The field's path.
        path: String,
        /// What was wrong with it (boxed: cron errors are large).
        source: Box<BudgetError>,
    },
}

/// One wire requirement as core's [`NodeSelectorRequirement`].
pub fn to_core_requirement(
    requirement: &NodeSelectorRequirementWithMinValues,
    object: &str,
    path: &str,
) -> Result<NodeSelectorRequirement, ConversionError> {
    let missing = |field: &str| ConversionError::Missing {
        object: object.to_owned(),
        path: format!("{path}.{field}"),
    };
    let key = requirement.key.as_deref().ok_or_else(|| missing("key"))?;
    let operator: Operator = requirement
        .operator
        .as_deref()
        .ok_or_else(|| missing("operator"))?
        .parse()
        .map_err(|source| ConversionError::Requirement {
            object: object.to_owned(),
            path: path.to_owned(),
            source,
        })?;
    let min_values = requirement
        .min_values
        .map(|value| {
            u32::try_from(value)
                .ok()
                .filter(|v| (1..=50).contains(v))
                .ok_or(ConversionError::MinValues {
                    object: object.to_owned(),
                    path: path.to_owned(),
                    value,
                })
        })
        .transpose()?;
    Ok(
        NodeSelectorRequirement::new(key, operator, requirement.values().iter().cloned())
            .with_min_values(min_values),
    )
}

/// Wire taints as core taints (`timeAdded` is not part of the core view).
pub fn to_core_taints(
    taints: &[Taint],
    object: &str,
    path: &str,
) -> Result<Vec<taints::Taint>, ConversionError> {
    taints
        .iter()
        .enumerate()
        .map(|(i, taint)| {
            let at = format!("{path}[{i}]");
            let key = taint
                .key
                .as_deref()
                .ok_or_else(|| ConversionError::Missing {
                    object: object.to_owned(),
                    path: format!("{at}.key"),
                })?;
            let effect = taint
                .effect
                .as_deref()
                .ok_or_else(|| ConversionError::Missing {
                    object: object.to_owned(),
                    path: format!("{at}.effect"),
                })?
                .parse()
                .map_err(|source| ConversionError::Taint {
                    object: object.to_owned(),
                    path: at.clone(),
                    source,
                })?;
            Ok(taints::Taint::new(
                key,
                taint.value.as_deref().unwrap_or_default(),
                effect,
            ))
        })
        .collect()
}
