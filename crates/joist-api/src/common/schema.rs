//! OpenAPI schema pieces shared by the NodePool and NodeClaim CRDs, and the CEL rules attached to
//! them.
//!
//! Each CEL rule is a [`CelRule`] value used twice: once written into the CRD, once by the Rust
//! mirror that reports its message. Keeping the rule and its message in one place is what
//! guarantees that `joist validate` and the API server say the same thing.

use serde_json::{Value, json};

/// Label and requirement key syntax (a Kubernetes qualified name, without the length limits).
pub const QUALIFIED_NAME_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";
/// Label value syntax.
pub const LABEL_VALUE_PATTERN: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/// Kubernetes resource quantity syntax.
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// A duration in s/m/h units, or `Never` (`expireAfter`, `consolidateAfter`).
pub const DURATION_OR_NEVER_PATTERN: &str = r"^(([0-9]+(s|m|h))+|Never)$";
/// A duration in s/m/h units (`terminationGracePeriod`).
pub const DURATION_PATTERN: &str = r"^([0-9]+(s|m|h))+$";
/// A NodeClass group: anything without a `/`.
pub const GROUP_PATTERN: &str = r"^[^/]*$";

/// The operators a requirement may use, in the order the API server lists them.
pub const OPERATORS: [&str; 8] = [
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
    "Gt",
    "Lt",
    "Gte",
    "Lte",
];
/// The taint effects.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// One `x-kubernetes-validations` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelRule {
    /// The CEL expression.
    pub rule: String,
    /// The message the API server returns when the rule evaluates to false.
    pub message: String,
}

impl CelRule {
    /// A rule with its message.
    pub fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            message: message.into(),
        }
    }

    /// The rule as a CRD `x-kubernetes-validations` item.
    pub fn to_json(&self) -> Value {
        json!({"message": self.message, "rule": self.rule})
    }
}

/// The rules as a JSON array for `x-kubernetes-validations`.
pub fn rules_json(rules: &[CelRule]) -> Value {
    Value::Array(rules.iter().map(CelRule::to_json).collect())
}

// === requirement rules ===

/// `In` needs at least one value.
pub fn rule_in_needs_value() -> CelRule {
    CelRule::new(
        "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)",
        "requirements with operator 'In' must have a value defined",
    )
}

/// `Gt`/`Lt`/`Gte`/`Lte` need exactly one non-negative integer.
pub fn rule_bound_needs_integer() -> CelRule {
    CelRule::new(
        "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)",
        "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value",
    )
}

/// `In` with `minValues` needs at least that many values.
pub fn rule_min_values() -> CelRule {
    CelRule::new(
        "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)",
        "requirements with 'minValues' must have at least that many values specified in the 'values' field",
    )
}

/// The three list-level requirement rules, in upstream's order.
pub fn requirement_list_rules() -> Vec<CelRule> {
    vec![
        rule_in_needs_value(),
        rule_bound_needs_integer(),
        rule_min_values(),
    ]
}

/// NodeClassRef field must not be empty (`kind`, `name` or `group`).
pub fn rule_not_empty(field: &str) -> CelRule {
    CelRule::new("self != ''", format!("{field} may not be empty"))
}

/// NodeClassRef immutability (`group` or `kind`): a transition rule.
pub fn rule_immutable_ref(field: &str) -> CelRule {
    CelRule::new(
        format!("self.{field} == oldSelf.{field}"),
        format!("nodeClassRef.{field} is immutable"),
    )
}

// === schema builders ===

/// A duration string with a pattern and an optional default.
pub fn duration(pattern: &str, default: Option<&str>, description: &str) -> Value {
    let mut schema = json!({"description": description, "pattern": pattern, "type": "string"});
    if let Some(default) = default {
        schema["default"] = json!(default);
    }
    schema
}

/// A resource list (`cpu: 4`, `memory: 16Gi`).
pub fn resource_list(description: &str) -> Value {
    json!({
        "additionalProperties": {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": true
        },
        "description": description,
        "type": "object"
    })
}

/// The requirements list; key rules come from the owner (NodePools also forbid
/// `karpenter.sh/nodepool`).
pub fn requirements(key_rules: &[CelRule]) -> Value {
    json!({
        "description": "Requirements are layered with GetLabels and applied to every node.",
        "items": {
            "description": "A node selector requirement with min values: key, operator, values and the minimum number of values to keep.",
            "properties": {
                "key": {
                    "description": "The label key that the selector applies to.",
                    "maxLength": 316,
                    "pattern": QUALIFIED_NAME_PATTERN,
                    "type": "string",
                    "x-kubernetes-validations": rules_json(key_rules)
                },
                "minValues": {
                    "description": "This field is ALPHA. The minimum number of unique values the requirement must keep.",
                    "maximum": 50,
                    "minimum": 1,
                    "type": "integer"
                },
                "operator": {
                    "description": "Represents a key's relationship to a set of values: In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte.",
                    "enum": OPERATORS,
                    "type": "string"
                },
                "values": {
                    "description": "The values; one integer for Gt, Lt, Gte and Lte, none for Exists and DoesNotExist.",
                    "items": {"maxLength": 63, "pattern": LABEL_VALUE_PATTERN, "type": "string"},
                    "type": "array",
                    "x-kubernetes-list-type": "atomic"
                }
            },
            "required": ["key", "operator"],
            "type": "object"
        },
        "maxItems": 100,
        "type": "array",
        "x-kubernetes-list-type": "atomic",
        "x-kubernetes-validations": rules_json(&requirement_list_rules())
    })
}

/// A list of taints (`taints` or `startupTaints`).
pub fn taints(description: &str) -> Value {
    json!({
        "description": description,
        "items": {
            "description": "The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the Taint.",
            "properties": {
                "effect": {
                    "description": "Required. The effect of the taint on pods that do not tolerate the taint.",
                    "enum": TAINT_EFFECTS,
                    "type": "string"
                },
                "key": {
                    "description": "Required. The taint key to be applied to a node.",
                    "minLength": 1,
                    "pattern": QUALIFIED_NAME_PATTERN,
                    "type": "string"
                },
                "timeAdded": {
                    "description": "TimeAdded represents the time at which the taint was added.",
                    "format": "date-time",
                    "type": "string"
                },
                "value": {
                    "description": "The taint value corresponding to the taint key.",
                    "pattern": QUALIFIED_NAME_PATTERN,
                    "type": "string"
                }
            },
            "required": ["effect", "key"],
            "type": "object"
        },
        "type": "array",
        "x-kubernetes-list-type": "atomic"
    })
}

/// The NodeClass reference; NodePools make `group` and `kind` immutable.
pub fn node_class_ref(immutable: bool) -> Value {
    let mut schema = json!({
        "description": "NodeClassRef is a reference to an object that defines provider specific configuration",
        "properties": {
            "group": {
                "description": "API group of the referent",
                "pattern": GROUP_PATTERN,
                "type": "string",
                "x-kubernetes-validations": rules_json(&[rule_not_empty("group")])
            },
            "kind": {
                "description": "Kind of the referent",
                "type": "string",
                "x-kubernetes-validations": rules_json(&[rule_not_empty("kind")])
            },
            "name": {
                "description": "Name of the referent",
                "type": "string",
                "x-kubernetes-validations": rules_json(&[rule_not_empty("name")])
            }
        },
        "required": ["group", "kind", "name"],
        "type": "object"
    });
    if immutable {
        schema["x-kubernetes-validations"] =
            rules_json(&[rule_immutable_ref("group"), rule_immutable_ref("kind")]);
    }
    schema
}

/// Status conditions (operatorpkg `status.Condition`), a map-list keyed by `type`.
pub fn conditions(reason_required: bool) -> Value {
    let mut reason = json!({
        "description": "A programmatic CamelCase identifier of the reason for the last transition.",
        "maxLength": 1024,
        "type": "string"
    });
    let mut required = vec!["lastTransitionTime", "status", "type"];
    if reason_required {
        reason["minLength"] = json!(1);
        reason["pattern"] = json!(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$");
        required = vec!["lastTransitionTime", "message", "reason", "status", "type"];
    } else {
        reason["pattern"] = json!(r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?|)$");
    }
    json!({
        "description": "Conditions contains signals for health and readiness",
        "items": {
            "description": "Condition aliases the upstream type and adds additional helper methods",
            "properties": {
                "lastTransitionTime": {
                    "description": "The last time the condition transitioned from one status to another.",
                    "format": "date-time",
                    "type": "string"
                },
                "message": {
                    "description": "A human readable message indicating details about the transition.",
                    "maxLength": 32768,
                    "type": "string"
                },
                "observedGeneration": {
                    "description": "The .metadata.generation that the condition was set based upon.",
                    "format": "int64",
                    "minimum": 0,
                    "type": "integer"
                },
                "reason": reason,
                "status": {
                    "description": "status of the condition, one of True, False, Unknown.",
                    "enum": ["True", "False", "Unknown"],
                    "type": "string"
                },
                "type": {
                    "description": "type of condition in CamelCase or in foo.example.com/CamelCase.",
                    "maxLength": 316,
                    "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                    "type": "string"
                }
            },
            "required": required,
            "type": "object"
        },
        "type": "array",
        "x-kubernetes-list-map-keys": ["type"],
        "x-kubernetes-list-type": "map"
    })
}

/// `apiVersion`, `kind` and `metadata` properties every CRD schema starts with.
pub fn type_meta_properties() -> serde_json::Map<String, Value> {
    let mut props = serde_json::Map::new();
    props.insert(
        "apiVersion".into(),
        json!({"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"}),
    );
    props.insert(
        "kind".into(),
        json!({"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"}),
    );
    props.insert("metadata".into(), json!({"type": "object"}));
    props
}
