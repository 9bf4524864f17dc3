//! Workload expansion for the simulator: the pods (and StatefulSet claims) the workload
//! controllers would create, named deterministically.
//!
//! Real controllers add random suffixes; the simulator needs the same names on every run, so pods
//! are numbered instead: `<deployment>-<hash>-<i>`, `<statefulset>-<ordinal>`, `<job>-<i>`,
//! `<daemonset>-<node>`. Labels and owner references are those the controllers set.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::meta::{name, namespace, namespaced_key};
use super::{At, ConvertError, ConvertOptions};

/// The label a ReplicaSet's pods carry with the template hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The label a StatefulSet's pods carry with their own name.
const STATEFULSET_POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label a StatefulSet's pods carry with their ordinal.
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The labels a Job's pods carry with the Job's name.
const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
/// Kubernetes' alphabet for generated name parts (no vowels, no look-alike characters).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pods and claims a StatefulSet creates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatefulSetPods {
    /// One pod per ordinal, `<name>-<ordinal>`.
    pub pods: Vec<core::Pod>,
    /// One claim per pod and `volumeClaimTemplates` entry, `<claim>-<name>-<ordinal>`.
    pub claims: Vec<core::PersistentVolumeClaim>,
}

/// A deterministic stand-in for the Deployment controller's `pod-template-hash`: FNV-1a of the
/// template's JSON, spelled with Kubernetes' safe alphabet. Equal templates give equal hashes;
/// the value is not the one a real cluster would compute.
pub fn pod_template_hash(template: &core::PodTemplateSpec) -> String {
    // Serialising plain data with BTreeMap-ordered maps cannot fail; an empty string would only
    // make the hash weaker, never wrong.
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for byte in json {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// The `spec.replicas` pods of a Deployment (unset is 1), as its current ReplicaSet
/// `<name>-<hash>` would create them: `<name>-<hash>-<i>`, template labels plus
/// `pod-template-hash`, owned by the ReplicaSet.
pub fn expand_deployment(
    deployment: &Deployment,
    options: &ConvertOptions,
) -> Result<Vec<core::Pod>, ConvertError> {
    let key = namespaced_key(&deployment.metadata, options);
    let at = At { object: &key };
    let base = name(&deployment.metadata, at)?;
    let spec = deployment.spec.as_ref().ok_or_else(|| at.missing("spec"))?;
    let hash = pod_template_hash(&spec.template);
    let replica_set = format!("{base}-{hash}");
    let owner = owner_reference("ReplicaSet", &replica_set, None);
    let count = replicas(spec.replicas, at, "spec.replicas")?;
    let namespace = namespace(&deployment.metadata, options);
    (0..count)
        .map(|i| {
            let mut pod = from_template(
                &spec.template,
                at,
                &format!("{replica_set}-{i}"),
                &namespace,
                &owner,
            )?;
            insert_label(&mut pod.metadata, POD_TEMPLATE_HASH_LABEL, &hash);
            Ok(pod)
        })
        .collect()
}

/// The pods and claims of a StatefulSet: ordinals from `spec.ordinals.start` (default 0), each pod
/// `<name>-<ordinal>` with the pod-name and pod-index labels, and for every volume claim template
/// a claim `<claim>-<name>-<ordinal>` that the pod's volume `<claim>` refers to.
pub fn expand_statefulset(
    statefulset: &StatefulSet,
    options: &ConvertOptions,
) -> Result<StatefulSetPods, ConvertError> {
    let key = namespaced_key(&statefulset.metadata, options);
    let at = At { object: &key };
    let base = name(&statefulset.metadata, at)?;
    let spec = statefulset
        .spec
        .as_ref()
        .ok_or_else(|| at.missing("spec"))?;
    let owner = owner_reference("StatefulSet", &base, statefulset.metadata.uid.as_deref());
    let namespace = namespace(&statefulset.metadata, options);
    let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
    let count = replicas(spec.replicas, at, "spec.replicas")?;
    let templates = spec.volume_claim_templates.as_deref().unwrap_or_default();
    let mut out = StatefulSetPods::default();
    for ordinal in (0..count).map(|i| i64::from(start) + i64::from(i)) {
        let pod_name = format!("{base}-{ordinal}");
        let mut pod = from_template(&spec.template, at, &pod_name, &namespace, &owner)?;
        insert_label(&mut pod.metadata, STATEFULSET_POD_NAME_LABEL, &pod_name);
        insert_label(&mut pod.metadata, POD_INDEX_LABEL, &ordinal.to_string());
        for (i, template) in templates.iter().enumerate() {
            let claim_name = template.metadata.name.clone().ok_or_else(|| {
                at.missing(format!("spec.volumeClaimTemplates[{i}].metadata.name"))
            })?;
            let claim = statefulset_claim(template, &claim_name, &pod_name, &namespace, &pod);
            set_claim_volume(
                &mut pod,
                &claim_name,
                claim.metadata.name.clone().unwrap_or_default(),
            );
            out.claims.push(claim);
        }
        out.pods.push(pod);
    }
    Ok(out)
}

/// The claim of `template` for one pod, labelled with the pod's selector labels as the
/// StatefulSet controller does.
fn statefulset_claim(
    template: &core::PersistentVolumeClaim,
    claim_name: &str,
    pod_name: &str,
    namespace: &str,
    pod: &core::Pod,
) -> core::PersistentVolumeClaim {
    let mut claim = template.clone();
    claim.metadata.name = Some(format!("{claim_name}-{pod_name}"));
    claim.metadata.namespace = Some(namespace.to_owned());
    let mut labels = claim.metadata.labels.take().unwrap_or_default();
    for (k, v) in pod.metadata.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    claim.metadata.labels = Some(labels);
    claim.status = None;
    claim
}

/// Points the pod's volume `volume` at `claim_name`, adding the volume if the template has none.
fn set_claim_volume(pod: &mut core::Pod, volume: &str, claim_name: String) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    let source = core::PersistentVolumeClaimVolumeSource {
        claim_name,
        read_only: None,
    };
    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    match volumes.iter_mut().find(|v| v.name == volume) {
        Some(existing) => {
            *existing = core::Volume {
                name: volume.to_owned(),
                persistent_volume_claim: Some(source),
                ..core::Volume::default()
            };
        }
        None => volumes.push(core::Volume {
            name: volume.to_owned(),
            persistent_volume_claim: Some(source),
            ..core::Volume::default()
        }),
    }
}

/// The pods a Job runs at once: `spec.parallelism` (default 1), at most `spec.completions`, none
/// when suspended; named `<job>-<i>`, with the job-name labels, owned by the Job.
pub fn expand_job(job: &Job, options: &ConvertOptions) -> Result<Vec<core::Pod>, ConvertError> {
    let key = namespaced_key(&job.metadata, options);
    let at = At { object: &key };
    let base = name(&job.metadata, at)?;
    let spec = job.spec.as_ref().ok_or_else(|| at.missing("spec"))?;
    if spec.suspend == Some(true) {
        return Ok(Vec::new());
    }
    let parallelism = replicas(spec.parallelism, at, "spec.parallelism")?;
    let count = match spec.completions {
        Some(completions) => parallelism.min(replicas(Some(completions), at, "spec.completions")?),
        None => parallelism,
    };
    let owner = owner_reference("Job", &base, job.metadata.uid.as_deref());
    let namespace = namespace(&job.metadata, options);
    (0..count)
        .map(|i| {
            let mut pod = from_template(
                &spec.template,
                at,
                &format!("{base}-{i}"),
                &namespace,
                &owner,
            )?;
            for label in JOB_NAME_LABELS {
                insert_label(&mut pod.metadata, label, &base);
            }
            Ok(pod)
        })
        .collect()
}

/// The pod the DaemonSet controller would create for `node_name`: named `<ds>-<node>`, owned by
/// the DaemonSet, its required node affinity replaced by `metadata.name In [node]` (a
/// `matchFields` term, as upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`), and the
/// tolerations the controller adds to every DaemonSet pod.
pub fn daemonset_pod_for_node(
    daemonset: &DaemonSet,
    node_name: &str,
    options: &ConvertOptions,
) -> Result<core::Pod, ConvertError> {
    let key = namespaced_key(&daemonset.metadata, options);
    let at = At { object: &key };
    let base = name(&daemonset.metadata, at)?;
    let spec = daemonset.spec.as_ref().ok_or_else(|| at.missing("spec"))?;
    let owner = owner_reference("DaemonSet", &base, daemonset.metadata.uid.as_deref());
    let namespace = namespace(&daemonset.metadata, options);
    let mut pod = from_template(
        &spec.template,
        at,
        &format!("{base}-{node_name}"),
        &namespace,
        &owner,
    )?;
    if let Some(pod_spec) = pod.spec.as_mut() {
        pin_to_node(pod_spec, node_name);
        add_daemonset_tolerations(pod_spec);
    }
    Ok(pod)
}

fn pin_to_node(spec: &mut core::PodSpec, node_name: &str) {
    let term = core::NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(vec![core::NodeSelectorRequirement {
            key: "metadata.name".to_owned(),
            operator: "In".to_owned(),
            values: Some(vec![node_name.to_owned()]),
        }]),
    };
    let affinity = spec.affinity.get_or_insert_with(core::Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(core::NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(core::NodeSelector {
        node_selector_terms: vec![term],
    });
}

/// The tolerations the DaemonSet controller adds (upstream `AddOrUpdateDaemonPodTolerations`):
/// DaemonSet pods survive not-ready/unreachable nodes, node pressure and cordoning, and
/// host-network pods also a missing network.
fn add_daemonset_tolerations(spec: &mut core::PodSpec) {
    let mut added = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        added.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in added {
        let present = tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect));
        if !present {
            tolerations.push(core::Toleration {
                key: Some(key.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some(effect.to_owned()),
                ..core::Toleration::default()
            });
        }
    }
}

fn owner_reference(kind: &str, name: &str, uid: Option<&str>) -> OwnerReference {
    let api_version = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: uid.unwrap_or_default().to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A replica count: unset is 1, negative is invalid.
fn replicas(value: Option<i32>, at: At<'_>, path: &str) -> Result<u32, ConvertError> {
    let value = value.unwrap_or(1);
    u32::try_from(value).map_err(|_| {
        at.invalid(
            path,
            format!("must be greater than or equal to 0, got {value}"),
        )
    })
}

/// A pod from a template, named, namespaced and owned.
fn from_template(
    template: &core::PodTemplateSpec,
    at: At<'_>,
    pod_name: &str,
    namespace: &str,
    owner: &OwnerReference,
) -> Result<core::Pod, ConvertError> {
    let template_meta = template.metadata.as_ref();
    Ok(core::Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(
                template_meta
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default(),
            ),
            annotations: template_meta.and_then(|m| m.annotations.clone()),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(
            template
                .spec
                .clone()
                .ok_or_else(|| at.missing("spec.template.spec"))?,
        ),
        status: None,
    })
}

fn insert_label(metadata: &mut ObjectMeta, key: &str, value: &str) {
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
}
