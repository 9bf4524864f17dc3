use super::*;
use crate::resources::names::{EPHEMERAL_STORAGE, NVIDIA_GPU};

/// `rl(&[("cpu", "1"), ("memory", "1Mi")])`.
fn rl(entries: &[(&str, &str)]) -> ResourceList {
    entries
        .iter()
        .map(|(name, text)| match Quantity::parse(text) {
            Ok(quantity) => (*name, quantity),
            Err(error) => panic!("{text:?}: {error}"),
        })
        .collect()
}

/// A fluent pod builder: `pod().container(&[("cpu", "1")]).sidecar(...).build()`.
#[derive(Default)]
struct PodBuilder(PodResources);

fn pod() -> PodBuilder {
    PodBuilder::default()
}

impl PodBuilder {
    fn container(mut self, requests: &[(&str, &str)]) -> Self {
        self.0
            .containers
            .push(ContainerResources::with_requests(rl(requests)));
        self
    }

    fn init(mut self, requests: &[(&str, &str)]) -> Self {
        self.0
            .init_containers
            .push(InitContainerResources::regular(rl(requests)));
        self
    }

    fn sidecar(mut self, requests: &[(&str, &str)]) -> Self {
        self.0
            .init_containers
            .push(InitContainerResources::sidecar(rl(requests)));
        self
    }

    fn overhead(mut self, overhead: &[(&str, &str)]) -> Self {
        self.0.overhead = rl(overhead);
        self
    }

    fn pod_level(mut self, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Self {
        self.0.pod_level = Some(PodLevelResources {
            requests: rl(requests),
            limits: rl(limits),
        });
        self
    }

    /// Puts a resize status on the last regular container.
    fn resizing(
        mut self,
        allocated: Option<&[(&str, &str)]>,
        actual: Option<&[(&str, &str)]>,
    ) -> Self {
        let Some(container) = self.0.containers.last_mut() else {
            panic!("add a container first")
        };
        container.resize_status = Some(ContainerResizeStatus {
            allocated: allocated.map(rl),
            actual_requests: actual.map(rl),
        });
        self
    }

    fn infeasible(mut self) -> Self {
        self.0.resize_infeasible = true;
        self
    }

    fn requests(&self) -> ResourceList {
        pod_requests(&self.0)
    }
}

#[test]
fn sums_containers_and_counts_one_pod() {
    let requests = pod()
        .container(&[("cpu", "1"), ("memory", "1Mi")])
        .container(&[("cpu", "500m")])
        .requests();
    assert_eq!(
        requests,
        rl(&[("cpu", "1500m"), ("memory", "1Mi"), ("pods", "1")])
    );
    assert_eq!(pod().requests(), rl(&[("pods", "1")]));
}

#[test]
fn sums_over_pods_count_the_pods() {
    // Spec core §2.7: one DaemonSet pod (1 CPU, 1Mi) and two pods (1 CPU, 1Mi each).
    let daemon = pod().container(&[("cpu", "1"), ("memory", "1Mi")]).0;
    let workload = pod().container(&[("cpu", "1"), ("memory", "1Mi")]).0;
    let total = requests_for_pods([&daemon, &workload, &workload]);
    assert_eq!(total, rl(&[("cpu", "3"), ("memory", "3Mi"), ("pods", "3")]));
    assert_eq!(
        total.to_string(),
        r#"{"cpu":"3","memory":"3Mi","pods":"3"}"#
    );
}

#[test]
fn an_init_container_bigger_than_the_containers_sets_the_peak_per_resource() {
    let requests = pod()
        .container(&[("cpu", "1"), ("memory", "1Gi")])
        .init(&[
            ("cpu", "2"),
            ("memory", "512Mi"),
            (EPHEMERAL_STORAGE, "1Gi"),
        ])
        .requests();
    assert_eq!(
        requests,
        rl(&[
            ("cpu", "2"),
            ("memory", "1Gi"),
            (EPHEMERAL_STORAGE, "1Gi"),
            ("pods", "1")
        ])
    );
}

#[test]
fn a_sidecar_started_before_a_regular_init_container_runs_alongside_it() {
    // Init peak: 2.5 (init) + 1 (sidecar) = 3.5 > containers 1 + sidecar 1.
    let requests = pod()
        .sidecar(&[("cpu", "1")])
        .init(&[("cpu", "2500m")])
        .container(&[("cpu", "1")])
        .requests();
    assert_eq!(requests.get("cpu"), Some(Quantity::from_milli(3500)));
}

#[test]
fn a_sidecar_started_after_a_regular_init_container_does_not_add_to_it() {
    // Init peak: 2.5 alone; the sidecar then runs with the containers: 1 + 1 = 2.
    let requests = pod()
        .init(&[("cpu", "2500m")])
        .sidecar(&[("cpu", "1")])
        .container(&[("cpu", "1")])
        .requests();
    assert_eq!(requests.get("cpu"), Some(Quantity::from_milli(2500)));
}

#[test]
fn sidecars_accumulate_and_count_with_the_containers() {
    let requests = pod()
        .sidecar(&[("cpu", "1"), ("memory", "100Mi")])
        .sidecar(&[("cpu", "2")])
        .init(&[("cpu", "1500m"), ("memory", "50Mi")])
        .container(&[("cpu", "1"), ("memory", "1Gi")])
        .requests();
    // cpu: init peak 1.5 + 3 = 4.5 beats containers 1 + sidecars 3 = 4.
    // memory: containers 1Gi + sidecars 100Mi beats the init peak 150Mi.
    assert_eq!(
        requests,
        rl(&[("cpu", "4500m"), ("memory", "1124Mi"), ("pods", "1")])
    );
}

#[test]
fn pod_level_requests_replace_the_container_figure_for_supported_resources() {
    let requests = pod()
        .container(&[("cpu", "1"), ("memory", "1Gi"), (NVIDIA_GPU, "1")])
        .pod_level(&[("cpu", "4"), (NVIDIA_GPU, "2")], &[])
        .requests();
    // cpu from the pod level; memory from the containers; the GPU is not a pod-level resource.
    assert_eq!(
        requests,
        rl(&[
            ("cpu", "4"),
            ("memory", "1Gi"),
            (NVIDIA_GPU, "1"),
            ("pods", "1")
        ])
    );
}

#[test]
fn pod_level_resources_apply_only_when_they_set_a_supported_request() {
    let only_limits = pod()
        .container(&[("cpu", "1")])
        .pod_level(&[], &[("cpu", "4")])
        .requests();
    assert_eq!(only_limits.get("cpu"), Some(Quantity::from_int(1)));
    let only_unsupported = pod()
        .container(&[("cpu", "1")])
        .pod_level(&[(NVIDIA_GPU, "1")], &[])
        .requests();
    assert_eq!(only_unsupported, rl(&[("cpu", "1"), ("pods", "1")]));
    let huge_pages = pod()
        .container(&[("cpu", "1")])
        .pod_level(&[("hugepages-2Mi", "10Mi")], &[])
        .requests();
    assert_eq!(
        huge_pages.get("hugepages-2Mi"),
        Some(Quantity::from_mebibytes(10))
    );
}

#[test]
fn runtime_class_overhead_is_added() {
    // Spec core §9.2 item 11: a pod with 1 CPU and 2 CPU of overhead needs 3 CPU.
    let requests = pod()
        .container(&[("cpu", "1")])
        .overhead(&[("cpu", "2"), ("memory", "100Mi")])
        .requests();
    assert_eq!(
        requests,
        rl(&[("cpu", "3"), ("memory", "100Mi"), ("pods", "1")])
    );
    let with_pod_level = pod()
        .container(&[("cpu", "1")])
        .pod_level(&[("cpu", "2")], &[])
        .overhead(&[("cpu", "1")])
        .requests();
    assert_eq!(with_pod_level.get("cpu"), Some(Quantity::from_int(3)));
}

#[test]
fn a_resize_counts_the_larger_of_spec_allocation_and_actual() {
    let grown = pod()
        .container(&[("cpu", "1")])
        .resizing(Some(&[("cpu", "2")]), None)
        .requests();
    assert_eq!(grown.get("cpu"), Some(Quantity::from_int(2)));
    let shrunk_spec_wins = pod()
        .container(&[("cpu", "3")])
        .resizing(Some(&[("cpu", "2")]), None)
        .requests();
    assert_eq!(shrunk_spec_wins.get("cpu"), Some(Quantity::from_int(3)));
    let actual_wins = pod()
        .container(&[("cpu", "1")])
        .resizing(Some(&[("cpu", "2")]), Some(&[("cpu", "2500m")]))
        .requests();
    assert_eq!(actual_wins.get("cpu"), Some(Quantity::from_milli(2500)));
    // Other containers without a status count at their spec in every view.
    let mixed = pod()
        .container(&[("cpu", "1")])
        .container(&[("cpu", "1")])
        .resizing(Some(&[("cpu", "3")]), None)
        .requests();
    assert_eq!(mixed.get("cpu"), Some(Quantity::from_int(4)));
}

#[test]
fn an_infeasible_resize_ignores_the_unreachable_spec() {
    let requests = pod()
        .container(&[("cpu", "4")])
        .resizing(Some(&[("cpu", "2")]), None)
        .infeasible()
        .requests();
    assert_eq!(requests.get("cpu"), Some(Quantity::from_int(2)));
    // A container without any status contributes nothing when the resize is infeasible.
    let no_status = pod().container(&[("cpu", "4")]).infeasible().requests();
    assert_eq!(no_status, rl(&[("pods", "1")]));
}

#[test]
fn api_defaulting_copies_limits_into_missing_requests() {
    let mut resources = PodResources {
        containers: vec![ContainerResources {
            requests: rl(&[("cpu", "1")]),
            limits: rl(&[("cpu", "2"), ("memory", "1Gi"), ("hugepages-2Mi", "4Mi")]),
            resize_status: None,
        }],
        init_containers: vec![InitContainerResources {
            resources: ContainerResources {
                limits: rl(&[(NVIDIA_GPU, "1")]),
                ..ContainerResources::default()
            },
            restartable: false,
        }],
        pod_level: Some(PodLevelResources {
            requests: rl(&[("memory", "2Gi")]),
            limits: rl(&[("cpu", "3"), ("memory", "4Gi")]),
        }),
        ..PodResources::default()
    };
    default_requests_from_limits(&mut resources);
    assert_eq!(
        resources.containers[0].requests,
        rl(&[("cpu", "1"), ("memory", "1Gi"), ("hugepages-2Mi", "4Mi")])
    );
    assert_eq!(
        resources.init_containers[0].resources.requests,
        rl(&[(NVIDIA_GPU, "1")])
    );
    let pod_level = resources
        .pod_level
        .as_ref()
        .map(|pod_level| pod_level.requests.clone());
    // Huge pages from the containers, cpu from the pod-level limit, the explicit memory kept.
    assert_eq!(
        pod_level,
        Some(rl(&[
            ("cpu", "3"),
            ("memory", "2Gi"),
            ("hugepages-2Mi", "4Mi")
        ]))
    );
    assert_eq!(
        pod_requests(&resources),
        rl(&[
            ("cpu", "3"),
            ("memory", "2Gi"),
            ("hugepages-2Mi", "4Mi"),
            (NVIDIA_GPU, "1"),
            ("pods", "1")
        ])
    );
}

#[test]
fn api_defaulting_leaves_pod_level_requests_alone_without_pod_level_limits() {
    let mut resources = pod()
        .container(&[("hugepages-2Mi", "4Mi")])
        .pod_level(&[("cpu", "1")], &[])
        .0;
    default_requests_from_limits(&mut resources);
    assert_eq!(
        resources.pod_level.map(|pod_level| pod_level.requests),
        Some(rl(&[("cpu", "1")]))
    );
}
