//! Pod requirement assembly (spec core §1.5, last bullet).
//!
//! * `nodeSelector` entries become `In [value]` requirements;
//! * the **first** required node-affinity term is added (the scheduler relaxes the others in
//!   order by removing the first term while more than one is left);
//! * under [`PreferencePolicy::Respect`] the **heaviest** preferred node-affinity term is added too
//!   (ties: the first of the heaviest), to be relaxed away if it cannot be met.
//!
//! The "strict" requirements leave preferences out; topology uses them so a preferred affinity
//! never narrows a pod's domains.

use super::pod::{NodeSelectorTerm, PodConstraints};
use crate::labels::LabelAliases;
use crate::requirements::{Requirement, RequirementError, Requirements};
use crate::scheduling::PreferencePolicy;

impl PodConstraints {
    /// The pod's requirements under `policy` (upstream `NewPodRequirements` for `Respect`,
    /// `NewStrictPodRequirements` for `Ignore`). Keys are normalised with `aliases`.
    pub fn requirements(
        &self,
        aliases: &LabelAliases,
        policy: PreferencePolicy,
    ) -> Result<Requirements, RequirementError> {
        let mut requirements = self.strict_requirements(aliases)?;
        if policy == PreferencePolicy::Respect
            && let Some(index) = self.heaviest_preferred_node_term()
        {
            add_term(
                &mut requirements,
                &self.node_affinity.preferred[index].preference,
                aliases,
            )?;
        }
        Ok(requirements)
    }

    /// The pod's requirements without any preference: node selector plus the first required
    /// node-affinity term.
    pub fn strict_requirements(
        &self,
        aliases: &LabelAliases,
    ) -> Result<Requirements, RequirementError> {
        let mut requirements = Requirements::new();
        for (key, value) in &self.node_selector {
            requirements.add(Requirement::in_values(aliases.normalize(key), [value]));
        }
        if let Some(first) = self.node_affinity.required.first() {
            add_term(&mut requirements, first, aliases)?;
        }
        Ok(requirements)
    }

    /// Index of the heaviest preferred node-affinity term (the first one among equals), which
    /// `Respect` treats as required and relaxation removes first.
    pub fn heaviest_preferred_node_term(&self) -> Option<usize> {
        let preferred = &self.node_affinity.preferred;
        let max = preferred.iter().map(|p| p.weight).max()?;
        preferred.iter().position(|p| p.weight == max)
    }

    /// Whether the pod has any preferred node-affinity term.
    pub fn has_preferred_node_affinity(&self) -> bool {
        !self.node_affinity.preferred.is_empty()
    }
}

fn add_term(
    requirements: &mut Requirements,
    term: &NodeSelectorTerm,
    aliases: &LabelAliases,
) -> Result<(), RequirementError> {
    for expression in &term.match_expressions {
        requirements.add(Requirement::from_node_selector_requirement(
            expression, aliases,
        )?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{self, LabelAliases};
    use crate::requirements::{NodeSelectorRequirement, Operator};
    use crate::snapshot::pod::{NodeAffinity, PreferredSchedulingTerm};

    fn term(key: &str, op: Operator, values: &[&str]) -> NodeSelectorTerm {
        NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
            key,
            op,
            values.iter().copied(),
        )])
    }

    fn preferred(weight: i32, t: NodeSelectorTerm) -> PreferredSchedulingTerm {
        PreferredSchedulingTerm {
            weight,
            preference: t,
        }
    }

    fn constraints() -> PodConstraints {
        PodConstraints {
            node_selector: [(labels::FAILURE_DOMAIN_BETA_ZONE.to_owned(), "z1".to_owned())].into(),
            node_affinity: NodeAffinity {
                required: vec![
                    term("team", Operator::In, &["a", "b"]),
                    term("team", Operator::In, &["c"]),
                ],
                preferred: vec![
                    preferred(1, term("tier", Operator::In, &["low"])),
                    preferred(50, term("tier", Operator::In, &["mid"])),
                    preferred(50, term("tier", Operator::In, &["other"])),
                ],
            },
            ..PodConstraints::default()
        }
    }

    #[test]
    fn respect_adds_selector_first_required_term_and_heaviest_preference() {
        let r = constraints()
            .requirements(&LabelAliases::core(), PreferencePolicy::Respect)
            .unwrap();
        assert_eq!(
            r.to_string(),
            "team In [a b], tier In [mid], topology.kubernetes.io/zone In [z1]"
        );
    }

    #[test]
    fn ignore_and_strict_leave_preferences_out() {
        let c = constraints();
        let ignore = c
            .requirements(&LabelAliases::core(), PreferencePolicy::Ignore)
            .unwrap();
        let strict = c.strict_requirements(&LabelAliases::core()).unwrap();
        assert_eq!(ignore, strict);
        assert_eq!(
            strict.to_string(),
            "team In [a b], topology.kubernetes.io/zone In [z1]"
        );
    }

    #[test]
    fn no_affinity_gives_only_the_selector_and_bad_values_are_errors() {
        let plain = PodConstraints::default();
        assert!(
            plain
                .requirements(&LabelAliases::core(), PreferencePolicy::Respect)
                .unwrap()
                .is_empty()
        );
        let bad = PodConstraints {
            node_affinity: NodeAffinity {
                required: vec![term("n", Operator::Gt, &["x"])],
                preferred: vec![],
            },
            ..PodConstraints::default()
        };
        assert!(bad.strict_requirements(&LabelAliases::core()).is_err());
    }
}
