//! Cases for spec aws §13 items 7–11 and 14 (metadata options, block devices, network
//! interfaces, connection tracking, CPU options, kubelet) and the remaining spec fields.

use serde_json::json;

use super::super::crd;
use super::super::*;
use super::tests::*;
use super::tests_cases::{Case, NOT_CHECKED, SIGNALS, case, case_owned, pattern_error};

fn options(
    mutate: impl Fn(&mut MetadataOptions) + 'static,
) -> impl Fn(&mut EC2NodeClassSpec) + 'static {
    move |s| {
        let mut options = MetadataOptions::default();
        mutate(&mut options);
        s.metadata_options = Some(options);
    }
}

fn metadata_option_cases() -> Vec<Case> {
    let enabled = r#"supported values: "enabled", "disabled""#;
    vec![
        case_owned(
            "7: httpEndpoint enum",
            options(|o| o.http_endpoint = some("test")),
            vec![
                (
                    "spec.metadataOptions.httpEndpoint",
                    format!(r#"Unsupported value: "test": {enabled}"#),
                ),
                ("<nil>", NOT_CHECKED.into()),
            ],
        ),
        case_owned(
            "7: httpProtocolIPv6 enum",
            options(|o| o.http_protocol_ipv6 = some("test")),
            vec![
                (
                    "spec.metadataOptions.httpProtocolIPv6",
                    format!(r#"Unsupported value: "test": {enabled}"#),
                ),
                ("<nil>", NOT_CHECKED.into()),
            ],
        ),
        case(
            "7: httpTokens enum",
            options(|o| o.http_tokens = some("test")),
            &[
                (
                    "spec.metadataOptions.httpTokens",
                    r#"Unsupported value: "test": supported values: "required", "optional""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "7: hop limit above 64",
            options(|o| o.http_put_response_hop_limit = Some(65)),
            &[(
                "spec.metadataOptions.httpPutResponseHopLimit",
                "Invalid value: 65: spec.metadataOptions.httpPutResponseHopLimit in body should be less than or equal to 64",
            )],
        ),
        case(
            "7: hop limit below 1",
            options(|o| o.http_put_response_hop_limit = Some(0)),
            &[(
                "spec.metadataOptions.httpPutResponseHopLimit",
                "Invalid value: 0: spec.metadataOptions.httpPutResponseHopLimit in body should be greater than or equal to 1",
            )],
        ),
    ]
}

fn mappings(list: Vec<BlockDeviceMapping>) -> impl Fn(&mut EC2NodeClassSpec) + 'static {
    move |s| s.block_device_mappings = Some(list.clone())
}

fn block_device_cases() -> Vec<Case> {
    let size_path = "spec.blockDeviceMappings[0].ebs.volumeSize";
    let bad_size = |size: &'static str| {
        case_owned(
            "8: volumeSize out of range",
            mappings(vec![ebs_mapping(sized(size))]),
            vec![pattern_error(size_path, size, crd::VOLUME_SIZE)],
        )
    };
    let snapshot_rate = |snapshot: Option<&str>, rate: i64| BlockDevice {
        snapshot_id: snapshot.map(str::to_owned),
        volume_size: some("20Gi"),
        volume_initialization_rate: Some(rate),
        ..BlockDevice::default()
    };
    let root = || BlockDeviceMapping {
        root_volume: Some(true),
        ..ebs_mapping(sized("20Gi"))
    };
    vec![
        case(
            "8: two root volumes",
            mappings(vec![root(), root()]),
            &[(
                "spec.blockDeviceMappings",
                "must have only one blockDeviceMappings with rootVolume",
            )],
        ),
        case(
            "8: ebs without snapshot or size",
            mappings(vec![ebs_mapping(BlockDevice {
                volume_type: some("gp3"),
                ..BlockDevice::default()
            })]),
            &[(
                "spec.blockDeviceMappings[0].ebs",
                "snapshotID or volumeSize must be defined",
            )],
        ),
        bad_size("0Gi"),
        bad_size("59001Gi"),
        bad_size("64001G"),
        bad_size("65T"),
        bad_size("18Ti"),
        bad_size("20"),
        case(
            "8: initialization rate without snapshot",
            mappings(vec![ebs_mapping(snapshot_rate(None, 200))]),
            &[(
                "spec.blockDeviceMappings[0].ebs",
                "snapshotID must be set when volumeInitializationRate is set",
            )],
        ),
        case(
            "8: initialization rate with empty snapshot",
            mappings(vec![ebs_mapping(snapshot_rate(Some(""), 200))]),
            &[(
                "spec.blockDeviceMappings[0].ebs",
                "snapshotID must be set when volumeInitializationRate is set",
            )],
        ),
        case(
            "8: initialization rate below 100",
            mappings(vec![ebs_mapping(snapshot_rate(Some("snap-1"), 99))]),
            &[(
                "spec.blockDeviceMappings[0].ebs.volumeInitializationRate",
                "Invalid value: 99: spec.blockDeviceMappings[0].ebs.volumeInitializationRate in body should be greater than or equal to 100",
            )],
        ),
        case(
            "8: initialization rate above 300",
            mappings(vec![ebs_mapping(snapshot_rate(Some("snap-1"), 301))]),
            &[(
                "spec.blockDeviceMappings[0].ebs.volumeInitializationRate",
                "Invalid value: 301: spec.blockDeviceMappings[0].ebs.volumeInitializationRate in body should be less than or equal to 300",
            )],
        ),
        case(
            "8: volumeType enum",
            mappings(vec![ebs_mapping(BlockDevice {
                volume_type: some("gp9"),
                ..sized("20Gi")
            })]),
            &[
                (
                    "spec.blockDeviceMappings[0].ebs.volumeType",
                    r#"Unsupported value: "gp9": supported values: "standard", "io1", "io2", "gp2", "sc1", "st1", "gp3""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "8: more than 50 mappings",
            mappings(vec![ebs_mapping(sized("20Gi")); 51]),
            &[
                (
                    "spec.blockDeviceMappings",
                    "Too many: 51: must have at most 50 items",
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
    ]
}

fn interfaces(list: Vec<NetworkInterface>) -> impl Fn(&mut EC2NodeClassSpec) + 'static {
    move |s| s.network_interfaces = Some(list.clone())
}

fn network_cases() -> Vec<Case> {
    let primary =
        "networkInterfaces must include a primary interface with interfaceType='interface'";
    let unique = "networkInterfaces must not have duplicate networkCardIndex and deviceIndex pairs, and can have at most one efa device per network card";
    let tracking = |mutate: fn(&mut ConnectionTracking)| {
        move |s: &mut EC2NodeClassSpec| {
            let mut tracking = ConnectionTracking::default();
            mutate(&mut tracking);
            s.connection_tracking = Some(tracking);
        }
    };
    let range = |field: &'static str, value: i64, relation: &str, bound: i64| {
        let path = match field {
            "tcpEstablishedTimeout" => "spec.connectionTracking.tcpEstablishedTimeout",
            "udpStreamTimeout" => "spec.connectionTracking.udpStreamTimeout",
            _ => "spec.connectionTracking.udpTimeout",
        };
        (
            path,
            format!("Invalid value: {value}: {path} in body should be {relation} {bound}"),
        )
    };
    vec![
        case(
            "9: invalid interfaceType",
            interfaces(vec![nic(0, 0, "efa")]),
            &[
                (
                    "spec.networkInterfaces[0].interfaceType",
                    r#"Unsupported value: "efa": supported values: "interface", "efa-only""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "9: negative device index",
            interfaces(vec![nic(0, 0, "interface"), nic(1, -1, "efa-only")]),
            &[(
                "spec.networkInterfaces[1].deviceIndex",
                "Invalid value: -1: spec.networkInterfaces[1].deviceIndex in body should be greater than or equal to 0",
            )],
        ),
        case(
            "9: negative card index (so no primary either)",
            interfaces(vec![nic(-1, 0, "interface")]),
            &[
                (
                    "spec.networkInterfaces[0].networkCardIndex",
                    "Invalid value: -1: spec.networkInterfaces[0].networkCardIndex in body should be greater than or equal to 0",
                ),
                ("spec.networkInterfaces", primary),
            ],
        ),
        case(
            "9: duplicate card/device pair",
            interfaces(vec![nic(0, 0, "interface"), nic(0, 0, "efa-only")]),
            &[("spec.networkInterfaces", unique)],
        ),
        case(
            "9: missing primary",
            interfaces(vec![nic(1, 0, "interface")]),
            &[("spec.networkInterfaces", primary)],
        ),
        case(
            "9: non-ENA primary",
            interfaces(vec![nic(0, 0, "efa-only")]),
            &[("spec.networkInterfaces", primary)],
        ),
        case(
            "9: two EFA-only interfaces on one card",
            interfaces(vec![
                nic(0, 0, "interface"),
                nic(1, 0, "efa-only"),
                nic(1, 1, "efa-only"),
            ]),
            &[("spec.networkInterfaces", unique)],
        ),
        case(
            "9: interface without networkCardIndex",
            interfaces(vec![NetworkInterface {
                network_card_index: None,
                ..nic(0, 0, "interface")
            }]),
            &[
                (
                    "spec.networkInterfaces[0].networkCardIndex",
                    "Required value",
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "10: connectionTracking without fields",
            tracking(|_| {}),
            &[(
                "spec.connectionTracking",
                "at least one of tcpEstablishedTimeout, udpStreamTimeout, or udpTimeout must be set",
            )],
        ),
        case_owned(
            "10: tcp below 60",
            tracking(|t| t.tcp_established_timeout = Some(59)),
            vec![range(
                "tcpEstablishedTimeout",
                59,
                "greater than or equal to",
                60,
            )],
        ),
        case_owned(
            "10: tcp above 432000",
            tracking(|t| t.tcp_established_timeout = Some(432_001)),
            vec![range(
                "tcpEstablishedTimeout",
                432_001,
                "less than or equal to",
                432_000,
            )],
        ),
        case_owned(
            "10: udp stream below 60",
            tracking(|t| t.udp_stream_timeout = Some(59)),
            vec![range(
                "udpStreamTimeout",
                59,
                "greater than or equal to",
                60,
            )],
        ),
        case_owned(
            "10: udp stream above 180",
            tracking(|t| t.udp_stream_timeout = Some(181)),
            vec![range("udpStreamTimeout", 181, "less than or equal to", 180)],
        ),
        case_owned(
            "10: udp below 30",
            tracking(|t| t.udp_timeout = Some(29)),
            vec![range("udpTimeout", 29, "greater than or equal to", 30)],
        ),
        case_owned(
            "10: udp above 60",
            tracking(|t| t.udp_timeout = Some(61)),
            vec![range("udpTimeout", 61, "less than or equal to", 60)],
        ),
        case(
            "11: nestedVirtualization enum",
            |s| {
                s.cpu_options = Some(CpuOptions {
                    nested_virtualization: some("maybe"),
                    ..CpuOptions::default()
                })
            },
            &[
                (
                    "spec.cpuOptions.nestedVirtualization",
                    r#"Unsupported value: "maybe": supported values: "enabled", "disabled""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
    ]
}

fn kubelet(mutate: fn(&mut KubeletConfiguration)) -> impl Fn(&mut EC2NodeClassSpec) + 'static {
    move |s| s.kubelet = kubelet_with(mutate)
}

fn kubelet_cases() -> Vec<Case> {
    let hard_value = |value: &'static str| {
        case_owned(
            "14: bad evictionHard value",
            move |s| {
                s.kubelet = kubelet_with(|k| k.eviction_hard = tags(&[("memory.available", value)]))
            },
            vec![pattern_error(
                "spec.kubelet.evictionHard.memory.available",
                value,
                crd::EVICTION_THRESHOLD,
            )],
        )
    };
    let gc = "imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent";
    let soft_unmatched = "evictionSoft OwnerKey does not have a matching evictionSoftGracePeriod";
    let grace_unmatched = "evictionSoftGracePeriod OwnerKey does not have a matching evictionSoft";
    vec![
        case_owned(
            "14: bad eviction signal",
            kubelet(|k| k.eviction_hard = tags(&[("memory", "5%")])),
            vec![("spec.kubelet.evictionHard", format!("valid keys for evictionHard are {SIGNALS}"))],
        ),
        hard_value("5%3"),
        hard_value("110%"),
        hard_value("110GB"),
        case_owned(
            "14: bad evictionSoft signal",
            kubelet(|k| {
                k.eviction_soft = tags(&[("memory", "5%")]);
                k.eviction_soft_grace_period = tags(&[("memory", "1m")]);
            }),
            vec![
                ("spec.kubelet.evictionSoft", format!("valid keys for evictionSoft are {SIGNALS}")),
                ("spec.kubelet.evictionSoftGracePeriod", format!("valid keys for evictionSoftGracePeriod are {SIGNALS}")),
            ],
        ),
        case(
            "14: evictionSoft without grace periods (CEL no such key)",
            kubelet(|k| k.eviction_soft = tags(&[("memory.available", "200Mi")])),
            &[("spec.kubelet", r#"no such key: evictionSoftGracePeriod evaluating rule: evictionSoft OwnerKey does not have a matching evictionSoftGracePeriod"#)],
        ),
        case_owned(
            "14: grace period with a bad key and no evictionSoft",
            kubelet(|k| k.eviction_soft_grace_period = tags(&[("memory", "1m")])),
            vec![
                ("spec.kubelet", r#"no such key: evictionSoft evaluating rule: evictionSoftGracePeriod OwnerKey does not have a matching evictionSoft"#.to_owned()),
                ("spec.kubelet.evictionSoftGracePeriod", format!("valid keys for evictionSoftGracePeriod are {SIGNALS}")),
            ],
        ),
        case(
            "14: unmatched soft and grace keys",
            kubelet(|k| {
                k.eviction_soft = tags(&[("memory.available", "5%")]);
                k.eviction_soft_grace_period = tags(&[("nodefs.available", "1m")]);
            }),
            &[("spec.kubelet", soft_unmatched), ("spec.kubelet", grace_unmatched)],
        ),
        case(
            "14: grace period is not a Go duration",
            kubelet(|k| {
                k.eviction_soft = tags(&[("memory.available", "5%")]);
                k.eviction_soft_grace_period = tags(&[("memory.available", "1 minute")]);
            }),
            &[("spec.kubelet.evictionSoftGracePeriod[memory.available]", r#"Invalid value: "1 minute": time: unknown unit " minute" in duration "1 minute""#)],
        ),
        case("14: GC high below low", kubelet(|k| {
            k.image_gc_high_threshold_percent = Some(50);
            k.image_gc_low_threshold_percent = Some(60);
        }), &[("spec.kubelet", gc)]),
        case("14: GC high equal to low", kubelet(|k| {
            k.image_gc_high_threshold_percent = Some(50);
            k.image_gc_low_threshold_percent = Some(50);
        }), &[("spec.kubelet", gc)]),
        case(
            "14: GC percent above 100",
            kubelet(|k| k.image_gc_high_threshold_percent = Some(101)),
            &[("spec.kubelet.imageGCHighThresholdPercent", "Invalid value: 101: spec.kubelet.imageGCHighThresholdPercent in body should be less than or equal to 100")],
        ),
        case(
            "14: GC percent below 0",
            kubelet(|k| k.image_gc_low_threshold_percent = Some(-1)),
            &[("spec.kubelet.imageGCLowThresholdPercent", "Invalid value: -1: spec.kubelet.imageGCLowThresholdPercent in body should be greater than or equal to 0")],
        ),
        case(
            "14: kubeReserved key",
            kubelet(|k| k.kube_reserved = tags(&[("pods", "2")])),
            &[("spec.kubelet.kubeReserved", "valid keys for kubeReserved are ['cpu','memory','ephemeral-storage','pid']")],
        ),
        case(
            "14: negative kubeReserved",
            kubelet(|k| k.kube_reserved = tags(&[("cpu", "-1")])),
            &[("spec.kubelet.kubeReserved", "kubeReserved value cannot be a negative resource quantity")],
        ),
        case(
            "14: systemReserved key and negative value",
            kubelet(|k| k.system_reserved = tags(&[("pods", "-2")])),
            &[
                ("spec.kubelet.systemReserved", "valid keys for systemReserved are ['cpu','memory','ephemeral-storage','pid']"),
                ("spec.kubelet.systemReserved", "systemReserved value cannot be a negative resource quantity"),
            ],
        ),
        case_owned(
            "14: systemReserved not a quantity",
            kubelet(|k| k.system_reserved = tags(&[("memory", "1GB")])),
            vec![pattern_error("spec.kubelet.systemReserved.memory", "1GB", crate::common::schema::QUANTITY_PATTERN)],
        ),
        case(
            "14: negative maxPods",
            kubelet(|k| k.max_pods = Some(-1)),
            &[("spec.kubelet.maxPods", "Invalid value: -1: spec.kubelet.maxPods in body should be greater than or equal to 0")],
        ),
        case(
            "14: negative podsPerCore",
            kubelet(|k| k.pods_per_core = Some(-1)),
            &[("spec.kubelet.podsPerCore", "Invalid value: -1: spec.kubelet.podsPerCore in body should be greater than or equal to 0")],
        ),
    ]
}

fn other_field_cases() -> Vec<Case> {
    let placement = |name: Option<&'static str>, id: Option<&'static str>| {
        move |s: &mut EC2NodeClassSpec| {
            s.placement_group_selector = Some(PlacementGroupSelector {
                name: name.map(str::to_owned),
                id: id.map(str::to_owned),
                ..PlacementGroupSelector::default()
            });
        }
    };
    vec![
        case(
            "placement group without fields",
            placement(None, None),
            &[(
                "spec.placementGroupSelector",
                "expected at least one, got none, ['name', 'id']",
            )],
        ),
        case(
            "placement group name and id",
            placement(Some("pg"), Some("pg-1")),
            &[(
                "spec.placementGroupSelector",
                "'name' and 'id' are mutually exclusive",
            )],
        ),
        case_owned(
            "placement group id pattern",
            placement(None, Some("pg-ABC")),
            vec![pattern_error(
                "spec.placementGroupSelector.id",
                "pg-ABC",
                crd::PLACEMENT_GROUP_ID,
            )],
        ),
        case(
            "placement group empty name",
            placement(Some(""), None),
            &[(
                "spec.placementGroupSelector.name",
                r#"Invalid value: "": spec.placementGroupSelector.name in body should be at least 1 chars long"#,
            )],
        ),
        case(
            "instanceStorePolicy enum",
            |s| s.instance_store_policy = some("RAID1"),
            &[
                (
                    "spec.instanceStorePolicy",
                    r#"Unsupported value: "RAID1": supported values: "RAID0""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "negative ipPrefixCount",
            |s| s.ip_prefix_count = Some(-1),
            &[(
                "spec.ipPrefixCount",
                "Invalid value: -1: spec.ipPrefixCount in body should be greater than or equal to 0",
            )],
        ),
        case(
            "unknown fields outside kubelet",
            |s| {
                s.extra.insert("amiSelector".into(), json!({"id": "ami-1"}));
                s.metadata_options = Some(MetadataOptions {
                    extra: [("httpToken".to_owned(), json!("required"))].into(),
                    ..MetadataOptions::default()
                });
            },
            &[
                ("spec.amiSelector", r#"unknown field "spec.amiSelector""#),
                (
                    "spec.metadataOptions.httpToken",
                    r#"unknown field "spec.metadataOptions.httpToken""#,
                ),
            ],
        ),
    ]
}

/// The launch-related cases of the table.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = metadata_option_cases();
    cases.extend(block_device_cases());
    cases.extend(network_cases());
    cases.extend(kubelet_cases());
    cases.extend(other_field_cases());
    cases
}
