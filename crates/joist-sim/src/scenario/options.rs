//! Reading the Scenario object's `spec` into a [`Scenario`].

use std::time::Duration;

use joist_api::document::{Document, Position};
use joist_core::duration::parse_go_duration;
use joist_core::scheduling::{MinValuesPolicy, PreferencePolicy};
use serde_json::Value;

use super::wire::{Scale, ScenarioObject, Settings, Timing};
use super::{LoadError, Scenario, Step, StepAction};

/// The region when the Scenario gives none.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Where in the Scenario object a value is, for errors.
struct At<'a> {
    at: Position,
    name: &'a str,
}

impl At<'_> {
    fn error(&self, field: impl Into<String>, reason: impl Into<String>) -> LoadError {
        LoadError::Scenario {
            at: self.at,
            name: self.name.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn duration(&self, field: &str, text: &str) -> Result<Duration, LoadError> {
        parse_go_duration(text).map_err(|e| self.error(field, e.to_string()))
    }

    fn optional_duration(
        &self,
        field: &str,
        text: Option<&str>,
    ) -> Result<Option<Duration>, LoadError> {
        text.map(|t| self.duration(field, t)).transpose()
    }
}

/// Applies the Scenario document's `spec` to `scenario`.
pub(crate) fn apply(
    document: &Document<'_>,
    name: &str,
    scenario: &mut Scenario,
) -> Result<(), LoadError> {
    let object: ScenarioObject = document.decode()?;
    let at = At {
        at: document.position(),
        name,
    };
    let spec = object.spec;
    if let Some(region) = spec.region {
        if region.is_empty() {
            return Err(at.error("spec.region", "must not be empty"));
        }
        scenario.region = region;
    }
    if let Some(timing) = spec.timing {
        apply_timing(&at, &timing, scenario)?;
    }
    if let Some(gates) = spec.feature_gates
        && let Some(gate) = gates.keys().next()
    {
        return Err(at.error(
            format!("spec.featureGates.{gate}"),
            "feature gates are not supported yet",
        ));
    }
    if let Some(settings) = spec.settings {
        apply_settings(&at, &settings, scenario)?;
    }
    scenario.until = at.optional_duration("spec.until", spec.until.as_deref())?;
    for (index, step) in spec.steps.iter().enumerate() {
        scenario.steps.push(read_step(
            &at,
            index,
            step,
            &scenario.convert_options.default_namespace,
        )?);
    }
    Ok(())
}

/// `spec.timing` over the defaults.
fn apply_timing(at: &At<'_>, timing: &Timing, scenario: &mut Scenario) -> Result<(), LoadError> {
    let t = &mut scenario.timing;
    t.launch = at
        .optional_duration("spec.timing.launch", timing.launch.as_deref())?
        .unwrap_or(t.launch);
    t.register = at
        .optional_duration("spec.timing.register", timing.register.as_deref())?
        .unwrap_or(t.register);
    t.initialize = at
        .optional_duration("spec.timing.initialize", timing.initialize.as_deref())?
        .unwrap_or(t.initialize);
    Ok(())
}

/// `spec.settings` over the defaults.
fn apply_settings(
    at: &At<'_>,
    settings: &Settings,
    scenario: &mut Scenario,
) -> Result<(), LoadError> {
    let b = &mut scenario.batching;
    b.idle = at
        .optional_duration(
            "spec.settings.batchIdleDuration",
            settings.batch_idle_duration.as_deref(),
        )?
        .unwrap_or(b.idle);
    b.max = at
        .optional_duration(
            "spec.settings.batchMaxDuration",
            settings.batch_max_duration.as_deref(),
        )?
        .unwrap_or(b.max);
    if let Some(policy) = &settings.preference_policy {
        scenario.preference_policy =
            match policy.as_str() {
                "Respect" => PreferencePolicy::Respect,
                "Ignore" => PreferencePolicy::Ignore,
                other => return Err(at.error(
                    "spec.settings.preferencePolicy",
                    format!(
                        "Unsupported value: \"{other}\": supported values: \"Respect\", \"Ignore\""
                    ),
                )),
            };
    }
    if let Some(policy) = &settings.min_values_policy {
        scenario.min_values_policy = match policy.as_str() {
            "Strict" => MinValuesPolicy::Strict,
            "BestEffort" => MinValuesPolicy::BestEffort,
            other => return Err(at.error(
                "spec.settings.minValuesPolicy",
                format!(
                    "Unsupported value: \"{other}\": supported values: \"Strict\", \"BestEffort\""
                ),
            )),
        };
    }
    Ok(())
}

/// One step: an object with `at` and exactly one action key.
fn read_step(
    at: &At<'_>,
    index: usize,
    step: &Value,
    default_namespace: &str,
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
    if action.as_str() != "scale" {
        return Err(LoadError::StepNotSupported {
            at: at.at,
            name: at.name.to_owned(),
            index,
            step: (*action).clone(),
        });
    }
    let scale: Scale = serde_json::from_value(map["scale"].clone())
        .map_err(|e| at.error(format!("{field}.scale"), e.to_string()))?;
    if scale.replicas < 0 {
        return Err(at.error(
            format!("{field}.scale.replicas"),
            "must be greater than or equal to 0",
        ));
    }
    Ok(Step {
        at: when,
        action: StepAction::Scale {
            namespace: scale
                .namespace
                .unwrap_or_else(|| default_namespace.to_owned()),
            deployment: scale.deployment,
            replicas: scale.replicas,
        },
    })
}
