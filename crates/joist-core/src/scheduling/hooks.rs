//! The seams between the solver and the topology and preference engines (design note,
//! "Topology's contract with the solver").
//!
//! The solver calls [`TopologyHook::add_requirements`] before filtering instance types for a pod on
//! a node or NodeClaim, and [`TopologyHook::record`] after placing it; it calls
//! [`PreferencesHook::relax`] after a failed attempt. [`build_topology`] and
//! [`build_preferences`] choose the implementations; until the topology and preference engines
//! exist, [`TopologyUnavailable`] refuses — with an explicit reason — every pod whose placement
//! would depend on topology, and [`NoRelaxation`] relaxes nothing. Neither pretends: a pod they
//! cannot handle is reported unschedulable, never placed in violation of its constraints.

use std::fmt;

use super::settings::SchedulingSettings;
use crate::labels::WellKnownLabels;
use crate::requirements::Requirements;
use crate::snapshot::{Pod, PodConstraints, Snapshot, optional_selector_matches};
use crate::taints::Taint;

/// Why topology refused a placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// A constraint left no eligible domain (upstream's `unsatisfiable topology constraint for
    /// <kind>, key=<key> (counts = ..., podDomains = ..., nodeDomains = ...` text).
    #[error("{0}")]
    Unsatisfiable(String),
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
    fn add_requirements(
        &self,
        pod: &Pod,
        constraints: &PodConstraints,
        strict: &Requirements,
        node_requirements: &Requirements,
        taints: &[Taint],
        allow_undefined: Option<&WellKnownLabels>,
    ) -> Result<Requirements, TopologyError>;

    /// Counts `pod` as placed on a node or NodeClaim with `node_requirements`.
    fn record(
        &mut self,
        pod: &Pod,
        constraints: &PodConstraints,
        node_requirements: &Requirements,
        taints: &[Taint],
    );

    /// Registers a domain (new NodeClaims register their hostname placeholder).
    fn register(&mut self, key: &str, domain: &str);
}

/// The topology engine for a solve.
pub(crate) fn build_topology(
    snapshot: &Snapshot,
    _settings: &SchedulingSettings,
) -> Box<dyn TopologyHook> {
    Box::new(TopologyUnavailable::new(snapshot))
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
        for pod in snapshot.pods.iter().filter(|p| p.node_name.is_some() && !p.is_terminal()) {
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

    fn record(&mut self, _: &Pod, _: &PodConstraints, _: &Requirements, _: &[Taint]) {}

    fn register(&mut self, _key: &str, _domain: &str) {}
}

/// What the solver needs from the preference engine (upstream `Preferences`).
pub trait PreferencesHook: fmt::Debug {
    /// Applies the next relaxation to `constraints` (spec core §2.10) and describes it, or returns
    /// `None` when nothing is left to relax.
    fn relax(&self, constraints: &mut PodConstraints) -> Option<String>;
}

/// The preference engine for a solve. `tolerate_prefer_no_schedule` tells it whether some
/// NodePool has a `PreferNoSchedule` taint (the last relaxation).
pub(crate) fn build_preferences(
    _settings: &SchedulingSettings,
    _tolerate_prefer_no_schedule: bool,
) -> Box<dyn PreferencesHook> {
    Box::new(NoRelaxation)
}

/// Stand-in while no preference engine exists: never relaxes, so a pod whose preferences cannot
/// be met stays unschedulable (its explanation says relaxation was unavailable).
#[derive(Debug, Clone, Copy)]
pub struct NoRelaxation;

impl PreferencesHook for NoRelaxation {
    fn relax(&self, _constraints: &mut PodConstraints) -> Option<String> {
        None
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
