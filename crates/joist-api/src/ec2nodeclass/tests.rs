//! Serde round trips, unknown-field preservation, defaults and helpers of the EC2NodeClass types.

use serde_json::{Value, json};

use super::*;

pub(super) const FULL_YAML: &str = include_str!("../../testdata/ec2nodeclass/full.yaml");
pub(super) const DEFAULT_YAML: &str = include_str!("../../testdata/ec2nodeclass/default.yaml");
pub(super) const FORWARD_YAML: &str =
    include_str!("../../testdata/ec2nodeclass/forward-compatible.yaml");

fn yaml_value(text: &str) -> Value {
    match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("test YAML does not parse: {error}"),
    }
}

pub(super) fn parse(text: &str) -> EC2NodeClass {
    match serde_yaml_ng::from_str(text) {
        Ok(class) => class,
        Err(error) => panic!("EC2NodeClass does not parse: {error}"),
    }
}

/// YAML text → typed → YAML text → generic value equals YAML text → generic value.
fn assert_yaml_round_trip(text: &str) {
    let class = parse(text);
    let written = serde_yaml_ng::to_string(&class).expect("serializes");
    assert_eq!(yaml_value(&written), yaml_value(text));
}

/// JSON value → typed → JSON value is the identity.
fn assert_json_round_trip(value: &Value) {
    let text = serde_json::to_string(value).expect("serializes");
    let class: EC2NodeClass = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(&serde_json::to_value(&class).expect("serializes"), value);
}

#[test]
fn full_object_round_trips_through_yaml_and_json() {
    assert_yaml_round_trip(FULL_YAML);
    assert_json_round_trip(&yaml_value(FULL_YAML));
}

#[test]
fn full_object_sets_every_spec_and_status_field() {
    let value = yaml_value(FULL_YAML);
    let spec = value["spec"].as_object().expect("spec");
    let schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let declared = schema["properties"]["spec"]["properties"]
        .as_object()
        .expect("spec properties");
    // instanceProfile is exclusive with role; it round-trips in its own test below.
    let missing: Vec<&String> = declared
        .keys()
        .filter(|k| !spec.contains_key(*k) && *k != "instanceProfile")
        .collect();
    assert!(missing.is_empty(), "full.yaml lacks {missing:?}");
    let status = value["status"].as_object().expect("status");
    let declared = schema["properties"]["status"]["properties"]
        .as_object()
        .expect("status properties");
    assert!(declared.keys().all(|k| status.contains_key(k)));
}

#[test]
fn instance_profile_and_alias_objects_round_trip() {
    assert_json_round_trip(&json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "profile"},
        "spec": {
            "instanceProfile": "my-profile",
            "amiSelectorTerms": [{"alias": "windows2022@latest"}],
            "subnetSelectorTerms": [{"tags": {}}],
            "securityGroupSelectorTerms": [],
        },
    }));
}

#[test]
fn unknown_fields_are_kept_verbatim() {
    assert_yaml_round_trip(FORWARD_YAML);
    let class = parse(FORWARD_YAML);
    let kubelet = class.spec.kubelet.as_ref().expect("kubelet");
    assert_eq!(kubelet.max_pods, Some(58));
    assert_eq!(kubelet.extra["shutdownGracePeriod"], json!("30s"));
    assert_eq!(
        kubelet.extra["featureGates"],
        json!({"InPlacePodVerticalScaling": true})
    );
    assert_eq!(
        class.spec.extra["futureSpecField"],
        json!({"nested": [1, "two"]})
    );
    let terms = class.spec.ami_selector_terms.as_deref().expect("terms");
    assert_eq!(terms[0].extra["futureTermField"], json!("keep-me"));
}

#[test]
fn absent_and_empty_collections_stay_distinct() {
    let class: EC2NodeClass = serde_json::from_value(json!({
        "apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"},
        "spec": {"subnetSelectorTerms": [], "tags": {}},
    }))
    .expect("parses");
    assert_eq!(class.spec.subnet_selector_terms, Some(vec![]));
    assert_eq!(class.spec.security_group_selector_terms, None);
    assert_eq!(class.spec.tags, Some(Default::default()));
    let written = serde_json::to_value(&class).expect("serializes");
    assert_eq!(
        written["spec"],
        json!({"subnetSelectorTerms": [], "tags": {}})
    );
}

#[test]
fn invalid_enum_values_and_sizes_parse_as_raw_strings() {
    let class: EC2NodeClass = serde_json::from_value(json!({
        "apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"},
        "spec": {"amiFamily": "Ubuntu", "blockDeviceMappings": [{"ebs": {"volumeSize": "lots", "volumeType": "gp9"}}]},
    }))
    .expect("parses");
    assert_eq!(class.spec.ami_family.as_deref(), Some("Ubuntu"));
    let ebs = class
        .spec
        .block_device_mappings
        .as_deref()
        .and_then(|m| m[0].ebs.as_ref())
        .expect("ebs");
    assert_eq!(
        (ebs.volume_size.as_deref(), ebs.volume_type.as_deref()),
        (Some("lots"), Some("gp9"))
    );
}

#[test]
fn defaults_fill_metadata_options_and_reservations() {
    let class = parse(DEFAULT_YAML).with_defaults();
    let options = class.spec.metadata_options.as_ref().expect("defaulted");
    assert_eq!(options.http_endpoint.as_deref(), Some("enabled"));
    assert_eq!(options.http_protocol_ipv6.as_deref(), Some("disabled"));
    assert_eq!(options.http_put_response_hop_limit, Some(1));
    assert_eq!(options.http_tokens.as_deref(), Some("required"));

    let mut partial = parse(DEFAULT_YAML);
    partial.spec.metadata_options = Some(MetadataOptions {
        http_tokens: Some("optional".into()),
        ..MetadataOptions::default()
    });
    partial.status = Some(EC2NodeClassStatus {
        capacity_reservations: Some(vec![CapacityReservation {
            id: "cr-1".into(),
            state: Some("expiring".into()),
            ..CapacityReservation::default()
        }]),
        ..EC2NodeClassStatus::default()
    });
    let defaulted = partial.with_defaults();
    let options = defaulted.spec.metadata_options.as_ref().expect("kept");
    assert_eq!(
        options.http_tokens.as_deref(),
        Some("optional"),
        "user values are never replaced"
    );
    assert_eq!(options.http_put_response_hop_limit, Some(1));
    let reservation = &defaulted
        .status
        .as_ref()
        .and_then(|s| s.capacity_reservations.clone())
        .expect("kept")[0];
    assert_eq!(reservation.reservation_type.as_deref(), Some("default"));
    assert_eq!(reservation.state.as_deref(), Some("expiring"));
}

#[test]
fn defaults_are_exactly_the_crd_defaults() {
    // Every `default` in the CRD schema, by location, against what `with_defaults` fills in.
    fn collect(schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        if let Some(default) = schema.get("default") {
            out.push((path.to_owned(), default.clone()));
        }
        for (name, child) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            collect(child, &format!("{path}.{name}"), out);
        }
        if let Some(items) = schema.get("items") {
            collect(items, &format!("{path}[]"), out);
        }
    }
    let mut found = Vec::new();
    collect(
        &crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        "",
        &mut found,
    );
    let metadata = json!({"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"});
    assert_eq!(
        found,
        [
            (".spec.metadataOptions".to_owned(), metadata.clone()),
            (
                ".spec.metadataOptions.httpEndpoint".to_owned(),
                json!(DEFAULT_HTTP_ENDPOINT)
            ),
            (
                ".spec.metadataOptions.httpProtocolIPv6".to_owned(),
                json!(DEFAULT_HTTP_PROTOCOL_IPV6)
            ),
            (
                ".spec.metadataOptions.httpPutResponseHopLimit".to_owned(),
                json!(DEFAULT_HTTP_PUT_RESPONSE_HOP_LIMIT)
            ),
            (
                ".spec.metadataOptions.httpTokens".to_owned(),
                json!(DEFAULT_HTTP_TOKENS)
            ),
            (
                ".status.capacityReservations[].reservationType".to_owned(),
                json!(DEFAULT_RESERVATION_TYPE)
            ),
            (
                ".status.capacityReservations[].state".to_owned(),
                json!(DEFAULT_RESERVATION_STATE)
            ),
        ]
    );
    let defaulted = serde_json::to_value(parse(DEFAULT_YAML).with_defaults()).expect("serializes");
    assert_eq!(defaulted["spec"]["metadataOptions"], metadata);
}

#[test]
fn ami_helpers_resolve_family_and_alias() {
    let mut spec = parse(DEFAULT_YAML).spec;
    assert_eq!(spec.ami_alias(), Some(("al2023", "latest")));
    assert_eq!(spec.resolved_ami_family(), Some(AmiFamily::AL2023));

    spec.ami_family = Some("Custom".into());
    assert_eq!(
        spec.resolved_ami_family(),
        Some(AmiFamily::Custom),
        "an explicit family wins"
    );

    spec.ami_family = None;
    spec.ami_selector_terms = Some(vec![AmiSelectorTerm {
        alias: Some("bottlerocket@v1.10.0".into()),
        ..Default::default()
    }]);
    assert_eq!(spec.ami_alias(), Some(("bottlerocket", "v1.10.0")));
    assert_eq!(spec.resolved_ami_family(), Some(AmiFamily::Bottlerocket));

    spec.ami_selector_terms = Some(vec![AmiSelectorTerm {
        id: Some("ami-1".into()),
        ..Default::default()
    }]);
    assert_eq!(spec.ami_alias(), None);
    assert_eq!(spec.resolved_ami_family(), None);
}

#[test]
fn ami_family_names_and_aliases_are_consistent() {
    for family in AmiFamily::ALL {
        assert_eq!(AmiFamily::from_name(family.as_str()), Some(family));
        match family.alias_name() {
            Some(alias) => {
                assert_eq!(AmiFamily::from_alias_family(alias), Some(family));
                assert_eq!(alias, family.as_str().to_lowercase());
            }
            None => assert_eq!(family, AmiFamily::Custom),
        }
    }
    assert_eq!(AmiFamily::from_name("Ubuntu"), None);
    assert_eq!(
        AmiFamily::from_name("al2023"),
        None,
        "spec.amiFamily is case-sensitive"
    );
    assert!(AmiFamily::Windows2025.is_windows() && !AmiFamily::AL2.is_windows());
}

#[test]
fn new_sets_type_meta_and_name() {
    let class = EC2NodeClass::new("gpu", EC2NodeClassSpec::default());
    assert_eq!(
        (
            class.api_version.as_str(),
            class.kind.as_str(),
            class.name()
        ),
        (API_VERSION, KIND, "gpu")
    );
}
