//! End to end on a real control plane: with `expireAfter: 30s` every NodeClaim is deleted once
//! it is 30 s old, even though the NodePool's budget (`nodes: "0"`) allows no voluntary
//! disruption at all (expiration is forceful, §4.13); the pods are evicted and rescheduled onto
//! fresh nodes by the provisioner, the expired NodeClaims are gone, and
//! `karpenter_nodeclaims_disrupted_total{reason="expired"}` and
//! `karpenter_pods_disruption_initiated_total{reason="expired"}` count them and their pods.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use joist_controller::settings::Settings;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use support::{
    WAIT, apply_example, condition_true, controller_config, events_with_reason,
    four_cpu_requirements, grant_events, install_crds, managed_nodes, nodeclaims,
    patch_default_nodepool, replaced, settings, sized_deployment, start_with,
};

const REPLICAS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_nodeclaims_are_replaced_whatever_the_budget() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    patch_default_nodepool(
        &admin,
        json!({"spec": {
            "disruption": {"consolidateAfter": "0s", "budgets": [{"nodes": "0"}]},
            "template": {"spec": {"expireAfter": "30s", "requirements": four_cpu_requirements()}},
        }}),
    )
    .await;
    let config = controller_config(&control_plane).await;
    grant_events(&admin).await;
    let settings = Settings {
        disruption_validation_delay: Duration::from_secs(1),
        ..settings()
    };
    let controller = start_with(&config, &settings).await;
    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(
            &PostParams::default(),
            &sized_deployment("web", REPLICAS, "3", &[]),
        )
        .await
        .expect("deployment");
    let old_claims: BTreeSet<String> = eventually("one initialized node per pod", WAIT, || {
        let admin = admin.clone();
        async move {
            let pods = support::app_pods(&admin, "e2e", "web").await;
            let claims = nodeclaims(&admin).await;
            (support::running(&pods) == REPLICAS
                && claims.len() == REPLICAS
                && claims.iter().all(|c| condition_true(c, "Initialized")))
            .then(|| claims.iter().map(|c| c.0.name().to_owned()).collect())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let old_nodes: BTreeSet<String> = managed_nodes(&admin)
        .await
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
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
