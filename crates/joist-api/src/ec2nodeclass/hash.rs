//! The EC2NodeClass drift hash (spec aws §1.2, §7 "Static (`NodeClassDrift`)"):
//! `karpenter.k8s.aws/ec2nodeclass-hash` and its version
//! `karpenter.k8s.aws/ec2nodeclass-hash-version`.
//!
//! Hashed, as upstream v1.14.1 (hash version `v5`): the whole spec except the subnet, security
//! group, capacity reservation and AMI selector terms, `ipPrefixCount` and the literal
//! `amiFamily` (all tagged `hash:"ignore"`), plus the resolved AMI family (the explicit
//! `amiFamily`, else the alias family, so adding an `amiFamily` equal to the alias's family does
//! not drift) and the cluster CA bundle. Slices are sets, zero values and absent fields hash
//! alike, `volumeSize` is hashed as written. Selector changes are dynamic drift (AMI, subnet,
//! security group), not hash drift.
//!
//! As for NodePools (`nodepool::hash`), joist's value differs from upstream's, so joist writes
//! its own [`EC2NODECLASS_HASH_VERSION`]; a version mismatch suppresses static drift and makes
//! the hash controller re-stamp NodeClaims ([`restamp_nodeclaim`]) instead of drifting them.

use std::collections::BTreeMap;

use super::launch::{
    BlockDevice, BlockDeviceMapping, ConnectionTracking, CpuOptions, MetadataOptions,
    NetworkInterface, PlacementGroupSelector,
};
use super::{EC2NodeClass, KubeletConfiguration};
use crate::common::structhash::{HashValue, StructBuilder};
use crate::nodepool::hash::duration_value;

/// The hash annotation on EC2NodeClasses and the NodeClaims launched from them.
pub const EC2NODECLASS_HASH: &str = "karpenter.k8s.aws/ec2nodeclass-hash";
/// The hash-version annotation next to [`EC2NODECLASS_HASH`].
pub const EC2NODECLASS_HASH_VERSION_KEY: &str = "karpenter.k8s.aws/ec2nodeclass-hash-version";
/// The hash-version joist writes: upstream v1.14.1's `v5` field set, joist's encoding.
pub const EC2NODECLASS_HASH_VERSION: &str = "v5-joist1";
/// The hash-version upstream v1.14.1 writes (`v6` on upstream main).
pub const UPSTREAM_EC2NODECLASS_HASH_VERSION: &str = "v5";
/// The drift reason of a hash mismatch.
pub const NODECLASS_DRIFT: &str = "NodeClassDrift";

// === impl EC2NodeClass ===

impl EC2NodeClass {
    /// The `karpenter.k8s.aws/ec2nodeclass-hash` value (decimal) of this class for a cluster
    /// whose CA bundle is `ca_bundle` (part of the hash: a new CA re-rolls nodes).
    pub fn hash(&self, ca_bundle: Option<&str>) -> String {
        let spec = &self.spec;
        let ami_family = spec
            .ami_family
            .clone()
            .or_else(|| spec.resolved_ami_family().map(|f| f.as_str().to_owned()));
        let spec_value = StructBuilder::new()
            .bool("AssociatePublicIPAddress", spec.associate_public_ip_address)
            .str("UserData", spec.user_data.as_deref())
            .str("Role", spec.role.as_deref())
            .str("InstanceProfile", spec.instance_profile.as_deref())
            .map("Tags", spec.tags.as_ref())
            .field("Kubelet", spec.kubelet.as_ref().map(kubelet_value))
            .set(
                "BlockDeviceMappings",
                spec.block_device_mappings.as_deref(),
                block_device_mapping_value,
            )
            .str("InstanceStorePolicy", spec.instance_store_policy.as_deref())
            .bool("DetailedMonitoring", spec.detailed_monitoring)
            .field(
                "MetadataOptions",
                spec.metadata_options.as_ref().map(metadata_value),
            )
            .set(
                "NetworkInterfaces",
                spec.network_interfaces.as_deref(),
                network_interface_value,
            )
            .field(
                "ConnectionTracking",
                spec.connection_tracking
                    .as_ref()
                    .map(connection_tracking_value),
            )
            .field(
                "PlacementGroupSelector",
                spec.placement_group_selector
                    .as_ref()
                    .map(placement_group_value),
            )
            .str("Context", spec.context.as_deref())
            .field(
                "CPUOptions",
                spec.cpu_options.as_ref().map(cpu_options_value),
            )
            .build();
        StructBuilder::new()
            .field("Spec", Some(spec_value))
            .str("AMIFamily", ami_family.as_deref())
            .str("CABundle", ca_bundle)
            .build()
            .digest()
    }

    /// The two annotations the hash controller keeps on the class (and that NodeClaims copy at
    /// launch).
    pub fn hash_annotations(&self, ca_bundle: Option<&str>) -> [(&'static str, String); 2] {
        [
            (EC2NODECLASS_HASH, self.hash(ca_bundle)),
            (
                EC2NODECLASS_HASH_VERSION_KEY,
                EC2NODECLASS_HASH_VERSION.to_owned(),
            ),
        ]
    }

    /// Whether the class's hash-version annotation is not current, so NodeClaims must be
    /// re-stamped before the new annotations are written.
    pub fn needs_nodeclaim_restamp(&self) -> bool {
        let annotations = self.metadata.annotations.as_ref();
        annotations
            .and_then(|a| a.get(EC2NODECLASS_HASH_VERSION_KEY))
            .map(String::as_str)
            != Some(EC2NODECLASS_HASH_VERSION)
    }
}

/// Static NodeClass drift (spec aws §7 step 1): both objects carry both annotations, the versions
/// are equal and the hashes differ. Anything missing or a version mismatch is "not drifted".
pub fn is_static_drifted(
    nodeclass_annotations: &BTreeMap<String, String>,
    nodeclaim_annotations: &BTreeMap<String, String>,
) -> bool {
    let pair = |a: &BTreeMap<String, String>| {
        Some((
            a.get(EC2NODECLASS_HASH)?.clone(),
            a.get(EC2NODECLASS_HASH_VERSION_KEY)?.clone(),
        ))
    };
    match (pair(nodeclass_annotations), pair(nodeclaim_annotations)) {
        (Some((class_hash, class_version)), Some((claim_hash, claim_version))) => {
            class_version == claim_version && class_hash != claim_hash
        }
        _ => false,
    }
}

/// The hash controller's NodeClaim update after a version change: a NodeClaim with another
/// version gets the current version and, unless it already has a `Drifted` condition, the
/// class's current hash. Returns whether the annotations changed.
pub fn restamp_nodeclaim(
    nodeclaim_annotations: &mut BTreeMap<String, String>,
    nodeclass_hash: &str,
    has_drifted_condition: bool,
) -> bool {
    if nodeclaim_annotations
        .get(EC2NODECLASS_HASH_VERSION_KEY)
        .is_some_and(|v| v == EC2NODECLASS_HASH_VERSION)
    {
        return false;
    }
    nodeclaim_annotations.insert(
        EC2NODECLASS_HASH_VERSION_KEY.into(),
        EC2NODECLASS_HASH_VERSION.into(),
    );
    if !has_drifted_condition {
        nodeclaim_annotations.insert(EC2NODECLASS_HASH.into(), nodeclass_hash.into());
    }
    true
}

fn kubelet_value(kubelet: &KubeletConfiguration) -> HashValue {
    let grace_periods = kubelet.eviction_soft_grace_period.as_ref().map(|periods| {
        // Durations by value (metav1.Duration upstream), so "1m" equals "60s".
        let by_value: BTreeMap<String, String> = periods
            .iter()
            .map(|(signal, text)| {
                let value = match duration_value(text) {
                    HashValue::Int(nanos) => nanos.to_string(),
                    _ => text.clone(),
                };
                (signal.clone(), value)
            })
            .collect();
        HashValue::Map(by_value)
    });
    StructBuilder::new()
        .set("ClusterDNS", kubelet.cluster_dns.as_deref(), |ip| {
            HashValue::Str(ip.clone())
        })
        .int("MaxPods", kubelet.max_pods)
        .int("PodsPerCore", kubelet.pods_per_core)
        .map("SystemReserved", kubelet.system_reserved.as_ref())
        .map("KubeReserved", kubelet.kube_reserved.as_ref())
        .map("EvictionHard", kubelet.eviction_hard.as_ref())
        .map("EvictionSoft", kubelet.eviction_soft.as_ref())
        .field("EvictionSoftGracePeriod", grace_periods)
        .int(
            "EvictionMaxPodGracePeriod",
            kubelet.eviction_max_pod_grace_period,
        )
        .int(
            "ImageGCHighThresholdPercent",
            kubelet.image_gc_high_threshold_percent,
        )
        .int(
            "ImageGCLowThresholdPercent",
            kubelet.image_gc_low_threshold_percent,
        )
        .bool("CPUCFSQuota", kubelet.cpu_cfs_quota)
        .build()
}

fn block_device_mapping_value(mapping: &BlockDeviceMapping) -> HashValue {
    StructBuilder::new()
        .str("DeviceName", mapping.device_name.as_deref())
        .field("EBS", mapping.ebs.as_ref().map(block_device_value))
        .bool("RootVolume", mapping.root_volume)
        .build()
}

fn block_device_value(ebs: &BlockDevice) -> HashValue {
    StructBuilder::new()
        .bool("DeleteOnTermination", ebs.delete_on_termination)
        .bool("Encrypted", ebs.encrypted)
        .int("IOPS", ebs.iops)
        .str("KMSKeyID", ebs.kms_key_id.as_deref())
        .str("SnapshotID", ebs.snapshot_id.as_deref())
        .int("Throughput", ebs.throughput)
        .int("VolumeInitializationRate", ebs.volume_initialization_rate)
        .str("VolumeSize", ebs.volume_size.as_deref())
        .str("VolumeType", ebs.volume_type.as_deref())
        .build()
}

fn metadata_value(options: &MetadataOptions) -> HashValue {
    StructBuilder::new()
        .str("HTTPEndpoint", options.http_endpoint.as_deref())
        .str("HTTPProtocolIPv6", options.http_protocol_ipv6.as_deref())
        .int(
            "HTTPPutResponseHopLimit",
            options.http_put_response_hop_limit,
        )
        .str("HTTPTokens", options.http_tokens.as_deref())
        .build()
}

fn network_interface_value(nic: &NetworkInterface) -> HashValue {
    StructBuilder::new()
        .int("NetworkCardIndex", nic.network_card_index)
        .int("DeviceIndex", nic.device_index)
        .str("InterfaceType", nic.interface_type.as_deref())
        .build()
}

fn connection_tracking_value(tracking: &ConnectionTracking) -> HashValue {
    StructBuilder::new()
        .int("TCPEstablishedTimeout", tracking.tcp_established_timeout)
        .int("UDPStreamTimeout", tracking.udp_stream_timeout)
        .int("UDPTimeout", tracking.udp_timeout)
        .build()
}

fn placement_group_value(selector: &PlacementGroupSelector) -> HashValue {
    StructBuilder::new()
        .str("Name", selector.name.as_deref())
        .str("ID", selector.id.as_deref())
        .build()
}

fn cpu_options_value(options: &CpuOptions) -> HashValue {
    StructBuilder::new()
        .str(
            "NestedVirtualization",
            options.nested_virtualization.as_deref(),
        )
        .build()
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
