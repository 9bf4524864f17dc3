//! Reading the Scenario object's `spec` into a [`Scenario`].

use std::time::Duration;

use joist_api::document::{Document, Position};
use joist_core::duration::parse_go_duration;
use joist_core::scheduling::{MinValuesPolicy, PreferencePolicy};

use joist_api::common::ValidationOptions;

use super::wire::{self, ScenarioObject, Settings, Timing};
use super::{
    InsufficientCapacity, LoadError, Reservation, ReservationKind, Scenario, steps::read_step,
};

/// The region when the Scenario gives none.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Where in the Scenario object a value is, for errors.
pub(crate) struct At<'a> {
    pub(crate) at: Position,
    pub(crate) name: &'a str,
}

impl At<'_> {
    pub(crate) fn error(&self, field: impl Into<String>, reason: impl Into<String>) -> LoadError {
        LoadError::Scenario {
            at: self.at,
            name: self.name.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn duration(&self, field: &str, text: &str) -> Result<Duration, LoadError> {
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
    validation: &ValidationOptions,
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
    for (gate, enabled) in spec.feature_gates.unwrap_or_default() {
        let gates = &mut scenario.feature_gates;
        let slot = match gate.as_str() {
            "StaticCapacity" => &mut gates.static_capacity,
            "ReservedCapacity" => &mut gates.reserved_capacity,
            "SpotToSpotConsolidation" => &mut gates.spot_to_spot_consolidation,
            "NodeRepair" => &mut gates.node_repair,
            _ => {
                return Err(at.error(
                    format!("spec.featureGates.{gate}"),
                    "unknown feature gate (supported: StaticCapacity, ReservedCapacity, \
                     SpotToSpotConsolidation, NodeRepair)",
                ));
            }
        };
        *slot = enabled;
    }
    for (index, reservation) in spec.capacity_reservations.iter().enumerate() {
        let field = format!("spec.capacityReservations[{index}]");
        scenario
            .reservations
            .push(read_reservation(&at, &field, reservation)?);
    }
    for (index, shortage) in spec.insufficient_capacity.iter().enumerate() {
        let field = format!("spec.insufficientCapacity[{index}]");
        scenario
            .insufficient_capacity
            .push(read_shortage(&at, &field, shortage)?);
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
            &scenario.convert_options,
            validation,
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
    t.gpu_device_plugin = at
        .optional_duration(
            "spec.timing.gpuDevicePlugin",
            timing.gpu_device_plugin.as_deref(),
        )?
        .unwrap_or(t.gpu_device_plugin);
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

/// One `spec.capacityReservations[]` entry.
fn read_reservation(
    at: &At<'_>,
    field: &str,
    wire: &wire::Reservation,
) -> Result<Reservation, LoadError> {
    let kind = match wire.reservation_type.as_deref() {
        None | Some("default") => ReservationKind::Default,
        Some("capacity-block") => ReservationKind::CapacityBlock,
        Some(other) => {
            return Err(at.error(
                format!("{field}.type"),
                format!(
                    "Unsupported value: \"{other}\": supported values: \"default\", \"capacity-block\""
                ),
            ));
        }
    };
    let end = at.optional_duration(&format!("{field}.end"), wire.end.as_deref())?;
    if kind == ReservationKind::CapacityBlock && end.is_none() {
        return Err(at.error(
            format!("{field}.end"),
            "Required value: a capacity block ends",
        ));
    }
    if !wire.id.starts_with("cr-") {
        return Err(at.error(format!("{field}.id"), "must start with \"cr-\""));
    }
    Ok(Reservation {
        id: wire.id.clone(),
        instance_type: wire.instance_type.clone(),
        zone: wire.zone.clone(),
        count: wire.count,
        kind,
        interruptible: wire.interruptible.unwrap_or(false),
        end,
        tags: wire.tags.clone(),
    })
}

/// One `spec.insufficientCapacity[]` entry.
fn read_shortage(
    at: &At<'_>,
    field: &str,
    wire: &wire::InsufficientCapacity,
) -> Result<InsufficientCapacity, LoadError> {
    if let Some(capacity_type) = &wire.capacity_type
        && !["spot", "on-demand", "reserved"].contains(&capacity_type.as_str())
    {
        return Err(at.error(
            format!("{field}.capacityType"),
            format!(
                "Unsupported value: \"{capacity_type}\": supported values: \"spot\", \"on-demand\", \"reserved\""
            ),
        ));
    }
    Ok(InsufficientCapacity {
        instance_type: wire.instance_type.clone(),
        zone: wire.zone.clone(),
        capacity_type: wire.capacity_type.clone(),
        from: at
            .optional_duration(&format!("{field}.from"), wire.from.as_deref())?
            .unwrap_or_default(),
        until: at.optional_duration(&format!("{field}.until"), wire.until.as_deref())?,
    })
}
