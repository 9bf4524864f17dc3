//! The seams between the solver and the topology and preference engines (design note,
//! "Topology's contract with the solver").
//!
//! The solver calls [`TopologyHook::add_requirements`] before filtering instance types for a pod on
//! a node or NodeClaim, and [`TopologyHook::record`] after placing it; it calls
//! [`PreferencesHook::relax`] after a failed attempt, then [`TopologyHook::update`] with the relaxed
//! constraints. `build_topology` and `build_preferences` choose the implementations:
//! [`super::topology::Topology`] and [`super::preferences::Preferences`].
//! [`TopologyUnavailable`] (refuses every pod whose placement depends on topology) and
//! [`NoRelaxation`] remain as explicit stand-ins for tests of the solver alone.

use std::fmt;

use super::preferences::Preferences;
use super::settings::SchedulingSettings;
use super::stats::ZoneDomains;
use super::topology::Topology;
use crate::labels::WellKnownLabels;
use crate::requirements::Requirements;
use crate::snapshot::{NodePool, Pod, PodConstraints, Snapshot, optional_selector_matches};
use crate::taints::Taint;

/// Why topology refused a placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// A constraint left no eligible domain (upstream's `unsatisfiable topology constraint for
    /// <kind>, key=<key> ...` text; [`TopologyHook::explain`] adds the counts).
    #[error("{0}")]
    Unsatisfiable(#[from] super::topology::TopologyError),
    /// This build has no topology engine, and the pod's placement depends on one.
    #[error(
        "pod has topology spread, pod affinity or pod anti-affinity constraints (or is selected by \
         another pod's required anti-affinity), which this build of joist cannot evaluate yet"
    )]
    Unavailable,
}

/// What the solver needs from a topology engine (upstream `Topology`).
pub trait TopologyHook: fmt::Debug {
    /// Whether topology can affect where `pod` (with its possibly relaxed `constraints`) goes. When
    /// false the solver skips [`add_requirements`](Self::add_requirements) for it.
    fn constrains(&self, pod: &Pod, constraints: &PodConstraints) -> bool;

    /// The requirements that narrow `node_requirements` to the domains `pod` may use on a node or
    /// NodeClaim with those requirements and `taints`. `strict` are the pod's strict
    /// requirements (preferences never narrow domains); `allow_undefined` is `None` for existing
    /// nodes and the well-known labels for NodeClaims.
    ///
    /// The solver relies on one property of [`TopologyError::Unsatisfiable`] refusals: until the
    /// next `record`, `register` or `update`, the same pod with the same `strict` requirements is
    /// refused on every node whose requirement on the error's key equals the error's
    /// `node_domains`, so it skips such nodes without asking again.
    fn add_requirements(
        &self,
        pod: &Pod,
        constraints: &PodConstraints,
        strict: &Requirements,
        node_requirements: &Requirements,
        taints: &[Taint],
        allow_undefined: Option<&WellKnownLabels>,
    ) -> Result<Requirements, TopologyError>;

    /// Counts `pod` as placed on a node or NodeClaim with `node_requirements` and `taints`;
    /// `allow_undefined` as for [`add_requirements`](Self::add_requirements).
    fn record(
        &mut self,
        pod: &Pod,
        constraints: &PodConstraints,
        node_requirements: &Requirements,
        taints: &[Taint],
        allow_undefined: Option<&WellKnownLabels>,
    );

    /// Whether `pod`'s placement matters to topology: its own constraints, or some group (spread,
    /// affinity, anti-affinity, inverse anti-affinity) counts it. Moving such a pod to another
    /// NodeClaim after the fact would invalidate counts, so cost-aware re-packing leaves it be.
    /// Conservatively true unless an engine knows better.
    fn counts(&self, _pod: &Pod) -> bool {
        true
    }

    /// Registers a domain (new NodeClaims register their hostname placeholder).
    fn register(&mut self, key: &str, domain: &str);

    /// Re-registers `pod` with relaxed `constraints` (upstream `Topology.Update` after a
    /// relaxation), so dropped preferences stop constraining it.
    fn update(&mut self, pod: &Pod, constraints: &PodConstraints) {
        let _ = (pod, constraints);
    }

    /// The zones `pod`'s own zonal constraints allow as the counts stand now (upstream
    /// `GetTopologyZoneConstraints`; feeds the pending-pods-by-effective-zone metric).
    /// `requirements` are the pod's requirements under the preference policy. Engines that track
    /// no domains report no constraint.
    fn zone_domains(&self, pod: &Pod, requirements: &Requirements) -> ZoneDomains {
        let _ = (pod, requirements);
        ZoneDomains::Unconstrained
    }

    /// The full text of a refusal (upstream's message, with the counts as they are now).
    fn explain(&self, error: &TopologyError) -> String {
        error.to_string()
    }
}

/// The topology engine for a solve over `nodepools` (the NodePools of the solver's templates)
/// scheduling the snapshot pods at `batch`.
pub(crate) fn build_topology<'s, 'n>(
    snapshot: &'s Snapshot,
    settings: &SchedulingSettings,
    nodepools: impl IntoIterator<Item = &'n NodePool>,
    batch: &[usize],
) -> Box<dyn TopologyHook + 's> {
    Box::new(Topology::for_solve(snapshot, settings, nodepools, batch))
}

/// Stand-in while no topology engine exists: refuses every pod with topology constraints and
/// every pod that an existing pod's required anti-affinity selects (inverse anti-affinity).
#[derive(Debug)]
pub struct TopologyUnavailable {
    /// Required anti-affinity terms of scheduled pods: (namespaces they apply to — `None` means
    /// all — and the term's selector).
    inverse: Vec<(Option<Vec<String>>, crate::snapshot::LabelSelector)>,
}

impl TopologyUnavailable {
    /// Collects the required anti-affinity terms of the snapshot's scheduled pods.
    pub fn new(snapshot: &Snapshot) -> Self {
        let mut inverse = Vec::new();
        for pod in snapshot
            .pods
            .iter()
            .filter(|p| p.node_name.is_some() && !p.is_terminal())
        {
            for term in &pod.constraints.pod_anti_affinity.required {
                let Some(selector) = term.label_selector.clone() else {
                    continue;
                };
                let namespaces = if term.namespace_selector.is_some() {
                    None
                } else if term.namespaces.is_empty() {
                    Some(vec![pod.namespace.clone()])
                } else {
                    Some(term.namespaces.clone())
                };
                inverse.push((namespaces, selector));
            }
        }
        Self { inverse }
    }
}

impl TopologyHook for TopologyUnavailable {
    fn constrains(&self, pod: &Pod, constraints: &PodConstraints) -> bool {
        constraints.has_topology()
            || self.inverse.iter().any(|(namespaces, selector)| {
                namespaces
                    .as_ref()
                    .is_none_or(|ns| ns.contains(&pod.namespace))
                    && optional_selector_matches(Some(selector), &pod.labels)
            })
    }

    fn add_requirements(
        &self,
        _pod: &Pod,
        _constraints: &PodConstraints,
        _strict: &Requirements,
        _node_requirements: &Requirements,
        _taints: &[Taint],
        _allow_undefined: Option<&WellKnownLabels>,
    ) -> Result<Requirements, TopologyError> {
        Err(TopologyError::Unavailable)
    }

    fn record(
        &mut self,
        _: &Pod,
        _: &PodConstraints,
        _: &Requirements,
        _: &[Taint],
        _: Option<&WellKnownLabels>,
    ) {
    }

    fn register(&mut self, _key: &str, _domain: &str) {}
}

/// What the solver needs from the preference engine (upstream `Preferences`).
pub trait PreferencesHook: fmt::Debug {
    /// Applies the next relaxation to `constraints` (spec core §2.10) and describes it, or returns
    /// `None` when nothing is left to relax.
    fn relax(&self, constraints: &mut PodConstraints) -> Option<String>;

    /// Whether this engine relaxes at all (false only for the [`NoRelaxation`] stand-in, so
    /// explanations can say that preferences were never relaxed).
    fn relaxes(&self) -> bool {
        true
    }
}

/// The preference engine for a solve. `tolerate_prefer_no_schedule` tells it whether some
/// NodePool has a `PreferNoSchedule` taint (the last relaxation).
pub(crate) fn build_preferences(
    settings: &SchedulingSettings,
    tolerate_prefer_no_schedule: bool,
) -> Box<dyn PreferencesHook> {
    Box::new(Preferences::new(tolerate_prefer_no_schedule).with_policy(settings.preference_policy))
}

/// Stand-in while no preference engine exists: never relaxes, so a pod whose preferences cannot
/// be met stays unschedulable (its explanation says relaxation was unavailable).
#[derive(Debug, Clone, Copy)]
pub struct NoRelaxation;

impl PreferencesHook for NoRelaxation {
    fn relax(&self, _constraints: &mut PodConstraints) -> Option<String> {
        None
    }

    fn relaxes(&self) -> bool {
        false
    }
}

/// Whether a pod has anything upstream's relaxation could remove (used to say so in explanations
/// while relaxation is unavailable).
pub(crate) fn has_relaxable_preferences(
    constraints: &PodConstraints,
    tolerate_prefer_no_schedule: bool,
) -> bool {
    let affinity = &constraints.node_affinity;
    affinity.required.len() > 1
        || !affinity.preferred.is_empty()
        || !constraints.pod_affinity.preferred.is_empty()
        || !constraints.pod_anti_affinity.preferred.is_empty()
        || constraints
            .topology_spread
            .iter()
            .any(|t| t.when_unsatisfiable == crate::snapshot::WhenUnsatisfiable::ScheduleAnyway)
        || tolerate_prefer_no_schedule
}
