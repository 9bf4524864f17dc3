//! End to end on a real control plane: a Deployment scales 0 → 50 → 0 and emptiness removes
//! every NodeClaim and Node it launched (disrupted taint, validation, NodeClaim deletion, Node
//! termination, kwok instance deletion, both finalizers released), except the node annotated
//! `karpenter.sh/do-not-disrupt: "true"`, which goes only once the annotation is removed; and
//! 50 → 8 leaves one pod on each of 8 nodes, which consolidation packs onto two.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use joist_controller::objects::{NodeClaimObject, NodePoolObject};
use joist_controller::settings::Settings;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use support::{
    WAIT, apply_example, condition_true, controller_config, deployment, install_crds, running,
    settings, start_with,
};

const REPLICAS: usize = 50;
/// Scale-down must finish well within this (one 10 s polling period, the validation delay, and
/// termination).
const SCALE_DOWN_BOUND: Duration = Duration::from_secs(60);

/// The tests run one after the other: each starts a control plane, and the machine is small.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn claim_names(admin: &Client) -> BTreeSet<String> {
    Api::<NodeClaimObject>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .map(|list| list.items.iter().map(|c| c.0.name().to_owned()).collect())
        .unwrap_or_default()
}

async fn managed_node_names(admin: &Client) -> BTreeSet<String> {
    Api::<Node>::all(admin.clone())
        .list(&ListParams::default().labels("karpenter.sh/nodepool"))
        .await
        .map(|list| {
            list.items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect()
        })
        .unwrap_or_default()
}

async fn scale(admin: &Client, replicas: usize) {
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scaled");
}

async fn annotate_do_not_disrupt(admin: &Client, node: &str, value: Option<&str>) {
    Api::<Node>::all(admin.clone())
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"karpenter.sh/do-not-disrupt": value}}}),
            ),
        )
        .await
        .expect("annotated");
}

/// Control plane, CRDs, the example NodePool made quick to empty (`consolidateAfter: 0s`, every
/// node disruptable at once) and limited to 4-vCPU instances, and the controller with a 1 s validation delay.
async fn setup() -> (ControlPlane, Client, joist_controller::RunningController) {
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    Api::<NodePoolObject>::all(admin.clone())
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "disruption": {"consolidateAfter": "0s", "budgets": [{"nodes": "100%"}]},
                // 4-vCPU instances: the 50 pods need several nodes.
                "template": {"spec": {"requirements": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]},
                    {"key": "karpenter.k8s.aws/instance-cpu", "operator": "In", "values": ["4"]},
                ]}},
            }})),
        )
        .await
        .expect("nodepool patched");
    let config = controller_config(&control_plane).await;
    let settings = Settings {
        disruption_validation_delay: Duration::from_secs(1),
        ..settings()
    };
    let controller = start_with(&config, &settings).await;
    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    (control_plane, admin, controller)
}

/// Scales up and waits until every pod runs on an initialized NodeClaim's Node.
async fn scale_up(admin: &Client) -> BTreeSet<String> {
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(&PostParams::default(), &deployment(REPLICAS))
        .await
        .expect("deployment");
    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    eventually("all pods Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == REPLICAS && running(&pods) == REPLICAS).then_some(())
        }
    })
    .await
    .expect("running");
    let claims_api: Api<NodeClaimObject> = Api::all(admin.clone());
    eventually("every NodeClaim Initialized", WAIT, || {
        let claims_api = claims_api.clone();
        async move {
            let claims = claims_api.list(&ListParams::default()).await.ok()?.items;
            claims
                .iter()
                .all(|c| condition_true(c, "Initialized"))
                .then_some(())
        }
    })
    .await
    .expect("initialized");
    managed_node_names(admin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_to_zero_empties_every_node_but_the_do_not_disrupt_one() {
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (_control_plane, admin, _controller) = setup().await;
    let nodes = scale_up(&admin).await;
    assert!(nodes.len() >= 2, "want several nodes, got {nodes:?}");
    let protected = nodes.iter().next().expect("a node").clone();
    annotate_do_not_disrupt(&admin, &protected, Some("true")).await;
    eprintln!(
        "{} nodes up after {:.1}s",
        nodes.len(),
        began.elapsed().as_secs_f64()
    );

    let scaled_down = Instant::now();
    scale(&admin, 0).await;
    let only_protected = BTreeSet::from([protected.clone()]);
    eventually(
        "every unprotected Node and NodeClaim gone",
        SCALE_DOWN_BOUND,
        || {
            let (admin, only_protected) = (admin.clone(), only_protected.clone());
            async move {
                let nodes = managed_node_names(&admin).await;
                let claims = claim_names(&admin).await;
                (nodes == only_protected && claims.len() == 1).then_some(())
            }
        },
    )
    .await
    .expect("emptied");
    eprintln!(
        "scale-down removed {} nodes in {:.1}s",
        nodes.len() - 1,
        scaled_down.elapsed().as_secs_f64()
    );

    // The protected node stays through more passes than a removal takes (a pass right after the
    // last deletion, then the validation delay).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(managed_node_names(&admin).await, only_protected);
    let protected_node = Api::<Node>::all(admin.clone())
        .get(&protected)
        .await
        .expect("protected node");
    let tainted = protected_node
        .spec
        .and_then(|s| s.taints)
        .unwrap_or_default()
        .iter()
        .any(|t| t.key == "karpenter.sh/disrupted");
    assert!(
        !tainted,
        "a do-not-disrupt node is never tainted for disruption"
    );

    // Without the annotation it is empty like the others and goes too.
    let unprotected = Instant::now();
    annotate_do_not_disrupt(&admin, &protected, None).await;
    eventually("the last Node and NodeClaim gone", SCALE_DOWN_BOUND, || {
        let admin = admin.clone();
        async move {
            (managed_node_names(&admin).await.is_empty() && claim_names(&admin).await.is_empty())
                .then_some(())
        }
    })
    .await
    .expect("all gone");
    eprintln!(
        "unprotected node removed in {:.1}s; e2e wall time: {:.1}s",
        unprotected.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consolidation_packs_the_remaining_pods_onto_fewer_nodes() {
    const REMAINING: usize = 8;
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (_control_plane, admin, _controller) = setup().await;
    let nodes = scale_up(&admin).await;
    assert!(nodes.len() > 2, "want more than two nodes, got {nodes:?}");

    // The ReplicaSet removes pods from the most crowded nodes first, so every node keeps some:
    // only consolidation (not emptiness) can remove most of them.
    let scaled_down = Instant::now();
    scale(&admin, REMAINING).await;
    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    let packed = eventually("pods packed onto two nodes", SCALE_DOWN_BOUND, || {
        let (admin, pods_api) = (admin.clone(), pods_api.clone());
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            let nodes = managed_node_names(&admin).await;
            let claims = claim_names(&admin).await;
            let used: BTreeSet<String> = pods
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                .collect();
            (pods.len() == REMAINING
                && running(&pods) == REMAINING
                && nodes.len() <= 2
                && claims.len() == nodes.len()
                && used.is_subset(&nodes))
            .then_some(nodes)
        }
    })
    .await;
    let packed = packed.unwrap_or_else(|err| panic!("{err}"));
    eprintln!(
        "consolidated {} nodes to {} in {:.1}s; e2e wall time: {:.1}s",
        nodes.len(),
        packed.len(),
        scaled_down.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
