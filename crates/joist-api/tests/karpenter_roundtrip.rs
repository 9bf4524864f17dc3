//! Lossless JSON and YAML round-trips of full upstream-style NodePools and NodeClaims (every
//! field set, plus fields from a future Karpenter), compared as `serde_json::Value`.

use joist_api::nodeclaim::NodeClaim;
use joist_api::nodepool::NodePool;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const NODEPOOL: &str = include_str!("../testdata/karpenter/nodepool-full.yaml");
const NODECLAIM: &str = include_str!("../testdata/karpenter/nodeclaim-full.yaml");

/// Parses `yaml` as `T` and checks that JSON and YAML re-serialisations equal the raw document.
fn assert_lossless<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(yaml: &str) -> T {
    let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let typed: T = serde_yaml_ng::from_str(yaml).unwrap();
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        raw,
        "typed -> JSON value"
    );

    let json = serde_json::to_string_pretty(&typed).unwrap();
    let from_json: T = serde_json::from_str(&json).unwrap();
    assert_eq!(from_json, typed, "JSON round-trip");
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), raw);

    let yaml_out = serde_yaml_ng::to_string(&typed).unwrap();
    let from_yaml: T = serde_yaml_ng::from_str(&yaml_out).unwrap();
    assert_eq!(from_yaml, typed, "YAML round-trip");
    assert_eq!(serde_yaml_ng::from_str::<Value>(&yaml_out).unwrap(), raw);
    typed
}

#[test]
fn full_nodepool_round_trips_losslessly() {
    let nodepool: NodePool = assert_lossless(NODEPOOL);
    let spec = nodepool.template_spec().unwrap();
    assert_eq!(spec.requirements.as_ref().unwrap().len(), 12);
    assert_eq!(nodepool.spec.weight, Some(10));
    assert_eq!(
        nodepool
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    // Integer and string quantities keep their JSON type.
    let limits = nodepool.spec.limits.as_ref().unwrap();
    assert_eq!(limits["cpu"].0, serde_json::json!(1000));
    assert_eq!(limits["nvidia.com/gpu"].0, serde_json::json!("8"));
}

#[test]
fn full_nodeclaim_round_trips_losslessly() {
    let nodeclaim: NodeClaim = assert_lossless(NODECLAIM);
    let status = nodeclaim.status.as_ref().unwrap();
    assert_eq!(
        status.provider_id.as_deref(),
        Some("aws:///us-west-2a/i-0123456789abcdef0")
    );
    assert_eq!(status.image_id.as_deref(), Some("ami-0123456789abcdef0"));
    assert_eq!(nodeclaim.spec.expire_after.as_deref(), Some("Never"));
}

#[test]
fn unknown_fields_are_kept_where_they_appear() {
    let nodepool: NodePool = serde_yaml_ng::from_str(NODEPOOL).unwrap();
    assert_eq!(
        nodepool.spec.extra["futureField"],
        serde_json::json!({"enabled": true})
    );
    let nodeclaim: NodeClaim = serde_yaml_ng::from_str(NODECLAIM).unwrap();
    assert_eq!(
        nodeclaim.spec.extra["futureSpecField"],
        serde_json::json!(1)
    );

    // Unknown fields at every level a future Karpenter may grow survive a read-modify-write.
    let yaml = r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: future}
topLevel: 1
spec:
  template:
    newTemplateField: a
    metadata: {labels: {a: b}, newMetaField: b}
    spec:
      nodeClassRef: {group: g, kind: K, name: n, apiVersion: g/v1}
      requirements: [{key: k, operator: Exists, newRequirementField: c}]
      taints: [{key: t, effect: NoSchedule, newTaintField: d}]
      newSpecField: e
  disruption:
    consolidateAfter: 0s
    newDisruptionField: f
    budgets: [{nodes: "1", newBudgetField: g}]
status: {nodes: 1, newStatusField: h}
"#;
    let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut nodepool: NodePool = serde_yaml_ng::from_str(yaml).unwrap();
    nodepool.spec.weight = Some(5);
    let mut expected = raw;
    expected["spec"]["weight"] = serde_json::json!(5);
    assert_eq!(serde_json::to_value(&nodepool).unwrap(), expected);
}

#[test]
fn invalid_values_parse_and_are_reported_by_validation() {
    // Bad enums, durations and quantities must not fail parsing: validation names the field.
    let yaml = r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: bad}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements: [{key: k, operator: Exists}]
      expireAfter: 30 days
  limits: {cpu: lots}
"#;
    let nodepool: NodePool = serde_yaml_ng::from_str(yaml).unwrap();
    let paths: Vec<String> = joist_api::nodepool::validate(&nodepool)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["spec.template.spec.expireAfter", "spec.limits.cpu"]);
}

#[test]
fn defaults_are_explicit_and_round_trip() {
    let yaml = "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n";
    let plain: NodePool = serde_yaml_ng::from_str(yaml).unwrap();
    assert_eq!(
        serde_json::to_value(&plain).unwrap(),
        serde_yaml_ng::from_str::<Value>(yaml).unwrap()
    );
    let defaulted = serde_json::to_value(plain.with_defaults()).unwrap();
    assert_eq!(
        defaulted["spec"]["disruption"],
        serde_json::json!({"consolidateAfter": "0s", "consolidationPolicy": "WhenEmptyOrUnderutilized", "budgets": [{"nodes": "10%"}]})
    );
    assert_eq!(defaulted["spec"]["template"]["spec"]["expireAfter"], "720h");
}
