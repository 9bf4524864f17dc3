//! Tests of the catalog: the embedded file parses, lookups work, bad input is an error.

use super::*;

const BASE_RECORD_JSON: &str = r#"{
    "name": "m5.large", "family": "m5", "category": "m", "generation": 5, "size": "large",
    "arch": "amd64", "vcpu": 2, "memory_mib": 8192, "cpu_manufacturer": "intel",
    "cpu_sustained_clock_speed_mhz": 3100, "capability_flex": false,
    "gpu_count": null, "gpu_name": null, "gpu_manufacturer": null, "gpu_memory_mib": null,
    "nvidia_gpu": 0, "amd_gpu": 0, "habana_gaudi": 0,
    "accelerator_name": null, "accelerator_manufacturer": null, "accelerator_count": null,
    "neuron_devices": 0, "neuron_cores": 0, "efa_max": 0,
    "max_enis": 3, "default_card_max_enis": 3, "network_cards": 1, "ipv4_per_eni": 10,
    "trunking_compatible": true, "branch_enis": 9,
    "network_bandwidth_mbps": 750, "ebs_bandwidth_mbps": 4750, "local_nvme_gb": null,
    "hypervisor": "nitro", "encryption_in_transit_supported": false, "bare_metal": false,
    "current_generation": null, "on_demand_price_usd_per_hour": 0.096,
    "on_demand_prices_usd_per_hour": {"us-east-1": 0.096},
    "on_demand_price_cny_per_hour_cn_north_1": null,
    "karpenter_al2023_allocatable": {"cpu_m": 1930, "memory_mib": 6903, "ephemeral_storage_gib": 17, "pods": 29, "pod_eni": 9}
}"#;

/// A minimal valid record JSON with overridable fields, for error-path tests.
pub(crate) fn record_json(overrides: &[(&str, serde_json::Value)]) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_str(BASE_RECORD_JSON).expect("test record parses");
    for (key, field) in overrides {
        value[*key] = field.clone();
    }
    value
}

const EMPTY_SUPPLEMENT: &str = r#"{"source": "test", "types": {}}"#;

fn load(records: &[serde_json::Value]) -> Result<Catalog, CatalogError> {
    Catalog::from_json(
        &serde_json::Value::Array(records.to_vec()).to_string(),
        EMPTY_SUPPLEMENT,
    )
}

#[test]
fn embedded_catalog_parses_with_every_type_and_resolved_eni_data() {
    let catalog = Catalog::embedded().expect("embedded catalog must parse");
    assert_eq!(catalog.len(), 1363);
    assert!(catalog.records().windows(2).all(|w| w[0].name < w[1].name));
    assert!(catalog.records().iter().all(|r| r.pod_network().is_some()));
    let supplemented: Vec<&str> = catalog
        .records()
        .iter()
        .filter(|r| r.pod_network().map(|p| p.source) == Some(PodNetworkSource::Supplement))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(supplemented.len(), 8, "{supplemented:?}");
    assert!(
        supplemented
            .iter()
            .all(|name| catalog.get(name).is_some_and(|r| r.vpc_limits().is_none()))
    );
}

#[test]
fn embedded_is_parsed_once_and_shared() {
    let first = Catalog::embedded().expect("parses");
    let second = Catalog::embedded().expect("parses");
    assert!(std::ptr::eq(first, second));
}

#[test]
fn parse_embedded_gives_an_owned_copy_of_the_shared_catalog() {
    let owned = Catalog::parse_embedded().expect("parses");
    let shared = Catalog::embedded().expect("parses");
    assert_eq!(&owned, shared);
    assert!(!std::ptr::eq(&owned, shared));
}

#[test]
fn lookup_by_name_finds_records_and_misses_unknown_names() {
    let catalog = Catalog::embedded().expect("parses");
    let m5 = catalog.get("m5.large").expect("m5.large is in the catalog");
    assert_eq!((m5.vcpu, m5.memory_mib, m5.arch), (2, 8192, Arch::Amd64));
    assert_eq!(m5.on_demand_price("us-east-1"), Some(0.096));
    assert!(catalog.get("m5.nonexistent").is_none());
    assert!(catalog.get("").is_none());
}

#[test]
fn unknown_field_is_a_parse_error_naming_the_path() {
    let bad = record_json(&[("surprise", serde_json::json!(1))]);
    let error = load(&[bad]).expect_err("unknown field must be refused");
    assert!(
        matches!(&error, CatalogError::Parse { path, message, .. }
        if path == "[0].surprise" && message.contains("unknown field")),
        "{error}"
    );
}

#[test]
fn wrong_type_is_a_parse_error_naming_the_field() {
    let bad = record_json(&[("vcpu", serde_json::json!("two"))]);
    let error = load(&[bad]).expect_err("string vcpu must be refused");
    assert!(
        matches!(&error, CatalogError::Parse { path, .. } if path == "[0].vcpu"),
        "{error}"
    );
}

#[test]
fn duplicate_names_are_refused() {
    let error = load(&[record_json(&[]), record_json(&[])]).expect_err("duplicates");
    assert_eq!(
        error,
        CatalogError::DuplicateName {
            name: "m5.large".to_string()
        }
    );
}

#[test]
fn invariant_violations_name_the_record_and_field() {
    let cases = [
        ("vcpu", serde_json::json!(0)),
        ("family", serde_json::json!("m6")),
        ("branch_enis", serde_json::Value::Null),
        ("on_demand_price_usd_per_hour", serde_json::json!(1.0)),
    ];
    for (field, value) in cases {
        let error = load(&[record_json(&[(field, value)])]).expect_err(field);
        assert!(
            matches!(&error, CatalogError::InvalidRecord { name, .. } if name == "m5.large"),
            "{field}: {error}"
        );
        assert!(error.to_string().contains("m5.large"), "{error}");
    }
}

#[test]
fn a_type_without_any_eni_source_is_refused() {
    let nulls = [
        "max_enis",
        "default_card_max_enis",
        "network_cards",
        "ipv4_per_eni",
        "trunking_compatible",
        "branch_enis",
    ]
    .map(|field| (field, serde_json::Value::Null));
    let error = load(&[record_json(&nulls)]).expect_err("no ENI data");
    assert!(
        error.to_string().contains("no ENI supplement entry"),
        "{error}"
    );
}

#[test]
fn bad_json_is_an_error_not_a_panic() {
    let error = Catalog::from_json("[{", EMPTY_SUPPLEMENT).expect_err("truncated");
    assert!(matches!(
        error,
        CatalogError::Parse {
            source_name: "ec2-instance-types.json",
            ..
        }
    ));
}
