//! End to end on a real control plane, the controller running with the chart's RBAC: a
//! Deployment with a zonal topology spread constraint (maxSkew 1, DoNotSchedule,
//! `topology.kubernetes.io/zone`; spec core §2.9) gets nodes in at least three zones and its
//! pods end up evenly spread (skew ≤ 1 over every zone with a node), every one Running. Each pod
//! asks for 3 CPUs, so a node sized for its zone's share (1 or 2 pods: an xlarge or a 2xlarge)
//! has no room for more when kube-scheduler binds pods to whichever node is ready first.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{ListParams, PostParams};

use support::{
    WAIT, apply_example, assert_healthy, controller_config, deployment, install_crds, node_labels,
    running, start,
};

const REPLICAS: usize = 9;
const ZONE: &str = "topology.kubernetes.io/zone";

fn spread_deployment() -> Deployment {
    let mut workload = deployment(REPLICAS);
    let spec = workload.spec.as_mut().expect("spec");
    let labels = spec.selector.match_labels.clone();
    let pod = spec.template.spec.as_mut().expect("pod");
    pod.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE.to_owned(),
        when_unsatisfiable: "DoNotSchedule".to_owned(),
        label_selector: Some(LabelSelector {
            match_labels: labels,
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    }]);
    let requests = pod.containers[0]
        .resources
        .as_mut()
        .and_then(|r| r.requests.as_mut())
        .expect("requests");
    requests.insert("cpu".to_owned(), Quantity("3".to_owned()));
    workload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zonal_spread_gets_nodes_in_three_zones_and_pods_evenly_spread() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    let config = controller_config(&control_plane).await;
    let controller = start(&config).await;

    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(&PostParams::default(), &spread_deployment())
        .await
        .expect("deployment");

    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    let pods = eventually("every pod Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == REPLICAS && running(&pods) == REPLICAS).then_some(pods)
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));
    assert_healthy(&controller, "after provisioning").await;

    let labels = node_labels(&admin).await;
    let zones_with_nodes: std::collections::BTreeSet<&String> = labels
        .values()
        .filter(|l| l.contains_key("karpenter.sh/nodepool"))
        .filter_map(|l| l.get(ZONE))
        .collect();
    assert!(
        zones_with_nodes.len() >= 3,
        "nodes in {zones_with_nodes:?} only"
    );
    // kube-scheduler measures the skew over every zone that has a node, empty ones included.
    let mut per_zone: BTreeMap<String, usize> = zones_with_nodes
        .iter()
        .map(|zone| ((*zone).clone(), 0))
        .collect();
    for pod in &pods {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .expect("bound");
        let zone = labels[node].get(ZONE).cloned().expect("the node's zone");
        *per_zone.entry(zone).or_default() += 1;
    }
    assert!(per_zone.len() >= 3, "pods in {per_zone:?}");
    let most = per_zone.values().max().copied().unwrap_or(0);
    let least = per_zone.values().min().copied().unwrap_or(0);
    assert!(most - least <= 1, "skew {} in {per_zone:?}", most - least);
    eprintln!(
        "pods per zone {per_zone:?}, {} nodes; e2e wall time {:.1}s",
        labels.len(),
        began.elapsed().as_secs_f64()
    );
}
