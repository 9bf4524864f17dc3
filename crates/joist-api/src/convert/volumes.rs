//! PersistentVolumeClaims, PersistentVolumes and StorageClasses.

use joist_core::snapshot::{
    ClaimPhase, PersistentVolume, PersistentVolumeClaim, StorageClass, TopologySelectorTerm,
    VolumeBindingMode,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::storage::v1 as storage;

use super::meta::{name, namespace, namespaced_key, time};
use super::scheduling::node_selector_terms;
use super::{At, ConvertError, ConvertOptions};

/// The annotation the PV controller sets once it has bound a claim.
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The annotations that make a StorageClass the default (the beta one is still honoured).
const DEFAULT_CLASS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// CSI drivers that in-tree volume sources are migrated to (CSI migration), so in-tree volumes
/// count against the driver's CSINode limit.
const IN_TREE_DRIVERS: [(&str, &str); 7] = [
    ("awsElasticBlockStore", "ebs.csi.aws.com"),
    ("gcePersistentDisk", "pd.csi.storage.gke.io"),
    ("azureDisk", "disk.csi.azure.com"),
    ("azureFile", "file.csi.azure.com"),
    ("cinder", "cinder.csi.openstack.org"),
    ("vsphereVolume", "csi.vsphere.vmware.com"),
    ("portworxVolume", "pxd.portworx.com"),
];

/// A PersistentVolumeClaim.
pub fn persistent_volume_claim(
    claim: &core::PersistentVolumeClaim,
    options: &ConvertOptions,
) -> Result<PersistentVolumeClaim, ConvertError> {
    let key = namespaced_key(&claim.metadata, options);
    let at = At { object: &key };
    let phase = match claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
    {
        "" | "Pending" => ClaimPhase::Pending,
        "Bound" => ClaimPhase::Bound,
        "Lost" => ClaimPhase::Lost,
        other => return Err(at.unsupported("status.phase", other, &["Pending", "Bound", "Lost"])),
    };
    let spec = claim.spec.as_ref();
    Ok(PersistentVolumeClaim {
        namespace: namespace(&claim.metadata, options),
        name: name(&claim.metadata, at)?,
        storage_class_name: spec.and_then(|s| s.storage_class_name.clone()),
        volume_name: spec
            .and_then(|s| s.volume_name.clone())
            .filter(|v| !v.is_empty()),
        phase,
        deleting: claim.metadata.deletion_timestamp.is_some(),
        bind_completed: claim
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(BIND_COMPLETED)),
    })
}

/// A PersistentVolume: its required node affinity, its CSI driver (in-tree sources translated as
/// CSI migration does) and whether it is a `local`/`hostPath` volume.
pub fn persistent_volume(
    volume: &core::PersistentVolume,
) -> Result<PersistentVolume, ConvertError> {
    let object = volume.metadata.name.clone().unwrap_or_default();
    let at = At { object: &object };
    let spec = volume.spec.as_ref();
    let node_affinity = match spec
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        Some(selector) => node_selector_terms(
            &selector.node_selector_terms,
            at,
            "spec.nodeAffinity.required.nodeSelectorTerms",
        )?,
        None => Vec::new(),
    };
    Ok(PersistentVolume {
        name: name(&volume.metadata, at)?,
        node_affinity,
        csi_driver: spec.and_then(csi_driver),
        local_or_host_path: spec.is_some_and(|s| s.local.is_some() || s.host_path.is_some()),
        deleting: volume.metadata.deletion_timestamp.is_some(),
    })
}

fn csi_driver(spec: &core::PersistentVolumeSpec) -> Option<String> {
    if let Some(csi) = &spec.csi {
        return Some(csi.driver.clone());
    }
    let present = [
        spec.aws_elastic_block_store.is_some(),
        spec.gce_persistent_disk.is_some(),
        spec.azure_disk.is_some(),
        spec.azure_file.is_some(),
        spec.cinder.is_some(),
        spec.vsphere_volume.is_some(),
        spec.portworx_volume.is_some(),
    ];
    IN_TREE_DRIVERS
        .iter()
        .zip(present)
        .find(|(_, present)| *present)
        .map(|((_, driver), _)| (*driver).to_owned())
}

/// A StorageClass; an unset `volumeBindingMode` is `Immediate`, the API default.
pub fn storage_class(
    class: &storage::StorageClass,
    options: &ConvertOptions,
) -> Result<StorageClass, ConvertError> {
    let object = class.metadata.name.clone().unwrap_or_default();
    let at = At { object: &object };
    let volume_binding_mode = match class.volume_binding_mode.as_deref().unwrap_or("Immediate") {
        "Immediate" => VolumeBindingMode::Immediate,
        "WaitForFirstConsumer" => VolumeBindingMode::WaitForFirstConsumer,
        other => {
            return Err(at.unsupported(
                "volumeBindingMode",
                other,
                &["Immediate", "WaitForFirstConsumer"],
            ));
        }
    };
    let allowed_topologies = class
        .allowed_topologies
        .iter()
        .flatten()
        .map(|term| TopologySelectorTerm {
            match_label_expressions: term
                .match_label_expressions
                .iter()
                .flatten()
                .map(|e| (e.key.clone(), e.values.clone()))
                .collect(),
        })
        .collect();
    let annotations = class.metadata.annotations.as_ref();
    Ok(StorageClass {
        name: name(&class.metadata, at)?,
        provisioner: class.provisioner.clone(),
        volume_binding_mode,
        allowed_topologies,
        is_default: DEFAULT_CLASS.iter().any(|key| {
            annotations
                .and_then(|a| a.get(*key))
                .is_some_and(|v| v == "true")
        }),
        creation_timestamp: class
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(options.default_creation_timestamp, time),
    })
}
