//! EC2NodeClass hash tests (spec aws §13 items 13, 106, 117).

use std::collections::BTreeMap;

use super::*;
use crate::ec2nodeclass::{
    AmiSelectorTerm, EC2NodeClassSpec, SecurityGroupSelectorTerm, SubnetSelectorTerm,
};

fn class() -> EC2NodeClass {
    let spec = EC2NodeClassSpec {
        role: Some("KarpenterNodeRole".into()),
        ami_selector_terms: Some(vec![AmiSelectorTerm {
            alias: Some("al2023@latest".into()),
            ..AmiSelectorTerm::default()
        }]),
        subnet_selector_terms: Some(vec![SubnetSelectorTerm {
            id: Some("subnet-1".into()),
            ..SubnetSelectorTerm::default()
        }]),
        security_group_selector_terms: Some(vec![SecurityGroupSelectorTerm {
            id: Some("sg-1".into()),
            ..SecurityGroupSelectorTerm::default()
        }]),
        tags: Some(BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "2".into()),
        ])),
        block_device_mappings: Some(vec![bdm("/dev/xvda", "20Gi"), bdm("/dev/xvdb", "100Gi")]),
        ..EC2NodeClassSpec::default()
    };
    EC2NodeClass::new("default", spec).with_defaults()
}

fn bdm(device: &str, size: &str) -> BlockDeviceMapping {
    BlockDeviceMapping {
        device_name: Some(device.into()),
        ebs: Some(BlockDevice {
            volume_size: Some(size.into()),
            volume_type: Some("gp3".into()),
            ..BlockDevice::default()
        }),
        ..BlockDeviceMapping::default()
    }
}

/// A named edit of the spec.
type SpecChange = fn(&mut EC2NodeClassSpec);

#[test]
fn item_106_each_static_field_changes_the_hash() {
    let base = class().hash(None);
    let changes: Vec<(&str, SpecChange)> = vec![
        ("userData", |s| s.user_data = Some("#!/bin/bash".into())),
        ("tags", |s| {
            s.tags.as_mut().unwrap().insert("c".into(), "3".into());
        }),
        ("context", |s| s.context = Some("ctx".into())),
        ("detailedMonitoring", |s| s.detailed_monitoring = Some(true)),
        ("instanceStorePolicy", |s| {
            s.instance_store_policy = Some("RAID0".into())
        }),
        ("associatePublicIPAddress", |s| {
            s.associate_public_ip_address = Some(true)
        }),
        ("metadataOptions.httpTokens", |s| {
            s.metadata_options.as_mut().unwrap().http_tokens = Some("optional".into());
        }),
        ("metadataOptions.hopLimit", |s| {
            s.metadata_options
                .as_mut()
                .unwrap()
                .http_put_response_hop_limit = Some(2);
        }),
        ("blockDeviceMappings.volumeSize", |s| {
            s.block_device_mappings.as_mut().unwrap()[0] = bdm("/dev/xvda", "30Gi");
        }),
        ("blockDeviceMappings.encrypted", |s| {
            let ebs = s.block_device_mappings.as_mut().unwrap()[0]
                .ebs
                .as_mut()
                .unwrap();
            ebs.encrypted = Some(true);
        }),
        ("role", |s| s.role = Some("OtherRole".into())),
        ("instanceProfile", |s| {
            s.role = None;
            s.instance_profile = Some("profile".into());
        }),
        ("kubelet.maxPods", |s| {
            s.kubelet = Some(KubeletConfiguration {
                max_pods: Some(50),
                ..KubeletConfiguration::default()
            });
        }),
        ("cpuOptions", |s| {
            s.cpu_options = Some(CpuOptions {
                nested_virtualization: Some("enabled".into()),
                ..CpuOptions::default()
            });
        }),
        ("placementGroupSelector", |s| {
            s.placement_group_selector = Some(PlacementGroupSelector {
                name: Some("pg".into()),
                ..PlacementGroupSelector::default()
            });
        }),
    ];
    for (field, change) in changes {
        let mut changed = class();
        change(&mut changed.spec);
        assert_ne!(changed.hash(None), base, "{field} must change the hash");
    }
}

#[test]
fn item_13_selectors_ip_prefix_count_and_order_do_not_change_the_hash() {
    let base = class().hash(None);
    let mut changed = class();
    changed.spec.subnet_selector_terms = Some(vec![SubnetSelectorTerm {
        tags: Some(BTreeMap::from([("k".into(), "*".into())])),
        ..SubnetSelectorTerm::default()
    }]);
    changed.spec.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm {
        name: Some("nodes".into()),
        ..SecurityGroupSelectorTerm::default()
    }]);
    changed.spec.ami_selector_terms = Some(vec![AmiSelectorTerm {
        alias: Some("al2023@v20240625".into()),
        ..AmiSelectorTerm::default()
    }]);
    changed.spec.ip_prefix_count = Some(3);
    changed
        .spec
        .block_device_mappings
        .as_mut()
        .unwrap()
        .reverse();
    assert_eq!(changed.hash(None), base);
}

#[test]
fn item_13_ami_family_equal_to_the_alias_family_does_not_drift_but_custom_does() {
    let base = class().hash(None);
    let mut same = class();
    same.spec.ami_family = Some("AL2023".into());
    assert_eq!(same.hash(None), base);
    let mut custom = class();
    custom.spec.ami_family = Some("Custom".into());
    assert_ne!(custom.hash(None), base);
}

#[test]
fn item_117_ca_bundle_is_part_of_the_hash() {
    let class = class();
    assert_ne!(class.hash(Some("Y2E=")), class.hash(None));
    assert_eq!(class.hash(Some("Y2E=")), class.hash(Some("Y2E=")));
}

#[test]
fn item_13_kubelet_permutations_do_not_collide() {
    let kubelet = |reserved: &[(&str, &str)]| {
        let mut c = class();
        c.spec.kubelet = Some(KubeletConfiguration {
            system_reserved: Some(
                reserved
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..KubeletConfiguration::default()
        });
        c.hash(None)
    };
    assert_ne!(
        kubelet(&[("cpu", "100m"), ("memory", "1Gi")]),
        kubelet(&[("cpu", "1Gi"), ("memory", "100m")])
    );
}

#[test]
fn item_106_static_drift_needs_both_annotations_and_equal_versions() {
    let stamped = |hash: &str, version: &str| {
        BTreeMap::from([
            (EC2NODECLASS_HASH.to_owned(), hash.to_owned()),
            (EC2NODECLASS_HASH_VERSION_KEY.to_owned(), version.to_owned()),
        ])
    };
    let class = stamped("1", EC2NODECLASS_HASH_VERSION);
    assert!(is_static_drifted(
        &class,
        &stamped("2", EC2NODECLASS_HASH_VERSION)
    ));
    assert!(!is_static_drifted(
        &class,
        &stamped("1", EC2NODECLASS_HASH_VERSION)
    ));
    assert!(!is_static_drifted(
        &class,
        &stamped("2", UPSTREAM_EC2NODECLASS_HASH_VERSION)
    ));
    let mut missing = stamped("2", EC2NODECLASS_HASH_VERSION);
    missing.remove(EC2NODECLASS_HASH_VERSION_KEY);
    assert!(!is_static_drifted(&class, &missing));
    assert!(!is_static_drifted(
        &BTreeMap::new(),
        &stamped("2", EC2NODECLASS_HASH_VERSION)
    ));
}

#[test]
fn item_117_version_bump_restamps_nodeclaims_except_drifted_ones() {
    let mut upstream = class();
    upstream.metadata.annotations = Some(BTreeMap::from([(
        EC2NODECLASS_HASH_VERSION_KEY.to_owned(),
        UPSTREAM_EC2NODECLASS_HASH_VERSION.to_owned(),
    )]));
    assert!(upstream.needs_nodeclaim_restamp());
    let hash = upstream.hash(None);
    let old = || {
        BTreeMap::from([
            (EC2NODECLASS_HASH.to_owned(), "7".to_owned()),
            (
                EC2NODECLASS_HASH_VERSION_KEY.to_owned(),
                UPSTREAM_EC2NODECLASS_HASH_VERSION.to_owned(),
            ),
        ])
    };
    let mut healthy = old();
    assert!(restamp_nodeclaim(&mut healthy, &hash, false));
    assert_eq!(healthy[EC2NODECLASS_HASH], hash);
    let mut drifted = old();
    assert!(restamp_nodeclaim(&mut drifted, &hash, true));
    assert_eq!(drifted[EC2NODECLASS_HASH], "7");
    assert_eq!(
        drifted[EC2NODECLASS_HASH_VERSION_KEY],
        EC2NODECLASS_HASH_VERSION
    );
    assert!(!restamp_nodeclaim(&mut healthy, "8", false));
}
