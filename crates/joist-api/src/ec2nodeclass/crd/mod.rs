//! The EC2NodeClass CustomResourceDefinition (`apiextensions.k8s.io/v1`), equal in meaning to
//! upstream's v1.14.1 `karpenter.k8s.aws_ec2nodeclasses.yaml`: same names, printer columns,
//! status subresource, structural OpenAPI schema (types, required, enums, patterns, lengths,
//! item/property limits, ranges, defaults) and every CEL rule with its message.
//!
//! Two deliberate differences: descriptions are left out (they are upstream's prose, not
//! behaviour), and `spec.kubelet` carries `x-kubernetes-preserve-unknown-fields: true` so that
//! kubelet fields beyond the typed v1.14.1 set survive, as they do in joist's types (upstream
//! main made `kubelet` an open map).
//!
//! Keys are inserted in controller-gen's (alphabetical) order so the manifest reads like
//! upstream's; meaning does not depend on it.

#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use super::rules::{self, Rule};
use super::{GROUP, KIND, PLURAL, VERSION};
use crate::common::schema::QUANTITY_PATTERN;

// === patterns ===
//
// The `pattern`s of the schema, kept as upstream writes them; the API server (and joist, through
// [`crate::common::pattern`]) gives them Go RE2 semantics, unanchored unless they say `^…$`.
// Upstream's quirks stay on purpose: `volumeSize` also admits a bare `Ti`/`T` and rejects e.g.
// `18Ti` (its alternatives are `[1-9]`, empty, `[1-5][0-7]`, `58`), and eviction thresholds
// admit the empty string.

/// `spec.subnetSelectorTerms[].id` (unanchored).
pub(crate) const SUBNET_ID: &str = "subnet-[0-9a-z]+";
/// `spec.securityGroupSelectorTerms[].id` (unanchored).
pub(crate) const SECURITY_GROUP_ID: &str = "sg-[0-9a-z]+";
/// `spec.amiSelectorTerms[].id` (unanchored).
pub(crate) const AMI_ID: &str = "ami-[0-9a-z]+";
/// `spec.capacityReservationSelectorTerms[].id` and status reservation IDs.
pub(crate) const CAPACITY_RESERVATION_ID: &str = "^cr-[0-9a-z]+$";
/// Account IDs (`ownerID`).
pub(crate) const OWNER_ID: &str = "^[0-9]{12}$";
/// `spec.placementGroupSelector.id`.
pub(crate) const PLACEMENT_GROUP_ID: &str = "^pg-[0-9a-z]+$";
/// `spec.blockDeviceMappings[].ebs.volumeSize`: 1..59000Gi, 1..64000G, 1..58Ti, 1..64T.
pub(crate) const VOLUME_SIZE: &str = "^((?:[1-9][0-9]{0,3}|[1-4][0-9]{4}|[5][0-8][0-9]{3}|59000)Gi|(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|[6][0-3][0-9]{3}|64000)G|([1-9]||[1-5][0-7]|58)Ti|([1-9]||[1-5][0-9]|6[0-3]|64)T)$";
/// Eviction threshold: a percentage 0..100 (up to two decimals), empty, or a quantity.
pub(crate) const EVICTION_THRESHOLD: &str = r"^((\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)%||(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?)$";
/// `status.conditions[].reason` (metav1.Condition).
pub(crate) const CONDITION_REASON: &str = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
/// `status.conditions[].type` (metav1.Condition).
pub(crate) const CONDITION_TYPE: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

/// The CRD manifest as JSON (serialize it to YAML for `kubectl apply`).
pub fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{PLURAL}.{GROUP}")},
        "spec": {
            "group": GROUP,
            "names": {
                "categories": ["karpenter"],
                "kind": KIND,
                "listKind": format!("{KIND}List"),
                "plural": PLURAL,
                "shortNames": ["ec2nc", "ec2ncs"],
                "singular": "ec2nodeclass",
            },
            "scope": "Cluster",
            "versions": [{
                "additionalPrinterColumns": [
                    {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
                    {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
                    {"jsonPath": ".spec.role", "name": "Role", "priority": 1, "type": "string"},
                ],
                "name": VERSION,
                "schema": {"openAPIV3Schema": schema()},
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
            }],
        },
    })
}

/// The `openAPIV3Schema` of EC2NodeClass v1; validation walks objects with it.
pub fn schema() -> Value {
    json!({
        "properties": {
            "apiVersion": string(),
            "kind": string(),
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "type": "object",
    })
}

// === building blocks ===

fn string() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn int64() -> Value {
    json!({"format": "int64", "type": "integer"})
}

fn int32() -> Value {
    json!({"format": "int32", "type": "integer"})
}

fn int32_range(minimum: Option<i64>, maximum: Option<i64>) -> Value {
    let mut schema = json!({"format": "int32"});
    if let Some(maximum) = maximum {
        schema["maximum"] = json!(maximum);
    }
    if let Some(minimum) = minimum {
        schema["minimum"] = json!(minimum);
    }
    schema["type"] = json!("integer");
    schema
}

fn string_enum(values: &[&str]) -> Value {
    json!({"enum": values, "type": "string"})
}

fn pattern(pattern: &str) -> Value {
    json!({"pattern": pattern, "type": "string"})
}

fn string_list() -> Value {
    json!({"items": {"type": "string"}, "type": "array"})
}

fn string_map() -> Value {
    json!({"additionalProperties": {"type": "string"}, "type": "object"})
}

fn map_of(values: Value) -> Value {
    with(
        with(json!({}), "additionalProperties", values),
        "type",
        json!("object"),
    )
}

fn object(properties: Value) -> Value {
    with(
        with(json!({}), "properties", properties),
        "type",
        json!("object"),
    )
}

fn array(items: Value) -> Value {
    with(with(json!({}), "items", items), "type", json!("array"))
}

/// `schema` with `key: value` added (after the keys already there).
fn with(mut schema: Value, key: &str, value: Value) -> Value {
    schema[key] = value;
    schema
}

/// `schema` with an `x-kubernetes-validations` list of `rules`.
fn with_rules(schema: Value, rules: &[Rule]) -> Value {
    with(
        schema,
        "x-kubernetes-validations",
        rules.iter().map(|rule| rule.to_json()).collect(),
    )
}

/// The `tags` map of a selector term: ≤20 entries, no empty keys or values.
fn term_tags() -> Value {
    with_rules(
        json!({"additionalProperties": {"type": "string"}, "maxProperties": 20, "type": "object"}),
        &[rules::TERM_TAGS_NOT_EMPTY],
    )
}

// === spec ===

fn spec_schema() -> Value {
    let schema = json!({
        "properties": {
            "amiFamily": string_enum(&["AL2", "AL2023", "Bottlerocket", "Custom", "Windows2019", "Windows2022", "Windows2025"]),
            "amiSelectorTerms": ami_selector_terms(),
            "associatePublicIPAddress": boolean(),
            "blockDeviceMappings": block_device_mappings(),
            "capacityReservationSelectorTerms": capacity_reservation_selector_terms(),
            "connectionTracking": connection_tracking(),
            "context": string(),
            "cpuOptions": object(json!({"nestedVirtualization": string_enum(&["enabled", "disabled"])})),
            "detailedMonitoring": boolean(),
            "instanceProfile": with_rules(string(), &[rules::INSTANCE_PROFILE_NOT_EMPTY]),
            "instanceStorePolicy": string_enum(&["RAID0"]),
            "ipPrefixCount": int32_range(Some(0), None),
            "kubelet": kubelet(),
            "metadataOptions": metadata_options(),
            "networkInterfaces": network_interfaces(),
            "placementGroupSelector": placement_group_selector(),
            "role": with_rules(string(), &[rules::ROLE_NOT_EMPTY]),
            "securityGroupSelectorTerms": security_group_selector_terms(),
            "subnetSelectorTerms": subnet_selector_terms(),
            "tags": with_rules(
                string_map(),
                &[
                    rules::TAG_KEYS_NOT_EMPTY,
                    rules::TAG_NOT_EKS_CLUSTER_NAME,
                    rules::TAG_NOT_KUBERNETES_CLUSTER,
                    rules::TAG_NOT_NODEPOOL,
                    rules::TAG_NOT_NODECLAIM,
                    rules::TAG_NOT_EC2NODECLASS,
                ],
            ),
            "userData": string(),
        },
        "required": ["amiSelectorTerms", "securityGroupSelectorTerms", "subnetSelectorTerms"],
        "type": "object",
    });
    let mut spec_rules = vec![rules::ROLE_XOR_INSTANCE_PROFILE];
    spec_rules.extend(rules::FAMILY_WITH_ALIAS.iter().map(|(_, _, rule)| *rule));
    spec_rules.push(rules::FAMILY_REQUIRED_WITHOUT_ALIAS);
    with_rules(schema, &spec_rules)
}

fn ami_selector_terms() -> Value {
    let alias = with_rules(
        json!({"maxLength": 30, "type": "string"}),
        &[
            rules::ALIAS_FORMAT,
            rules::ALIAS_FAMILY,
            rules::ALIAS_WINDOWS_LATEST,
        ],
    );
    let term = object(json!({
        "alias": alias,
        "id": pattern(AMI_ID),
        "name": string(),
        "owner": string(),
        "ssmParameter": string(),
        "tags": term_tags(),
    }));
    with_rules(
        json!({"items": term, "maxItems": 30, "minItems": 1, "type": "array"}),
        &[
            rules::AMI_TERM_HAS_FIELD,
            rules::AMI_ID_EXCLUSIVE,
            rules::AMI_ALIAS_EXCLUSIVE_FIELDS,
            rules::AMI_ALIAS_ONLY_TERM,
        ],
    )
}

fn subnet_selector_terms() -> Value {
    let term = object(json!({"id": pattern(SUBNET_ID), "tags": term_tags()}));
    with_rules(
        json!({"items": term, "maxItems": 30, "type": "array"}),
        &[
            rules::SUBNET_TERMS_NOT_EMPTY,
            rules::SUBNET_TERM_HAS_FIELD,
            rules::SUBNET_ID_EXCLUSIVE,
        ],
    )
}

fn security_group_selector_terms() -> Value {
    let term =
        object(json!({"id": pattern(SECURITY_GROUP_ID), "name": string(), "tags": term_tags()}));
    with_rules(
        json!({"items": term, "maxItems": 30, "type": "array"}),
        &[
            rules::SECURITY_GROUP_TERMS_NOT_EMPTY,
            rules::SECURITY_GROUP_TERM_HAS_FIELD,
            rules::SECURITY_GROUP_ID_EXCLUSIVE,
            rules::SECURITY_GROUP_NAME_EXCLUSIVE,
        ],
    )
}

fn capacity_reservation_selector_terms() -> Value {
    let term = object(json!({
        "id": pattern(CAPACITY_RESERVATION_ID),
        "instanceMatchCriteria": string_enum(&["open", "targeted"]),
        "ownerID": pattern(OWNER_ID),
        "tags": term_tags(),
    }));
    with_rules(
        json!({"items": term, "maxItems": 30, "type": "array"}),
        &[
            rules::CAPACITY_RESERVATION_TERM_HAS_FIELD,
            rules::CAPACITY_RESERVATION_ID_EXCLUSIVE,
        ],
    )
}

fn block_device_mappings() -> Value {
    let ebs = with_rules(
        object(json!({
            "deleteOnTermination": boolean(),
            "encrypted": boolean(),
            "iops": int64(),
            "kmsKeyID": string(),
            "snapshotID": string(),
            "throughput": int64(),
            "volumeInitializationRate": int32_range(Some(100), Some(300)),
            "volumeSize": pattern(VOLUME_SIZE),
            "volumeType": string_enum(&["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"]),
        })),
        &[
            rules::EBS_SNAPSHOT_OR_SIZE,
            rules::EBS_INITIALIZATION_RATE_NEEDS_SNAPSHOT,
        ],
    );
    let mapping = object(json!({"deviceName": string(), "ebs": ebs, "rootVolume": boolean()}));
    with_rules(
        json!({"items": mapping, "maxItems": 50, "type": "array"}),
        &[rules::ONE_ROOT_VOLUME],
    )
}

fn kubelet() -> Value {
    let eviction = |keys: Rule| with_rules(map_of(pattern(EVICTION_THRESHOLD)), &[keys]);
    let reserved = |keys: Rule, not_negative: Rule| {
        with_rules(map_of(pattern(QUANTITY_PATTERN)), &[keys, not_negative])
    };
    let percent = || int32_range(Some(0), Some(100));
    let schema = json!({
        "properties": {
            "clusterDNS": string_list(),
            "cpuCFSQuota": boolean(),
            "evictionHard": eviction(rules::EVICTION_HARD_KEYS),
            "evictionMaxPodGracePeriod": int32(),
            "evictionSoft": eviction(rules::EVICTION_SOFT_KEYS),
            "evictionSoftGracePeriod": with_rules(string_map(), &[rules::EVICTION_SOFT_GRACE_PERIOD_KEYS]),
            "imageGCHighThresholdPercent": percent(),
            "imageGCLowThresholdPercent": percent(),
            "kubeReserved": reserved(rules::KUBE_RESERVED_KEYS, rules::KUBE_RESERVED_NOT_NEGATIVE),
            "maxPods": int32_range(Some(0), None),
            "podsPerCore": int32_range(Some(0), None),
            "systemReserved": reserved(rules::SYSTEM_RESERVED_KEYS, rules::SYSTEM_RESERVED_NOT_NEGATIVE),
        },
        "type": "object",
    });
    let schema = with_rules(
        schema,
        &[
            rules::IMAGE_GC_HIGH_ABOVE_LOW,
            rules::EVICTION_SOFT_HAS_GRACE_PERIOD,
            rules::GRACE_PERIOD_HAS_EVICTION_SOFT,
        ],
    );
    // joist keeps kubelet fields beyond the typed v1.14.1 set (see the module docs).
    with(schema, "x-kubernetes-preserve-unknown-fields", json!(true))
}

fn metadata_options() -> Value {
    json!({
        "default": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "properties": {
            "httpEndpoint": {"default": "enabled", "enum": ["enabled", "disabled"], "type": "string"},
            "httpProtocolIPv6": {"default": "disabled", "enum": ["enabled", "disabled"], "type": "string"},
            "httpPutResponseHopLimit": {"default": 1, "format": "int64", "maximum": 64, "minimum": 1, "type": "integer"},
            "httpTokens": {"default": "required", "enum": ["required", "optional"], "type": "string"},
        },
        "type": "object",
    })
}

fn network_interfaces() -> Value {
    let interface = json!({
        "properties": {
            "deviceIndex": int32_range(Some(0), None),
            "interfaceType": string_enum(&["interface", "efa-only"]),
            "networkCardIndex": int32_range(Some(0), None),
        },
        "required": ["deviceIndex", "interfaceType", "networkCardIndex"],
        "type": "object",
    });
    with_rules(
        json!({"items": interface, "maxItems": 150, "type": "array"}),
        &[rules::PRIMARY_INTERFACE, rules::UNIQUE_INTERFACES],
    )
}

fn connection_tracking() -> Value {
    with_rules(
        object(json!({
            "tcpEstablishedTimeout": int32_range(Some(60), Some(432_000)),
            "udpStreamTimeout": int32_range(Some(60), Some(180)),
            "udpTimeout": int32_range(Some(30), Some(60)),
        })),
        &[rules::CONNECTION_TRACKING_HAS_FIELD],
    )
}

fn placement_group_selector() -> Value {
    with_rules(
        object(json!({
            "id": pattern(PLACEMENT_GROUP_ID),
            "name": {"minLength": 1, "type": "string"},
        })),
        &[
            rules::PLACEMENT_GROUP_HAS_FIELD,
            rules::PLACEMENT_GROUP_EXCLUSIVE,
        ],
    )
}

// === status ===

fn status_schema() -> Value {
    let requirement = json!({
        "properties": {
            "key": string(),
            "operator": string(),
            "values": {"items": {"type": "string"}, "type": "array", "x-kubernetes-list-type": "atomic"},
        },
        "required": ["key", "operator"],
        "type": "object",
    });
    let ami = json!({
        "properties": {"deprecated": boolean(), "id": string(), "name": string(), "requirements": array(requirement)},
        "required": ["id", "requirements"],
        "type": "object",
    });
    let reservation = json!({
        "properties": {
            "availabilityZone": string(),
            "endTime": {"format": "date-time", "type": "string"},
            "id": pattern(CAPACITY_RESERVATION_ID),
            "instanceMatchCriteria": string_enum(&["open", "targeted"]),
            "instanceType": string(),
            "interruptible": boolean(),
            "ownerID": pattern(OWNER_ID),
            "reservationType": {"default": "default", "enum": ["default", "capacity-block"], "type": "string"},
            "state": {"default": "active", "enum": ["active", "expiring"], "type": "string"},
        },
        "required": ["availabilityZone", "id", "instanceMatchCriteria", "instanceType", "ownerID"],
        "type": "object",
    });
    let security_group = json!({
        "properties": {"id": string(), "name": string()},
        "required": ["id"],
        "type": "object",
    });
    let subnet = json!({
        "properties": {"id": string(), "zone": string(), "zoneID": string()},
        "required": ["id", "zone"],
        "type": "object",
    });
    object(json!({
        "amis": array(ami),
        "capacityReservations": array(reservation),
        "conditions": array(condition()),
        "instanceProfile": string(),
        "securityGroups": array(security_group),
        "subnets": array(subnet),
    }))
}

/// metav1.Condition as controller-gen renders it.
fn condition() -> Value {
    json!({
        "properties": {
            "lastTransitionTime": {"format": "date-time", "type": "string"},
            "message": {"maxLength": 32768, "type": "string"},
            "observedGeneration": {"format": "int64", "minimum": 0, "type": "integer"},
            "reason": {"maxLength": 1024, "minLength": 1, "pattern": CONDITION_REASON, "type": "string"},
            "status": string_enum(&["True", "False", "Unknown"]),
            "type": {"maxLength": 316, "pattern": CONDITION_TYPE, "type": "string"},
        },
        "required": ["lastTransitionTime", "message", "reason", "status", "type"],
        "type": "object",
    })
}
