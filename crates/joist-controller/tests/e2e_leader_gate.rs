//! End to end on a real control plane: a replica that does not lead watches and serves its
//! probes and metrics but creates nothing; once it leads, it provisions and its `/metrics`
//! shows the provisioner's scheduling round.

mod support;

use std::time::Duration;

use joist_controller::objects::NodeClaimObject;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{
    WAIT, apply_example, controller_client, controller_config, deployment, install_crds, running,
    settings,
};

const REPLICAS: usize = 5;

/// `GET path` on `address`, returning the whole response.
async fn http_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_creates_nothing_until_it_leads_then_provisions_and_reports_metrics() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    let config = controller_config(&control_plane).await;
    let provider = joist_controller::provider::kwok::KwokProvider::with_aws_catalog(
        controller_client(&config),
        "us-east-1",
    )
    .expect("catalog");
    let (lead, leading) = tokio::sync::watch::channel(false);
    let controller =
        joist_controller::start_gated(config, &settings(), std::sync::Arc::new(provider), leading)
            .await
            .expect("controller starts");

    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(&PostParams::default(), &deployment(REPLICAS))
        .await
        .expect("deployment");
    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    eventually("pods created and pending", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == REPLICAS).then_some(())
        }
    })
    .await
    .expect("pods");

    // Standby: longer than a full batch window (10 s max) and nothing is created, yet the
    // probes answer.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let claims_api: Api<NodeClaimObject> = Api::all(admin.clone());
    let standby_claims = claims_api.list(&ListParams::default()).await.expect("list");
    assert!(
        standby_claims.items.is_empty(),
        "a standby replica created NodeClaims"
    );
    let health = http_get(controller.health_address(), "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    lead.send(true).expect("controller still running");
    eventually("all pods Running once leading", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (running(&pods) == REPLICAS).then_some(())
        }
    })
    .await
    .expect("pods running");
    let claims = claims_api.list(&ListParams::default()).await.expect("list");
    assert!(!claims.items.is_empty());

    let metrics = http_get(controller.metrics_address(), "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains(
            "karpenter_scheduler_scheduling_duration_seconds_count{controller=\"provisioner\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("karpenter_scheduler_unschedulable_pods_count{controller=\"provisioner\"} 0"),
        "{metrics}"
    );
}
