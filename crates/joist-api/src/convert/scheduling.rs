//! Placement constraints of a pod spec: node selector terms, node and pod (anti-)affinity,
//! tolerations and topology spread constraints.

use joist_core::requirements::{NodeSelectorRequirement, Operator};
use joist_core::snapshot::{
    NodeAffinity, NodeInclusionPolicy, NodeSelectorTerm, PodAffinity, PodAffinityTerm,
    PodConstraints, PreferredSchedulingTerm, TopologySpreadConstraint, WeightedPodAffinityTerm,
    WhenUnsatisfiable,
};
use joist_core::taints::{Effect, Toleration, TolerationOperator};
use k8s_openapi::api::core::v1 as core;

use super::meta::optional_label_selector;
use super::{At, ConvertError};

/// The node selector operators the Kubernetes API accepts (Karpenter's `Gte`/`Lte` are not).
const NODE_SELECTOR_OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

/// The placement constraints of `spec`; `path` is the spec's path (`spec` or
/// `spec.template.spec`).
pub(crate) fn constraints(
    spec: &core::PodSpec,
    at: At<'_>,
    path: &str,
) -> Result<PodConstraints, ConvertError> {
    let affinity = spec.affinity.as_ref();
    let affinity_path = format!("{path}.affinity");
    Ok(PodConstraints {
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        node_affinity: affinity
            .and_then(|a| a.node_affinity.as_ref())
            .map(|a| node_affinity(a, at, &format!("{affinity_path}.nodeAffinity")))
            .transpose()?
            .unwrap_or_default(),
        pod_affinity: affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .map(|a| {
                pod_affinity(
                    a.required_during_scheduling_ignored_during_execution
                        .as_deref(),
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_deref(),
                    at,
                    &format!("{affinity_path}.podAffinity"),
                )
            })
            .transpose()?
            .unwrap_or_default(),
        pod_anti_affinity: affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .map(|a| {
                pod_affinity(
                    a.required_during_scheduling_ignored_during_execution
                        .as_deref(),
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_deref(),
                    at,
                    &format!("{affinity_path}.podAntiAffinity"),
                )
            })
            .transpose()?
            .unwrap_or_default(),
        tolerations: tolerations(
            spec.tolerations.as_deref(),
            at,
            &format!("{path}.tolerations"),
        )?,
        topology_spread: spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| {
                spread_constraint(c, at, &format!("{path}.topologySpreadConstraints[{i}]"))
            })
            .collect::<Result<_, _>>()?,
    })
}

fn node_affinity(
    affinity: &core::NodeAffinity,
    at: At<'_>,
    path: &str,
) -> Result<NodeAffinity, ConvertError> {
    let required_path =
        format!("{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
    let required = match &affinity.required_during_scheduling_ignored_during_execution {
        Some(selector) => node_selector_terms(&selector.node_selector_terms, at, &required_path)?,
        None => Vec::new(),
    };
    let preferred = affinity
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let term_path =
                format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference");
            Ok(PreferredSchedulingTerm {
                weight: p.weight,
                preference: node_selector_term(&p.preference, at, &term_path)?,
            })
        })
        .collect::<Result<_, ConvertError>>()?;
    Ok(NodeAffinity {
        required,
        preferred,
    })
}

/// `nodeSelectorTerms` (ORed); `path` is the list's path.
pub(crate) fn node_selector_terms(
    terms: &[core::NodeSelectorTerm],
    at: At<'_>,
    path: &str,
) -> Result<Vec<NodeSelectorTerm>, ConvertError> {
    terms
        .iter()
        .enumerate()
        .map(|(i, term)| node_selector_term(term, at, &format!("{path}[{i}]")))
        .collect()
}

/// One node selector term; `matchFields` is kept so the core can reject it with upstream's
/// message.
fn node_selector_term(
    term: &core::NodeSelectorTerm,
    at: At<'_>,
    path: &str,
) -> Result<NodeSelectorTerm, ConvertError> {
    let convert = |list: Option<&Vec<core::NodeSelectorRequirement>>, field: &str| {
        list.into_iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| node_selector_requirement(r, at, &format!("{path}.{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(NodeSelectorTerm {
        match_expressions: convert(term.match_expressions.as_ref(), "matchExpressions")?,
        match_fields: convert(term.match_fields.as_ref(), "matchFields")?,
    })
}

fn node_selector_requirement(
    requirement: &core::NodeSelectorRequirement,
    at: At<'_>,
    path: &str,
) -> Result<NodeSelectorRequirement, ConvertError> {
    let operator = NODE_SELECTOR_OPERATORS
        .contains(&requirement.operator.as_str())
        .then(|| requirement.operator.parse::<Operator>().ok())
        .flatten()
        .ok_or_else(|| {
            at.unsupported(
                format!("{path}.operator"),
                &requirement.operator,
                &NODE_SELECTOR_OPERATORS,
            )
        })?;
    Ok(NodeSelectorRequirement::new(
        &requirement.key,
        operator,
        requirement.values.iter().flatten().cloned(),
    ))
}

fn pod_affinity(
    required: Option<&[core::PodAffinityTerm]>,
    preferred: Option<&[core::WeightedPodAffinityTerm]>,
    at: At<'_>,
    path: &str,
) -> Result<PodAffinity, ConvertError> {
    let required = required
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, term)| {
            pod_affinity_term(
                term,
                at,
                &format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
            )
        })
        .collect::<Result<_, _>>()?;
    let preferred = preferred
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, weighted)| {
            let term_path = format!(
                "{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm"
            );
            Ok(WeightedPodAffinityTerm {
                weight: weighted.weight,
                term: pod_affinity_term(&weighted.pod_affinity_term, at, &term_path)?,
            })
        })
        .collect::<Result<_, ConvertError>>()?;
    Ok(PodAffinity {
        required,
        preferred,
    })
}

fn pod_affinity_term(
    term: &core::PodAffinityTerm,
    at: At<'_>,
    path: &str,
) -> Result<PodAffinityTerm, ConvertError> {
    Ok(PodAffinityTerm {
        label_selector: optional_label_selector(
            term.label_selector.as_ref(),
            at,
            &format!("{path}.labelSelector"),
        )?,
        namespaces: term.namespaces.clone().unwrap_or_default(),
        namespace_selector: optional_label_selector(
            term.namespace_selector.as_ref(),
            at,
            &format!("{path}.namespaceSelector"),
        )?,
        topology_key: term.topology_key.clone(),
        match_label_keys: term.match_label_keys.clone().unwrap_or_default(),
        mismatch_label_keys: term.mismatch_label_keys.clone().unwrap_or_default(),
    })
}

/// Tolerations with the API's defaults: an empty operator is `Equal`, an empty effect matches
/// every effect.
pub(crate) fn tolerations(
    tolerations: Option<&[core::Toleration]>,
    at: At<'_>,
    path: &str,
) -> Result<Vec<Toleration>, ConvertError> {
    tolerations
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| toleration(t, at, &format!("{path}[{i}]")))
        .collect()
}

fn toleration(t: &core::Toleration, at: At<'_>, path: &str) -> Result<Toleration, ConvertError> {
    let operator = match t.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => TolerationOperator::Equal,
        "Exists" => TolerationOperator::Exists,
        "Lt" => TolerationOperator::Lt,
        "Gt" => TolerationOperator::Gt,
        other => {
            return Err(at.unsupported(
                format!("{path}.operator"),
                other,
                &["Equal", "Exists", "Lt", "Gt"],
            ));
        }
    };
    let effect = match t.effect.as_deref().unwrap_or_default() {
        "" => None,
        text => Some(effect(text, at, &format!("{path}.effect"))?),
    };
    Ok(Toleration {
        key: t.key.clone().unwrap_or_default(),
        operator,
        value: t.value.clone().unwrap_or_default(),
        effect,
        toleration_seconds: t.toleration_seconds,
    })
}

/// A taint effect.
pub(crate) fn effect(text: &str, at: At<'_>, path: &str) -> Result<Effect, ConvertError> {
    text.parse()
        .map_err(|_| at.unsupported(path, text, &["NoSchedule", "PreferNoSchedule", "NoExecute"]))
}

/// Node taints in core form.
pub(crate) fn taints(
    taints: Option<&[core::Taint]>,
    at: At<'_>,
    path: &str,
) -> Result<Vec<joist_core::taints::Taint>, ConvertError> {
    taints
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            Ok(joist_core::taints::Taint::new(
                &t.key,
                t.value.clone().unwrap_or_default(),
                effect(&t.effect, at, &format!("{path}[{i}].effect"))?,
            ))
        })
        .collect()
}

/// A topology spread constraint. Unset inclusion policies are given their documented defaults
/// (`nodeAffinityPolicy: Honor`, `nodeTaintsPolicy: Ignore`) so the core sees them explicitly.
fn spread_constraint(
    c: &core::TopologySpreadConstraint,
    at: At<'_>,
    path: &str,
) -> Result<TopologySpreadConstraint, ConvertError> {
    let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
        "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
        "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
        other => {
            return Err(at.unsupported(
                format!("{path}.whenUnsatisfiable"),
                other,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
    };
    let policy = |value: Option<&str>, field: &str, default: NodeInclusionPolicy| match value {
        None | Some("") => Ok(default),
        Some("Honor") => Ok(NodeInclusionPolicy::Honor),
        Some("Ignore") => Ok(NodeInclusionPolicy::Ignore),
        Some(other) => Err(at.unsupported(format!("{path}.{field}"), other, &["Honor", "Ignore"])),
    };
    Ok(TopologySpreadConstraint {
        max_skew: c.max_skew,
        topology_key: c.topology_key.clone(),
        when_unsatisfiable,
        label_selector: optional_label_selector(
            c.label_selector.as_ref(),
            at,
            &format!("{path}.labelSelector"),
        )?,
        min_domains: c.min_domains,
        node_affinity_policy: Some(policy(
            c.node_affinity_policy.as_deref(),
            "nodeAffinityPolicy",
            NodeInclusionPolicy::Honor,
        )?),
        node_taints_policy: Some(policy(
            c.node_taints_policy.as_deref(),
            "nodeTaintsPolicy",
            NodeInclusionPolicy::Ignore,
        )?),
        match_label_keys: c.match_label_keys.clone().unwrap_or_default(),
    })
}
