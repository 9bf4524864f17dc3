//! NodeClaim schema and CEL cases (upstream `nodeclaim_validation_cel_test.go`), defaults and
//! the immutable spec.

use serde_json::{Value, json};

use super::*;

fn base() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "default-abcde"},
        "spec": {
            "requirements": [{"key": "karpenter.sh/nodepool", "operator": "In", "values": ["default"]}],
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}
        }
    })
}

/// The base NodeClaim with `spec[field] = value` (`None` removes the field).
fn claim(field: &str, value: Option<Value>) -> NodeClaim {
    let mut doc = base();
    match value {
        Some(v) => doc["spec"][field] = v,
        None => {
            doc["spec"].as_object_mut().unwrap().remove(field);
        }
    }
    serde_json::from_value(doc).unwrap()
}

fn status_errors(nodeclaim: &NodeClaim) -> Vec<(String, String)> {
    validate_status(nodeclaim)
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

fn errors(nodeclaim: &NodeClaim) -> Vec<(String, String)> {
    validate(nodeclaim)
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

const SKIPPED: &str = "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// A named NodeClaim and the errors it must produce.
type Case = (&'static str, NodeClaim, Vec<(String, String)>);

/// A failed CEL rule on a value of JSON type `ty`, as the API server prints it.
fn cel(path: &str, ty: &str, message: &str) -> Vec<(String, String)> {
    one(path, &format!("Invalid value: \"{ty}\": {message}"))
}

fn one(path: &str, message: &str) -> Vec<(String, String)> {
    vec![(path.to_owned(), message.to_owned())]
}

fn blocking(path: &str, message: &str) -> Vec<(String, String)> {
    vec![
        (path.to_owned(), message.to_owned()),
        ("<nil>".to_owned(), SKIPPED.to_owned()),
    ]
}

#[test]
fn base_and_full_nodeclaims_are_valid() {
    assert_eq!(errors(&claim("taints", None)), vec![]);
    let full: NodeClaim =
        serde_yaml_ng::from_str(include_str!("../../testdata/karpenter/nodeclaim-full.yaml"))
            .unwrap();
    // The field from the future is kept by the types but refused by strict field validation,
    // as `kubectl apply` against upstream's CRD refuses it.
    assert_eq!(
        errors(&full),
        one(
            "spec.futureSpecField",
            r#"unknown field "spec.futureSpecField""#
        )
    );
}

#[test]
fn invalid_nodeclaims_report_upstream_messages() {
    let reqs = |r: Value| claim("requirements", Some(json!([r])));
    let cases: Vec<Case> = vec![
        (
            "requirements missing",
            claim("requirements", None),
            blocking("spec.requirements", "Required value"),
        ),
        (
            "In without values",
            reqs(json!({"key": "example.com/a", "operator": "In"})),
            cel(
                "spec.requirements",
                "array",
                "no such key: values evaluating rule: requirements with operator 'In' must have a value defined",
            ),
        ),
        (
            "Lte with a non-integer",
            reqs(json!({"key": "example.com/a", "operator": "Lte", "values": ["x"]})),
            cel(
                "spec.requirements",
                "array",
                "type conversion error from 'string' to 'int' evaluating rule: requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value",
            ),
        ),
        (
            "minValues above the number of values",
            reqs(
                json!({"key": "example.com/a", "operator": "In", "values": ["a"], "minValues": 2}),
            ),
            cel(
                "spec.requirements",
                "array",
                "requirements with 'minValues' must have at least that many values specified in the 'values' field",
            ),
        ),
        (
            "restricted karpenter.sh key",
            reqs(json!({"key": "karpenter.sh/custom", "operator": "Exists"})),
            cel(
                "spec.requirements[0].key",
                "string",
                r#"label domain "karpenter.sh" is restricted"#,
            ),
        ),
        (
            "hostname key",
            reqs(json!({"key": "kubernetes.io/hostname", "operator": "Exists"})),
            cel(
                "spec.requirements[0].key",
                "string",
                r#"label "kubernetes.io/hostname" is restricted"#,
            ),
        ),
        (
            "unsupported operator",
            reqs(json!({"key": "example.com/a", "operator": "Equals"})),
            blocking(
                "spec.requirements[0].operator",
                r#"Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte""#,
            ),
        ),
        (
            "nodeClassRef missing",
            claim("nodeClassRef", None),
            blocking("spec.nodeClassRef", "Required value"),
        ),
        (
            "nodeClassRef kind empty",
            claim(
                "nodeClassRef",
                Some(json!({"group": "g", "kind": "", "name": "n"})),
            ),
            cel("spec.nodeClassRef.kind", "string", "kind may not be empty"),
        ),
        (
            "taint effect",
            claim("taints", Some(json!([{"key": "a", "effect": "Sometimes"}]))),
            blocking(
                "spec.taints[0].effect",
                r#"Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
            ),
        ),
        (
            "expireAfter pattern",
            claim("expireAfter", Some(json!("30d"))),
            one(
                "spec.expireAfter",
                "Invalid value: \"30d\": spec.expireAfter in body should match '^(([0-9]+(s|m|h))+|Never)$'",
            ),
        ),
        (
            "terminationGracePeriod Never",
            claim("terminationGracePeriod", Some(json!("Never"))),
            one(
                "spec.terminationGracePeriod",
                "Invalid value: \"Never\": spec.terminationGracePeriod in body should match '^([0-9]+(s|m|h))+$'",
            ),
        ),
        (
            "requests quantity",
            claim("resources", Some(json!({"requests": {"cpu": "two"}}))),
            one(
                "spec.resources.requests.cpu",
                &format!(
                    "Invalid value: \"two\": spec.resources.requests.cpu in body should match '{}'",
                    crate::common::schema::QUANTITY_PATTERN
                ),
            ),
        ),
    ];
    for (name, nodeclaim, expected) in cases {
        assert_eq!(errors(&nodeclaim), expected, "{name}");
    }
}

#[test]
fn nodepool_label_is_allowed_on_nodeclaims() {
    let nodeclaim = claim(
        "requirements",
        Some(json!([{"key": "karpenter.sh/nodepool", "operator": "In", "values": ["x"]}])),
    );
    assert_eq!(errors(&nodeclaim), vec![]);
}

#[test]
fn status_conditions_are_checked() {
    let mut doc = base();
    doc["status"] = json!({"conditions": [{"type": "Ready", "status": "Maybe", "lastTransitionTime": "2025-01-01T00:00:00Z"}]});
    let nodeclaim: NodeClaim = serde_json::from_value(doc).unwrap();
    assert_eq!(validate(&nodeclaim), vec![], "status is dropped on create");
    assert_eq!(
        status_errors(&nodeclaim),
        blocking(
            "status.conditions[0].status",
            r#"Unsupported value: "Maybe": supported values: "True", "False", "Unknown""#
        )
    );
}

#[test]
fn status_conditions_are_a_map_keyed_by_type() {
    let mut doc = base();
    let ready =
        json!({"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"});
    doc["status"] = json!({"conditions": [ready.clone(), ready]});
    let nodeclaim: NodeClaim = serde_json::from_value(doc).unwrap();
    assert_eq!(
        status_errors(&nodeclaim),
        one(
            "status.conditions[1]",
            r#"Duplicate value: map[string]interface {}{"type":"Ready"}"#
        )
    );
}

#[test]
fn spec_is_immutable_but_status_is_not() {
    let old = claim("taints", None);
    let new = claim("expireAfter", Some(json!("24h")));
    let errs: Vec<String> = validate_update(&old, &new)
        .into_iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errs,
        [r#"spec: Invalid value: "object": spec is immutable"#]
    );
    let mut status_only = old.clone();
    status_only.status = Some(NodeClaimStatus {
        node_name: Some("node-1".into()),
        ..NodeClaimStatus::default()
    });
    assert_eq!(validate_update(&old, &status_only), vec![]);
    // Defaulting is not a change: an absent expireAfter equals the stored 720h.
    let stored = claim("expireAfter", Some(json!("720h")));
    assert_eq!(validate_update(&stored, &old), vec![]);
}

#[test]
fn defaults_set_expire_after_only_when_absent() {
    assert_eq!(
        claim("taints", None)
            .with_defaults()
            .spec
            .expire_after
            .as_deref(),
        Some("720h")
    );
    let never = claim("expireAfter", Some(json!("Never"))).with_defaults();
    assert_eq!(never.spec.expire_after.as_deref(), Some("Never"));
}

#[test]
fn converts_into_core_requirements_and_taints() {
    use joist_core::labels::LabelAliases;
    let full: NodeClaim =
        serde_yaml_ng::from_str(include_str!("../../testdata/karpenter/nodeclaim-full.yaml"))
            .unwrap();
    let requirements = full.requirements(&LabelAliases::core()).unwrap();
    assert_eq!(
        requirements
            .find("node.kubernetes.io/instance-type")
            .unwrap()
            .min_values(),
        Some(2)
    );
    assert_eq!(
        requirements
            .find("karpenter.k8s.aws/instance-generation")
            .unwrap()
            .lte(),
        Some(9)
    );
    assert_eq!(full.taints().unwrap()[0].key, "example.com/special-taint");
    assert_eq!(full.startup_taints().unwrap().len(), 1);
    let missing = claim("requirements", None);
    assert_eq!(
        missing
            .requirements(&LabelAliases::core())
            .unwrap_err()
            .to_string(),
        "NodeClaim default-abcde: spec.requirements: Required value"
    );
}
