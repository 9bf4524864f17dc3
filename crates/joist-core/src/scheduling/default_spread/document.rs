//! The `--scheduler-config` document as serde sees it (`{podTopologySpread: {defaultConstraints:
//! [...]}}`). Unknown fields are refused, like upstream's strict decoding. Values stay as
//! written (strings for enums) so [`DefaultTopologySpread::from_document`] can name a bad one.
//!
//! [`DefaultTopologySpread::from_document`]: super::DefaultTopologySpread::from_document

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::DefaultSpreadError;
use crate::snapshot::{NodeInclusionPolicy, TopologySpreadConstraint, WhenUnsatisfiable};

/// The whole `--scheduler-config` document (only `podTopologySpread` exists so far).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerConfigDocument {
    /// `podTopologySpread`; absent means no defaults.
    #[serde(default)]
    pub pod_topology_spread: Option<PodTopologySpreadDocument>,
}

/// `podTopologySpread`: the shape of kube-scheduler's PodTopologySpread plugin args.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTopologySpreadDocument {
    /// `defaultConstraints`, applied to pods without constraints of their own.
    #[serde(default)]
    pub default_constraints: Vec<SpreadConstraintDocument>,
}

/// One `defaultConstraints` entry, as written (a `v1.TopologySpreadConstraint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpreadConstraintDocument {
    /// `maxSkew` (must be > 0).
    #[serde(default)]
    pub max_skew: i32,
    /// `topologyKey` (required).
    #[serde(default)]
    pub topology_key: String,
    /// `whenUnsatisfiable`: `DoNotSchedule` or `ScheduleAnyway`.
    #[serde(default)]
    pub when_unsatisfiable: String,
    /// `minDomains`.
    #[serde(default)]
    pub min_domains: Option<i32>,
    /// `nodeAffinityPolicy`: `Honor` or `Ignore`.
    #[serde(default)]
    pub node_affinity_policy: Option<String>,
    /// `nodeTaintsPolicy`: `Honor` or `Ignore`.
    #[serde(default)]
    pub node_taints_policy: Option<String>,
    /// Whether `labelSelector` was given (its content does not matter: any selector is refused).
    #[serde(default, deserialize_with = "present")]
    pub label_selector: bool,
    /// `matchLabelKeys` (must be empty).
    #[serde(default)]
    pub match_label_keys: Vec<String>,
}

/// A field counts as given when it is present and not `null`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<IgnoredAny>::deserialize(deserializer)?.is_some())
}

impl SpreadConstraintDocument {
    /// The constraint, with enum spellings checked. A given `labelSelector` becomes an empty
    /// selector so [`DefaultTopologySpread::new`](super::DefaultTopologySpread::new) refuses it
    /// with its own message.
    pub(super) fn to_constraint(
        &self,
        index: usize,
    ) -> Result<TopologySpreadConstraint, DefaultSpreadError> {
        let when_unsatisfiable = match self.when_unsatisfiable.as_str() {
            "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
            "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
            other => {
                return Err(DefaultSpreadError::WhenUnsatisfiable {
                    index,
                    value: other.to_owned(),
                });
            }
        };
        let policy = |field: &'static str, value: &Option<String>| match value.as_deref() {
            None => Ok(None),
            Some("Honor") => Ok(Some(NodeInclusionPolicy::Honor)),
            Some("Ignore") => Ok(Some(NodeInclusionPolicy::Ignore)),
            Some(other) => Err(DefaultSpreadError::InclusionPolicy {
                index,
                field,
                value: other.to_owned(),
            }),
        };
        Ok(TopologySpreadConstraint {
            max_skew: self.max_skew,
            topology_key: self.topology_key.clone(),
            when_unsatisfiable,
            label_selector: self.label_selector.then(Default::default),
            min_domains: self.min_domains,
            node_affinity_policy: policy("nodeAffinityPolicy", &self.node_affinity_policy)?,
            node_taints_policy: policy("nodeTaintsPolicy", &self.node_taints_policy)?,
            match_label_keys: self.match_label_keys.clone(),
        })
    }
}
