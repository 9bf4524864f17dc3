//! Structural checks of the NodePool and NodeClaim CRDs: names, columns, subresources, that every
//! upstream CEL rule is present with its message, that the schemas are structural (the API server
//! refuses anything else), and that maximal valid objects are fully described by the schemas.

use joist_api::common::openapi;
use joist_api::common::pattern::Pattern;
use joist_api::common::strict::unknown_fields;
use joist_api::validation::FieldPath;
use joist_api::{nodeclaim, nodepool};
use serde_json::{Value, json};

/// Every `x-kubernetes-validations` entry as `(schema location, message, rule)`.
fn cel_rules(node: &Value, at: &str, out: &mut Vec<(String, String, String)>) {
    if let Some(rules) = node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in rules {
            out.push((
                at.to_owned(),
                rule["message"].as_str().unwrap().to_owned(),
                rule["rule"].as_str().unwrap().to_owned(),
            ));
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            cel_rules(child, &format!("{at}.{name}"), out);
        }
    }
    if let Some(items) = node.get("items") {
        cel_rules(items, &format!("{at}[]"), out);
    }
    if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
        cel_rules(additional, &format!("{at}.*"), out);
    }
}

fn messages_at(crd: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    cel_rules(
        &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        "",
        &mut out,
    );
    out.into_iter()
        .map(|(at, message, _)| (at, message))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn nodepool_crd_names_columns_and_subresources() {
    let crd = nodepool::crd();
    assert_eq!(crd["metadata"]["name"], "nodepools.karpenter.sh");
    assert_eq!(crd["spec"]["group"], "karpenter.sh");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(
        crd["spec"]["names"],
        json!({"categories": ["karpenter"], "kind": "NodePool", "listKind": "NodePoolList", "plural": "nodepools", "singular": "nodepool"})
    );
    let version = &crd["spec"]["versions"][0];
    assert_eq!(
        (
            version["name"].as_str(),
            version["served"].as_bool(),
            version["storage"].as_bool()
        ),
        (Some("v1"), Some(true), Some(true))
    );
    assert_eq!(crd["spec"]["versions"].as_array().unwrap().len(), 1);
    let columns: Vec<(String, String, i64)> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["jsonPath"].as_str().unwrap().to_owned(),
                c["priority"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let expected = [
        ("NodeClass", ".spec.template.spec.nodeClassRef.name", 0),
        ("Nodes", ".status.nodes", 0),
        (
            "Ready",
            ".status.conditions[?(@.type==\"Ready\")].status",
            0,
        ),
        ("Age", ".metadata.creationTimestamp", 0),
        ("Weight", ".spec.weight", 1),
        ("CPU", ".status.resources.cpu", 1),
        ("Memory", ".status.resources.memory", 1),
    ];
    assert_eq!(
        columns,
        expected.map(|(n, p, w)| (n.to_owned(), p.to_owned(), w))
    );
    assert_eq!(
        version["subresources"],
        json!({"scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.nodes"}, "status": {}})
    );
}

#[test]
fn nodeclaim_crd_names_columns_and_subresources() {
    let crd = nodeclaim::crd();
    assert_eq!(crd["metadata"]["name"], "nodeclaims.karpenter.sh");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(crd["spec"]["names"]["categories"], json!(["karpenter"]));
    assert_eq!(crd["spec"]["names"]["listKind"], "NodeClaimList");
    let version = &crd["spec"]["versions"][0];
    let columns: Vec<(&str, &str, i64)> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["jsonPath"].as_str().unwrap(),
                c["priority"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            (
                "Type",
                r".metadata.labels.node\.kubernetes\.io/instance-type",
                0
            ),
            (
                "Capacity",
                r".metadata.labels.karpenter\.sh/capacity-type",
                0
            ),
            ("Zone", r".metadata.labels.topology\.kubernetes\.io/zone", 0),
            ("Node", ".status.nodeName", 0),
            (
                "Ready",
                ".status.conditions[?(@.type==\"Ready\")].status",
                0
            ),
            ("Age", ".metadata.creationTimestamp", 0),
            ("ImageID", ".status.imageID", 1),
            ("ID", ".status.providerID", 1),
            ("NodePool", r".metadata.labels.karpenter\.sh/nodepool", 1),
            ("NodeClass", ".spec.nodeClassRef.name", 1),
            (
                "Drifted",
                ".status.conditions[?(@.type==\"Drifted\")].status",
                1
            ),
        ]
    );
    assert_eq!(version["subresources"], json!({"status": {}}));
}

#[test]
fn nodepool_crd_has_every_upstream_cel_rule_with_its_message() {
    let tspec = ".spec.template.spec";
    let expected = pairs(&[
        (
            ".spec",
            "Cannot transition NodePool between static (replicas set) and dynamic (replicas unset) provisioning modes",
        ),
        (
            ".spec",
            "only 'limits.nodes' is supported on static NodePools",
        ),
        (".spec", "'weight' is not supported on static NodePools"),
        (
            ".spec.disruption.budgets",
            "'schedule' must be set with 'duration'",
        ),
        (
            ".spec.template.metadata.labels",
            r#"label domain "karpenter.sh" is restricted"#,
        ),
        (
            ".spec.template.metadata.labels",
            r#"label "karpenter.sh/nodepool" is restricted"#,
        ),
        (
            ".spec.template.metadata.labels",
            r#"label "kubernetes.io/hostname" is restricted"#,
        ),
        (
            &format!("{tspec}.nodeClassRef"),
            "nodeClassRef.group is immutable",
        ),
        (
            &format!("{tspec}.nodeClassRef"),
            "nodeClassRef.kind is immutable",
        ),
        (
            &format!("{tspec}.nodeClassRef.group"),
            "group may not be empty",
        ),
        (
            &format!("{tspec}.nodeClassRef.kind"),
            "kind may not be empty",
        ),
        (
            &format!("{tspec}.nodeClassRef.name"),
            "name may not be empty",
        ),
        (
            &format!("{tspec}.requirements"),
            "requirements with operator 'In' must have a value defined",
        ),
        (
            &format!("{tspec}.requirements"),
            "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value",
        ),
        (
            &format!("{tspec}.requirements"),
            "requirements with 'minValues' must have at least that many values specified in the 'values' field",
        ),
        (
            &format!("{tspec}.requirements[].key"),
            r#"label domain "karpenter.sh" is restricted"#,
        ),
        (
            &format!("{tspec}.requirements[].key"),
            r#"label "karpenter.sh/nodepool" is restricted"#,
        ),
        (
            &format!("{tspec}.requirements[].key"),
            r#"label "kubernetes.io/hostname" is restricted"#,
        ),
    ]);
    let mut got = messages_at(&nodepool::crd());
    let mut want = expected;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn nodeclaim_crd_has_every_upstream_cel_rule_with_its_message() {
    let mut got = messages_at(&nodeclaim::crd());
    let mut want = pairs(&[
        (".spec", "spec is immutable"),
        (".spec.nodeClassRef.group", "group may not be empty"),
        (".spec.nodeClassRef.kind", "kind may not be empty"),
        (".spec.nodeClassRef.name", "name may not be empty"),
        (
            ".spec.requirements",
            "requirements with operator 'In' must have a value defined",
        ),
        (
            ".spec.requirements",
            "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value",
        ),
        (
            ".spec.requirements",
            "requirements with 'minValues' must have at least that many values specified in the 'values' field",
        ),
        (
            ".spec.requirements[].key",
            r#"label domain "karpenter.sh" is restricted"#,
        ),
        (
            ".spec.requirements[].key",
            r#"label "kubernetes.io/hostname" is restricted"#,
        ),
    ]);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn provider_label_domains_become_cel_rules() {
    let policy = joist_api::common::LabelPolicy::karpenter()
        .with_domain("karpenter.k8s.aws", &["karpenter.k8s.aws/instance-family"]);
    let messages = messages_at(&nodepool::crd_with(&policy));
    let aws = r#"label domain "karpenter.k8s.aws" is restricted"#;
    assert!(messages.contains(&(".spec.template.metadata.labels".to_owned(), aws.to_owned())));
    assert!(messages.contains(&(
        ".spec.template.spec.requirements[].key".to_owned(),
        aws.to_owned()
    )));
}

// === structural schema ===

/// Checks the rules apiextensions enforces for structural schemas (and our own hygiene) on every
/// node, returning the violations.
fn structural_violations(node: &Value, at: &str, out: &mut Vec<String>) {
    let int_or_string = node.get("x-kubernetes-int-or-string") == Some(&json!(true));
    let ty = node.get("type").and_then(Value::as_str);
    if ty.is_none() && !int_or_string {
        out.push(format!("{at}: no type"));
    }
    if node.get("properties").is_some() && node.get("additionalProperties").is_some() {
        out.push(format!(
            "{at}: properties and additionalProperties together"
        ));
    }
    if node.get("items").is_some() != (ty == Some("array")) {
        out.push(format!("{at}: items iff array"));
    }
    if let Some(pattern) = node.get("pattern").and_then(Value::as_str)
        && let Err(e) = Pattern::new(pattern)
    {
        out.push(format!("{at}: {e}"));
    }
    if let Some(default) = node.get("default") {
        let mut errors = Vec::new();
        openapi::validate_value(
            default,
            node,
            &FieldPath::root().child("default"),
            &mut errors,
        );
        if !errors.is_empty() {
            out.push(format!("{at}: default does not validate: {errors:?}"));
        }
    }
    if node.get("x-kubernetes-list-type") == Some(&json!("map")) {
        let required = node["items"]["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for key in node["x-kubernetes-list-map-keys"].as_array().unwrap() {
            if !required.contains(key) {
                out.push(format!("{at}: list map key {key} not required"));
            }
        }
    }
    for rule in node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default();
        let balanced = text.matches('(').count() == text.matches(')').count()
            && text.matches('[').count() == text.matches(']').count()
            && text.matches('"').count() % 2 == 0
            && text.matches('\'').count() % 2 == 0;
        if text.is_empty() || !balanced || rule["message"].as_str().is_none_or(str::is_empty) {
            out.push(format!("{at}: malformed rule {rule}"));
        }
    }
    for (name, child) in node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        structural_violations(child, &format!("{at}.{name}"), out);
    }
    if let Some(items) = node.get("items") {
        structural_violations(items, &format!("{at}[]"), out);
    }
    if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
        structural_violations(additional, &format!("{at}.*"), out);
    }
}

#[test]
fn schemas_are_structural_with_valid_patterns_and_defaults() {
    for crd in [nodepool::crd(), nodeclaim::crd()] {
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut violations = Vec::new();
        structural_violations(schema, "", &mut violations);
        assert!(
            violations.is_empty(),
            "{}: {violations:#?}",
            crd["metadata"]["name"]
        );
        // Only the root may describe metadata, and only as a plain object.
        assert_eq!(schema["properties"]["metadata"], json!({"type": "object"}));
    }
}

/// `(path, message)` of each error.
fn error_pairs(errors: &[joist_api::validation::FieldError]) -> Vec<(&str, &str)> {
    errors
        .iter()
        .map(|e| (e.path.as_str(), e.message.as_str()))
        .collect()
}

#[test]
fn maximal_objects_are_fully_described_and_accepted_without_their_future_field() {
    // Each maximal object sets every declared field plus one from the future: the types keep
    // it, strict field validation refuses it (alone), and without it the object is valid.
    let mut np: nodepool::NodePool =
        serde_yaml_ng::from_str(include_str!("../testdata/karpenter/nodepool-full.yaml")).unwrap();
    assert_eq!(
        error_pairs(&nodepool::validate(&np)),
        [("spec.futureField", r#"unknown field "spec.futureField""#)]
    );
    let schema = nodepool::schema(&joist_api::common::LabelPolicy::karpenter());
    let unknown = unknown_fields(&serde_json::to_value(&np).unwrap(), &schema);
    assert_eq!(error_pairs(&unknown), error_pairs(&nodepool::validate(&np)));
    np.spec.extra.clear();
    assert_eq!(nodepool::validate(&np), vec![]);

    let mut nc: nodeclaim::NodeClaim =
        serde_yaml_ng::from_str(include_str!("../testdata/karpenter/nodeclaim-full.yaml")).unwrap();
    assert_eq!(
        error_pairs(&nodeclaim::validate(&nc)),
        [(
            "spec.futureSpecField",
            r#"unknown field "spec.futureSpecField""#
        )]
    );
    nc.spec.extra.clear();
    assert_eq!(nodeclaim::validate(&nc), vec![]);
}

#[test]
fn crd_patterns_agree_with_the_core_matchers() {
    use joist_core::duration as d;
    let corpus = [
        "",
        "0",
        "0s",
        "10",
        "10%",
        "100%",
        "101%",
        "1000%",
        "-10",
        "-10%",
        "1h",
        "1h30m",
        "1h30m0s",
        "2h20m",
        "30s",
        "20m0s",
        "-20m",
        "720h",
        "Never",
        "never",
        "1d",
        "1.5h",
        "@daily",
        "@dailyX",
        "@every 5m",
        "*",
        "* * * * ",
        "* * * * *",
        "0 9 * * mon-fri",
        "a b c d e f",
        " a b c d",
        "x\ny z w v",
        "@yearly",
    ];
    type Matcher = fn(&str) -> bool;
    let pairs: [(&str, Matcher); 5] = [
        (
            joist_api::common::schema::DURATION_OR_NEVER_PATTERN,
            d::matches_expire_after_pattern,
        ),
        (
            joist_api::common::schema::DURATION_PATTERN,
            d::matches_tgp_pattern,
        ),
        (
            r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$",
            d::matches_budget_duration_pattern,
        ),
        (
            r"^((100|[0-9]{1,2})%|[0-9]+)$",
            d::matches_budget_nodes_pattern,
        ),
        (
            r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$",
            d::matches_budget_schedule_pattern,
        ),
    ];
    for (pattern, core) in pairs {
        let compiled = Pattern::new(pattern).unwrap();
        for input in corpus {
            assert_eq!(
                compiled.is_match(input),
                core(input),
                "{pattern} on {input:?}"
            );
        }
    }
}
