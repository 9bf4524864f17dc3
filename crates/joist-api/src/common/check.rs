//! The Rust mirror of the CEL rules and runtime checks that NodePools and NodeClaims share
//! (requirements, taints, NodeClass reference, template labels), plus the admission pipeline.
//!
//! Admission order follows the API server: the OpenAPI schema first; CEL rules only when the
//! schema found no *blocking* error (wrong type, required, enum, too long, too many), otherwise one
//! "some validation rules were not checked" error instead; runtime checks (what the controller puts
//! in `ValidationSucceeded`) only for an object that admission accepted, since a rejected object
//! never reaches the controller.

use std::collections::BTreeMap;

use joist_core::labels::{
    CAPACITY_TYPE, CAPACITY_TYPES, LabelAliases, LabelContext, RestrictedLabels, WellKnownLabels,
    validate_qualified_name,
};
use serde_json::Value;

use super::labels::LabelPolicy;
use super::openapi;
use super::schema::{rule_bound_needs_integer, rule_in_needs_value, rule_min_values};
use super::types::{NodeClassReference, NodeSelectorRequirementWithMinValues, Taint};
use crate::validation::{FieldError, FieldPath};

/// What validation needs to know about the provider: its restricted label domains, well-known
/// labels and key aliases. `Default` is core Karpenter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Restricted label domains (CEL and runtime).
    pub labels: LabelPolicy,
    /// Well-known label keys (the runtime restricted-label check lets them through).
    pub well_known: WellKnownLabels,
    /// Deprecated key aliases applied before runtime requirement checks.
    pub aliases: LabelAliases,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            labels: LabelPolicy::karpenter(),
            well_known: WellKnownLabels::core(),
            aliases: LabelAliases::core(),
        }
    }
}

/// The message the API server adds when blocking schema errors stopped CEL evaluation.
pub const CEL_SKIPPED: &str = "Invalid value: \"null\": some validation rules were not checked because the object was \
                               invalid; correct the existing errors to complete validation";

/// Runs the admission pipeline: schema check of `object` against `schema`, then `cel` unless a
/// blocking schema error was found. Returns whether admission accepted the object.
pub fn admit(
    object: &Value,
    schema: &Value,
    errors: &mut Vec<FieldError>,
    cel: impl FnOnce(&mut Vec<FieldError>),
) -> bool {
    let before = errors.len();
    openapi::validate_value(object, schema, &FieldPath::root(), errors);
    if errors[before..].iter().any(is_blocking) {
        errors.push(FieldError {
            path: "<nil>".to_owned(),
            message: CEL_SKIPPED.to_owned(),
        });
    } else {
        cel(errors);
    }
    errors.len() == before
}

/// Schema errors that make the API server skip CEL rules.
fn is_blocking(error: &FieldError) -> bool {
    let m = error.message.as_str();
    m == "Required value"
        || m.starts_with("Unsupported value:")
        || m.starts_with("Too long:")
        || m.starts_with("Too many:")
        || (m.starts_with("Invalid value: \"") && m.contains(" in body must be of type "))
}

// === CEL mirrors ===

/// The list rules on `requirements` and the key rules on each `requirements[i].key`.
pub fn cel_requirements(
    requirements: &[NodeSelectorRequirementWithMinValues],
    path: &FieldPath,
    restricted: &RestrictedLabels,
    context: LabelContext,
    errors: &mut Vec<FieldError>,
) {
    let op = |r: &NodeSelectorRequirementWithMinValues| r.operator.clone().unwrap_or_default();
    if requirements
        .iter()
        .any(|r| op(r) == "In" && r.values().is_empty())
    {
        errors.push(FieldError::new(path, rule_in_needs_value().message));
    }
    let bound_ok = |r: &NodeSelectorRequirementWithMinValues| match r.values() {
        // CEL's int() is Go's strconv.ParseInt: optional sign, decimal digits, 64-bit.
        [v] => v.parse::<i64>().is_ok_and(|n| n >= 0),
        _ => false,
    };
    if requirements
        .iter()
        .any(|r| matches!(op(r).as_str(), "Gt" | "Lt" | "Gte" | "Lte") && !bound_ok(r))
    {
        errors.push(FieldError::new(path, rule_bound_needs_integer().message));
    }
    let too_few = |r: &NodeSelectorRequirementWithMinValues| {
        r.min_values
            .is_some_and(|min| (r.values().len() as i64) < min)
    };
    if requirements.iter().any(|r| op(r) == "In" && too_few(r)) {
        errors.push(FieldError::new(path, rule_min_values().message));
    }
    for (i, requirement) in requirements.iter().enumerate() {
        if let Some(key) = &requirement.key {
            let key_path = path.index(i).child("key");
            for message in restricted.admission_errors(key, context) {
                errors.push(FieldError::new(&key_path, message));
            }
        }
    }
}

/// The `may not be empty` rules on `nodeClassRef.{kind,name,group}` (in schema property order).
pub fn cel_node_class_ref(
    reference: &NodeClassReference,
    path: &FieldPath,
    errors: &mut Vec<FieldError>,
) {
    for (field, value) in [
        ("group", &reference.group),
        ("kind", &reference.kind),
        ("name", &reference.name),
    ] {
        if value.as_deref() == Some("") {
            errors.push(FieldError::new(
                &path.child(field),
                super::schema::rule_not_empty(field).message,
            ));
        }
    }
}

/// The CEL rules on a NodePool's template labels map: one error per violated rule, in the order
/// the rules appear in the CRD (`policy`), whatever the order of the offending keys.
pub fn cel_template_labels(
    labels: &BTreeMap<String, String>,
    path: &FieldPath,
    policy: &LabelPolicy,
    restricted: &RestrictedLabels,
    errors: &mut Vec<FieldError>,
) {
    let mut violated: Vec<String> = Vec::new();
    for key in labels.keys() {
        violated.extend(restricted.admission_errors(key, LabelContext::NodePoolTemplate));
    }
    for rule in policy.map_rules() {
        if violated.contains(&rule.message) {
            errors.push(FieldError::new(path, rule.message));
        }
    }
}

// === runtime mirrors ===

/// Runtime label checks (upstream `validateLabels`) beyond what admission already enforces:
/// the full qualified-name check on keys (the CRD constrains only label values).
pub fn runtime_template_labels(
    labels: &BTreeMap<String, String>,
    path: &FieldPath,
    errors: &mut Vec<FieldError>,
) {
    for key in labels.keys() {
        if let Err(messages) = validate_qualified_name(key) {
            for m in messages {
                errors.push(FieldError::new(
                    &path.key(key),
                    format!("invalid key name {key:?} in labels, {m:?}"),
                ));
            }
        }
    }
}

/// Runtime taint checks (upstream `validateTaints`): qualified-name lengths of keys and values,
/// and no duplicate (key, effect) pair across `taints` and `startupTaints`.
pub fn runtime_taints(
    groups: &[(&str, &[Taint])],
    spec_path: &FieldPath,
    errors: &mut Vec<FieldError>,
) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (field, taints) in groups {
        for (i, taint) in taints.iter().enumerate() {
            let item = spec_path.child(field).index(i);
            let key = taint.key.as_deref().unwrap_or_default();
            let value = taint.value.as_deref().unwrap_or_default();
            if let Err(messages) = validate_qualified_name(key) {
                for m in messages {
                    errors.push(FieldError::new(
                        &item.child("key"),
                        format!("invalid value: {m} in {field}"),
                    ));
                }
            }
            if !value.is_empty()
                && let Err(messages) = validate_qualified_name(value)
            {
                for m in messages {
                    errors.push(FieldError::new(
                        &item.child("value"),
                        format!("invalid value: {m} in {field}"),
                    ));
                }
            }
            let effect = taint.effect.as_deref().unwrap_or_default();
            if seen.contains(&(key, effect)) {
                errors.push(FieldError::new(
                    &item,
                    format!("duplicate taint Key/Effect pair {key}={effect}"),
                ));
            }
            seen.push((key, effect));
        }
    }
}

/// Runtime requirement checks (upstream `ValidateRequirement` after alias normalisation), limited
/// to what admission cannot see: the restricted-label runtime rule on the normalised key, the
/// well-known values of `karpenter.sh/capacity-type`, and qualified-name lengths.
pub fn runtime_requirements(
    requirements: &[NodeSelectorRequirementWithMinValues],
    path: &FieldPath,
    options: &ValidationOptions,
    errors: &mut Vec<FieldError>,
) {
    let restricted = options.labels.restricted_labels();
    for (i, requirement) in requirements.iter().enumerate() {
        let key = options
            .aliases
            .normalize(requirement.key.as_deref().unwrap_or_default());
        let mut problems = Vec::new();
        if let Err(m) = restricted.runtime_check(key, &options.well_known) {
            problems.push(m);
        }
        problems.extend(well_known_value_problem(requirement, key));
        if let Err(messages) = validate_qualified_name(key) {
            problems.extend(
                messages
                    .into_iter()
                    .map(|m| format!("key {key} is not a qualified name, {m}")),
            );
        }
        for problem in problems {
            errors.push(FieldError::new(
                &path.index(i),
                format!("invalid value: {problem} in requirements, restricted"),
            ));
        }
    }
}

/// Upstream `validateWellKnownValues`: an `In` requirement on `karpenter.sh/capacity-type` needs
/// at least one known value (and at least `minValues` of them); unknown extras are only logged.
fn well_known_value_problem(
    requirement: &NodeSelectorRequirementWithMinValues,
    key: &str,
) -> Option<String> {
    if key != CAPACITY_TYPE || requirement.operator.as_deref() != Some("In") {
        return None;
    }
    let values = requirement.values();
    let (known, unknown): (Vec<&String>, Vec<&String>) = values
        .iter()
        .partition(|v| CAPACITY_TYPES.contains(&v.as_str()));
    let go_list = |items: &[&String]| {
        format!(
            "[{}]",
            items
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let mut sorted_known = CAPACITY_TYPES.to_vec();
    sorted_known.sort_unstable();
    let all: Vec<&String> = values.iter().collect();
    if known.is_empty() {
        // Go prints the known-values set (a map) with `%v`: `map[k:{} ...]`, keys sorted.
        let set = sorted_known
            .iter()
            .map(|v| format!("{v}:{{}}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Some(format!(
            "no valid values found in {} for {key}, expected one of: map[{set}], got: {}",
            go_list(&all),
            go_list(&unknown)
        ));
    }
    match requirement.min_values {
        Some(min) if (known.len() as i64) < min => Some(format!(
            "not enough valid values found in {} for {key}, expected at least {min} valid values from: [{}], got: {}",
            go_list(&all),
            sorted_known.join(" "),
            known.len()
        )),
        _ => None,
    }
}
