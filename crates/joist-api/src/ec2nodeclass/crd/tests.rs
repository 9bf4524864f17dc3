//! Structure of the generated CRD: names, columns, subresource, structural schema, every CEL
//! rule at its place with upstream's message, and a maximal object that uses only declared fields.

use serde_json::{Value, json};

use super::super::tests::FULL_YAML;
use super::*;
use crate::common::pattern::Pattern;
use crate::common::strict::unknown_fields;
use crate::common::{openapi, schema::QUANTITY_PATTERN};
use crate::validation::{FieldError, FieldPath};

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Calls `visit(path, node)` for every schema node, with `.prop`, `[]` and `{}` path steps.
fn walk(node: &Value, path: &str, visit: &mut dyn FnMut(&str, &Value)) {
    visit(path, node);
    for (name, child) in node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        walk(child, &format!("{path}.{name}"), visit);
    }
    if let Some(items) = node.get("items") {
        walk(items, &format!("{path}[]"), visit);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        walk(values, &format!("{path}{{}}"), visit);
    }
}

#[test]
fn names_scope_and_version_match_upstream() {
    let crd = crd();
    assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(crd["kind"], "CustomResourceDefinition");
    assert_eq!(crd["metadata"]["name"], "ec2nodeclasses.karpenter.k8s.aws");
    assert_eq!(crd["spec"]["group"], "karpenter.k8s.aws");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(
        crd["spec"]["names"],
        json!({
            "categories": ["karpenter"],
            "kind": "EC2NodeClass",
            "listKind": "EC2NodeClassList",
            "plural": "ec2nodeclasses",
            "shortNames": ["ec2nc", "ec2ncs"],
            "singular": "ec2nodeclass",
        })
    );
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1);
    let v1 = &versions[0];
    assert_eq!(
        (&v1["name"], &v1["served"], &v1["storage"]),
        (&json!("v1"), &json!(true), &json!(true))
    );
    assert_eq!(v1["subresources"], json!({"status": {}}));
}

#[test]
fn printer_columns_are_ready_age_and_role() {
    assert_eq!(
        crd()["spec"]["versions"][0]["additionalPrinterColumns"],
        json!([
            {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
            {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
            {"jsonPath": ".spec.role", "name": "Role", "priority": 1, "type": "string"},
        ])
    );
}

#[test]
fn schema_is_structural() {
    const KEYWORDS: [&str; 18] = [
        "additionalProperties",
        "default",
        "enum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minimum",
        "pattern",
        "properties",
        "required",
        "type",
        "x-kubernetes-list-type",
        "x-kubernetes-validations",
    ];
    let mut problems = Vec::new();
    walk(&schema(), "", &mut |path, node| {
        if node.get("type").and_then(Value::as_str).is_none() {
            problems.push(format!("{path}: no type"));
        }
        if node.get("properties").is_some() && node.get("additionalProperties").is_some() {
            problems.push(format!("{path}: properties and additionalProperties"));
        }
        for key in node
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
        {
            if !KEYWORDS.contains(&key)
                && (path != ".spec.kubelet" || key != "x-kubernetes-preserve-unknown-fields")
            {
                problems.push(format!("{path}: unexpected keyword {key}"));
            }
        }
        for required in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if node["properties"]
                .get(required.as_str().unwrap_or_default())
                .is_none()
            {
                problems.push(format!("{path}: required {required} is not a property"));
            }
        }
    });
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        schema()["properties"]["metadata"],
        json!({"type": "object"})
    );
    assert_eq!(
        schema()["properties"]["spec"]["required"],
        json!([
            "amiSelectorTerms",
            "securityGroupSelectorTerms",
            "subnetSelectorTerms"
        ])
    );
}

#[test]
fn every_pattern_compiles() {
    let mut broken = Vec::new();
    walk(&schema(), "", &mut |path, node| {
        if let Some(pattern) = node.get("pattern").and_then(Value::as_str)
            && let Err(error) = Pattern::new(pattern)
        {
            broken.push(format!("{path}: {error}"));
        }
    });
    assert!(broken.is_empty(), "{broken:?}");
}

/// Asserts that `pattern` admits every `accepted` value and none of the `rejected` ones.
fn check_pattern(pattern: &str, accepted: &[&str], rejected: &[&str]) {
    let compiled = Pattern::new(pattern).expect("CRD patterns compile");
    for value in accepted {
        assert!(
            compiled.is_match(value),
            "{pattern} should accept {value:?}"
        );
    }
    for value in rejected {
        assert!(
            !compiled.is_match(value),
            "{pattern} should reject {value:?}"
        );
    }
}

#[test]
fn unanchored_id_patterns_match_anywhere() {
    check_pattern(
        SUBNET_ID,
        &["subnet-0a1b", "my-subnet-1", "subnet-1X"],
        &["subnet-", "subnet-X1", "sub-1", ""],
    );
    check_pattern(
        SECURITY_GROUP_ID,
        &["sg-12345749", "xsg-1"],
        &["sg-", "SG-1"],
    );
    check_pattern(
        AMI_ID,
        &["ami-0123456789abcdef", "ami-1234749"],
        &["ami-", "AMI-1"],
    );
}

#[test]
fn anchored_id_patterns_match_whole_values() {
    check_pattern(
        CAPACITY_RESERVATION_ID,
        &["cr-12345749"],
        &["r-12345749", "cr-", "cr-1X", "xcr-1"],
    );
    check_pattern(
        PLACEMENT_GROUP_ID,
        &["pg-02465754522cda020"],
        &["pg-", "pg-A", "my-pg-1"],
    );
    check_pattern(
        OWNER_ID,
        &["012345678901"],
        &["01234567890", "0123456789012", "01234567890a"],
    );
}

#[test]
fn volume_sizes_follow_upstream_ranges_and_quirks() {
    check_pattern(
        VOLUME_SIZE,
        &[
            "1Gi", "20Gi", "9999Gi", "49999Gi", "58999Gi", "59000Gi", "1G", "64000G", "63999G",
            "1Ti", "17Ti", "57Ti", "58Ti", "1T", "64T", "Ti", "T",
        ],
        &[
            "0Gi", "59001Gi", "60000Gi", "020Gi", "64001G", "0G", "18Ti", "59Ti", "65T", "0T",
            "20", "20Mi", "1.5Gi", "", "Gi",
        ],
    );
}

#[test]
fn reserved_quantities_and_eviction_thresholds() {
    check_pattern(
        QUANTITY_PATTERN,
        &[
            "1", "100m", "1.5Gi", ".5", "5.", "-1", "+2k", "1e3", "1E-3", "2Ei", "3n",
        ],
        &["", "1.5.5", "Gi", "1GB", "1 Gi", "1ki", ".", "1e", "e3"],
    );
    check_pattern(
        EVICTION_THRESHOLD,
        &[
            "5%", "10%", "99.99%", "100%", "100.0%", "100.00%", "0.5%", "500Mi", "", "1.5Gi",
        ],
        &[
            "110%", "5%3", "110GB", "100.000%", "100.1%", "123%", "5.123%", "%", ".5%",
        ],
    );
}

#[test]
fn condition_patterns_match_metav1() {
    check_pattern(
        CONDITION_REASON,
        &["AMINotFound", "A", "Ready_1", "a:b,c"],
        &["", "1A", "A:", "A-B"],
    );
    check_pattern(
        CONDITION_TYPE,
        &["Ready", "karpenter.k8s.aws/Drifted", "a.b"],
        &["", "-a", "Foo/Bar", "a/"],
    );
}

#[test]
fn lists_with_rules_are_bounded() {
    // CEL cost estimation needs maxItems on every list a rule iterates.
    let mut unbounded = Vec::new();
    walk(&schema(), "", &mut |path, node| {
        if node["type"] == "array"
            && node.get("x-kubernetes-validations").is_some()
            && node.get("maxItems").is_none()
        {
            unbounded.push(path.to_owned());
        }
    });
    assert!(unbounded.is_empty(), "{unbounded:?}");
}

#[test]
fn every_cel_rule_is_in_place_with_upstream_message() {
    let mut found = Vec::new();
    walk(&schema(), "", &mut |path, node| {
        for rule in node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(
                rule["rule"].as_str().is_some_and(|r| !r.is_empty()),
                "{path}: empty rule"
            );
            found.push((
                path.to_owned(),
                rule["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    });
    let signals = "['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available']";
    let family = |f: &str, article: &str| {
        format!("if set, amiFamily must be '{f}' or 'Custom' when using {article} {f} alias")
    };
    let expected: Vec<(String, String)> = [
        (".spec", "must specify exactly one of ['role', 'instanceProfile']".to_owned()),
        (".spec", family("AL2", "an")),
        (".spec", family("AL2023", "an")),
        (".spec", family("Bottlerocket", "a")),
        (".spec", family("Windows2019", "a")),
        (".spec", family("Windows2022", "a")),
        (".spec", family("Windows2025", "a")),
        (".spec", "must specify amiFamily if amiSelectorTerms does not contain an alias".to_owned()),
        (".spec.amiSelectorTerms", "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']".to_owned()),
        (".spec.amiSelectorTerms", "'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms".to_owned()),
        (".spec.amiSelectorTerms", "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms".to_owned()),
        (".spec.amiSelectorTerms", "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms".to_owned()),
        (".spec.amiSelectorTerms[].alias", "'alias' is improperly formatted, must match the format 'family@version'".to_owned()),
        (".spec.amiSelectorTerms[].alias", "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', 'windows2019', 'windows2022', 'windows2025'".to_owned()),
        (".spec.amiSelectorTerms[].alias", "windows families may only specify version 'latest'".to_owned()),
        (".spec.amiSelectorTerms[].tags", "empty tag keys or values aren't supported".to_owned()),
        (".spec.blockDeviceMappings", "must have only one blockDeviceMappings with rootVolume".to_owned()),
        (".spec.blockDeviceMappings[].ebs", "snapshotID or volumeSize must be defined".to_owned()),
        (".spec.blockDeviceMappings[].ebs", "snapshotID must be set when volumeInitializationRate is set".to_owned()),
        (".spec.capacityReservationSelectorTerms", "expected at least one, got none, ['tags', 'id', 'instanceMatchCriteria']".to_owned()),
        (".spec.capacityReservationSelectorTerms", "'id' is mutually exclusive, cannot be set along with other fields in a capacity reservation selector term".to_owned()),
        (".spec.capacityReservationSelectorTerms[].tags", "empty tag keys or values aren't supported".to_owned()),
        (".spec.connectionTracking", "at least one of tcpEstablishedTimeout, udpStreamTimeout, or udpTimeout must be set".to_owned()),
        (".spec.instanceProfile", "instanceProfile cannot be empty".to_owned()),
        (".spec.kubelet", "imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent".to_owned()),
        (".spec.kubelet", "evictionSoft OwnerKey does not have a matching evictionSoftGracePeriod".to_owned()),
        (".spec.kubelet", "evictionSoftGracePeriod OwnerKey does not have a matching evictionSoft".to_owned()),
        (".spec.kubelet.evictionHard", format!("valid keys for evictionHard are {signals}")),
        (".spec.kubelet.evictionSoft", format!("valid keys for evictionSoft are {signals}")),
        (".spec.kubelet.evictionSoftGracePeriod", format!("valid keys for evictionSoftGracePeriod are {signals}")),
        (".spec.kubelet.kubeReserved", "valid keys for kubeReserved are ['cpu','memory','ephemeral-storage','pid']".to_owned()),
        (".spec.kubelet.kubeReserved", "kubeReserved value cannot be a negative resource quantity".to_owned()),
        (".spec.kubelet.systemReserved", "valid keys for systemReserved are ['cpu','memory','ephemeral-storage','pid']".to_owned()),
        (".spec.kubelet.systemReserved", "systemReserved value cannot be a negative resource quantity".to_owned()),
        (".spec.networkInterfaces", "networkInterfaces must include a primary interface with interfaceType='interface'".to_owned()),
        (".spec.networkInterfaces", "networkInterfaces must not have duplicate networkCardIndex and deviceIndex pairs, and can have at most one efa device per network card".to_owned()),
        (".spec.placementGroupSelector", "expected at least one, got none, ['name', 'id']".to_owned()),
        (".spec.placementGroupSelector", "'name' and 'id' are mutually exclusive".to_owned()),
        (".spec.role", "role cannot be empty".to_owned()),
        (".spec.securityGroupSelectorTerms", "securityGroupSelectorTerms cannot be empty".to_owned()),
        (".spec.securityGroupSelectorTerms", "expected at least one, got none, ['tags', 'id', 'name']".to_owned()),
        (".spec.securityGroupSelectorTerms", "'id' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term".to_owned()),
        (".spec.securityGroupSelectorTerms", "'name' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term".to_owned()),
        (".spec.securityGroupSelectorTerms[].tags", "empty tag keys or values aren't supported".to_owned()),
        (".spec.subnetSelectorTerms", "subnetSelectorTerms cannot be empty".to_owned()),
        (".spec.subnetSelectorTerms", "expected at least one, got none, ['tags', 'id']".to_owned()),
        (".spec.subnetSelectorTerms", "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet selector term".to_owned()),
        (".spec.subnetSelectorTerms[].tags", "empty tag keys or values aren't supported".to_owned()),
        (".spec.tags", "empty tag keys aren't supported".to_owned()),
        (".spec.tags", "tag contains a restricted tag matching eks:eks-cluster-name".to_owned()),
        (".spec.tags", "tag contains a restricted tag matching kubernetes.io/cluster/".to_owned()),
        (".spec.tags", "tag contains a restricted tag matching karpenter.sh/nodepool".to_owned()),
        (".spec.tags", "tag contains a restricted tag matching karpenter.sh/nodeclaim".to_owned()),
        (".spec.tags", "tag contains a restricted tag matching karpenter.k8s.aws/ec2nodeclass".to_owned()),
    ]
    .into_iter()
    .map(|(path, message)| (path.to_owned(), message))
    .collect();
    assert_eq!(found, expected);
    assert_eq!(found.len(), 54);
}

#[test]
fn a_maximal_valid_object_uses_only_declared_fields() {
    let mut object: Value = serde_yaml_ng::from_str(FULL_YAML).expect("full.yaml parses");
    let mut errors = Vec::new();
    openapi::validate_value(&object, &schema(), &FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(unknown_fields(&object, &schema()).is_empty());

    object["spec"]["blockDeviceMappings"][0]["ebs"]["throughputs"] = json!(125);
    object["spec"]["kubelet"]["someFutureFlag"] = json!(true);
    object["status"]["subnets"][0]["zoneId"] = json!("usw2-az1");
    let unknown: Vec<String> = unknown_fields(&object, &schema())
        .iter()
        .map(FieldError::to_string)
        .collect();
    assert_eq!(
        unknown,
        [
            r#"spec.blockDeviceMappings[0].ebs.throughputs: unknown field "spec.blockDeviceMappings[0].ebs.throughputs""#,
            r#"status.subnets[0].zoneId: unknown field "status.subnets[0].zoneId""#,
        ]
    );
}

#[test]
fn metadata_options_default_and_kubelet_preservation() {
    let spec = &schema()["properties"]["spec"]["properties"];
    assert_eq!(
        spec["metadataOptions"]["default"],
        json!({"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"})
    );
    assert_eq!(
        spec["metadataOptions"]["properties"]["httpPutResponseHopLimit"]["maximum"],
        64
    );
    assert_eq!(
        spec["kubelet"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
    assert_eq!(
        spec["amiSelectorTerms"]["items"]["properties"]["alias"]["maxLength"],
        30
    );
    assert_eq!(spec["blockDeviceMappings"]["maxItems"], 50);
    assert_eq!(spec["networkInterfaces"]["maxItems"], 150);
}
