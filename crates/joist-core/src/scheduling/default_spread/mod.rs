//! Default topology spread (spec core §2.3 step 5, `--scheduler-config`): pods that declare no
//! topology spread constraints get the cluster's configured defaults, each with a label selector
//! deduced the way kube-scheduler's PodTopologySpread plugin deduces it, so joist counts the
//! same pods kube-scheduler will.
//!
//! [`DefaultTopologySpread`] is the validated setting (empty by default: no injection, no cost).
//! [`SchedulerConfigDocument`] is the `--scheduler-config` document's shape for serde; drivers
//! parse YAML or JSON into it and convert with [`DefaultTopologySpread::from_document`]. The
//! injection itself (selector deduction from Services and the owning ReplicationController,
//! ReplicaSet or StatefulSet) lives in the `inject` submodule.

mod document;
pub(crate) mod inject;

#[cfg(test)]
mod tests;

pub use document::{PodTopologySpreadDocument, SchedulerConfigDocument, SpreadConstraintDocument};

use crate::labels::validate_qualified_name;
use crate::snapshot::{LabelSelector, TopologySpreadConstraint, WhenUnsatisfiable};

/// Why a default topology spread configuration is refused. Messages name the offending entry
/// as `podTopologySpread.defaultConstraints[i]`, like upstream's startup validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefaultSpreadError {
    /// `maxSkew` is zero or negative.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].maxSkew must be greater than 0"
    )]
    MaxSkew {
        /// The constraint's position.
        index: usize,
    },
    /// `topologyKey` is empty.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].topologyKey must be set"
    )]
    MissingTopologyKey {
        /// The constraint's position.
        index: usize,
    },
    /// `topologyKey` is not a qualified label name.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].topologyKey {key:?} is not a valid label name, {reason}"
    )]
    InvalidTopologyKey {
        /// The constraint's position.
        index: usize,
        /// The key as written.
        key: String,
        /// Why the key is not a qualified name.
        reason: String,
    },
    /// `whenUnsatisfiable` is neither `DoNotSchedule` nor `ScheduleAnyway`.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].whenUnsatisfiable {value:?} must be one of \"DoNotSchedule\" or \"ScheduleAnyway\""
    )]
    WhenUnsatisfiable {
        /// The constraint's position.
        index: usize,
        /// The value as written.
        value: String,
    },
    /// `minDomains` is set but not positive.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].minDomains must be greater than 0"
    )]
    MinDomains {
        /// The constraint's position.
        index: usize,
    },
    /// `nodeAffinityPolicy` / `nodeTaintsPolicy` is neither `Honor` nor `Ignore`.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].{field} {value:?} must be one of \"Honor\" or \"Ignore\""
    )]
    InclusionPolicy {
        /// The constraint's position.
        index: usize,
        /// `nodeAffinityPolicy` or `nodeTaintsPolicy`.
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// A `labelSelector` was given: selectors are deduced per pod.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].labelSelector must not be set, as selectors are deduced for each pod"
    )]
    LabelSelector {
        /// The constraint's position.
        index: usize,
    },
    /// `matchLabelKeys` was given: kube-scheduler overwrites the selector it would extend.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}].matchLabelKeys must not be set, as it has no effect on default constraints"
    )]
    MatchLabelKeys {
        /// The constraint's position.
        index: usize,
    },
    /// Two constraints share `(topologyKey, whenUnsatisfiable)`.
    #[error(
        "validating scheduler config, podTopologySpread.defaultConstraints[{index}] is a duplicate of [{first}], {{{key}, {when}}}"
    )]
    Duplicate {
        /// The later constraint's position.
        index: usize,
        /// The earlier constraint's position.
        first: usize,
        /// The shared topology key.
        key: String,
        /// The shared `whenUnsatisfiable`, as written.
        when: &'static str,
    },
}

/// The validated default topology spread constraints (`podTopologySpread.defaultConstraints`).
///
/// Empty by default, which turns injection off entirely. Each constraint is kept without a
/// selector; the solver stamps a per-pod deduced selector onto a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultTopologySpread {
    /// The constraints, in configuration order (private: only validated lists get in).
    constraints: Vec<TopologySpreadConstraint>,
}

impl DefaultTopologySpread {
    /// Validates `constraints` as kube-scheduler validates `defaultConstraints`: `maxSkew > 0`,
    /// a qualified `topologyKey`, positive `minDomains` when set, no `labelSelector`, no
    /// `matchLabelKeys`, and no two constraints with the same `(topologyKey,
    /// whenUnsatisfiable)`. The first problem is reported.
    pub fn new(constraints: Vec<TopologySpreadConstraint>) -> Result<Self, DefaultSpreadError> {
        for (index, constraint) in constraints.iter().enumerate() {
            validate_constraint(index, constraint)?;
            let same = |c: &TopologySpreadConstraint| {
                c.topology_key == constraint.topology_key
                    && c.when_unsatisfiable == constraint.when_unsatisfiable
            };
            if let Some(first) = constraints[..index].iter().position(same) {
                return Err(DefaultSpreadError::Duplicate {
                    index,
                    first,
                    key: constraint.topology_key.clone(),
                    when: when_str(constraint.when_unsatisfiable),
                });
            }
        }
        Ok(Self { constraints })
    }

    /// Converts and validates a parsed `--scheduler-config` document (no `podTopologySpread`
    /// means no defaults).
    pub fn from_document(document: &SchedulerConfigDocument) -> Result<Self, DefaultSpreadError> {
        let Some(spread) = &document.pod_topology_spread else {
            return Ok(Self::default());
        };
        let constraints = spread
            .default_constraints
            .iter()
            .enumerate()
            .map(|(index, c)| c.to_constraint(index))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(constraints)
    }

    /// Whether no default is configured (injection is skipped).
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// The configured constraints (without selectors).
    pub fn constraints(&self) -> &[TopologySpreadConstraint] {
        &self.constraints
    }

    /// The defaults as one pod's own constraints: each a copy carrying `selector`.
    pub(crate) fn stamped(&self, selector: &LabelSelector) -> Vec<TopologySpreadConstraint> {
        self.constraints
            .iter()
            .map(|c| TopologySpreadConstraint {
                label_selector: Some(selector.clone()),
                ..c.clone()
            })
            .collect()
    }
}

fn validate_constraint(
    index: usize,
    constraint: &TopologySpreadConstraint,
) -> Result<(), DefaultSpreadError> {
    if constraint.max_skew <= 0 {
        return Err(DefaultSpreadError::MaxSkew { index });
    }
    if constraint.topology_key.is_empty() {
        return Err(DefaultSpreadError::MissingTopologyKey { index });
    }
    if let Err(reason) = validate_qualified_name(&constraint.topology_key) {
        return Err(DefaultSpreadError::InvalidTopologyKey {
            index,
            key: constraint.topology_key.clone(),
            reason: reason.join(", "),
        });
    }
    if constraint.min_domains.is_some_and(|m| m <= 0) {
        return Err(DefaultSpreadError::MinDomains { index });
    }
    if constraint.label_selector.is_some() {
        return Err(DefaultSpreadError::LabelSelector { index });
    }
    if !constraint.match_label_keys.is_empty() {
        return Err(DefaultSpreadError::MatchLabelKeys { index });
    }
    Ok(())
}

/// The wire spelling of `whenUnsatisfiable`.
fn when_str(when: WhenUnsatisfiable) -> &'static str {
    match when {
        WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
        WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
    }
}
