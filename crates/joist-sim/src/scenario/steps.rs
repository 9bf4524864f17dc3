//! `spec.steps[]`: an object with `at` and exactly one of `scale`, `apply`, `delete`,
//! `interrupt`.

use std::collections::BTreeMap;

use joist_api::common::ValidationOptions;
use joist_api::convert::ConvertOptions;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::loader::load_object;
use super::options::At;
use super::wire::{Delete, Interrupt, Scale};
use super::{InterruptKind, LoadError, NodeSelector, Step, StepAction};

/// Kinds a `delete` step may name.
const DELETABLE_KINDS: [&str; 8] = [
    "Deployment",
    "StatefulSet",
    "Job",
    "Pod",
    "DaemonSet",
    "PodDisruptionBudget",
    "NodePool",
    "EC2NodeClass",
];

/// Kinds without a namespace.
const CLUSTER_SCOPED: [&str; 2] = ["NodePool", "EC2NodeClass"];

/// Reads one step.
pub(crate) fn read_step(
    at: &At<'_>,
    index: usize,
    step: &Value,
    convert: &ConvertOptions,
    validation: &ValidationOptions,
) -> Result<Step, LoadError> {
    let field = format!("spec.steps[{index}]");
    let Some(map) = step.as_object() else {
        return Err(at.error(field, "must be an object with `at` and one action"));
    };
    let when = match map.get("at") {
        Some(Value::String(text)) => at.duration(&format!("{field}.at"), text)?,
        Some(_) => return Err(at.error(format!("{field}.at"), "must be a duration such as 10m")),
        None => return Err(at.error(format!("{field}.at"), "Required value")),
    };
    let actions: Vec<&String> = map.keys().filter(|k| *k != "at").collect();
    let [action] = actions.as_slice() else {
        return Err(at.error(
            field,
            format!(
                "must have exactly one action besides `at`, found {}",
                actions.len()
            ),
        ));
    };
    let value = &map[action.as_str()];
    let field = format!("{field}.{action}");
    let action = match action.as_str() {
        "scale" => scale(at, &field, value, &convert.default_namespace)?,
        "apply" => StepAction::Apply(Box::new(load_object(value, convert, validation).map_err(
            |source| LoadError::Step {
                at: at.at,
                name: at.name.to_owned(),
                field: field.clone(),
                source: Box::new(source),
            },
        )?)),
        "delete" => delete(at, &field, value, &convert.default_namespace)?,
        "interrupt" => interrupt(at, &field, value)?,
        other => {
            return Err(LoadError::StepNotSupported {
                at: at.at,
                name: at.name.to_owned(),
                index,
                step: other.to_owned(),
            });
        }
    };
    Ok(Step { at: when, action })
}

fn decode<T: DeserializeOwned>(at: &At<'_>, field: &str, value: &Value) -> Result<T, LoadError> {
    serde_json::from_value(value.clone()).map_err(|e| at.error(field, e.to_string()))
}

fn scale(
    at: &At<'_>,
    field: &str,
    value: &Value,
    default_namespace: &str,
) -> Result<StepAction, LoadError> {
    let scale: Scale = decode(at, field, value)?;
    if scale.replicas < 0 {
        return Err(at.error(
            format!("{field}.replicas"),
            "must be greater than or equal to 0",
        ));
    }
    Ok(StepAction::Scale {
        namespace: scale
            .namespace
            .unwrap_or_else(|| default_namespace.to_owned()),
        deployment: scale.deployment,
        replicas: scale.replicas,
    })
}

fn delete(
    at: &At<'_>,
    field: &str,
    value: &Value,
    default_namespace: &str,
) -> Result<StepAction, LoadError> {
    let delete: Delete = decode(at, field, value)?;
    if !DELETABLE_KINDS.contains(&delete.kind.as_str()) {
        return Err(at.error(
            format!("{field}.kind"),
            format!(
                "Unsupported value: \"{}\": supported values: {}",
                delete.kind,
                DELETABLE_KINDS.join(", ")
            ),
        ));
    }
    let namespace = if CLUSTER_SCOPED.contains(&delete.kind.as_str()) {
        String::new()
    } else {
        delete
            .namespace
            .unwrap_or_else(|| default_namespace.to_owned())
    };
    Ok(StepAction::Delete {
        kind: delete.kind,
        name: delete.name,
        namespace,
    })
}

fn interrupt(at: &At<'_>, field: &str, value: &Value) -> Result<StepAction, LoadError> {
    let interrupt: Interrupt = decode(at, field, value)?;
    let kind = match interrupt.kind.as_deref() {
        None | Some("spot") => InterruptKind::Spot,
        Some("capacity-reservation") => InterruptKind::CapacityReservation,
        Some(other) => {
            return Err(at.error(
                format!("{field}.kind"),
                format!(
                    "Unsupported value: \"{other}\": supported values: \"spot\", \"capacity-reservation\""
                ),
            ));
        }
    };
    Ok(StepAction::Interrupt {
        node: node_selector(at, &format!("{field}.node"), &interrupt.node)?,
        kind,
    })
}

/// A node name, or `key=value[,key=value]` matched against node labels.
fn node_selector(at: &At<'_>, field: &str, text: &str) -> Result<NodeSelector, LoadError> {
    if !text.contains('=') {
        if text.is_empty() {
            return Err(at.error(field, "Required value"));
        }
        return Ok(NodeSelector::Name(text.to_owned()));
    }
    let mut labels = BTreeMap::new();
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(at.error(field, format!("\"{pair}\" is not key=value")));
        };
        labels.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(NodeSelector::Labels(labels))
}
