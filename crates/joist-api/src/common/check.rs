//! The Rust mirror of the CEL rules and runtime checks that NodePools and NodeClaims share
//! (requirements, taints, NodeClass reference, template labels), plus the admission pipeline.
//!
//! Admission order follows the API server (checked against a real kube-apiserver 1.34): strict
//! field validation first (an object with undeclared fields is refused with only those, see
//! [`super::strict`]), then object metadata, the OpenAPI schema, the scale subresource; CEL rules
//! only when none of those found a
//! *blocking* error (wrong type, required, enum, too long, too many), otherwise one "some
//! validation rules were not checked" error instead; runtime checks (what the controller puts in
//! `ValidationSucceeded`) only for an object that admission accepted, since a rejected object
//! never reaches the controller. `status` is not validated: the API server drops it on create and
//! keeps the stored one on update.

use std::collections::BTreeMap;

use joist_core::labels::syntax::validate_dns1123_subdomain;
use joist_core::labels::{
    CAPACITY_TYPE, CAPACITY_TYPES, LabelAliases, LabelContext, RestrictedLabels, WellKnownLabels,
    validate_qualified_name,
};
use serde_json::Value;

use super::labels::LabelPolicy;
use super::schema::{rule_bound_needs_integer, rule_in_needs_value, rule_min_values};
use super::types::{NodeClassReference, NodeSelectorRequirementWithMinValues, Taint};
use super::{openapi, strict};
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

/// The message the API server adds when blocking schema errors stopped CEL evaluation (its path
/// is printed as `<nil>`).
pub const CEL_SKIPPED: &str = "Invalid value: null: some validation rules were not checked because the object was \
                               invalid; correct the existing errors to complete validation";

/// The object as the API server validates it: `status` is dropped, because on create the status
/// subresource resets it and on update it is copied from the stored object.
pub fn without_status(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// Runs the admission pipeline on `object` (the whole object, `status` included): strict field
/// validation against `schema`, which alone decides when it finds undeclared fields; then
/// metadata, the schema check (of `status` too only when `with_status`, as for a write of the
/// status subresource), `extra_schema` (the scale subresource's checks), and `cel` unless a
/// blocking error was found. Returns whether admission accepted the object.
pub fn admit(
    object: &Value,
    schema: &Value,
    with_status: bool,
    errors: &mut Vec<FieldError>,
    extra_schema: impl FnOnce(&mut Vec<FieldError>),
    cel: impl FnOnce(&mut Vec<FieldError>),
) -> bool {
    let unknown = strict::unknown_fields(object, schema);
    if !unknown.is_empty() {
        errors.extend(unknown);
        return false;
    }
    let without_status_copy;
    let object = if with_status {
        object
    } else {
        without_status_copy = without_status(object.clone());
        &without_status_copy
    };
    let before = errors.len();
    validate_object_meta(object.get("metadata"), errors);
    openapi::validate_value(object, schema, &FieldPath::root(), errors);
    extra_schema(errors);
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

/// The generic object-metadata checks of a cluster-scoped custom resource: a name (or
/// generateName) that is a DNS-1123 subdomain.
fn validate_object_meta(metadata: Option<&Value>, errors: &mut Vec<FieldError>) {
    let text = |field: &str| {
        metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let meta = FieldPath::root().child("metadata");
    match (text("name"), text("generateName")) {
        (None, None) => errors.push(FieldError::new(
            &meta.child("name"),
            "Required value: name or generateName is required",
        )),
        (Some(name), _) => {
            if let Err(messages) = validate_dns1123_subdomain(name) {
                let value = Value::String(name.to_owned());
                errors.extend(
                    messages
                        .iter()
                        .map(|m| openapi::invalid(&meta.child("name"), &value, m)),
                );
            }
        }
        (None, Some(prefix)) => {
            // apimachinery masks one trailing dash: the random suffix follows it.
            let masked = prefix.strip_suffix('-').unwrap_or(prefix);
            if let Err(messages) = validate_dns1123_subdomain(masked) {
                let value = Value::String(prefix.to_owned());
                errors.extend(
                    messages
                        .iter()
                        .map(|m| openapi::invalid(&meta.child("generateName"), &value, m)),
                );
            }
        }
    }
}

/// Errors that make the API server skip CEL rules (required, unsupported, too long, too many,
/// wrong type).
fn is_blocking(error: &FieldError) -> bool {
    let m = error.message.as_str();
    m.starts_with("Required value")
        || m.starts_with("Unsupported value:")
        || m.starts_with("Too long:")
        || m.starts_with("Too many:")
        || (m.starts_with("Invalid value: \"") && m.contains(" in body must be of type "))
}

// === CEL mirrors ===

/// A failed CEL rule as the API server reports it: `Invalid value: "<type>": <message>`, where
/// the type is the JSON type of the value the rule is attached to.
pub fn cel_error(path: &FieldPath, value_type: &str, message: &str) -> FieldError {
    FieldError::new(path, format!("Invalid value: {value_type:?}: {message}"))
}

/// A CEL rule evaluated on one list item: a boolean, or the evaluation error CEL raised (an
/// absent field, a failed `int()` conversion) as the API server words it.
type ItemVerdict = Result<bool, &'static str>;

/// `self.all(x, ...)` accessing a field that is absent.
const NO_SUCH_VALUES: &str = "no such key: values";
/// `int(x)` on a string that is not a decimal 64-bit integer.
const NOT_AN_INT: &str = "type conversion error from 'string' to 'int'";

/// Reports `self.all(x, ...)` as CEL evaluates it: `false` if any item is false (a false operand
/// absorbs errors); otherwise the first item error, which the API server reports as
/// `<error> evaluating rule: <message>`.
fn all_items(
    verdicts: impl Iterator<Item = ItemVerdict>,
    path: &FieldPath,
    message: &str,
    errors: &mut Vec<FieldError>,
) {
    let mut first_error = None;
    for verdict in verdicts {
        match verdict {
            Ok(false) => {
                errors.push(cel_error(path, "array", message));
                return;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
            Ok(true) => {}
        }
    }
    if let Some(e) = first_error {
        errors.push(cel_error(
            path,
            "array",
            &format!("{e} evaluating rule: {message}"),
        ));
    }
}

/// The list rules on `requirements` and the key rules on each `requirements[i].key`.
pub fn cel_requirements(
    requirements: &[NodeSelectorRequirementWithMinValues],
    path: &FieldPath,
    restricted: &RestrictedLabels,
    context: LabelContext,
    errors: &mut Vec<FieldError>,
) {
    let op = |r: &NodeSelectorRequirementWithMinValues| r.operator.clone().unwrap_or_default();
    // `x.values` on a requirement without `values` is a CEL evaluation error, not `[]`.
    fn values(r: &NodeSelectorRequirementWithMinValues) -> Result<&[String], &'static str> {
        r.values.as_deref().ok_or(NO_SUCH_VALUES)
    }
    let in_rule = requirements.iter().map(|r| match op(r) == "In" {
        false => Ok(true),
        true => values(r).map(|v| !v.is_empty()),
    });
    all_items(in_rule, path, &rule_in_needs_value().message, errors);
    let bound_rule = requirements.iter().map(|r| {
        if !matches!(op(r).as_str(), "Gt" | "Lt" | "Gte" | "Lte") {
            return Ok(true);
        }
        match values(r)? {
            // CEL's int() is Go's strconv.ParseInt: optional sign, decimal digits, 64-bit.
            [one] => one.parse::<i64>().map(|n| n >= 0).map_err(|_| NOT_AN_INT),
            _ => Ok(false),
        }
    });
    all_items(
        bound_rule,
        path,
        &rule_bound_needs_integer().message,
        errors,
    );
    let min_rule = requirements
        .iter()
        .map(|r| match (op(r) == "In", r.min_values) {
            (true, Some(min)) => values(r).map(|v| v.len() as i64 >= min),
            _ => Ok(true),
        });
    all_items(min_rule, path, &rule_min_values().message, errors);
    for (i, requirement) in requirements.iter().enumerate() {
        if let Some(key) = &requirement.key {
            let key_path = path.index(i).child("key");
            for message in restricted.admission_errors(key, context) {
                errors.push(cel_error(&key_path, "string", &message));
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
            errors.push(cel_error(
                &path.child(field),
                "string",
                &super::schema::rule_not_empty(field).message,
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
            errors.push(cel_error(path, "object", &rule.message));
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
