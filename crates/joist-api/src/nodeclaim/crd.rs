//! The NodeClaim CustomResourceDefinition, equal in meaning to upstream v1.14's
//! `karpenter.sh_nodeclaims.yaml` (descriptions shortened).

use serde_json::{Value, json};

use crate::common::LabelPolicy;
use crate::common::schema::{
    self, CelRule, DURATION_OR_NEVER_PATTERN, DURATION_PATTERN, rules_json,
};

/// The whole spec is immutable (transition rule).
pub(crate) fn rule_spec_immutable() -> CelRule {
    CelRule::new("self == oldSelf", "spec is immutable")
}

/// The NodeClaim CRD with core Karpenter's label policy.
pub fn crd() -> Value {
    crd_with(&LabelPolicy::karpenter())
}

/// The NodeClaim CRD with a provider's label policy.
pub fn crd_with(policy: &LabelPolicy) -> Value {
    let label = |key: &str| format!(".metadata.labels.{}", key.replace('.', "\\."));
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nodeclaims.karpenter.sh"},
        "spec": {
            "group": "karpenter.sh",
            "names": {
                "categories": ["karpenter"],
                "kind": "NodeClaim",
                "listKind": "NodeClaimList",
                "plural": "nodeclaims",
                "singular": "nodeclaim"
            },
            "scope": "Cluster",
            "versions": [{
                "additionalPrinterColumns": [
                    {"jsonPath": label("node.kubernetes.io/instance-type"), "name": "Type", "type": "string"},
                    {"jsonPath": label("karpenter.sh/capacity-type"), "name": "Capacity", "type": "string"},
                    {"jsonPath": label("topology.kubernetes.io/zone"), "name": "Zone", "type": "string"},
                    {"jsonPath": ".status.nodeName", "name": "Node", "type": "string"},
                    {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
                    {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
                    {"jsonPath": ".status.imageID", "name": "ImageID", "priority": 1, "type": "string"},
                    {"jsonPath": ".status.providerID", "name": "ID", "priority": 1, "type": "string"},
                    {"jsonPath": label("karpenter.sh/nodepool"), "name": "NodePool", "priority": 1, "type": "string"},
                    {"jsonPath": ".spec.nodeClassRef.name", "name": "NodeClass", "priority": 1, "type": "string"},
                    {"jsonPath": ".status.conditions[?(@.type==\"Drifted\")].status", "name": "Drifted", "priority": 1, "type": "string"}
                ],
                "name": "v1",
                "schema": {"openAPIV3Schema": schema(policy)},
                "served": true,
                "storage": true,
                "subresources": {"status": {}}
            }]
        }
    })
}

/// The `openAPIV3Schema` of NodeClaim v1 under `policy`; validation walks objects with it.
pub fn schema(policy: &LabelPolicy) -> Value {
    let mut properties = schema::type_meta_properties();
    properties.insert("spec".into(), spec_schema(policy));
    properties.insert("status".into(), status_schema());
    json!({
        "description": "NodeClaim is the Schema for the NodeClaims API",
        "properties": properties,
        "required": ["spec"],
        "type": "object"
    })
}

fn spec_schema(policy: &LabelPolicy) -> Value {
    json!({
        "description": "NodeClaimSpec describes the desired state of the NodeClaim",
        "properties": {
            "expireAfter": schema::duration(
                DURATION_OR_NEVER_PATTERN,
                Some(crate::nodepool::DEFAULT_EXPIRE_AFTER),
                "ExpireAfter is the duration the controller will wait before terminating a node, measured from when the node is created; Never disables expiry."
            ),
            "nodeClassRef": schema::node_class_ref(false),
            "requirements": schema::requirements(&policy.key_rules(false)),
            "resources": {
                "description": "Resources models the resource requirements for the NodeClaim to launch",
                "properties": {
                    "requests": schema::resource_list("Requests describes the minimum required resources for the NodeClaim to launch")
                },
                "type": "object"
            },
            "startupTaints": schema::taints("StartupTaints are taints applied at startup and expected to be removed by a DaemonSet."),
            "taints": schema::taints("Taints will be applied to the NodeClaim's node."),
            "terminationGracePeriod": schema::duration(
                DURATION_PATTERN,
                None,
                "TerminationGracePeriod is the maximum duration the controller will wait before forcefully deleting the pods on a node; unset waits forever."
            )
        },
        "required": ["nodeClassRef", "requirements"],
        "type": "object",
        "x-kubernetes-validations": rules_json(&[rule_spec_immutable()])
    })
}

fn status_schema() -> Value {
    json!({
        "description": "NodeClaimStatus defines the observed state of NodeClaim",
        "properties": {
            "allocatable": schema::resource_list("Allocatable is the estimated allocatable capacity of the node"),
            "capacity": schema::resource_list("Capacity is the estimated full capacity of the node"),
            "conditions": schema::conditions(false),
            "imageID": {"description": "ImageID is an identifier for the image that runs on the node", "type": "string"},
            "lastPodEventTime": {
                "description": "LastPodEventTime is updated with the last time a pod was scheduled or removed from the node.",
                "format": "date-time",
                "type": "string"
            },
            "nodeName": {"description": "NodeName is the name of the corresponding node object", "type": "string"},
            "providerID": {"description": "ProviderID of the corresponding node object", "type": "string"}
        },
        "type": "object"
    })
}
