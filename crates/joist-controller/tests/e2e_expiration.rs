//! End to end on a real control plane: with `expireAfter: 30s` every NodeClaim is deleted once
//! it is 30 s old, even though the NodePool's budget (`nodes: "0"`) allows no voluntary
//! disruption at all (expiration is forceful, §4.13); the pods are evicted and rescheduled onto
//! fresh nodes by the provisioner, the expired NodeClaims are gone, and
//! `karpenter_nodeclaims_disrupted_total{reason="expired"}` and
//! `karpenter_pods_disruption_initiated_total{reason="expired"}` count them and their pods.

mod support;

use std::time::Instant;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use support::{
    WAIT, disruption_cluster, events_with_reason, four_cpu_requirements,
    one_initialized_node_per_pod, replaced, sized_deployment,
};

const REPLICAS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_nodeclaims_are_replaced_whatever_the_budget() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let cluster = disruption_cluster(json!({"spec": {
        "disruption": {"consolidateAfter": "0s", "budgets": [{"nodes": "0"}]},
        "template": {"spec": {"expireAfter": "30s", "requirements": four_cpu_requirements()}},
    }}))
    .await;
    let admin = cluster.admin.clone();
    let controller = &cluster.controller;
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(
            &PostParams::default(),
            &sized_deployment("web", REPLICAS, "3", &[]),
        )
        .await
        .expect("deployment");
    let (old_claims, old_nodes) = one_initialized_node_per_pod(&admin, REPLICAS).await;
    eprintln!(
        "{REPLICAS} nodes up after {:.1}s",
        began.elapsed().as_secs_f64()
    );

    // The replacements expire too, 30 s after their creation: the check below holds between
    // the old NodeClaims' removal and the next expiry.
    let expiring = Instant::now();
    replaced(
        &admin,
        "e2e",
        "web",
        REPLICAS,
        &old_nodes,
        &old_claims,
        WAIT,
    )
    .await;
    eprintln!(
        "expired NodeClaims replaced {:.1}s after the pods ran",
        expiring.elapsed().as_secs_f64()
    );
    let expired = controller.metrics().nodeclaims_disrupted.get(&[
        "expired",
        "default",
        "on-demand",
        "",
        "graceful",
    ]);
    assert!(
        expired >= REPLICAS as f64,
        "every expired NodeClaim is counted, got {expired}"
    );
    let pods = controller.metrics().pods_disruption_initiated.get(&[
        "expired",
        "default",
        "on-demand",
        "",
        "graceful",
    ]);
    assert!(
        pods >= REPLICAS as f64,
        "each expired node's pod is counted, got {pods}"
    );
    // The budget blocked every voluntary method meanwhile, and said so on the NodePool.
    assert_eq!(
        controller
            .metrics()
            .disruption_decisions
            .get(&["delete", "empty", "empty"]),
        0.0
    );
    let blocked = events_with_reason(&admin, "default", "DisruptionBlocked")
        .await
        .into_iter()
        .any(|e| {
            e.involved_object.kind.as_deref() == Some("NodePool")
                && e.message.as_deref()
                    == Some(
                        "No allowed disruptions for disruption reason Empty due to blocking budget",
                    )
        });
    assert!(
        blocked,
        "a NodePool DisruptionBlocked event for the zero budget"
    );
    eprintln!("e2e wall time: {:.1}s", began.elapsed().as_secs_f64());
}
