//! DaemonSets and PodDisruptionBudgets.

use joist_core::snapshot;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::meta::{int_or_string, name, namespace, namespaced_key, optional_label_selector};
use super::pod::pod_with_spec_path;
use super::{At, ConvertError, ConvertOptions};

/// The scheduling view of a DaemonSet: its template as a pod named after the DaemonSet and owned
/// by it, with requests defaulted from limits (templates are not defaulted by the API server);
/// `live_pod` is the newest live pod of the DaemonSet, if the driver has one.
pub fn daemonset(
    daemonset: &DaemonSet,
    live_pod: Option<snapshot::Pod>,
    options: &ConvertOptions,
) -> Result<snapshot::DaemonSet, ConvertError> {
    let key = namespaced_key(&daemonset.metadata, options);
    let at = At { object: &key };
    let ds_name = name(&daemonset.metadata, at)?;
    let spec = daemonset.spec.as_ref().ok_or_else(|| at.missing("spec"))?;
    let template_pod = core::Pod {
        metadata: template_metadata(
            spec.template.metadata.as_ref(),
            &ds_name,
            &namespace(&daemonset.metadata, options),
            daemonset.metadata.uid.as_deref(),
        ),
        spec: Some(
            spec.template
                .spec
                .clone()
                .ok_or_else(|| at.missing("spec.template.spec"))?,
        ),
        status: None,
    };
    let mut template = pod_with_spec_path(&template_pod, options, "spec.template.spec")?;
    template.creation_timestamp = daemonset
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(options.default_creation_timestamp, super::meta::time);
    Ok(snapshot::DaemonSet {
        namespace: template.namespace.clone(),
        name: ds_name,
        template,
        live_pod,
    })
}

/// The template's metadata completed into a pod's: named and namespaced like the DaemonSet and
/// owned by it, so the core recognises it as a DaemonSet pod.
fn template_metadata(
    template: Option<&ObjectMeta>,
    ds_name: &str,
    namespace: &str,
    ds_uid: Option<&str>,
) -> ObjectMeta {
    let mut metadata = template.cloned().unwrap_or_default();
    metadata.name = Some(ds_name.to_owned());
    metadata.namespace = Some(namespace.to_owned());
    metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "DaemonSet".to_owned(),
        name: ds_name.to_owned(),
        uid: ds_uid.unwrap_or_default().to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    metadata
}

/// The parts of a PodDisruptionBudget that decide evictions.
pub fn pdb(
    pdb: &PodDisruptionBudget,
    options: &ConvertOptions,
) -> Result<snapshot::PodDisruptionBudget, ConvertError> {
    let key = namespaced_key(&pdb.metadata, options);
    let at = At { object: &key };
    let spec = pdb.spec.as_ref();
    Ok(snapshot::PodDisruptionBudget {
        namespace: namespace(&pdb.metadata, options),
        name: name(&pdb.metadata, at)?,
        selector: optional_label_selector(
            spec.and_then(|s| s.selector.as_ref()),
            at,
            "spec.selector",
        )?,
        min_available: spec
            .and_then(|s| s.min_available.as_ref())
            .map(int_or_string),
        max_unavailable: spec
            .and_then(|s| s.max_unavailable.as_ref())
            .map(int_or_string),
    })
}
