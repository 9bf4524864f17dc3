//! [`NodeFilter`]: which nodes take part in a topology spread constraint (upstream
//! `TopologyNodeFilter`, spec core §2.9).

use crate::labels::{LabelAliases, WellKnownLabels};
use crate::requirements::{Requirement, Requirements};
use crate::snapshot::{NodeInclusionPolicy, PodConstraints};
use crate::taints::{Taint, Toleration};

use super::universe::DomainSource;

/// The nodes a spread constraint counts and may choose from.
///
/// With `nodeAffinityPolicy: Honor` (the default) a node takes part only if its labels are
/// compatible with the pod's `nodeSelector` combined with one of its required node-affinity terms
/// (the terms are ORed); with `nodeTaintsPolicy: Honor` (default `Ignore`) only if the pod
/// tolerates its taints. Pod affinity and anti-affinity have no filter: every node counts.
///
/// Part of a topology group's identity: pods with different selectors, affinities or tolerations
/// count different nodes, so they cannot share counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NodeFilter {
    /// `nodeSelector ∩ term` for each required term, or the node selector alone.
    terms: Vec<Requirements>,
    /// `nodeTaintsPolicy`, defaulted.
    taint_policy: NodeInclusionPolicy,
    /// `nodeAffinityPolicy`, defaulted.
    affinity_policy: NodeInclusionPolicy,
    /// The pod's tolerations (only consulted under a `Honor` taint policy).
    tolerations: Vec<Toleration>,
}

impl NodeFilter {
    /// The filter of a spread constraint with these (possibly unset) policies on a pod with
    /// `constraints`. Keys are normalised with `aliases`. A required term that does not parse is
    /// left out: such pods are refused by pod validation (§2.2) before topology sees them.
    pub(crate) fn new(
        constraints: &PodConstraints,
        taint_policy: Option<NodeInclusionPolicy>,
        affinity_policy: Option<NodeInclusionPolicy>,
        aliases: &LabelAliases,
    ) -> Self {
        let selector = Requirements::from_labels(&constraints.node_selector, aliases);
        let terms = if constraints.node_affinity.required.is_empty() {
            vec![selector]
        } else {
            constraints
                .node_affinity
                .required
                .iter()
                .filter_map(|term| {
                    let mut requirements = selector.clone();
                    for expression in &term.match_expressions {
                        requirements.add(
                            Requirement::from_node_selector_requirement(expression, aliases)
                                .ok()?,
                        );
                    }
                    Some(requirements)
                })
                .collect()
        };
        Self {
            terms,
            taint_policy: taint_policy.unwrap_or(NodeInclusionPolicy::Ignore),
            affinity_policy: affinity_policy.unwrap_or(NodeInclusionPolicy::Honor),
            tolerations: constraints.tolerations.clone(),
        }
    }

    /// Whether a node with these taints and label requirements takes part (upstream `Matches`).
    /// `allow_undefined` is the well-known label set when `requirements` are a NodeClaim's (whose
    /// instance-type labels are not all known yet), empty for a real node.
    pub(crate) fn matches(
        &self,
        taints: &[Taint],
        requirements: &Requirements,
        allow_undefined: &WellKnownLabels,
    ) -> bool {
        self.matches_affinity(requirements, allow_undefined) && self.tolerates(taints)
    }

    /// Whether nodes of a NodePool may take part: its taints are tolerated (unless the taint
    /// policy is `Ignore`) and, under `Honor`, its template is compatible with the pod's node
    /// selector and affinity (undefined well-known labels allowed: instance types provide them).
    pub(crate) fn admits_pool(&self, pool: &DomainSource, well_known: &WellKnownLabels) -> bool {
        self.tolerates(&pool.taints) && self.matches_affinity(&pool.requirements, well_known)
    }

    fn matches_affinity(&self, requirements: &Requirements, allow: &WellKnownLabels) -> bool {
        self.affinity_policy == NodeInclusionPolicy::Ignore
            || self.terms.is_empty()
            || self
                .terms
                .iter()
                .any(|term| requirements.is_compatible(term, allow))
    }

    fn tolerates(&self, taints: &[Taint]) -> bool {
        self.taint_policy == NodeInclusionPolicy::Ignore || tolerated(taints, &self.tolerations)
    }
}

/// Whether every taint is tolerated by some toleration (all effects count).
pub(crate) fn tolerated(taints: &[Taint], tolerations: &[Toleration]) -> bool {
    taints
        .iter()
        .all(|taint| tolerations.iter().any(|t| t.tolerates(taint)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::ZONE;
    use crate::requirements::{NodeSelectorRequirement, Operator};
    use crate::snapshot::NodeSelectorTerm;
    use crate::taints::Effect;

    fn zone_term(zones: &[&str]) -> NodeSelectorTerm {
        NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
            ZONE,
            Operator::In,
            zones.iter().copied(),
        )])
    }

    fn node(zone: &str) -> Requirements {
        [Requirement::in_values(ZONE, [zone])].into_iter().collect()
    }

    #[test]
    fn honor_affinity_requires_one_compatible_term() {
        let mut constraints = PodConstraints::default();
        constraints.node_affinity.required = vec![zone_term(&["z1"]), zone_term(&["z2"])];
        let filter = NodeFilter::new(&constraints, None, None, &LabelAliases::core());
        let none = WellKnownLabels::empty();
        assert!(filter.matches(&[], &node("z1"), &none));
        assert!(filter.matches(&[], &node("z2"), &none));
        assert!(!filter.matches(&[], &node("z3"), &none));
        // A node without the label is not compatible unless the key may be undefined.
        assert!(!filter.matches(&[], &Requirements::new(), &none));
        assert!(filter.matches(&[], &Requirements::new(), &WellKnownLabels::core()));
        let ignore = NodeFilter::new(
            &constraints,
            None,
            Some(NodeInclusionPolicy::Ignore),
            &LabelAliases::core(),
        );
        assert!(ignore.matches(&[], &node("z3"), &none));
    }

    #[test]
    fn taints_count_only_under_honor() {
        let taint = Taint::new("dedicated", "gpu", Effect::NoSchedule);
        let constraints = PodConstraints::default();
        let ignore = NodeFilter::new(&constraints, None, None, &LabelAliases::core());
        let none = WellKnownLabels::empty();
        assert!(ignore.matches(std::slice::from_ref(&taint), &node("z1"), &none));
        let honor = NodeFilter::new(
            &constraints,
            Some(NodeInclusionPolicy::Honor),
            None,
            &LabelAliases::core(),
        );
        assert!(!honor.matches(std::slice::from_ref(&taint), &node("z1"), &none));
        let mut tolerant = constraints;
        tolerant
            .tolerations
            .push(Toleration::exists("dedicated", None));
        let honor_tolerant = NodeFilter::new(
            &tolerant,
            Some(NodeInclusionPolicy::Honor),
            None,
            &LabelAliases::core(),
        );
        assert!(honor_tolerant.matches(&[taint], &node("z1"), &none));
    }

    #[test]
    fn node_selector_is_combined_with_every_term() {
        let mut constraints = PodConstraints::default();
        constraints.node_selector.insert("team".into(), "a".into());
        constraints.node_affinity.required = vec![zone_term(&["z1"])];
        let filter = NodeFilter::new(&constraints, None, None, &LabelAliases::core());
        let mut labelled = node("z1");
        let none = WellKnownLabels::empty();
        assert!(!filter.matches(&[], &labelled, &none));
        labelled.add(Requirement::in_values("team", ["a"]));
        assert!(filter.matches(&[], &labelled, &none));
    }
}
