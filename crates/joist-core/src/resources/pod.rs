//! What a pod requests (spec core §2.7): Kubernetes' `PodRequests` (k8s.io/component-helpers
//! `resource/helpers.go`) plus one `pods` slot, over plain data that drivers fill from the pod.
//!
//! The rules, in order:
//! 1. containers are summed;
//! 2. init containers run one after another before them: a regular init container needs its own
//!    requests plus every restartable ("sidecar", `restartPolicy: Always`) init container started
//!    before it, while sidecars keep running and so are also added to the container sum; the pod
//!    needs the larger of the init peak and that sum, per resource;
//! 3. during an in-place resize the larger of what the spec asks and what the kubelet has allocated
//!    or actuated counts (only what it allocated or actuated when the resize is infeasible);
//! 4. pod-level `spec.resources.requests` replace the container figure for the resources pod-level
//!    resources support (cpu, memory, huge pages);
//! 5. the RuntimeClass `overhead` is added;
//! 6. `pods: 1`.
//!
//! Not modelled: DRA node-allocatable claims and pod-level in-place resize (both alpha upstream).

use super::names::{CPU, HUGEPAGES_PREFIX, MEMORY, PODS};
use super::{Quantity, QuantityFormat, ResourceList};

/// The resources of one container as the pod spec and status state them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// `resources.requests` (after API defaulting; see [`default_requests_from_limits`]).
    pub requests: ResourceList,
    /// `resources.limits`; only used to default missing requests.
    pub limits: ResourceList,
    /// The container's status while an in-place resize is in progress, `None` otherwise. Kept
    /// because the kubelet may hold more than the spec now asks for until the resize completes.
    pub resize_status: Option<ContainerResizeStatus>,
}

/// What the kubelet reports for a container (`status.containerStatuses[]`) during an in-place resize.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResizeStatus {
    /// `allocatedResources`: what the kubelet admitted the container with.
    pub allocated: Option<ResourceList>,
    /// `resources.requests`: what is actually configured for the running container.
    pub actual_requests: Option<ResourceList>,
}

/// An init container: its resources and whether it is a restartable sidecar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitContainerResources {
    /// The container's resources.
    pub resources: ContainerResources,
    /// `restartPolicy: Always`: a sidecar that keeps running alongside the regular containers.
    pub restartable: bool,
}

/// Pod-level `spec.resources` (the `PodLevelResources` feature).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLevelResources {
    /// `spec.resources.requests`.
    pub requests: ResourceList,
    /// `spec.resources.limits`; only used to default missing pod-level requests.
    pub limits: ResourceList,
}

/// Everything about a pod that decides what it requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodResources {
    /// `spec.containers`.
    pub containers: Vec<ContainerResources>,
    /// `spec.initContainers`, in order (order matters for sidecars).
    pub init_containers: Vec<InitContainerResources>,
    /// `spec.overhead`, set from the pod's RuntimeClass.
    pub overhead: ResourceList,
    /// `spec.resources`, if set.
    pub pod_level: Option<PodLevelResources>,
    /// The `PodResizePending` condition says `Infeasible`: the kubelet will never apply the
    /// resized spec, so only what it has allocated or actuated counts.
    pub resize_infeasible: bool,
}

impl ContainerResources {
    /// A container requesting `requests`, with no limits and no resize in progress.
    pub fn with_requests(requests: ResourceList) -> ContainerResources {
        ContainerResources {
            requests,
            ..ContainerResources::default()
        }
    }
}

impl InitContainerResources {
    /// A regular (run-to-completion) init container requesting `requests`.
    pub fn regular(requests: ResourceList) -> InitContainerResources {
        InitContainerResources {
            resources: ContainerResources::with_requests(requests),
            restartable: false,
        }
    }

    /// A restartable sidecar init container requesting `requests`.
    pub fn sidecar(requests: ResourceList) -> InitContainerResources {
        InitContainerResources {
            resources: ContainerResources::with_requests(requests),
            restartable: true,
        }
    }
}

/// Whether pod-level resources may set `name`: cpu, memory and huge pages, as upstream.
pub fn is_supported_pod_level_resource(name: &str) -> bool {
    name == CPU || name == MEMORY || name.starts_with(HUGEPAGES_PREFIX)
}

/// The `pods` amount one pod uses, in the format Karpenter builds it with.
fn one_pod() -> Quantity {
    Quantity::from_int(1).with_format(QuantityFormat::DecimalExponent)
}

/// What `pod` requests, per the module documentation, including `pods: 1`.
pub fn pod_requests(pod: &PodResources) -> ResourceList {
    let mut requests = aggregate_container_requests(pod);
    if let Some(pod_level) = pod
        .pod_level
        .as_ref()
        .filter(|pod_level| sets_supported(&pod_level.requests))
    {
        for (name, quantity) in pod_level
            .requests
            .iter()
            .filter(|(name, _)| is_supported_pod_level_resource(name))
        {
            requests.insert(name, quantity);
        }
    }
    requests.add(&pod.overhead);
    requests.insert(PODS, one_pod());
    requests
}

/// The sum of [`pod_requests`] over `pods`, so `pods` counts them (Karpenter's `RequestsForPods`).
pub fn requests_for_pods<'a>(pods: impl IntoIterator<Item = &'a PodResources>) -> ResourceList {
    let mut total = ResourceList::new();
    for pod in pods {
        total.add(&pod_requests(pod));
    }
    total
}

fn sets_supported(list: &ResourceList) -> bool {
    list.iter()
        .any(|(name, _)| is_supported_pod_level_resource(name))
}

/// Container and init-container requests (Kubernetes' `AggregateContainerRequests` with status
/// resources in use).
fn aggregate_container_requests(pod: &PodResources) -> ResourceList {
    let spec = aggregate_by(pod, spec_requests);
    let resizing = pod.resize_infeasible
        || all_containers(pod).any(|container| container.resize_status.is_some());
    if !resizing {
        return spec;
    }
    let allocated = aggregate_by(pod, allocated_requests);
    let mut result = aggregate_by(pod, actuated_requests);
    result.max_per_key(&allocated);
    if !pod.resize_infeasible {
        result.max_per_key(&spec);
    }
    result
}

fn all_containers(pod: &PodResources) -> impl Iterator<Item = &ContainerResources> {
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().map(|init| &init.resources))
}

/// Which requests of a container count, given whether the pod's resize is infeasible.
type RequestsOf = fn(&ContainerResources, bool) -> Option<&ResourceList>;

fn spec_requests(container: &ContainerResources, _infeasible: bool) -> Option<&ResourceList> {
    Some(&container.requests)
}

/// What the kubelet allocated, falling back to the spec unless the resize is infeasible.
fn allocated_requests(container: &ContainerResources, infeasible: bool) -> Option<&ResourceList> {
    let status = container.resize_status.as_ref();
    match status.and_then(|status| status.allocated.as_ref()) {
        Some(allocated) => Some(allocated),
        None if infeasible => None,
        None => Some(&container.requests),
    }
}

/// What the container runs with, falling back to the allocation, then (unless the resize is
/// infeasible) to the spec.
fn actuated_requests(container: &ContainerResources, infeasible: bool) -> Option<&ResourceList> {
    match container
        .resize_status
        .as_ref()
        .and_then(|status| status.actual_requests.as_ref())
    {
        Some(actual) => Some(actual),
        None => allocated_requests(container, infeasible),
    }
}

/// Sums the containers and folds in the init containers with sidecar semantics, reading each
/// container's requests through `requests_of`.
fn aggregate_by(pod: &PodResources, requests_of: RequestsOf) -> ResourceList {
    let infeasible = pod.resize_infeasible;
    let mut result = ResourceList::new();
    for container in &pod.containers {
        if let Some(requests) = requests_of(container, infeasible) {
            result.add(requests);
        }
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for init in &pod.init_containers {
        let requests = requests_of(&init.resources, infeasible);
        if init.restartable {
            if let Some(requests) = requests {
                result.add(requests);
                sidecars.add(requests);
            }
            init_peak.max_per_key(&sidecars);
        } else {
            let mut running = sidecars.clone();
            if let Some(requests) = requests {
                running.add(requests);
            }
            init_peak.max_per_key(&running);
        }
    }
    result.max_per_key(&init_peak);
    result
}

/// Kubernetes API defaulting of requests, for pods that did not come through an API server
/// (scenario files, DaemonSet templates): a container's missing request for a resource it limits
/// becomes that limit; a pod-level missing request for a supported resource becomes the containers'
/// aggregate for huge pages, then the pod-level limit. Pods read from a cluster are already defaulted.
pub fn default_requests_from_limits(pod: &mut PodResources) {
    for container in pod.containers.iter_mut().chain(
        pod.init_containers
            .iter_mut()
            .map(|init| &mut init.resources),
    ) {
        default_container_requests(container);
    }
    let aggregate = aggregate_by(pod, spec_requests);
    let Some(pod_level) = pod.pod_level.as_mut() else {
        return;
    };
    if pod_level.limits.is_empty() {
        return;
    }
    for (name, quantity) in aggregate.iter() {
        if name.starts_with(HUGEPAGES_PREFIX) && !pod_level.requests.contains(name) {
            pod_level.requests.insert(name, quantity);
        }
    }
    for (name, limit) in pod_level.limits.iter() {
        if is_supported_pod_level_resource(name) && !pod_level.requests.contains(name) {
            pod_level.requests.insert(name, limit);
        }
    }
}

fn default_container_requests(container: &mut ContainerResources) {
    for (name, limit) in container.limits.iter() {
        if !container.requests.contains(name) {
            container.requests.insert(name, limit);
        }
    }
}

#[cfg(test)]
mod tests;
