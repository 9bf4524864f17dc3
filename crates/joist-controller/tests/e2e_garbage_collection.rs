//! Garbage collection on a real control plane: a kwok instance (Node) that no NodeClaim owns is
//! terminated once it is older than the 30 s grace, and a Registered NodeClaim whose instance
//! is gone is deleted; a NodePool's `status.resources`/`status.nodes` follow its nodes.

mod support;

use std::collections::BTreeMap;

use joist_controller::objects::{NodeClaimObject, NodePoolObject};
use joist_core::resources::Quantity;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::core::v1::{Node, NodeSpec};
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use support::{WAIT, apply_example, controller_config, install_crds, start};

fn orphan_node() -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("orphan".to_owned()),
            labels: Some(BTreeMap::from([
                ("kwok.x-k8s.io/node".to_owned(), "fake".to_owned()),
                ("karpenter.sh/nodepool".to_owned(), "default".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some("kwok://orphan".to_owned()),
            ..NodeSpec::default()
        }),
        ..Node::default()
    }
}

/// A NodeClaim that says it registered on an instance that does not exist.
async fn ghost_claim(admin: &kube::Client) {
    let api: Api<NodeClaimObject> = Api::all(admin.clone());
    let claim: NodeClaimObject = serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "ghost", "labels": {"karpenter.sh/nodepool": "default"}},
        "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large"]}]
        }
    }))
    .expect("a NodeClaim");
    api.create(&PostParams::default(), &claim)
        .await
        .expect("ghost created");
    let status = json!({"status": {
        "providerID": "kwok://ghost",
        "capacity": {"cpu": "2", "memory": "8Gi", "pods": "29"},
        "conditions": [
            {"type": "Launched", "status": "True", "reason": "Launched", "message": "",
             "lastTransitionTime": "2026-11-22T10:00:00Z"},
            {"type": "Registered", "status": "True", "reason": "Registered", "message": "",
             "lastTransitionTime": "2026-11-22T10:00:00Z"}
        ]
    }});
    api.patch_status("ghost", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("ghost status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_collected_both_ways_and_the_nodepool_counts_its_nodes() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    let nodes: Api<Node> = Api::all(admin.clone());
    nodes
        .create(&PostParams::default(), &orphan_node())
        .await
        .expect("orphan node");
    ghost_claim(&admin).await;
    let config = controller_config(&control_plane).await;
    let _controller = start(&config).await;

    // Before the grace passes, the orphan counts as one of the pool's nodes (a Node with the
    // pool's label and no NodeClaim); the ghost, with no Node, counts with its own capacity.
    let pools: Api<NodePoolObject> = Api::all(admin.clone());
    let counted = eventually("the NodePool counts the ghost and the orphan", WAIT, || {
        let pools = pools.clone();
        async move {
            let status = pools.get("default").await.ok()?.0.status?;
            (status.nodes == Some(2)).then_some(status)
        }
    })
    .await
    .expect("counted");
    let resources = counted.resources.expect("status.resources");
    // kwok gives its fake Nodes a capacity of its own: the sum is the ghost's 2 plus that.
    let orphan_cpu = nodes
        .get("orphan")
        .await
        .expect("orphan")
        .status
        .and_then(|s| s.capacity)
        .and_then(|c| c.get("cpu").map(|q| q.0.clone()))
        .expect("kwok reports the orphan's cpu");
    let quantity = |text: &str| Quantity::parse(text).expect("a quantity");
    let counted_cpu = resources["cpu"].text().expect("cpu");
    assert_eq!(
        quantity(&counted_cpu),
        quantity(&orphan_cpu) + quantity("2"),
        "{counted_cpu} = {orphan_cpu} + 2"
    );
    assert_eq!(resources["nodes"].text().as_deref(), Some("2"));

    let claims: Api<NodeClaimObject> = Api::all(admin.clone());
    eventually("the ghost NodeClaim is deleted", WAIT, || {
        let claims = claims.clone();
        async move { claims.get_opt("ghost").await.ok()?.is_none().then_some(()) }
    })
    .await
    .expect("ghost collected");
    eventually("the orphan instance is terminated", WAIT, || {
        let nodes = nodes.clone();
        async move { nodes.get_opt("orphan").await.ok()?.is_none().then_some(()) }
    })
    .await
    .expect("orphan collected");
    eventually("the NodePool counts nothing", WAIT, || {
        let pools = pools.clone();
        async move {
            let status = pools.get("default").await.ok()?.0.status?;
            (status.nodes == Some(0)).then_some(())
        }
    })
    .await
    .expect("counted down");
}
