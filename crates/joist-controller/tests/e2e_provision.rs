//! End to end on a real control plane (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler, kwok): joist's controller runs in-process as its own ServiceAccount with the
//! RBAC it documents, provisions kwok nodes for a 50-pod Deployment, and a restart creates no
//! duplicate NodeClaims.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use joist_controller::objects::{NodeClaimObject, NodePoolObject};
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};

use support::{
    WAIT, apply_example, condition_true, controller_config, deployment, install_crds, running,
    start,
};

const REPLICAS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisions_kwok_nodes_for_a_deployment_and_restarts_without_duplicates() {
    let began = Instant::now();
    // The controller's logs, shown when the test fails.
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
        .create(&PostParams::default(), &deployment(REPLICAS))
        .await
        .expect("deployment");

    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    let all_running = eventually("all pods Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == REPLICAS && running(&pods) == REPLICAS).then_some(())
        }
    })
    .await;
    if let Err(err) = all_running {
        let pool = Api::<NodePoolObject>::all(admin.clone())
            .get("default")
            .await
            .ok();
        panic!("{err}\nnodepool status: {:?}", pool.map(|p| p.0.status));
    }

    let claims_api: Api<NodeClaimObject> = Api::all(admin.clone());
    let claims = eventually("every NodeClaim Initialized", WAIT, || {
        let claims_api = claims_api.clone();
        async move {
            let claims = claims_api.list(&ListParams::default()).await.ok()?.items;
            claims
                .iter()
                .all(|c| condition_true(c, "Initialized") && condition_true(c, "Ready"))
                .then_some(claims)
        }
    })
    .await
    .expect("initialized");
    assert!(!claims.is_empty());

    // Every NodeClaim's Node is registered, Ready, initialized and runs some of the pods: nothing
    // was launched that the pods did not need.
    let nodes = Api::<Node>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items;
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items;
    let used: BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect();
    for claim in &claims {
        let node_name = claim
            .0
            .status
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .expect("status.nodeName");
        let node = nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(node_name))
            .expect("the claim's node");
        let labels = node.metadata.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("karpenter.sh/registered").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            labels.get("karpenter.sh/initialized").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            labels.get("karpenter.sh/nodepool").map(String::as_str),
            Some("default")
        );
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        assert!(
            taints.iter().all(|t| t.key != "karpenter.sh/unregistered"),
            "{taints:?}"
        );
        assert!(
            node.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == "karpenter.sh/termination")
        );
        assert!(
            used.contains(node_name),
            "node {node_name} runs none of the pods"
        );
        assert!(
            claim
                .0
                .metadata
                .name
                .as_deref()
                .expect("named")
                .starts_with("default-")
        );
    }
    let names: BTreeSet<String> = claims.iter().map(|c| c.0.name().to_owned()).collect();
    eprintln!("{} NodeClaims for {REPLICAS} pods: {names:?}", claims.len());

    // Every registration was counted, under the node's NodePool and zone.
    let rendered = controller.metrics().render();
    let registered: f64 = rendered
        .lines()
        .filter(|l| l.starts_with("karpenter_nodes_created_total{nodepool=\"default\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(registered, claims.len() as f64, "{rendered}");

    // Restart: the new controller sees the NodeClaims (in flight or not) and launches nothing.
    drop(controller);
    let restarted = start(&config).await;
    eventually("restarted controller synced", WAIT, || {
        let index = restarted.index().clone();
        async move { index.is_ready().then_some(()) }
    })
    .await
    .expect("synced");
    // Longer than a batch window plus a solve, so a wrong round would have created its claims.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after: BTreeSet<String> = claims_api
        .list(&ListParams::default())
        .await
        .expect("claims")
        .items
        .iter()
        .map(|c| c.0.name().to_owned())
        .collect();
    assert_eq!(after, names, "a restart must not launch again");
    eprintln!("e2e wall time: {:.1}s", began.elapsed().as_secs_f64());
}
