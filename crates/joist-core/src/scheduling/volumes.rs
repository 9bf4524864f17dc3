//! Pod volumes (spec core §2.2 PVC checks, §2.3 step 4, §2.8): topology alternatives that
//! constrain the node (not the pod's affinity, so topology counting is unaffected) and CSI volume
//! counts for node attach limits.
//!
//! Each bound PersistentVolume's `nodeAffinity` term, or each `allowedTopologies` term of an
//! unbound claim's StorageClass, is one alternative; a pod with several volumes gets the
//! cross-product, with combinations whose requirements conflict pruned. Local and hostPath volumes
//! drop their hostname requirement (the pod is being moved to a new node).

use std::collections::BTreeMap;

use super::settings::SchedulingSettings;
use crate::labels::HOSTNAME;
use crate::requirements::{Requirement, Requirements};
use crate::snapshot::{
    ClaimPhase, NodeSelectorTerm, PersistentVolumeClaim, Pod, Snapshot, StorageClass,
    VolumeBindingMode, VolumeSource,
};

/// What a pod's volumes mean for scheduling.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PodVolumes {
    /// Requirement alternatives for the node; empty when the volumes do not constrain it.
    pub(crate) alternatives: Vec<Requirements>,
    /// Per CSI driver, the claims (`namespace/name`) the pod mounts, for attach limits.
    pub(crate) csi: BTreeMap<String, Vec<String>>,
}

/// The claim a volume refers to: its key, and the claim if it exists yet.
struct ClaimRef<'s> {
    /// `namespace/name`.
    key: String,
    /// The claim's name.
    name: String,
    /// The claim, if created.
    claim: Option<&'s PersistentVolumeClaim>,
    /// For an ephemeral volume whose claim does not exist yet: its template's class.
    template_class: Option<Option<&'s str>>,
}

/// Resolves the pod's volumes; an error is upstream's validation failure (the pod is ignored).
pub(crate) fn resolve(
    pod: &Pod,
    snapshot: &Snapshot,
    settings: &SchedulingSettings,
) -> Result<Option<PodVolumes>, String> {
    if pod.volumes.iter().all(|v| v.source == VolumeSource::Other) {
        return Ok(None);
    }
    let mut volumes = PodVolumes {
        alternatives: vec![Requirements::new()],
        ..PodVolumes::default()
    };
    for volume in &pod.volumes {
        let Some(claim) = claim_ref(pod, &volume.name, &volume.source, snapshot) else {
            continue;
        };
        let (terms, driver) = claim_topology(&claim, snapshot)?;
        if let Some(driver) = driver {
            volumes
                .csi
                .entry(driver)
                .or_default()
                .push(claim.key.clone());
        }
        if !terms.is_empty() {
            volumes.alternatives = combine(&volumes.alternatives, &terms, settings)?;
        }
    }
    if volumes.alternatives.iter().all(Requirements::is_empty) {
        volumes.alternatives.clear();
    }
    Ok(Some(volumes))
}

fn claim_ref<'s>(
    pod: &Pod,
    volume: &str,
    source: &'s VolumeSource,
    snapshot: &'s Snapshot,
) -> Option<ClaimRef<'s>> {
    let (name, template_class) = match source {
        VolumeSource::PersistentVolumeClaim { claim_name } => (claim_name.clone(), None),
        VolumeSource::Ephemeral { storage_class_name } => (
            format!("{}-{volume}", pod.name),
            Some(storage_class_name.as_deref()),
        ),
        VolumeSource::Other => return None,
    };
    let claim = snapshot
        .volumes
        .claims
        .iter()
        .find(|c| c.namespace == pod.namespace && c.name == name);
    Some(ClaimRef {
        key: format!("{}/{name}", pod.namespace),
        name,
        claim,
        template_class,
    })
}

/// The claim's topology terms and CSI driver, validating it as upstream does.
fn claim_topology(
    claim: &ClaimRef<'_>,
    snapshot: &Snapshot,
) -> Result<(Vec<Requirements>, Option<String>), String> {
    let name = &claim.name;
    let Some(pvc) = claim.claim else {
        return match claim.template_class {
            Some(class) => storage_class_topology(name, class, true, snapshot),
            None => Err(format!("persistentvolumeclaims \"{name}\" not found")),
        };
    };
    if pvc.deleting {
        return Err(format!("pvc \"{name}\" is being deleted"));
    }
    if pvc.phase == ClaimPhase::Lost {
        return Err(format!("pvc \"{name}\" is lost"));
    }
    let Some(volume_name) = &pvc.volume_name else {
        return storage_class_topology(name, pvc.storage_class_name.as_deref(), false, snapshot);
    };
    let fail = |reason: String| {
        format!("failed to validate pvc \"{name}\" with volume \"{volume_name}\", {reason}")
    };
    let Some(pv) = snapshot
        .volumes
        .volumes
        .iter()
        .find(|v| &v.name == volume_name)
    else {
        return Err(fail(format!(
            "persistentvolumes \"{volume_name}\" not found"
        )));
    };
    if pv.deleting {
        return Err(fail("volume is being deleted".into()));
    }
    if !pvc.bind_completed {
        return Err(fail("pvc binding is not completed".into()));
    }
    let terms = pv
        .node_affinity
        .iter()
        .map(|term| term_requirements(term, pv.local_or_host_path))
        .collect();
    Ok((terms, pv.csi_driver.clone()))
}

/// An unbound claim (or a not yet created ephemeral one): its StorageClass's allowed topologies
/// and provisioner. A missing class name means the newest default class for an ephemeral
/// volume's template (`use_default`), and is an error for a claim.
fn storage_class_topology(
    name: &str,
    class: Option<&str>,
    use_default: bool,
    snapshot: &Snapshot,
) -> Result<(Vec<Requirements>, Option<String>), String> {
    let classes = &snapshot.volumes.storage_classes;
    let found: Option<&StorageClass> = match class {
        Some(class) => classes.iter().find(|c| c.name == class),
        None if use_default => classes
            .iter()
            .filter(|c| c.is_default)
            .max_by_key(|c| c.creation_timestamp),
        None => None,
    };
    let Some(class_name) = class.or(found.map(|c| c.name.as_str())) else {
        return Err(format!("unbound pvc {name} must define a storage class"));
    };
    let fail = |reason: String| {
        format!("failed to validate pvc \"{name}\" with storage class \"{class_name}\", {reason}")
    };
    let Some(sc) = found else {
        return Err(fail(format!(
            "storageclasses.storage.k8s.io \"{class_name}\" not found"
        )));
    };
    if sc.volume_binding_mode == VolumeBindingMode::Immediate {
        return Err(fail(
            "volume binding mode Immediate requires a bound volume".into(),
        ));
    }
    let terms = sc
        .allowed_topologies
        .iter()
        .map(|term| {
            term.match_label_expressions
                .iter()
                .map(|(key, values)| Requirement::in_values(key.as_str(), values.iter()))
                .collect()
        })
        .collect();
    Ok((terms, Some(sc.provisioner.clone())))
}

fn term_requirements(term: &NodeSelectorTerm, drop_hostname: bool) -> Requirements {
    term.match_expressions
        .iter()
        .filter(|e| !(drop_hostname && e.key == HOSTNAME))
        .filter_map(|e| Requirement::new(e.key.as_str(), e.operator, &e.values).ok())
        .collect()
}

/// The cross-product of the alternatives so far with a volume's terms, conflicting
/// combinations pruned.
fn combine(
    so_far: &[Requirements],
    terms: &[Requirements],
    settings: &SchedulingSettings,
) -> Result<Vec<Requirements>, String> {
    let mut out = Vec::with_capacity(so_far.len() * terms.len());
    for base in so_far {
        for term in terms {
            let normalized: Requirements = term
                .iter()
                .map(|r| r.clone().normalized(&settings.label_aliases))
                .collect();
            if base.can_intersect(&normalized) {
                out.push(base.intersection(&normalized));
            }
        }
    }
    if out.is_empty() {
        return Err("incompatible volume requirements: the pod's volumes share no topology".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::ZONE;
    use crate::requirements::{NodeSelectorRequirement, Operator};
    use crate::snapshot::{PersistentVolume, TopologySelectorTerm};
    use crate::testing::pod;

    fn zone_pv(name: &str, zones: &[&str]) -> PersistentVolume {
        PersistentVolume {
            name: name.into(),
            node_affinity: zones
                .iter()
                .map(|z| {
                    NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
                        ZONE,
                        Operator::In,
                        [*z],
                    )])
                })
                .collect(),
            csi_driver: Some("ebs.csi.aws.com".into()),
            ..PersistentVolume::default()
        }
    }

    fn bound(name: &str, volume: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            namespace: "default".into(),
            name: name.into(),
            volume_name: Some(volume.into()),
            phase: ClaimPhase::Bound,
            bind_completed: true,
            ..PersistentVolumeClaim::default()
        }
    }

    #[test]
    fn bound_volumes_give_their_terms_and_pruned_products() {
        let mut snapshot = Snapshot::default();
        snapshot.volumes.volumes = vec![
            zone_pv("pv-a", &["z1", "z2"]),
            zone_pv("pv-b", &["z2", "z3"]),
        ];
        snapshot.volumes.claims = vec![bound("a", "pv-a"), bound("b", "pv-b")];
        let p = pod().pvc("a").pvc("b").build();
        let resolved = resolve(&p, &snapshot, &SchedulingSettings::default())
            .unwrap()
            .unwrap();
        let zones: Vec<String> = resolved
            .alternatives
            .iter()
            .map(|r| r.get(ZONE).to_string())
            .collect();
        assert_eq!(zones, ["topology.kubernetes.io/zone In [z2]"]);
        assert_eq!(resolved.csi["ebs.csi.aws.com"], ["default/a", "default/b"]);
    }

    #[test]
    fn unbound_claims_use_their_storage_class() {
        let mut snapshot = Snapshot::default();
        snapshot.volumes.claims = vec![PersistentVolumeClaim {
            namespace: "default".into(),
            name: "c".into(),
            storage_class_name: Some("zonal".into()),
            ..PersistentVolumeClaim::default()
        }];
        snapshot.volumes.storage_classes = vec![StorageClass {
            name: "zonal".into(),
            provisioner: "ebs.csi.aws.com".into(),
            volume_binding_mode: VolumeBindingMode::WaitForFirstConsumer,
            allowed_topologies: vec![TopologySelectorTerm {
                match_label_expressions: vec![(ZONE.into(), vec!["z1".into()])],
            }],
            is_default: false,
            creation_timestamp: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }];
        let p = pod().pvc("c").build();
        let resolved = resolve(&p, &snapshot, &SchedulingSettings::default())
            .unwrap()
            .unwrap();
        assert_eq!(resolved.alternatives.len(), 1);
        snapshot.volumes.storage_classes[0].volume_binding_mode = VolumeBindingMode::Immediate;
        assert!(resolve(&p, &snapshot, &SchedulingSettings::default()).is_err());
    }

    #[test]
    fn invalid_claims_are_reported() {
        let snapshot = Snapshot::default();
        let missing = pod().pvc("nope").build();
        assert_eq!(
            resolve(&missing, &snapshot, &SchedulingSettings::default()).unwrap_err(),
            "persistentvolumeclaims \"nope\" not found"
        );
        let mut lost = Snapshot::default();
        lost.volumes.claims = vec![PersistentVolumeClaim {
            phase: ClaimPhase::Lost,
            ..bound("x", "pv")
        }];
        assert!(
            resolve(
                &pod().pvc("x").build(),
                &lost,
                &SchedulingSettings::default()
            )
            .is_err()
        );
        let mut unbound = Snapshot::default();
        unbound.volumes.claims = vec![PersistentVolumeClaim {
            namespace: "default".into(),
            name: "u".into(),
            ..PersistentVolumeClaim::default()
        }];
        assert_eq!(
            resolve(
                &pod().pvc("u").build(),
                &unbound,
                &SchedulingSettings::default()
            )
            .unwrap_err(),
            "unbound pvc u must define a storage class"
        );
    }
}
