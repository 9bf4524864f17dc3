//! The NodePool CustomResourceDefinition, equal in meaning to upstream v1.14's
//! `karpenter.sh_nodepools.yaml` (descriptions shortened).

use serde_json::{Value, json};

use super::{
    CONSOLIDATION_POLICIES, DEFAULT_BUDGET_NODES, DEFAULT_CONSOLIDATION_POLICY, DISRUPTION_REASONS,
};
use crate::common::LabelPolicy;
use crate::common::schema::{
    self, CelRule, DURATION_OR_NEVER_PATTERN, DURATION_PATTERN, LABEL_VALUE_PATTERN, rules_json,
};

/// Budget `nodes`: an integer or a percentage up to 100%.
pub(crate) const BUDGET_NODES_PATTERN: &str = r"^((100|[0-9]{1,2})%|[0-9]+)$";
/// Budget `schedule`: a cron descriptor or five fields (upstream's regex, precedence quirk included).
pub(crate) const BUDGET_SCHEDULE_PATTERN: &str =
    r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$";
/// Budget `duration`: hours and/or minutes, with the `0s` Go appends.
pub(crate) const BUDGET_DURATION_PATTERN: &str = r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$";

/// Static/dynamic mode is fixed at creation (transition rule).
pub(crate) fn rule_static_transition() -> CelRule {
    CelRule::new(
        "has(self.replicas) == has(oldSelf.replicas)",
        "Cannot transition NodePool between static (replicas set) and dynamic (replicas unset) provisioning modes",
    )
}

/// Static pools may only limit `nodes`.
pub(crate) fn rule_static_limits() -> CelRule {
    CelRule::new(
        "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))",
        "only 'limits.nodes' is supported on static NodePools",
    )
}

/// Static pools have no weight.
pub(crate) fn rule_static_weight() -> CelRule {
    CelRule::new(
        "!has(self.replicas) || !has(self.weight)",
        "'weight' is not supported on static NodePools",
    )
}

/// Every budget sets both or neither of `schedule` and `duration`.
pub(crate) fn rule_schedule_with_duration() -> CelRule {
    CelRule::new(
        "self.all(x, has(x.schedule) == has(x.duration))",
        "'schedule' must be set with 'duration'",
    )
}

/// The NodePool CRD with core Karpenter's label policy.
pub fn crd() -> Value {
    crd_with(&LabelPolicy::karpenter())
}

/// The NodePool CRD with a provider's label policy (its restricted domains become CEL rules).
pub fn crd_with(policy: &LabelPolicy) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nodepools.karpenter.sh"},
        "spec": {
            "group": "karpenter.sh",
            "names": {
                "categories": ["karpenter"],
                "kind": "NodePool",
                "listKind": "NodePoolList",
                "plural": "nodepools",
                "singular": "nodepool"
            },
            "scope": "Cluster",
            "versions": [{
                "additionalPrinterColumns": [
                    {"jsonPath": ".spec.template.spec.nodeClassRef.name", "name": "NodeClass", "type": "string"},
                    {"jsonPath": ".status.nodes", "name": "Nodes", "type": "string"},
                    {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
                    {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
                    {"jsonPath": ".spec.weight", "name": "Weight", "priority": 1, "type": "integer"},
                    {"jsonPath": ".status.resources.cpu", "name": "CPU", "priority": 1, "type": "string"},
                    {"jsonPath": ".status.resources.memory", "name": "Memory", "priority": 1, "type": "string"}
                ],
                "name": "v1",
                "schema": {"openAPIV3Schema": schema(policy)},
                "served": true,
                "storage": true,
                "subresources": {
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.nodes"},
                    "status": {}
                }
            }]
        }
    })
}

/// The `openAPIV3Schema` of NodePool v1 under `policy`; validation walks objects with it.
pub fn schema(policy: &LabelPolicy) -> Value {
    let mut properties = schema::type_meta_properties();
    properties.insert("spec".into(), spec_schema(policy));
    properties.insert("status".into(), status_schema());
    json!({
        "description": "NodePool is the Schema for the NodePools API",
        "properties": properties,
        "required": ["spec"],
        "type": "object"
    })
}

fn spec_schema(policy: &LabelPolicy) -> Value {
    json!({
        "description": "NodePoolSpec is the top level nodepool specification: a template for the nodes Karpenter launches in response to unschedulable pods, with limits and disruption settings.",
        "properties": {
            "disruption": disruption_schema(),
            "limits": schema::resource_list("Limits define a set of bounds for provisioning capacity. Only limits.nodes is supported when replicas is set."),
            "replicas": {
                "description": "Replicas is the desired number of nodes of a static NodePool (alpha).",
                "format": "int64",
                "minimum": 0,
                "type": "integer"
            },
            "template": template_schema(policy),
            "weight": {
                "description": "Weight is the priority given to the nodepool during scheduling; higher first, absent counts as 0. Not supported when replicas is set.",
                "format": "int32",
                "maximum": 100,
                "minimum": 1,
                "type": "integer"
            }
        },
        "required": ["template"],
        "type": "object",
        "x-kubernetes-validations": rules_json(&[rule_static_transition(), rule_static_limits(), rule_static_weight()])
    })
}

fn disruption_schema() -> Value {
    json!({
        "default": {"consolidateAfter": "0s"},
        "description": "Disruption contains the parameters that relate to Karpenter's disruption logic",
        "properties": {
            "budgets": {
                "default": [{"nodes": DEFAULT_BUDGET_NODES}],
                "description": "Budgets is a list of Budgets. If there are multiple active budgets, Karpenter uses the most restrictive value. If left undefined, this will default to one budget with a value to 10%.",
                "items": {
                    "description": "Budget defines when Karpenter will restrict the number of Node Claims that can be terminating simultaneously.",
                    "properties": {
                        "duration": {
                            "description": "Duration determines how long a Budget is active since each Schedule hit (minutes and hours only). Required if Schedule is set.",
                            "pattern": BUDGET_DURATION_PATTERN,
                            "type": "string"
                        },
                        "nodes": {
                            "default": DEFAULT_BUDGET_NODES,
                            "description": "Nodes dictates the maximum number of NodeClaims owned by this NodePool that can be terminating at once: an integer or a percentage.",
                            "pattern": BUDGET_NODES_PATTERN,
                            "type": "string"
                        },
                        "reasons": {
                            "description": "Reasons is a list of disruption methods that this budget applies to; all methods when unset.",
                            "items": {
                                "description": "DisruptionReason defines valid reasons for disruption budgets.",
                                "enum": DISRUPTION_REASONS,
                                "type": "string"
                            },
                            "maxItems": 50,
                            "type": "array",
                            "x-kubernetes-list-type": "set"
                        },
                        "schedule": {
                            "description": "Schedule specifies when a budget begins being active, in cron syntax (UTC). Required if Duration is set.",
                            "pattern": BUDGET_SCHEDULE_PATTERN,
                            "type": "string"
                        }
                    },
                    "required": ["nodes"],
                    "type": "object"
                },
                "maxItems": 50,
                "type": "array",
                "x-kubernetes-list-type": "atomic",
                "x-kubernetes-validations": rules_json(&[rule_schedule_with_duration()])
            },
            "consolidateAfter": schema::duration(
                DURATION_OR_NEVER_PATTERN,
                None,
                "ConsolidateAfter is the duration the controller will wait before attempting to terminate nodes that are underutilized; Never disables consolidation."
            ),
            "consolidationPolicy": {
                "default": DEFAULT_CONSOLIDATION_POLICY,
                "description": "ConsolidationPolicy describes which nodes Karpenter can disrupt through its consolidation algorithm.",
                "enum": CONSOLIDATION_POLICIES,
                "type": "string"
            }
        },
        "required": ["consolidateAfter"],
        "type": "object"
    })
}

fn template_schema(policy: &LabelPolicy) -> Value {
    json!({
        "description": "Template contains the template of possibilities for the provisioning logic to launch a NodeClaim with.",
        "properties": {
            "metadata": {
                "properties": {
                    "annotations": {
                        "additionalProperties": {"type": "string"},
                        "description": "Annotations applied to every node.",
                        "type": "object",
                        "x-kubernetes-map-type": "granular"
                    },
                    "labels": {
                        "additionalProperties": {"maxLength": 63, "pattern": LABEL_VALUE_PATTERN, "type": "string"},
                        "description": "Labels applied to every node.",
                        "maxProperties": 100,
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "x-kubernetes-validations": rules_json(&policy.map_rules())
                    }
                },
                "type": "object"
            },
            "spec": {
                "description": "NodeClaimTemplateSpec describes the desired state of the NodeClaims of this NodePool (without resource requests).",
                "properties": {
                    "expireAfter": schema::duration(
                        DURATION_OR_NEVER_PATTERN,
                        Some(super::DEFAULT_EXPIRE_AFTER),
                        "ExpireAfter is the duration the controller will wait before terminating a node, measured from when the node is created; Never disables expiry."
                    ),
                    "nodeClassRef": schema::node_class_ref(true),
                    "requirements": schema::requirements(&policy.key_rules(true)),
                    "startupTaints": schema::taints("StartupTaints are taints applied at startup and expected to be removed by a DaemonSet; pods need not tolerate them to trigger provisioning."),
                    "taints": schema::taints("Taints will be applied to the NodeClaim's node."),
                    "terminationGracePeriod": schema::duration(
                        DURATION_PATTERN,
                        None,
                        "TerminationGracePeriod is the maximum duration the controller will wait before forcefully deleting the pods on a node; unset waits forever."
                    )
                },
                "required": ["nodeClassRef", "requirements"],
                "type": "object"
            }
        },
        "required": ["spec"],
        "type": "object"
    })
}

fn status_schema() -> Value {
    json!({
        "description": "NodePoolStatus defines the observed state of NodePool",
        "properties": {
            "conditions": schema::conditions(true),
            "nodeClassObservedGeneration": {
                "description": "The observed generation of the referenced NodeClass.",
                "format": "int64",
                "type": "integer"
            },
            "nodes": {
                "default": 0,
                "description": "Nodes is the count of nodes associated with this NodePool",
                "format": "int64",
                "type": "integer"
            },
            "resources": schema::resource_list("Resources is the list of resources that have been provisioned.")
        },
        "type": "object"
    })
}
