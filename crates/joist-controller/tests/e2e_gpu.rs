//! End to end on a real control plane, the controller running with the chart's RBAC: GPU and
//! CPU workloads side by side (spec aws, GPU instance types and `nvidia.com/gpu`). NodePool
//! `gpu` allows a GPU and a non-GPU family (`karpenter.k8s.aws/instance-family In [g5, c6i]`)
//! and taints its nodes `nvidia.com/gpu=true:NoSchedule`; NodePool `default` is the
//! general-purpose example (c/m/r, untainted). Pods asking for `nvidia.com/gpu: 1` (and
//! tolerating the taint) land only on tainted GPU instance types (`instance-gpu-count` > 0,
//! `nvidia.com/gpu` allocatable): the GPU request filters c6i out. CPU pods never land on a GPU
//! node. (An untainted pool allowing g5 would not do: upstream adds pods to the round's
//! in-flight NodeClaims first, so CPU pods may share a GPU pod's g5.)

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use joist_controller::objects::NodePoolObject;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use support::{
    WAIT, apply_example, assert_healthy, controller_config, create_nodepool, deployment,
    events_about, install_crds, node_labels, running, start,
};

const GPU_REPLICAS: usize = 3;
const CPU_REPLICAS: usize = 6;
const GPU_COUNT: &str = "karpenter.k8s.aws/instance-gpu-count";
const GPU_RESOURCE: &str = "nvidia.com/gpu";

fn gpu_nodepool() -> serde_json::Value {
    let spec = json!({
        "requirements": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "c6i"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        ],
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
        "taints": [{"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}],
        "expireAfter": "Never",
    });
    json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {
            "template": {"spec": spec},
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"},
        },
    })
}

/// `support::deployment` renamed to `name` (its pods labelled `app=<name>`).
fn named_deployment(name: &str, replicas: usize) -> Deployment {
    let mut workload = deployment(replicas);
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    workload.metadata.name = Some(name.to_owned());
    let spec = workload.spec.as_mut().expect("spec");
    spec.selector.match_labels = Some(labels.clone());
    spec.template.metadata.as_mut().expect("metadata").labels = Some(labels);
    workload
}

/// One GPU per pod (a limit: the API server copies it into requests) and a toleration of the
/// GPU NodePool's taint.
fn gpu_deployment() -> Deployment {
    let mut workload = named_deployment("trainer", GPU_REPLICAS);
    let pod = workload
        .spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod");
    pod.tolerations = Some(vec![Toleration {
        key: Some(GPU_RESOURCE.to_owned()),
        operator: Some("Exists".to_owned()),
        effect: Some("NoSchedule".to_owned()),
        ..Toleration::default()
    }]);
    let resources = pod.containers[0].resources.as_mut().expect("resources");
    resources.limits = Some(BTreeMap::from([(
        GPU_RESOURCE.to_owned(),
        Quantity("1".to_owned()),
    )]));
    workload
}

fn gpu_count(labels: &BTreeMap<String, String>) -> u64 {
    labels
        .get(GPU_COUNT)
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

fn has_gpu_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .into_iter()
        .flatten()
        .any(|t| {
            t.key == GPU_RESOURCE && t.value.as_deref() == Some("true") && t.effect == "NoSchedule"
        })
}

/// Node name of every pod of `app`.
fn placements<'a>(pods: &'a [Pod], app: &str) -> Vec<&'a str> {
    pods.iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .map(String::as_str)
                == Some(app)
        })
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect()
}

/// Waits until NodePool `name` is Ready (only Ready NodePools take part in a round).
async fn wait_ready(admin: &Client, name: &str) {
    let pools: Api<NodePoolObject> = Api::all(admin.clone());
    eventually(&format!("NodePool {name} Ready"), WAIT, || {
        let pools = pools.clone();
        async move {
            let pool = pools.get(name).await.ok()?;
            pool.0
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
                .then_some(())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
}

/// GPU pods on tainted `gpu` nodes with GPUs, CPU pods on untainted `default` nodes without.
/// Returns the node names of the GPU and of the CPU pods.
async fn assert_placement(admin: &Client, pods: &[Pod]) -> (Vec<String>, Vec<String>) {
    let labels = node_labels(admin).await;
    let nodes: BTreeMap<String, Node> = Api::<Node>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
        .into_iter()
        .map(|n| (n.metadata.name.clone().unwrap_or_default(), n))
        .collect();
    let gpu_nodes = placements(pods, "trainer");
    let cpu_nodes = placements(pods, "web");
    assert_eq!(gpu_nodes.len(), GPU_REPLICAS);
    assert_eq!(cpu_nodes.len(), CPU_REPLICAS);
    for name in &gpu_nodes {
        let node_labels = &labels[*name];
        let pool = node_labels.get("karpenter.sh/nodepool").map(String::as_str);
        assert!(
            gpu_count(node_labels) > 0,
            "GPU pod on {name}: {node_labels:?}"
        );
        assert!(
            has_gpu_taint(&nodes[*name]),
            "GPU node {name} lacks the taint"
        );
        assert_eq!(pool, Some("gpu"), "{name}");
        let allocatable = nodes[*name]
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(GPU_RESOURCE))
            .map(|q| q.0.clone());
        assert!(
            allocatable.is_some_and(|q| q != "0"),
            "{name} offers no {GPU_RESOURCE}"
        );
    }
    for name in &cpu_nodes {
        let node_labels = &labels[*name];
        let pool = node_labels.get("karpenter.sh/nodepool").map(String::as_str);
        assert_eq!(
            gpu_count(node_labels),
            0,
            "CPU pod on GPU node {name}: {node_labels:?}"
        );
        assert!(!has_gpu_taint(&nodes[*name]), "{name}");
        assert_eq!(pool, Some("default"), "{name}");
    }
    let owned = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect();
    (owned(gpu_nodes), owned(cpu_nodes))
}

/// Every pod was told which NodeClaim it should schedule on, and it is the one it runs on (kwok
/// names a node after its NodeClaim).
async fn assert_nominated(admin: &Client, pods: &[Pod]) {
    for pod in pods {
        let name = pod.metadata.name.as_deref().expect("named");
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .expect("bound");
        let nominated = eventually(&format!("Nominated on {name}"), WAIT, || {
            let admin = admin.clone();
            async move {
                let events = events_about(&admin, "e2e", name, "Nominated").await;
                (!events.is_empty()).then_some(events)
            }
        })
        .await
        .expect("nominated");
        assert_eq!(nominated.len(), 1, "{nominated:?}");
        assert_eq!(
            nominated[0].message.as_deref(),
            Some(format!("Pod should schedule on: nodeclaim/{node}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_pods_land_only_on_tainted_gpu_nodes_and_cpu_pods_never_do() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    create_nodepool(&admin, gpu_nodepool()).await;
    let config = controller_config(&control_plane).await;
    let controller = start(&config).await;
    wait_ready(&admin, "gpu").await;
    wait_ready(&admin, "default").await;

    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "e2e");
    for workload in [gpu_deployment(), named_deployment("web", CPU_REPLICAS)] {
        deployments
            .create(&PostParams::default(), &workload)
            .await
            .expect("deployment");
    }
    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    let total = GPU_REPLICAS + CPU_REPLICAS;
    let pods = eventually("every pod Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == total && running(&pods) == total).then_some(pods)
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));
    assert_healthy(&controller, "after provisioning").await;

    let (gpu_nodes, cpu_nodes) = assert_placement(&admin, &pods).await;
    assert_nominated(&admin, &pods).await;
    eprintln!(
        "GPU nodes {gpu_nodes:?}, CPU nodes {cpu_nodes:?}; e2e wall time {:.1}s",
        began.elapsed().as_secs_f64()
    );
}
