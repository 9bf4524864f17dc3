//! One case per invalid NodePool of spec core §1.1 (schema patterns, enums, ranges, every CEL
//! message, restricted labels incl. the CEL quirk, static rules, budgets, runtime checks), each
//! asserting the exact paths and messages; plus valid upstream-style pools.
//!
//! The admission errors of every case (everything but the runtime checks) were compared with a
//! real kube-apiserver v1.34.10 serving these CRDs (server-side dry-run): same paths, messages
//! and order for all of them.

use serde_json::{Value, json};

use super::*;
use crate::validation::FieldError;

// === fixture ===

fn base() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "default"},
        "spec": {"template": {"spec": {
            "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "Exists"}],
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}
        }}}
    })
}

/// Sets (`Some`) or removes (`None`) the value at a JSON pointer, creating parents (arrays for
/// numeric segments) and appending when an index equals the array length.
fn apply(mut doc: Value, ops: &[(&str, Option<Value>)]) -> Value {
    for (pointer, value) in ops {
        let parts: Vec<&str> = pointer.split('/').skip(1).collect();
        let (last, parents) = parts.split_last().unwrap();
        let mut node = &mut doc;
        for (i, part) in parents.iter().enumerate() {
            let next_is_index = parts[i + 1].parse::<usize>().is_ok();
            let empty = || if next_is_index { json!([]) } else { json!({}) };
            node = match node {
                Value::Array(items) => {
                    let index = part.parse::<usize>().unwrap();
                    if index == items.len() {
                        items.push(empty());
                    }
                    &mut items[index]
                }
                other => other
                    .as_object_mut()
                    .unwrap()
                    .entry(*part)
                    .or_insert_with(empty),
            };
        }
        match (node, value) {
            (Value::Array(items), Some(v)) => {
                let index = last.parse::<usize>().unwrap();
                if index == items.len() {
                    items.push(v.clone());
                } else {
                    items[index] = v.clone();
                }
            }
            (Value::Object(map), Some(v)) => {
                map.insert((*last).to_owned(), v.clone());
            }
            (Value::Object(map), None) => {
                map.remove(*last);
            }
            _ => panic!("bad pointer {pointer}"),
        }
    }
    doc
}

fn pool(ops: &[(&str, Option<Value>)]) -> NodePool {
    serde_json::from_value(apply(base(), ops)).unwrap()
}

const REQ: &str = "/spec/template/spec/requirements/0";
const REQ_PATH: &str = "spec.template.spec.requirements";
const LABELS: &str = "/spec/template/metadata/labels";
const LABELS_PATH: &str = "spec.template.metadata.labels";
const TAINT: &str = "/spec/template/spec/taints/0";
const NCR: &str = "/spec/template/spec/nodeClassRef";
const NCR_PATH: &str = "spec.template.spec.nodeClassRef";
const QUALIFIED: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";
const LABEL_VALUE: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
const EXPIRE: &str = r"^(([0-9]+(s|m|h))+|Never)$";
const TGP: &str = r"^([0-9]+(s|m|h))+$";
const NODES: &str = r"^((100|[0-9]{1,2})%|[0-9]+)$";
const SCHEDULE: &str =
    r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$";
const DURATION: &str = r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$";
const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
const SKIPPED: (&str, &str) = (
    "<nil>",
    "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
);
const ACCEPTED: &str =
    "(the NodePool is accepted, but none of its nodes are disrupted while a budget is invalid)";
const NAME_REGEX: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

fn pattern(path: &str, value: &str, pattern: &str) -> (String, String) {
    (
        path.to_owned(),
        format!("Invalid value: \"{value}\": {path} in body should match '{pattern}'"),
    )
}

/// A failed CEL rule on a value of JSON type `ty`, as the API server prints it.
fn cel(path: &str, ty: &str, message: &str) -> (String, String) {
    (
        path.to_owned(),
        format!("Invalid value: \"{ty}\": {message}"),
    )
}

fn e(path: &str, message: &str) -> (String, String) {
    (path.to_owned(), message.to_owned())
}

/// `(path, message)` plus the "rules not checked" note that blocking schema errors add.
fn blocking(path: &str, message: &str) -> Vec<(String, String)> {
    vec![e(path, message), e(SKIPPED.0, SKIPPED.1)]
}

struct Case {
    name: &'static str,
    old: Option<NodePool>,
    new: NodePool,
    expected: Vec<(String, String)>,
}

fn case(
    name: &'static str,
    ops: &[(&str, Option<Value>)],
    expected: Vec<(String, String)>,
) -> Case {
    Case {
        name,
        old: None,
        new: pool(ops),
        expected,
    }
}

fn update(
    name: &'static str,
    old: &[(&str, Option<Value>)],
    new: &[(&str, Option<Value>)],
    expected: Vec<(String, String)>,
) -> Case {
    Case {
        name,
        old: Some(pool(old)),
        new: pool(new),
        expected,
    }
}

fn set(pointer: &str, value: Value) -> (&str, Option<Value>) {
    (pointer, Some(value))
}

/// `spec.disruption.consolidateAfter`, required whenever `disruption` is written.
fn ca() -> (&'static str, Option<Value>) {
    ("/spec/disruption/consolidateAfter", Some(json!("0s")))
}

fn del(pointer: &str) -> (&str, Option<Value>) {
    (pointer, None)
}

fn req(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"key": key, "operator": operator, "values": values})
}

fn label(key: &str) -> (&'static str, Option<Value>) {
    (LABELS, Some(json!({key: "x"})))
}

fn many_labels(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), json!("v"))).collect())
}

// === the table ===

#[rustfmt::skip]
#[allow(clippy::too_many_lines)]
fn invalid_cases() -> Vec<Case> {
    let long63 = "a".repeat(64);
    let domain = r#"label domain "karpenter.sh" is restricted"#;
    let in_values = "requirements with operator 'In' must have a value defined";
    let bounds = "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value";
    let int_error = format!("type conversion error from 'string' to 'int' evaluating rule: {bounds}");
    let min_values = "requirements with 'minValues' must have at least that many values specified in the 'values' field";
    let schedule = "'schedule' must be set with 'duration'";
    let budgets = "/spec/disruption/budgets";
    let dis = "/spec/disruption";
    vec![
        // --- object metadata ---
        case("metadata: name is not a DNS subdomain", &[set("/metadata/name", json!("Default_Pool"))],
            vec![e("metadata.name", "Invalid value: \"Default_Pool\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]),
        case("metadata: name missing", &[del("/metadata/name")],
            blocking("metadata.name", "Required value: name or generateName is required")),
        // --- template labels ---
        case("labels: more than 100", &[set(LABELS, many_labels(101))], blocking(LABELS_PATH, "Too many: 101: must have at most 100 items")),
        case("labels: value longer than 63", &[set(LABELS, json!({"team": long63}))],
            blocking("spec.template.metadata.labels.team", "Too long: may not be more than 63 bytes")),
        case("labels: value pattern", &[set(LABELS, json!({"team": "bad value!"}))],
            vec![pattern("spec.template.metadata.labels.team", "bad value!", LABEL_VALUE)]),
        case("labels: karpenter.sh domain", &[label("karpenter.sh/custom")], vec![cel(LABELS_PATH, "object", domain)]),
        case("labels: karpenter.sh subdomain", &[label("sub.karpenter.sh/x")], vec![cel(LABELS_PATH, "object", domain)]),
        case("labels: CEL endsWith quirk rejects notkarpenter.sh", &[label("notkarpenter.sh/x")], vec![cel(LABELS_PATH, "object", domain)]),
        case("labels: CEL quirk on a key without '/'", &[label("foo.karpenter.sh")], vec![cel(LABELS_PATH, "object", domain)]),
        case("labels: karpenter.sh/nodepool", &[label("karpenter.sh/nodepool")],
            vec![cel(LABELS_PATH, "object", r#"label "karpenter.sh/nodepool" is restricted"#)]),
        case("labels: kubernetes.io/hostname", &[label("kubernetes.io/hostname")],
            vec![cel(LABELS_PATH, "object", r#"label "kubernetes.io/hostname" is restricted"#)]),
        case("labels: key not a qualified name (runtime)", &[label("foo bar")],
            vec![e("spec.template.metadata.labels[foo bar]", &format!("invalid key name \"foo bar\" in labels, \"name part {NAME_REGEX}\""))]),
        case("labels: key name part over 63 (runtime)", &[label(&format!("example.com/{long63}"))],
            vec![e(&format!("spec.template.metadata.labels[example.com/{long63}]"),
                &format!("invalid key name \"example.com/{long63}\" in labels, \"name part must be no more than 63 characters\""))]),
        // --- requirements ---
        case("requirements: missing", &[del("/spec/template/spec/requirements")], blocking(REQ_PATH, "Required value")),
        case("requirements: more than 100", &[set("/spec/template/spec/requirements",
            Value::Array((0..101).map(|i| req(&format!("k{i}"), "Exists", &[])).collect()))],
            blocking(REQ_PATH, "Too many: 101: must have at most 100 items")),
        case("requirements: key missing", &[del(&format!("{REQ}/key"))], blocking("spec.template.spec.requirements[0].key", "Required value")),
        case("requirements: key longer than 316", &[set(REQ, req(&"a".repeat(317), "Exists", &[]))],
            blocking("spec.template.spec.requirements[0].key", "Too long: may not be more than 316 bytes")),
        case("requirements: key pattern", &[set(REQ, req("test.com.com}", "Exists", &[]))],
            vec![pattern("spec.template.spec.requirements[0].key", "test.com.com}", QUALIFIED)]),
        case("requirements: key karpenter.sh domain", &[set(REQ, req("karpenter.sh/custom", "Exists", &[]))],
            vec![cel("spec.template.spec.requirements[0].key", "string", domain)]),
        case("requirements: key CEL quirk notkarpenter.sh", &[set(REQ, req("notkarpenter.sh/x", "Exists", &[]))],
            vec![cel("spec.template.spec.requirements[0].key", "string", domain)]),
        case("requirements: key karpenter.sh/nodepool", &[set(REQ, req("karpenter.sh/nodepool", "In", &["a"]))],
            vec![cel("spec.template.spec.requirements[0].key", "string", r#"label "karpenter.sh/nodepool" is restricted"#)]),
        case("requirements: key kubernetes.io/hostname", &[set(REQ, req("kubernetes.io/hostname", "In", &["a"]))],
            vec![cel("spec.template.spec.requirements[0].key", "string", r#"label "kubernetes.io/hostname" is restricted"#)]),
        case("requirements: operator missing", &[del(&format!("{REQ}/operator"))], blocking("spec.template.spec.requirements[0].operator", "Required value")),
        case("requirements: operator unsupported", &[set(REQ, req("example.com/a", "Foo", &[]))],
            blocking("spec.template.spec.requirements[0].operator",
                r#"Unsupported value: "Foo": supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte""#)),
        case("requirements: operator is case-sensitive", &[set(REQ, req("example.com/a", "in", &["a"]))],
            blocking("spec.template.spec.requirements[0].operator",
                r#"Unsupported value: "in": supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte""#)),
        case("requirements: value longer than 63", &[set(REQ, req("example.com/a", "In", &[&long63]))],
            blocking("spec.template.spec.requirements[0].values[0]", "Too long: may not be more than 63 bytes")),
        case("requirements: value pattern", &[set(REQ, req("example.com/a", "In", &["a b"]))],
            vec![pattern("spec.template.spec.requirements[0].values[0]", "a b", LABEL_VALUE)]),
        case("requirements: In without values", &[set(REQ, req("example.com/a", "In", &[]))], vec![cel(REQ_PATH, "array", in_values)]),
        case("requirements: In without a values field (CEL evaluation error)", &[set(REQ, json!({"key": "example.com/a", "operator": "In"}))],
            vec![cel(REQ_PATH, "array", &format!("no such key: values evaluating rule: {in_values}"))]),
        case("requirements: Gt with two values", &[set(REQ, req("example.com/a", "Gt", &["1", "2"]))], vec![cel(REQ_PATH, "array", bounds)]),
        case("requirements: Gt with a non-integer (CEL int() error)", &[set(REQ, req("example.com/a", "Gt", &["abc"]))], vec![cel(REQ_PATH, "array", &int_error)]),
        case("requirements: Lt without values", &[set(REQ, req("example.com/a", "Lt", &[]))], vec![cel(REQ_PATH, "array", bounds)]),
        case("requirements: Lte with a decimal (CEL int() error)", &[set(REQ, req("example.com/a", "Lte", &["1.5"]))], vec![cel(REQ_PATH, "array", &int_error)]),
        case("requirements: Gte with a negative value", &[set(REQ, req("example.com/a", "Gte", &["-1"]))],
            vec![pattern("spec.template.spec.requirements[0].values[0]", "-1", LABEL_VALUE), cel(REQ_PATH, "array", bounds)]),
        case("requirements: minValues 0", &[set(&format!("{REQ}/minValues"), json!(0))],
            vec![e("spec.template.spec.requirements[0].minValues",
                "Invalid value: 0: spec.template.spec.requirements[0].minValues in body should be greater than or equal to 1")]),
        case("requirements: minValues 51", &[set(&format!("{REQ}/minValues"), json!(51))],
            vec![e("spec.template.spec.requirements[0].minValues",
                "Invalid value: 51: spec.template.spec.requirements[0].minValues in body should be less than or equal to 50")]),
        case("requirements: In with fewer values than minValues", &[set(REQ, json!({"key": "example.com/a", "operator": "In", "values": ["a", "b"], "minValues": 3}))],
            vec![cel(REQ_PATH, "array", min_values)]),
        case("requirements: capacity-type without a known value (runtime)", &[set(REQ, req("karpenter.sh/capacity-type", "In", &["foo", "bar"]))],
            vec![e("spec.template.spec.requirements[0]",
                "invalid value: no valid values found in [foo bar] for karpenter.sh/capacity-type, expected one of: map[on-demand:{} reserved:{} spot:{}], got: [foo bar] in requirements, restricted")]),
        case("requirements: capacity-type with fewer known values than minValues (runtime)",
            &[set(REQ, json!({"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "foo"], "minValues": 2}))],
            vec![e("spec.template.spec.requirements[0]",
                "invalid value: not enough valid values found in [spot foo] for karpenter.sh/capacity-type, expected at least 2 valid values from: [on-demand reserved spot], got: 1 in requirements, restricted")]),
        case("requirements: key name part over 63 (runtime)", &[set(REQ, req(&format!("example.com/{long63}"), "Exists", &[]))],
            vec![e("spec.template.spec.requirements[0]", &format!(
                "invalid value: key example.com/{long63} is not a qualified name, name part must be no more than 63 characters in requirements, restricted"))]),
        // --- taints ---
        case("taints: key missing", &[set(TAINT, json!({"effect": "NoSchedule"}))], blocking("spec.template.spec.taints[0].key", "Required value")),
        case("taints: key empty (minLength hides the pattern error)", &[set(TAINT, json!({"key": "", "effect": "NoSchedule"}))], vec![
            e("spec.template.spec.taints[0].key", "Invalid value: \"\": spec.template.spec.taints[0].key in body should be at least 1 chars long"),
        ]),
        case("taints: key pattern", &[set(TAINT, json!({"key": "test/test/test", "effect": "NoSchedule"}))],
            vec![pattern("spec.template.spec.taints[0].key", "test/test/test", QUALIFIED)]),
        case("taints: value pattern", &[set(TAINT, json!({"key": "a", "value": "???", "effect": "NoSchedule"}))],
            vec![pattern("spec.template.spec.taints[0].value", "???", QUALIFIED)]),
        case("taints: effect unsupported", &[set(TAINT, json!({"key": "a", "effect": "???"}))],
            blocking("spec.template.spec.taints[0].effect", r#"Unsupported value: "???": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#)),
        case("taints: effect missing", &[set(TAINT, json!({"key": "a"}))], blocking("spec.template.spec.taints[0].effect", "Required value")),
        case("startupTaints: key pattern", &[set("/spec/template/spec/startupTaints/0", json!({"key": "/test", "effect": "NoSchedule"}))],
            vec![pattern("spec.template.spec.startupTaints[0].key", "/test", QUALIFIED)]),
        case("taints: duplicate key/effect within taints (runtime)", &[set("/spec/template/spec/taints",
            json!([{"key": "a", "value": "1", "effect": "NoSchedule"}, {"key": "a", "value": "2", "effect": "NoSchedule"}]))],
            vec![e("spec.template.spec.taints[1]", "duplicate taint Key/Effect pair a=NoSchedule")]),
        case("taints: duplicate key/effect across taints and startupTaints (runtime)", &[
            set(TAINT, json!({"key": "a", "effect": "NoExecute"})),
            set("/spec/template/spec/startupTaints/0", json!({"key": "a", "effect": "NoExecute"}))],
            vec![e("spec.template.spec.startupTaints[0]", "duplicate taint Key/Effect pair a=NoExecute")]),
        case("taints: key name part over 63 (runtime)", &[set(TAINT, json!({"key": format!("test.com/{long63}"), "effect": "NoSchedule"}))],
            vec![e("spec.template.spec.taints[0].key", "invalid value: name part must be no more than 63 characters in taints")]),
        // --- nodeClassRef ---
        case("nodeClassRef: missing", &[del(NCR)], blocking(NCR_PATH, "Required value")),
        case("nodeClassRef: group missing", &[del(&format!("{NCR}/group"))], blocking("spec.template.spec.nodeClassRef.group", "Required value")),
        case("nodeClassRef: kind missing", &[del(&format!("{NCR}/kind"))], blocking("spec.template.spec.nodeClassRef.kind", "Required value")),
        case("nodeClassRef: name missing", &[del(&format!("{NCR}/name"))], blocking("spec.template.spec.nodeClassRef.name", "Required value")),
        case("nodeClassRef: group empty", &[set(&format!("{NCR}/group"), json!(""))], vec![cel("spec.template.spec.nodeClassRef.group", "string", "group may not be empty")]),
        case("nodeClassRef: kind empty", &[set(&format!("{NCR}/kind"), json!(""))], vec![cel("spec.template.spec.nodeClassRef.kind", "string", "kind may not be empty")]),
        case("nodeClassRef: name empty", &[set(&format!("{NCR}/name"), json!(""))], vec![cel("spec.template.spec.nodeClassRef.name", "string", "name may not be empty")]),
        case("nodeClassRef: group with '/'", &[set(&format!("{NCR}/group"), json!("karpenter.k8s.aws/v1"))],
            vec![pattern("spec.template.spec.nodeClassRef.group", "karpenter.k8s.aws/v1", "^[^/]*$")]),
        update("nodeClassRef: group is immutable", &[], &[set(&format!("{NCR}/group"), json!("karpenter.azure.com"))],
            vec![cel(NCR_PATH, "object", "nodeClassRef.group is immutable")]),
        update("nodeClassRef: kind is immutable", &[], &[set(&format!("{NCR}/kind"), json!("AKSNodeClass"))],
            vec![cel(NCR_PATH, "object", "nodeClassRef.kind is immutable")]),
        // --- template structure ---
        case("template: missing", &[del("/spec/template")], blocking("spec.template", "Required value")),
        case("template.spec: missing", &[del("/spec/template/spec")], blocking("spec.template.spec", "Required value")),
        // --- expireAfter / terminationGracePeriod ---
        case("expireAfter: negative", &[set("/spec/template/spec/expireAfter", json!("-1s"))],
            vec![pattern("spec.template.spec.expireAfter", "-1s", EXPIRE)]),
        case("expireAfter: days are not a unit", &[set("/spec/template/spec/expireAfter", json!("1d"))],
            vec![pattern("spec.template.spec.expireAfter", "1d", EXPIRE)]),
        case("expireAfter: lower-case never", &[set("/spec/template/spec/expireAfter", json!("never"))],
            vec![pattern("spec.template.spec.expireAfter", "never", EXPIRE)]),
        case("terminationGracePeriod: Never is not allowed", &[set("/spec/template/spec/terminationGracePeriod", json!("Never"))],
            vec![pattern("spec.template.spec.terminationGracePeriod", "Never", TGP)]),
        case("terminationGracePeriod: negative", &[set("/spec/template/spec/terminationGracePeriod", json!("-1s"))],
            vec![pattern("spec.template.spec.terminationGracePeriod", "-1s", TGP)]),
        case("terminationGracePeriod: fractional", &[set("/spec/template/spec/terminationGracePeriod", json!("1.5h"))],
            vec![pattern("spec.template.spec.terminationGracePeriod", "1.5h", TGP)]),
        // --- disruption ---
        case("consolidateAfter: negative", &[set(dis, json!({"consolidateAfter": "-1s"}))],
            vec![pattern("spec.disruption.consolidateAfter", "-1s", EXPIRE)]),
        case("consolidateAfter: required when disruption is set", &[set(dis, json!({"consolidationPolicy": "WhenEmpty"}))],
            blocking("spec.disruption.consolidateAfter", "Required value")),
        case("consolidationPolicy: v1beta1 WhenUnderutilized", &[set(dis, json!({"consolidateAfter": "0s", "consolidationPolicy": "WhenUnderutilized"}))],
            blocking("spec.disruption.consolidationPolicy",
                r#"Unsupported value: "WhenUnderutilized": supported values: "WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced""#)),
        case("consolidationPolicy: lower-case", &[set(dis, json!({"consolidateAfter": "0s", "consolidationPolicy": "whenempty"}))],
            blocking("spec.disruption.consolidationPolicy",
                r#"Unsupported value: "whenempty": supported values: "WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced""#)),
        // --- budgets ---
        case("budget nodes: negative integer", &[ca(), set(budgets, json!([{"nodes": "-10"}]))],
            vec![pattern("spec.disruption.budgets[0].nodes", "-10", NODES)]),
        case("budget nodes: negative percent", &[ca(), set(budgets, json!([{"nodes": "-10%"}]))],
            vec![pattern("spec.disruption.budgets[0].nodes", "-10%", NODES)]),
        case("budget nodes: percent with more than 3 digits", &[ca(), set(budgets, json!([{"nodes": "1000%"}]))],
            vec![pattern("spec.disruption.budgets[0].nodes", "1000%", NODES)]),
        case("budget nodes: over 100%", &[ca(), set(budgets, json!([{"nodes": "101%"}]))],
            vec![pattern("spec.disruption.budgets[0].nodes", "101%", NODES)]),
        case("budget schedule: invalid cron", &[ca(), set(budgets, json!([{"nodes": "10", "schedule": "*", "duration": "20m"}]))],
            vec![pattern("spec.disruption.budgets[0].schedule", "*", SCHEDULE)]),
        case("budget schedule: fewer than 5 fields", &[ca(), set(budgets, json!([{"nodes": "10", "schedule": "* * * * ", "duration": "20m"}]))],
            vec![pattern("spec.disruption.budgets[0].schedule", "* * * * ", SCHEDULE)]),
        case("budget duration: negative", &[ca(), set(budgets, json!([{"nodes": "10", "schedule": "* * * * *", "duration": "-20m"}]))],
            vec![pattern("spec.disruption.budgets[0].duration", "-20m", DURATION)]),
        case("budget duration: seconds", &[ca(), set(budgets, json!([{"nodes": "10", "schedule": "* * * * *", "duration": "30s"}]))],
            vec![pattern("spec.disruption.budgets[0].duration", "30s", DURATION)]),
        case("budget: schedule without duration", &[ca(), set(budgets, json!([{"nodes": "10", "schedule": "* * * * *"}]))],
            vec![cel("spec.disruption.budgets", "array", schedule)]),
        case("budget: duration without schedule", &[ca(), set(budgets, json!([{"nodes": "10", "duration": "20m"}]))],
            vec![cel("spec.disruption.budgets", "array", schedule)]),
        case("budget: one of several lacks duration", &[ca(), set(budgets, json!([
            {"nodes": "10", "schedule": "* * * * *", "duration": "20m"}, {"nodes": "10", "schedule": "@daily"}]))],
            vec![cel("spec.disruption.budgets", "array", schedule)]),
        case("budget reasons: unknown", &[ca(), set(budgets, json!([{"nodes": "10", "reasons": ["invalid"]}]))],
            blocking("spec.disruption.budgets[0].reasons[0]", r#"Unsupported value: "invalid": supported values: "Underutilized", "Empty", "Drifted""#)),
        case("budget reasons: expired is not a reason", &[ca(), set(budgets, json!([{"nodes": "10", "reasons": ["expired"]}]))],
            blocking("spec.disruption.budgets[0].reasons[0]", r#"Unsupported value: "expired": supported values: "Underutilized", "Empty", "Drifted""#)),
        case("budget reasons: empty string", &[ca(), set(budgets, json!([{"nodes": "10", "reasons": [""]}]))],
            blocking("spec.disruption.budgets[0].reasons[0]", r#"Unsupported value: "": supported values: "Underutilized", "Empty", "Drifted""#)),
        case("budget reasons: duplicate", &[ca(), set(budgets, json!([{"nodes": "10", "reasons": ["Empty", "Empty"]}]))],
            vec![e("spec.disruption.budgets[0].reasons[1]", r#"Duplicate value: "Empty""#)]),
        case("budget schedule: passes the pattern but is not cron (runtime)", &[ca(), set(budgets, json!([{"nodes": "0", "schedule": "a b c d e", "duration": "1h"}]))],
            vec![e("spec.disruption.budgets[0].schedule", &format!(
                "invariant violated, invalid cron \"a b c d e\", minute field: failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax {ACCEPTED}"))]),
        case("budget schedule: @dailyX passes the pattern quirk but is not a descriptor (runtime)", &[ca(), set(budgets, json!([{"nodes": "0", "schedule": "@dailyX", "duration": "1h"}]))],
            vec![e("spec.disruption.budgets[0].schedule", &format!(
                "invariant violated, invalid cron \"@dailyX\", unrecognized descriptor: @dailyX {ACCEPTED}"))]),
        case("budgets: more than 50", &[ca(), set(budgets, Value::Array(vec![json!({"nodes": "1"}); 51]))],
            blocking("spec.disruption.budgets", "Too many: 51: must have at most 50 items")),
        // --- limits, weight, replicas, static pools ---
        case("limits: invalid quantity", &[set("/spec/limits", json!({"cpu": "lots"}))],
            vec![pattern("spec.limits.cpu", "lots", QUANTITY)]),
        case("limits: wrong type", &[set("/spec/limits", json!({"cpu": true}))], vec![
            e("spec.limits.cpu", r#"Invalid value: "boolean": spec.limits.cpu in body must be of type integer,string: "boolean""#),
            e("<nil>", r#"Invalid value: "": "spec.limits.cpu" must validate at least one schema (anyOf)"#),
            e("spec.limits.cpu", r#"Invalid value: "boolean": spec.limits.cpu in body must be of type integer: "boolean""#),
            e(SKIPPED.0, SKIPPED.1),
        ]),
        case("weight: 0", &[set("/spec/weight", json!(0))],
            vec![e("spec.weight", "Invalid value: 0: spec.weight in body should be greater than or equal to 1")]),
        case("weight: 101", &[set("/spec/weight", json!(101))],
            vec![e("spec.weight", "Invalid value: 101: spec.weight in body should be less than or equal to 100")]),
        case("replicas: negative", &[set("/spec/replicas", json!(-1))],
            vec![e("spec.replicas", "Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
                 e(".spec.replicas", "Invalid value: -1: should be a non-negative integer")]),
        case("static: limits other than nodes", &[set("/spec/replicas", json!(2)), set("/spec/limits", json!({"nodes": 5, "cpu": 10}))],
            vec![cel("spec", "object", "only 'limits.nodes' is supported on static NodePools")]),
        case("static: weight", &[set("/spec/replicas", json!(2)), set("/spec/weight", json!(10))],
            vec![cel("spec", "object", "'weight' is not supported on static NodePools")]),
        update("static: dynamic to static", &[], &[set("/spec/replicas", json!(2))],
            vec![cel("spec", "object", "Cannot transition NodePool between static (replicas set) and dynamic (replicas unset) provisioning modes")]),
        update("static: static to dynamic", &[set("/spec/replicas", json!(2))], &[],
            vec![cel("spec", "object", "Cannot transition NodePool between static (replicas set) and dynamic (replicas unset) provisioning modes")]),
    ]
}

fn run(case: &Case) -> Vec<(String, String)> {
    let errors: Vec<FieldError> = match &case.old {
        Some(old) => validate_update(old, &case.new),
        None => validate(&case.new),
    };
    errors.into_iter().map(|e| (e.path, e.message)).collect()
}

#[test]
fn every_invalid_case_reports_exact_paths_and_messages() {
    let cases = invalid_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let got = run(case);
        if got != case.expected {
            failures.push(format!(
                "{}:\n  expected {:#?}\n  got      {:#?}",
                case.name, case.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        cases.len(),
        99,
        "update the case count in the report when adding cases"
    );
}

#[test]
fn the_base_fixture_and_upstream_style_pools_are_valid() {
    assert_eq!(validate(&pool(&[])), vec![]);
    let yaml = include_str!("../../testdata/karpenter/nodepool-examples.yaml");
    let mut count = 0;
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        let nodepool: NodePool = serde::Deserialize::deserialize(document).unwrap();
        assert_eq!(validate(&nodepool), vec![], "{}", nodepool.name());
        count += 1;
    }
    assert_eq!(count, 6);
}

#[test]
fn valid_edge_values_pass() {
    let ok = |ops: &[(&str, Option<Value>)]| assert_eq!(validate(&pool(ops)), vec![], "{ops:?}");
    ok(&[set("/spec/template/spec/expireAfter", json!("Never"))]);
    ok(&[set("/spec/template/spec/expireAfter", json!("1h30m10s"))]);
    ok(&[set(
        "/spec/disruption",
        json!({"consolidateAfter": "Never", "consolidationPolicy": "WhenEmpty"}),
    )]);
    ok(&[
        ca(),
        set(
            "/spec/disruption/budgets",
            json!([{"nodes": "100%"}, {"nodes": "0"}, {"schedule": "@weekly", "duration": "1h"}]),
        ),
    ]);
    ok(&[ca(), set("/spec/disruption/budgets", json!([]))]);
    ok(&[set(REQ, req("example.com/a", "Gt", &["0"]))]);
    ok(&[set(
        REQ,
        json!({"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "foo"]}),
    )]);
    ok(&[set(
        REQ,
        req("karpenter.sh/capacity-type", "NotIn", &["foo"]),
    )]);
    ok(&[set(
        LABELS,
        json!({"kubernetes.io/team": "a", "node-restriction.kubernetes.io/x": "b", "karpenter.shx/y": "c"}),
    )]);
    ok(&[
        set(TAINT, json!({"key": "a", "effect": "NoSchedule"})),
        set(
            "/spec/template/spec/taints/1",
            json!({"key": "a", "effect": "NoExecute"}),
        ),
    ]);
    ok(&[
        set("/spec/replicas", json!(0)),
        set("/spec/limits", json!({"nodes": "5"})),
    ]);
    ok(&[
        set("/spec/weight", json!(100)),
        set(
            "/spec/limits",
            json!({"cpu": "1.5", "memory": "1e3", "pods": ".5"}),
        ),
    ]);
}

#[test]
fn label_rule_errors_follow_the_crd_rule_order() {
    let np = pool(&[set(
        LABELS,
        json!({"a.karpenter.sh/x": "1", "karpenter.sh/nodepool": "2", "kubernetes.io/hostname": "3"}),
    )]);
    let messages: Vec<String> = validate(&np).into_iter().map(|e| e.message).collect();
    assert_eq!(
        messages,
        [
            r#"Invalid value: "object": label domain "karpenter.sh" is restricted"#,
            r#"Invalid value: "object": label "karpenter.sh/nodepool" is restricted"#,
            r#"Invalid value: "object": label "kubernetes.io/hostname" is restricted"#,
        ]
    );
}

#[test]
fn updates_keep_unchanged_transition_fields_valid() {
    let old = pool(&[set("/spec/replicas", json!(1))]);
    let new = pool(&[
        set("/spec/replicas", json!(4)),
        set(&format!("{NCR}/name"), json!("other")),
    ]);
    assert_eq!(validate_update(&old, &new), vec![]);
}

#[test]
fn defaults_fill_absent_fields_only() {
    let defaulted = pool(&[]).with_defaults();
    let disruption = defaulted.spec.disruption.clone().unwrap();
    assert_eq!(disruption.consolidate_after.as_deref(), Some("0s"));
    assert_eq!(
        disruption.consolidation_policy.as_deref(),
        Some("WhenEmptyOrUnderutilized")
    );
    assert_eq!(disruption.budgets, Some(vec![Budget::nodes("10%")]));
    assert_eq!(
        defaulted.template_spec().unwrap().expire_after.as_deref(),
        Some("720h")
    );

    let kept = pool(&[
        set("/spec/disruption", json!({"consolidateAfter": "5m", "budgets": [{"schedule": "@daily", "duration": "1h"}, {"nodes": "3"}]})),
        set("/spec/template/spec/expireAfter", json!("Never")),
        set("/status", json!({})),
    ])
    .with_defaults();
    let disruption = kept.spec.disruption.clone().unwrap();
    assert_eq!(disruption.consolidate_after.as_deref(), Some("5m"));
    assert_eq!(
        disruption.consolidation_policy.as_deref(),
        Some("WhenEmptyOrUnderutilized")
    );
    let nodes: Vec<_> = disruption
        .budgets
        .unwrap()
        .into_iter()
        .map(|b| b.nodes.unwrap())
        .collect();
    assert_eq!(nodes, ["10%", "3"]);
    assert_eq!(
        kept.template_spec().unwrap().expire_after.as_deref(),
        Some("Never")
    );
    assert_eq!(kept.status.unwrap().nodes, Some(0));
    let empty_budgets = pool(&[set(
        "/spec/disruption",
        json!({"consolidateAfter": "0s", "budgets": []}),
    )])
    .with_defaults();
    assert_eq!(
        empty_budgets.spec.disruption.unwrap().budgets,
        Some(vec![]),
        "an explicit empty list is kept"
    );
}

#[test]
fn requirements_convert_into_core_requirements() {
    use joist_core::labels::LabelAliases;
    use joist_core::requirements::Operator;
    let np = pool(&[set(
        "/spec/template/spec/requirements",
        json!([
            {"key": "failure-domain.beta.kubernetes.io/zone", "operator": "In", "values": ["a", "b"], "minValues": 2},
            {"key": "example.com/size", "operator": "Gt", "values": ["4"]},
        ]),
    )]);
    let requirements = np.requirements(&LabelAliases::core()).unwrap();
    let zone = requirements.find("topology.kubernetes.io/zone").unwrap();
    assert_eq!(zone.operator(), Operator::In);
    assert_eq!(zone.min_values(), Some(2));
    assert_eq!(
        requirements.find("example.com/size").unwrap().gte(),
        Some(5)
    );

    let bad = pool(&[set(REQ, req("example.com/a", "Foo", &[]))]);
    let err = bad.requirements(&LabelAliases::core()).unwrap_err();
    assert!(
        matches!(err, ConversionError::Requirement { ref path, .. } if path == "spec.template.spec.requirements[0]"),
        "{err}"
    );
    let missing = pool(&[del("/spec/template/spec/requirements")]);
    assert_eq!(
        missing
            .requirements(&LabelAliases::core())
            .unwrap_err()
            .to_string(),
        "NodePool default: spec.template.spec.requirements: Required value"
    );
}

#[test]
fn budgets_and_taints_convert_into_core_types() {
    use joist_core::nodepool::budgets::DisruptionReason;
    use joist_core::taints::Effect;
    let defaults = pool(&[]).budgets().unwrap();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].nodes, "10%");
    assert!(defaults[0].schedule.is_none() && defaults[0].reasons.is_none());

    let np = pool(&[
        ca(),
        set(
            "/spec/disruption/budgets",
            json!([{"nodes": "0", "schedule": "@daily", "duration": "1h30m", "reasons": ["Empty", "Drifted"]}, {}]),
        ),
        set(
            TAINT,
            json!({"key": "gpu", "value": "true", "effect": "NoSchedule"}),
        ),
        set(
            "/spec/template/spec/startupTaints/0",
            json!({"key": "init", "effect": "NoExecute"}),
        ),
    ]);
    let budgets = np.budgets().unwrap();
    assert_eq!(budgets[0].nodes, "0");
    assert_eq!(budgets[0].schedule.as_deref(), Some("@daily"));
    assert_eq!(
        budgets[0].duration,
        Some(std::time::Duration::from_secs(5400))
    );
    assert_eq!(
        budgets[0].reasons,
        Some(vec![DisruptionReason::Empty, DisruptionReason::Drifted])
    );
    assert_eq!(
        budgets[1].nodes, "10%",
        "a budget without nodes gets the CRD default"
    );
    let taints = np.taints().unwrap();
    assert_eq!(
        (
            taints[0].key.as_str(),
            taints[0].value.as_str(),
            taints[0].effect
        ),
        ("gpu", "true", Effect::NoSchedule)
    );
    assert_eq!(np.startup_taints().unwrap()[0].effect, Effect::NoExecute);

    let bad = pool(&[set(TAINT, json!({"key": "gpu", "effect": "Sometimes"}))]);
    assert_eq!(
        bad.taints().unwrap_err().to_string(),
        "NodePool default: spec.template.spec.taints[0]: invalid taint effect: Sometimes, unsupported taint effect"
    );
}
