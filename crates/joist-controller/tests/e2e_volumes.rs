//! Volume topology on a real control plane: a pod whose PersistentVolumeClaim is bound to a
//! zonal PersistentVolume gets a node in that volume's zone (the controller watches PVCs, PVs,
//! StorageClasses and CSINodes and feeds them to the solver).

mod support;

use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use support::{WAIT, apply_example, controller_config, install_crds, start};

/// Not the zone the cheapest offering would pick without the volume (`us-east-1a`).
const VOLUME_ZONE: &str = "us-east-1c";

fn volume() -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "hostPath": {"path": "/data"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [VOLUME_ZONE]}
            ]}]}}
        }
    }))
    .expect("a PersistentVolume")
}

fn claim() -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": "data", "namespace": "e2e"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": "data",
            "resources": {"requests": {"storage": "1Gi"}}
        }
    }))
    .expect("a PersistentVolumeClaim")
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "db", "namespace": "e2e"},
        "spec": {
            "containers": [{"name": "db", "image": "registry.invalid/db:1",
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        }
    }))
    .expect("a Pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_a_zonal_volume_gets_a_node_in_the_volumes_zone() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<PersistentVolume>::all(admin.clone())
        .create(&PostParams::default(), &volume())
        .await
        .expect("volume");
    Api::<PersistentVolumeClaim>::namespaced(admin.clone(), "e2e")
        .create(&PostParams::default(), &claim())
        .await
        .expect("claim");
    let config = controller_config(&control_plane).await;
    let _controller = start(&config).await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    pods.create(&PostParams::default(), &pod())
        .await
        .expect("pod");

    let node_name = eventually("the pod runs", WAIT, || {
        let pods = pods.clone();
        async move {
            let pod = pods.get("db").await.ok()?;
            let phase = pod.status.as_ref()?.phase.as_deref()?;
            (phase == "Running").then_some(pod.spec?.node_name?)
        }
    })
    .await
    .expect("running");
    let node = Api::<Node>::all(admin.clone())
        .get(&node_name)
        .await
        .expect("the pod's node");
    let labels = node.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("topology.kubernetes.io/zone")
            .map(String::as_str),
        Some(VOLUME_ZONE),
        "node {node_name}: {labels:?}"
    );
    assert!(labels.contains_key("karpenter.sh/nodepool"), "a joist node");
}
