//! The `joist.dev/v1alpha1` `Scenario` object as written, before its values are checked.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `apiVersion` of the Scenario object.
pub const API_VERSION: &str = "joist.dev/v1alpha1";
/// `kind` of the Scenario object.
pub const KIND: &str = "Scenario";

/// The whole Scenario document. Unknown fields are refused so a misspelt option is never ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScenarioObject {
    #[allow(dead_code, reason = "checked by the document header")]
    pub api_version: String,
    #[allow(dead_code, reason = "checked by the document header")]
    pub kind: String,
    #[serde(default)]
    #[allow(dead_code, reason = "only the name is used, via the document header")]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub spec: ScenarioSpec,
}

/// `spec` of a Scenario.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScenarioSpec {
    pub region: Option<String>,
    pub timing: Option<Timing>,
    pub feature_gates: Option<BTreeMap<String, bool>>,
    pub settings: Option<Settings>,
    #[serde(default)]
    pub steps: Vec<Value>,
    pub until: Option<String>,
    #[serde(default)]
    pub capacity_reservations: Vec<Reservation>,
    #[serde(default)]
    pub insufficient_capacity: Vec<InsufficientCapacity>,
}

/// `spec.capacityReservations[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Reservation {
    pub id: String,
    pub instance_type: String,
    pub zone: String,
    pub count: u32,
    #[serde(rename = "type")]
    pub reservation_type: Option<String>,
    pub interruptible: Option<bool>,
    pub end: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `spec.insufficientCapacity[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct InsufficientCapacity {
    pub instance_type: Option<String>,
    pub zone: Option<String>,
    pub capacity_type: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
}

/// `spec.timing`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Timing {
    pub launch: Option<String>,
    pub register: Option<String>,
    pub initialize: Option<String>,
    pub gpu_device_plugin: Option<String>,
}

/// `spec.settings`, upstream's option names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Settings {
    pub batch_idle_duration: Option<String>,
    pub batch_max_duration: Option<String>,
    pub preference_policy: Option<String>,
    pub min_values_policy: Option<String>,
}

/// `spec.steps[].scale`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scale {
    pub deployment: String,
    pub namespace: Option<String>,
    pub replicas: i32,
}

/// `spec.steps[].delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Delete {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `spec.steps[].interrupt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Interrupt {
    pub node: String,
    pub kind: Option<String>,
}
