//! [`SchedulingSettings`]: the explicit options of a solve (no globals, no context lookups).

use super::default_spread::DefaultTopologySpread;
use crate::labels::{LabelAliases, RestrictedLabels, WellKnownLabels};

/// Upstream's hard limit on the instance types sent per NodeClaim (600 since v1.8).
pub const MAX_INSTANCE_TYPES: usize = 600;

/// How preferred constraints are treated (`PREFERENCE_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PreferencePolicy {
    /// Treat preferences as requirements first and relax them one at a time (the default).
    #[default]
    Respect,
    /// Ignore preferred node/pod (anti-)affinity and `ScheduleAnyway` spread constraints.
    Ignore,
}

/// How unsatisfiable `minValues` are treated (`MIN_VALUES_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MinValuesPolicy {
    /// A NodeClaim that cannot meet minValues has no options (the default).
    #[default]
    Strict,
    /// minValues are lowered to what is achievable and the NodeClaim is annotated as relaxed.
    BestEffort,
}

/// Whether a pod may give up reserved capacity in favour of other offerings (spec core §2.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReservedOfferingMode {
    /// Provisioning: fail (and retry next round) rather than lose compatible reservations.
    #[default]
    Strict,
    /// Disruption simulations: fall back to on-demand/spot freely.
    Fallback,
}

/// How new NodeClaims are packed once every pod has a place (see `docs/design/scheduling.md`,
/// "Where joist departs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PackingPolicy {
    /// Upstream's greedy packing only: a NodeClaim keeps taking pods while any of its instance
    /// types can hold them, then launches its cheapest fitting type (spec core §2.6, §2.16).
    Upstream,
    /// After upstream's packing, NodeClaims whose pods have no topology, volume, host-port or
    /// reservation ties are re-packed onto a cheaper set of NodeClaims when that saves money
    /// ([`crate::scheduling`]'s `packing` module): a batch upstream piles onto a few enormous
    /// types lands on several cost-efficient ones.
    #[default]
    CostAware,
}

/// Options of one solve.
#[derive(Debug, Clone)]
pub struct SchedulingSettings {
    /// `PREFERENCE_POLICY`.
    pub preference_policy: PreferencePolicy,
    /// `MIN_VALUES_POLICY`.
    pub min_values_policy: MinValuesPolicy,
    /// Strict for provisioning, fallback for disruption simulations.
    pub reserved_offering_mode: ReservedOfferingMode,
    /// The `ReservedCapacity` feature gate (default on since v1.6).
    pub reserved_capacity: bool,
    /// `IGNORE_DRA_REQUESTS` (default true): pods with resource claims are refused.
    pub ignore_dra_requests: bool,
    /// Maximum instance types per NodeClaim (600 upstream; lowered in some tests).
    pub max_instance_types: usize,
    /// Label keys that may be undefined in NodePool templates (core + provider keys).
    pub well_known_labels: WellKnownLabels,
    /// Deprecated label aliases normalised in pod requirements.
    pub label_aliases: LabelAliases,
    /// Restricted label domains and keys (pod requirement validation, §2.2).
    pub restricted_labels: RestrictedLabels,
    /// The provider's reservation-ID label key (AWS: `karpenter.k8s.aws/capacity-reservation-id`),
    /// injected when a NodeClaim holds reservations.
    pub reservation_id_label: Option<String>,
    /// Upstream's greedy packing or joist's cost-aware re-packing of new NodeClaims.
    pub packing_policy: PackingPolicy,
    /// `--scheduler-config` `podTopologySpread.defaultConstraints`, applied to pods without
    /// spread constraints of their own (empty by default: nothing injected, nothing paid).
    pub default_topology_spread: DefaultTopologySpread,
}

impl Default for SchedulingSettings {
    /// Upstream defaults with the core label sets.
    fn default() -> Self {
        Self {
            preference_policy: PreferencePolicy::Respect,
            min_values_policy: MinValuesPolicy::Strict,
            reserved_offering_mode: ReservedOfferingMode::Strict,
            reserved_capacity: true,
            ignore_dra_requests: true,
            max_instance_types: MAX_INSTANCE_TYPES,
            well_known_labels: WellKnownLabels::core(),
            label_aliases: LabelAliases::core(),
            restricted_labels: RestrictedLabels::core(),
            reservation_id_label: None,
            packing_policy: PackingPolicy::CostAware,
            default_topology_spread: DefaultTopologySpread::default(),
        }
    }
}
