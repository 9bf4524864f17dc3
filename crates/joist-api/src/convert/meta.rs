//! Helpers shared by the conversions: object names, times, quantities, label selectors and
//! owner references.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use joist_core::resources::{Quantity, ResourceList};
use joist_core::snapshot::{
    IntOrString, LabelSelector, LabelSelectorRequirement, OwnerReference, SelectorOperator,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString as WireIntOrString;

use super::{At, ConvertError, ConvertOptions};

/// `ns/name` of a namespaced object, with the options' default namespace when unset.
pub(crate) fn namespaced_key(metadata: &meta::ObjectMeta, options: &ConvertOptions) -> String {
    format!(
        "{}/{}",
        namespace(metadata, options),
        metadata.name.as_deref().unwrap_or_default()
    )
}

/// `metadata.namespace`, or the options' default.
pub(crate) fn namespace(metadata: &meta::ObjectMeta, options: &ConvertOptions) -> String {
    metadata
        .namespace
        .clone()
        .unwrap_or_else(|| options.default_namespace.clone())
}

/// `metadata.name`, which every object needs.
pub(crate) fn name(metadata: &meta::ObjectMeta, at: At<'_>) -> Result<String, ConvertError> {
    metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| at.missing("metadata.name"))
}

/// A Kubernetes time as a chrono time. Timestamps chrono cannot hold (beyond year 262143)
/// are clamped, which no real object has.
pub(crate) fn time(time: &meta::Time) -> DateTime<Utc> {
    let ts = time.0;
    let whole =
        DateTime::<Utc>::from_timestamp(ts.as_second(), 0).unwrap_or(if ts.as_second() < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        });
    whole
        .checked_add_signed(TimeDelta::nanoseconds(i64::from(ts.subsec_nanosecond())))
        .unwrap_or(whole)
}

/// `metadata.labels` (empty when absent).
pub(crate) fn labels(metadata: &meta::ObjectMeta) -> BTreeMap<String, String> {
    metadata.labels.clone().unwrap_or_default()
}

/// `metadata.annotations` (empty when absent).
pub(crate) fn annotations(metadata: &meta::ObjectMeta) -> BTreeMap<String, String> {
    metadata.annotations.clone().unwrap_or_default()
}

/// A wire resource list parsed into core quantities; `path` is the list's field path.
pub(crate) fn resource_list(
    list: Option<&BTreeMap<String, WireQuantity>>,
    at: At<'_>,
    path: &str,
) -> Result<ResourceList, ConvertError> {
    let mut out = ResourceList::new();
    for (name, quantity) in list.into_iter().flatten() {
        let parsed = Quantity::parse(&quantity.0)
            .map_err(|source| at.quantity(format!("{path}.{name}"), source))?;
        out.insert(name.clone(), parsed);
    }
    Ok(out)
}

/// The controlling owner reference, else the first one (how Karpenter reads a pod's owner),
/// marked with whether it is the controller (only a controller feeds default topology spread).
pub(crate) fn owner(metadata: &meta::ObjectMeta) -> Option<OwnerReference> {
    let refs = metadata.owner_references.as_deref()?;
    refs.iter()
        .find(|r| r.controller == Some(true))
        .or_else(|| refs.first())
        .map(|r| {
            OwnerReference::new(&r.api_version, &r.kind, &r.name)
                .with_controller(r.controller == Some(true))
        })
}

/// A label selector in core form.
pub(crate) fn label_selector(
    selector: &meta::LabelSelector,
    at: At<'_>,
    path: &str,
) -> Result<LabelSelector, ConvertError> {
    let mut out = LabelSelector::from_labels(selector.match_labels.clone().unwrap_or_default());
    for (i, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let operator = selector_operator(&expression.operator).ok_or_else(|| {
            at.unsupported(
                format!("{path}.matchExpressions[{i}].operator"),
                &expression.operator,
                &["In", "NotIn", "Exists", "DoesNotExist"],
            )
        })?;
        out.match_expressions.push(LabelSelectorRequirement::new(
            &expression.key,
            operator,
            expression.values.iter().flatten().cloned(),
        ));
    }
    Ok(out)
}

/// An optional label selector (nil stays nil: it selects nothing).
pub(crate) fn optional_label_selector(
    selector: Option<&meta::LabelSelector>,
    at: At<'_>,
    path: &str,
) -> Result<Option<LabelSelector>, ConvertError> {
    selector.map(|s| label_selector(s, at, path)).transpose()
}

fn selector_operator(text: &str) -> Option<SelectorOperator> {
    match text {
        "In" => Some(SelectorOperator::In),
        "NotIn" => Some(SelectorOperator::NotIn),
        "Exists" => Some(SelectorOperator::Exists),
        "DoesNotExist" => Some(SelectorOperator::DoesNotExist),
        _ => None,
    }
}

/// An `intstr.IntOrString` in core form.
pub(crate) fn int_or_string(value: &WireIntOrString) -> IntOrString {
    match value {
        WireIntOrString::Int(i) => IntOrString::Int(*i),
        WireIntOrString::String(s) => IntOrString::String(s.clone()),
    }
}

/// Whether `conditions` has `type_` with status `True` (conditions of Karpenter's CRDs and
/// of core objects share this shape).
pub(crate) fn condition_true(conditions: Option<&[meta::Condition]>, type_: &str) -> bool {
    conditions
        .into_iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}
