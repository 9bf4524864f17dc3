//! `v1.Pod` → [`snapshot::Pod`].

use std::collections::BTreeMap;

use joist_core::resources::{
    ContainerResizeStatus, ContainerResources, InitContainerResources, PodLevelResources,
    PodResources, default_requests_from_limits, pod_requests,
};
use joist_core::snapshot::{self, HostPort, PodPhase, PodVolume, Protocol, VolumeSource};
use k8s_openapi::api::core::v1 as core;

use super::meta::{
    annotations, labels, name, namespace, namespaced_key, owner, resource_list, time,
};
use super::scheduling::constraints;
use super::{At, ConvertError, ConvertOptions};

/// The scheduling view of `pod`, with Kubernetes semantics: requests are
/// [`pod_requests`] of the containers, sidecars, overhead, pod-level resources and in-place resize
/// status, after defaulting missing requests from limits as the API server does.
pub fn pod(pod: &core::Pod, options: &ConvertOptions) -> Result<snapshot::Pod, ConvertError> {
    pod_with_spec_path(pod, options, "spec")
}

/// [`pod`], naming spec fields under `spec_path` in errors (a DaemonSet template's pod reports
/// `spec.template.spec...`, the path in the object the user wrote).
pub(crate) fn pod_with_spec_path(
    pod: &core::Pod,
    options: &ConvertOptions,
    spec_path: &str,
) -> Result<snapshot::Pod, ConvertError> {
    let key = namespaced_key(&pod.metadata, options);
    let at = At { object: &key };
    let pod_name = name(&pod.metadata, at)?;
    let namespace = namespace(&pod.metadata, options);
    let spec = pod.spec.as_ref().ok_or_else(|| at.missing(spec_path))?;
    let status = pod.status.as_ref();
    let metadata = &pod.metadata;
    let volumes = volumes(spec);
    Ok(snapshot::Pod {
        // Scenario pods have no uid; `ns/name` is unique and keeps the queue order
        // deterministic.
        uid: metadata.uid.clone().unwrap_or_else(|| key.clone()),
        namespace,
        name: pod_name,
        labels: labels(metadata),
        annotations: annotations(metadata),
        owner: owner(metadata),
        creation_timestamp: metadata
            .creation_timestamp
            .as_ref()
            .map_or(options.default_creation_timestamp, time),
        deletion_timestamp: metadata.deletion_timestamp.as_ref().map(time),
        priority: priority(spec, at, options)?,
        node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
        nominated_node_name: status
            .and_then(|s| s.nominated_node_name.clone())
            .filter(|n| !n.is_empty()),
        phase: phase(status, at)?,
        unschedulable: unschedulable(spec, status, options),
        requests: pod_requests(&pod_resources(spec, status, at, spec_path)?),
        constraints: constraints(spec, at, spec_path)?,
        host_ports: host_ports(spec),
        volumes,
        has_resource_claims: spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()),
    })
}

/// `spec.priority`, else the value of `spec.priorityClassName`, else the global default class
/// (what the API server's priority admission sets).
fn priority(
    spec: &core::PodSpec,
    at: At<'_>,
    options: &ConvertOptions,
) -> Result<i32, ConvertError> {
    if let Some(priority) = spec.priority {
        return Ok(priority);
    }
    match spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        Some(class) => options.priority_classes.get(class).copied().ok_or_else(|| {
            at.invalid(
                "spec.priorityClassName",
                format!("no PriorityClass with name {class} was found"),
            )
        }),
        None => Ok(options.global_default_priority.unwrap_or(0)),
    }
}

fn phase(status: Option<&core::PodStatus>, at: At<'_>) -> Result<PodPhase, ConvertError> {
    match status.and_then(|s| s.phase.as_deref()).unwrap_or_default() {
        "" | "Pending" => Ok(PodPhase::Pending),
        "Running" => Ok(PodPhase::Running),
        "Succeeded" => Ok(PodPhase::Succeeded),
        "Failed" => Ok(PodPhase::Failed),
        "Unknown" => Ok(PodPhase::Unknown),
        other => Err(at.unsupported(
            "status.phase",
            other,
            &["Pending", "Running", "Succeeded", "Failed", "Unknown"],
        )),
    }
}

/// Whether kube-scheduler marked the pod `PodScheduled=False` with reason `Unschedulable`. With
/// [`ConvertOptions::fill_missing_status`], an unbound pod without a `PodScheduled` condition
/// counts too: in a simulation nothing but joist places pods.
fn unschedulable(
    spec: &core::PodSpec,
    status: Option<&core::PodStatus>,
    options: &ConvertOptions,
) -> bool {
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let scheduled = conditions.iter().find(|c| c.type_ == "PodScheduled");
    match scheduled {
        Some(c) => c.status == "False" && c.reason.as_deref() == Some("Unschedulable"),
        None => {
            options.fill_missing_status && spec.node_name.as_deref().unwrap_or_default().is_empty()
        }
    }
}

/// Everything about the pod that decides its requests; `path` is the spec's path.
pub(crate) fn pod_resources(
    spec: &core::PodSpec,
    status: Option<&core::PodStatus>,
    at: At<'_>,
    path: &str,
) -> Result<PodResources, ConvertError> {
    let statuses = container_statuses(status);
    let containers = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            container_resources(
                c,
                statuses.get(c.name.as_str()),
                at,
                &format!("{path}.containers[{i}]"),
            )
        })
        .collect::<Result<_, _>>()?;
    let init_containers = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            Ok(InitContainerResources {
                resources: container_resources(
                    c,
                    statuses.get(c.name.as_str()),
                    at,
                    &format!("{path}.initContainers[{i}]"),
                )?,
                restartable: c.restart_policy.as_deref() == Some("Always"),
            })
        })
        .collect::<Result<_, ConvertError>>()?;
    let pod_level = spec
        .resources
        .as_ref()
        .map(|r| {
            Ok::<_, ConvertError>(PodLevelResources {
                requests: resource_list(
                    r.requests.as_ref(),
                    at,
                    &format!("{path}.resources.requests"),
                )?,
                limits: resource_list(r.limits.as_ref(), at, &format!("{path}.resources.limits"))?,
            })
        })
        .transpose()?;
    let mut resources = PodResources {
        containers,
        init_containers,
        overhead: resource_list(spec.overhead.as_ref(), at, &format!("{path}.overhead"))?,
        pod_level,
        resize_infeasible: resize_infeasible(status),
    };
    default_requests_from_limits(&mut resources);
    Ok(resources)
}

/// Container statuses by container name (regular and init containers have distinct names).
fn container_statuses(status: Option<&core::PodStatus>) -> BTreeMap<&str, &core::ContainerStatus> {
    let Some(status) = status else {
        return BTreeMap::new();
    };
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .map(|s| (s.name.as_str(), s))
        .collect()
}

fn container_resources(
    container: &core::Container,
    status: Option<&&core::ContainerStatus>,
    at: At<'_>,
    path: &str,
) -> Result<ContainerResources, ConvertError> {
    let resources = container.resources.as_ref();
    Ok(ContainerResources {
        requests: resource_list(
            resources.and_then(|r| r.requests.as_ref()),
            at,
            &format!("{path}.resources.requests"),
        )?,
        limits: resource_list(
            resources.and_then(|r| r.limits.as_ref()),
            at,
            &format!("{path}.resources.limits"),
        )?,
        resize_status: status
            .map(|s| resize_status(s, at, container))
            .transpose()?
            .flatten(),
    })
}

/// What the kubelet reports for the container. Kubernetes takes the status into account whenever
/// it reports `resources` (not only while a resize is pending), so the same rule applies here.
fn resize_status(
    status: &core::ContainerStatus,
    at: At<'_>,
    container: &core::Container,
) -> Result<Option<ContainerResizeStatus>, ConvertError> {
    let Some(actual) = status.resources.as_ref() else {
        return Ok(None);
    };
    let base = format!("status.containerStatuses[name={}]", container.name);
    let allocated = status
        .allocated_resources
        .as_ref()
        .map(|a| resource_list(Some(a), at, &format!("{base}.allocatedResources")))
        .transpose()?;
    let actual_requests = actual
        .requests
        .as_ref()
        .map(|r| resource_list(Some(r), at, &format!("{base}.resources.requests")))
        .transpose()?;
    Ok(Some(ContainerResizeStatus {
        allocated,
        actual_requests,
    }))
}

/// Whether the kubelet said the pending resize can never be applied: the `PodResizePending`
/// condition with reason `Infeasible` (or the deprecated `status.resize: Infeasible`).
fn resize_infeasible(status: Option<&core::PodStatus>) -> bool {
    let Some(status) = status else {
        return false;
    };
    status.resize.as_deref() == Some("Infeasible")
        || status.conditions.iter().flatten().any(|c| {
            c.type_ == "PodResizePending"
                && c.status == "True"
                && c.reason.as_deref() == Some("Infeasible")
        })
}

/// Host ports of the regular containers (Karpenter's `GetHostPorts` looks at those only), with
/// the documented defaults: IP `0.0.0.0`, protocol TCP.
fn host_ports(spec: &core::PodSpec) -> Vec<HostPort> {
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port != 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".to_owned()),
                port,
                protocol: match p.protocol.as_deref() {
                    Some("UDP") => Protocol::Udp,
                    Some("SCTP") => Protocol::Sctp,
                    _ => Protocol::Tcp,
                },
            })
        })
        .collect()
}

/// `spec.volumes`: claims, generic ephemeral volumes (whose claim the core names
/// `<pod>-<volume>`), and everything else as [`VolumeSource::Other`].
fn volumes(spec: &core::PodSpec) -> Vec<PodVolume> {
    spec.volumes
        .iter()
        .flatten()
        .map(|v| PodVolume {
            name: v.name.clone(),
            source: if let Some(claim) = &v.persistent_volume_claim {
                VolumeSource::PersistentVolumeClaim {
                    claim_name: claim.claim_name.clone(),
                }
            } else if let Some(ephemeral) = &v.ephemeral {
                VolumeSource::Ephemeral {
                    storage_class_name: ephemeral
                        .volume_claim_template
                        .as_ref()
                        .and_then(|t| t.spec.storage_class_name.clone()),
                }
            } else {
                VolumeSource::Other
            },
        })
        .collect()
}
