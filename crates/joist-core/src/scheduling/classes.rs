//! Pod classes: pods with identical scheduling constraints (a Deployment's replicas) share their
//! requirements and their per-template compatibility, computed once per solve instead of once per
//! pod and attempt (design note, "How joist is fast").

use std::collections::HashMap;
use std::rc::Rc;

use super::settings::SchedulingSettings;
use super::template::{Template, has_compatible_offering};
use crate::requirements::Requirements;
use crate::snapshot::PodConstraints;
use crate::taints::TaintsError;

/// How a class relates to one template, before resources and topology are considered.
#[derive(Debug)]
pub(crate) enum TemplateFit {
    /// The pod does not tolerate the template's taints (upstream's message).
    Taints(String),
    /// The requirements conflict (upstream's `incompatible requirements, ...` message).
    Requirements(String),
    /// Compatible: the template's requirements with the pod's added, and per template option
    /// whether it meets them and has a compatible available offering.
    Compatible {
        /// Template requirements ∩ pod requirements (no hostname placeholder).
        requirements: Requirements,
        /// Per option of the template: requirements intersect and an offering is compatible.
        options_ok: Vec<bool>,
    },
}

/// One class of pods.
#[derive(Debug)]
pub(crate) struct PodClass {
    /// The shared constraints (possibly a relaxed copy of a pod's).
    pub(crate) constraints: Rc<PodConstraints>,
    /// Requirements under the preference policy, or why they cannot be built.
    pub(crate) requirements: Result<Requirements, String>,
    /// Strict requirements (preferences left out).
    pub(crate) strict: Requirements,
    /// Per template, computed on first use.
    per_template: Vec<Option<Rc<TemplateFit>>>,
}

/// The classes of a solve, keyed by constraints.
#[derive(Debug, Default)]
pub(crate) struct Classes {
    /// Constraints → class index.
    by_constraints: HashMap<Rc<PodConstraints>, usize>,
    /// The classes.
    classes: Vec<PodClass>,
}

impl Classes {
    /// The class of `constraints`, creating it on first sight.
    pub(crate) fn class_of(
        &mut self,
        constraints: &PodConstraints,
        settings: &SchedulingSettings,
        templates: usize,
    ) -> usize {
        if let Some(&index) = self.by_constraints.get(constraints) {
            return index;
        }
        let constraints = Rc::new(constraints.clone());
        let requirements = constraints
            .requirements(&settings.label_aliases, settings.preference_policy)
            .map_err(|e| e.to_string());
        let strict = constraints
            .strict_requirements(&settings.label_aliases)
            .unwrap_or_default();
        let index = self.classes.len();
        self.classes.push(PodClass {
            constraints: Rc::clone(&constraints),
            requirements,
            strict,
            per_template: vec![None; templates],
        });
        self.by_constraints.insert(constraints, index);
        index
    }

    /// The class at `index`.
    pub(crate) fn get(&self, index: usize) -> &PodClass {
        &self.classes[index]
    }

    /// How class `index` relates to template `t`, computed once.
    pub(crate) fn template_fit(
        &mut self,
        index: usize,
        t: usize,
        template: &Template<'_>,
        settings: &SchedulingSettings,
    ) -> Rc<TemplateFit> {
        let class = &mut self.classes[index];
        if let Some(fit) = &class.per_template[t] {
            return Rc::clone(fit);
        }
        let fit = Rc::new(compute_fit(class, template, settings));
        class.per_template[t] = Some(Rc::clone(&fit));
        fit
    }
}

fn compute_fit(
    class: &PodClass,
    template: &Template<'_>,
    settings: &SchedulingSettings,
) -> TemplateFit {
    if let Err(e) = template.taints.tolerates_all(&class.constraints.tolerations) {
        return TemplateFit::Taints(taints_message(&e));
    }
    let pod = match &class.requirements {
        Ok(r) => r,
        Err(e) => return TemplateFit::Requirements(e.clone()),
    };
    if let Err(e) = template
        .requirements
        .compatible(pod, &settings.well_known_labels)
    {
        return TemplateFit::Requirements(format!("incompatible requirements, {e}"));
    }
    let requirements = template.requirements.intersection(pod);
    let options_ok = template
        .options
        .iter()
        .map(|o| {
            o.it.requirements.can_intersect(&requirements)
                && has_compatible_offering(o.it, &requirements, settings)
        })
        .collect();
    TemplateFit::Compatible {
        requirements,
        options_ok,
    }
}

fn taints_message(error: &TaintsError) -> String {
    error.to_string()
}
