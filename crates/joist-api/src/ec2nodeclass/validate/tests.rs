//! Validation behaviour: valid examples that must pass, the API server's handling of blocking
//! schema errors, and the helpers the case table (`tests_cases`) uses.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::tests::{DEFAULT_YAML, FORWARD_YAML, FULL_YAML, parse};
use super::super::*;
use super::validate;

/// The getting-started class: `al2023@latest`, a role, subnets and security groups by tag.
pub(super) fn base() -> EC2NodeClass {
    parse(DEFAULT_YAML)
}

/// `base()` changed by `mutate`.
pub(super) fn class_with(mutate: impl FnOnce(&mut EC2NodeClassSpec)) -> EC2NodeClass {
    let mut class = base();
    mutate(&mut class.spec);
    class
}

/// `(path, message)` of every error.
pub(super) fn errors_of(class: &EC2NodeClass) -> Vec<(String, String)> {
    validate(class)
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

pub(super) fn tags(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

pub(super) fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

pub(super) fn alias_terms(alias: &str) -> Option<Vec<AmiSelectorTerm>> {
    Some(vec![AmiSelectorTerm {
        alias: some(alias),
        ..AmiSelectorTerm::default()
    }])
}

pub(super) fn ami_id_terms() -> Option<Vec<AmiSelectorTerm>> {
    Some(vec![AmiSelectorTerm {
        id: some("ami-0123456789abcdef"),
        ..AmiSelectorTerm::default()
    }])
}

pub(super) fn ebs_mapping(ebs: BlockDevice) -> BlockDeviceMapping {
    BlockDeviceMapping {
        device_name: some("/dev/xvda"),
        ebs: Some(ebs),
        ..BlockDeviceMapping::default()
    }
}

pub(super) fn sized(size: &str) -> BlockDevice {
    BlockDevice {
        volume_size: some(size),
        ..BlockDevice::default()
    }
}

pub(super) fn nic(card: i64, device: i64, kind: &str) -> NetworkInterface {
    NetworkInterface {
        network_card_index: Some(card),
        device_index: Some(device),
        interface_type: some(kind),
        ..NetworkInterface::default()
    }
}

pub(super) fn kubelet_with(
    mutate: impl FnOnce(&mut KubeletConfiguration),
) -> Option<KubeletConfiguration> {
    let mut kubelet = KubeletConfiguration::default();
    mutate(&mut kubelet);
    Some(kubelet)
}

fn assert_valid(name: &str, class: &EC2NodeClass) {
    assert_eq!(
        errors_of(class),
        Vec::<(String, String)>::new(),
        "{name} must be valid"
    );
}

#[test]
fn upstream_style_examples_are_valid() {
    let examples: Vec<(&str, EC2NodeClass)> = vec![
        ("al2023@latest default class", base()),
        ("full object", parse(FULL_YAML)),
        (
            "pinned alias",
            class_with(|s| s.ami_selector_terms = alias_terms("al2023@v20240625")),
        ),
        (
            "bottlerocket",
            class_with(|s| s.ami_selector_terms = alias_terms("bottlerocket@1.10.0")),
        ),
        (
            "bottlerocket v-pinned",
            class_with(|s| s.ami_selector_terms = alias_terms("bottlerocket@v1.10.0")),
        ),
        (
            "windows2025 latest",
            class_with(|s| s.ami_selector_terms = alias_terms("windows2025@latest")),
        ),
        (
            "alias with matching family",
            class_with(|s| {
                s.ami_selector_terms = alias_terms("al2@latest");
                s.ami_family = some("AL2");
            }),
        ),
        (
            "alias with Custom family",
            class_with(|s| {
                s.ami_selector_terms = alias_terms("bottlerocket@latest");
                s.ami_family = some("Custom");
            }),
        ),
        (
            "custom AMI by tags",
            class_with(|s| {
                s.ami_family = some("Custom");
                s.ami_selector_terms = Some(vec![AmiSelectorTerm {
                    tags: tags(&[("karpenter.sh/discovery", "my-cluster")]),
                    owner: some("123456789012"),
                    ..AmiSelectorTerm::default()
                }]);
                s.user_data = some("#!/bin/bash\n/etc/eks/bootstrap.sh my-cluster");
            }),
        ),
        (
            "instanceProfile instead of role",
            class_with(|s| {
                s.role = None;
                s.instance_profile = some("KarpenterNodeInstanceProfile");
            }),
        ),
        (
            "RAID0 and block devices",
            class_with(|s| {
                s.instance_store_policy = some("RAID0");
                s.block_device_mappings = Some(vec![
                    BlockDeviceMapping {
                        root_volume: Some(true),
                        ..ebs_mapping(sized("1Gi"))
                    },
                    ebs_mapping(sized("59000Gi")),
                    ebs_mapping(sized("64000G")),
                    ebs_mapping(sized("58Ti")),
                    ebs_mapping(sized("64T")),
                    // Upstream's pattern admits a bare unit, which Go's ParseQuantity reads as 0.
                    ebs_mapping(sized("Ti")),
                    ebs_mapping(BlockDevice {
                        snapshot_id: some("snap-0123"),
                        volume_initialization_rate: Some(300),
                        volume_type: some("io2"),
                        iops: Some(64000),
                        ..BlockDevice::default()
                    }),
                ]);
            }),
        ),
        (
            "EFA network interfaces",
            class_with(|s| {
                s.network_interfaces = Some(vec![
                    nic(0, 0, "interface"),
                    nic(0, 1, "efa-only"),
                    nic(1, 0, "efa-only"),
                    nic(2, 0, "interface"),
                    nic(2, 1, "efa-only"),
                ]);
            }),
        ),
        (
            "empty network interfaces",
            class_with(|s| s.network_interfaces = Some(vec![])),
        ),
        (
            "capacity reservation terms",
            class_with(|s| {
                s.capacity_reservation_selector_terms = Some(vec![
                    CapacityReservationSelectorTerm {
                        id: some("cr-12345749"),
                        ..Default::default()
                    },
                    CapacityReservationSelectorTerm {
                        tags: tags(&[("test", "testvalue")]),
                        owner_id: some("012345678901"),
                        ..Default::default()
                    },
                    CapacityReservationSelectorTerm {
                        instance_match_criteria: some("targeted"),
                        ..Default::default()
                    },
                ]);
            }),
        ),
        (
            "kubelet overrides",
            class_with(|s| {
                s.kubelet = kubelet_with(|k| {
                    k.max_pods = Some(0);
                    k.pods_per_core = Some(0);
                    k.cluster_dns = Some(vec!["10.0.0.10".into(), "10.0.0.11".into()]);
                    k.system_reserved = tags(&[
                        ("cpu", "2"),
                        ("memory", "20Gi"),
                        ("ephemeral-storage", "10Gi"),
                        ("pid", "1000"),
                    ]);
                    k.kube_reserved = tags(&[("cpu", "80m"), ("memory", "893Mi")]);
                    k.eviction_hard = tags(&[
                        ("memory.available", "100%"),
                        ("nodefs.available", "500Mi"),
                        ("pid.available", ""),
                    ]);
                    k.eviction_soft =
                        tags(&[("memory.available", "99.99%"), ("imagefs.inodesFree", "5%")]);
                    k.eviction_soft_grace_period =
                        tags(&[("memory.available", "1m30s"), ("imagefs.inodesFree", "-1h")]);
                    k.image_gc_high_threshold_percent = Some(100);
                    k.image_gc_low_threshold_percent = Some(0);
                    k.extra.insert("shutdownGracePeriod".into(), json!("30s"));
                    k.extra.insert(
                        "featureGates".into(),
                        json!({"InPlacePodVerticalScaling": true}),
                    );
                });
            }),
        ),
        (
            "placement group by id, connection tracking, cpu options",
            class_with(|s| {
                s.placement_group_selector = Some(PlacementGroupSelector {
                    id: some("pg-02465754522cda020"),
                    ..Default::default()
                });
                s.connection_tracking = Some(ConnectionTracking {
                    udp_timeout: Some(60),
                    ..Default::default()
                });
                s.cpu_options = Some(CpuOptions {
                    nested_virtualization: some("enabled"),
                    ..Default::default()
                });
                s.ip_prefix_count = Some(0);
            }),
        ),
        (
            "upstream accepts a mixed id term when not every term is mixed",
            class_with(|s| {
                s.subnet_selector_terms = Some(vec![
                    SubnetSelectorTerm {
                        id: some("subnet-1"),
                        tags: tags(&[("a", "b")]),
                        ..Default::default()
                    },
                    SubnetSelectorTerm {
                        tags: tags(&[("a", "b")]),
                        ..Default::default()
                    },
                ]);
            }),
        ),
        (
            "restricted-looking but allowed tags",
            class_with(|s| {
                s.tags = tags(&[
                    ("karpenter.sh/custom-key", "value"),
                    ("karpenter.sh/managed", "true"),
                    ("kubernetes.io/role/key", "value"),
                ]);
            }),
        ),
        (
            // CEL's has() is true for a present empty map; Go clients never send one.
            "selector term with an empty tags map",
            class_with(|s| {
                s.subnet_selector_terms = Some(vec![SubnetSelectorTerm {
                    tags: tags(&[]),
                    ..Default::default()
                }]);
            }),
        ),
        (
            "metadata options",
            class_with(|s| {
                s.metadata_options = Some(MetadataOptions {
                    http_endpoint: some("disabled"),
                    http_protocol_ipv6: some("enabled"),
                    http_put_response_hop_limit: Some(34),
                    http_tokens: some("optional"),
                    ..Default::default()
                });
            }),
        ),
    ];
    for (name, class) in &examples {
        assert_valid(name, class);
    }
}

#[test]
fn unknown_kubelet_fields_pass_but_other_unknown_fields_do_not() {
    // The kubelet's extra fields (upstream main's open map) are accepted; anything else the
    // v1.14.1 schema does not declare is refused as strict field validation refuses it, and
    // alone: the API server validates nothing else of such an object.
    assert_eq!(
        errors_of(&parse(FORWARD_YAML)),
        [
            (
                "spec.amiSelectorTerms[0].futureTermField".to_owned(),
                r#"unknown field "spec.amiSelectorTerms[0].futureTermField""#.to_owned()
            ),
            (
                "spec.futureSpecField".to_owned(),
                r#"unknown field "spec.futureSpecField""#.to_owned()
            ),
        ]
    );
    let mut with_cel_error = parse(FORWARD_YAML);
    with_cel_error.spec.instance_profile = some("profile");
    assert_eq!(errors_of(&with_cel_error).len(), 2);
}

#[test]
fn blocking_schema_errors_skip_every_cel_rule() {
    // Both role and instanceProfile (a CEL error) plus a bad enum (blocking): the server
    // reports only the schema error and that it did not run the rules.
    let class = class_with(|s| {
        s.instance_profile = some("profile");
        s.ami_family = some("Ubuntu");
    });
    assert_eq!(
        errors_of(&class),
        [
            ("spec.amiFamily".to_owned(), r#"Unsupported value: "Ubuntu": supported values: "AL2", "AL2023", "Bottlerocket", "Custom", "Windows2019", "Windows2022", "Windows2025""#.to_owned()),
            ("<nil>".to_owned(), "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".to_owned()),
        ]
    );
}

#[test]
fn non_blocking_schema_errors_keep_cel_rules() {
    let class = class_with(|s| {
        s.instance_profile = some("profile");
        s.ip_prefix_count = Some(-1);
    });
    assert_eq!(
        errors_of(&class),
        [
            ("spec.ipPrefixCount".to_owned(), "Invalid value: -1: spec.ipPrefixCount in body should be greater than or equal to 0".to_owned()),
            ("spec".to_owned(), r#"Invalid value: "object": must specify exactly one of ['role', 'instanceProfile']"#.to_owned()),
        ]
    );
}

#[test]
fn type_meta_and_unknown_fields_are_reported() {
    let mut class = class_with(|s| {
        s.extra.insert("subnetSelector".into(), json!({"a": "b"}));
    });
    class.api_version = "karpenter.k8s.aws/v1beta1".into();
    assert_eq!(
        errors_of(&class),
        [
            ("apiVersion".to_owned(), r#"Unsupported value: "karpenter.k8s.aws/v1beta1": supported values: "karpenter.k8s.aws/v1""#.to_owned()),
            ("spec.subnetSelector".to_owned(), r#"unknown field "spec.subnetSelector""#.to_owned()),
        ]
    );
}

#[test]
fn status_is_not_validated_and_input_is_not_changed() {
    let mut class = base();
    class.status = Some(EC2NodeClassStatus {
        capacity_reservations: Some(vec![CapacityReservation {
            id: "not-a-reservation".into(),
            instance_match_criteria: "whatever".into(),
            ..CapacityReservation::default()
        }]),
        ..EC2NodeClassStatus::default()
    });
    let before = class.clone();
    assert!(validate(&class).is_empty());
    assert_eq!(class, before, "validation works on a defaulted copy");
}

#[test]
fn validation_is_deterministic() {
    let class = class_with(|s| {
        s.tags = tags(&[
            ("", "x"),
            ("kubernetes.io/cluster/a", "owned"),
            ("eks:eks-cluster-name", "c"),
        ]);
        s.subnet_selector_terms = Some(vec![SubnetSelectorTerm::default(); 3]);
    });
    let first = validate(&class);
    assert_eq!(first.len(), 4);
    for _ in 0..5 {
        assert_eq!(validate(&class), first);
    }
}
