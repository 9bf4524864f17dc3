//! End to end on a real control plane: a NodePool template change (a new label) drifts every
//! node (`Drifted=True`, reason `NodePoolDrifted`); the Drift method replaces them one at a time
//! under a `nodes: "1"` budget (sampled throughout: never two nodes tainted or deleting at
//! once), each replacement initialized before its candidate goes; the pods end Running on new
//! nodes that carry the label, the old NodeClaims are gone, and the events and counters say so.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use support::{
    WAIT, disruption_cluster, events_with_reason, four_cpu_requirements, is_disrupting,
    managed_nodes, nodeclaims, one_initialized_node_per_pod, patch_default_nodepool, replaced,
    sized_deployment, true_condition_reason,
};

const REPLICAS: usize = 3;
const LABEL: &str = "e2e.joist.dev/generation";

/// What the sampler saw while drift ran.
#[derive(Default)]
struct Samples {
    max_disrupting: AtomicUsize,
    saw_drifted: AtomicBool,
    stop: AtomicBool,
}

/// Samples the managed nodes and NodeClaims until told to stop.
async fn sample(admin: kube::Client, samples: Arc<Samples>) {
    while !samples.stop.load(Ordering::Relaxed) {
        let disrupting = managed_nodes(&admin)
            .await
            .iter()
            .filter(|n| is_disrupting(n))
            .count();
        samples
            .max_disrupting
            .fetch_max(disrupting, Ordering::Relaxed);
        let drifted = nodeclaims(&admin)
            .await
            .iter()
            .any(|c| true_condition_reason(c, "Drifted").as_deref() == Some("NodePoolDrifted"));
        if drifted {
            samples.saw_drifted.store(true, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_replaces_drifted_nodes_one_at_a_time() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let cluster = disruption_cluster(json!({"spec": {
        "disruption": {"consolidateAfter": "Never", "budgets": [{"nodes": "1"}]},
        "template": {"spec": {"requirements": four_cpu_requirements()}},
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

    let drifting = Instant::now();
    let samples = Arc::new(Samples::default());
    let sampler = tokio::spawn(sample(admin.clone(), Arc::clone(&samples)));
    patch_default_nodepool(
        &admin,
        json!({"spec": {"template": {"metadata": {"labels": {LABEL: "2"}}}}}),
    )
    .await;
    let new_nodes = replaced(
        &admin,
        "e2e",
        "web",
        REPLICAS,
        &old_nodes,
        &old_claims,
        WAIT * 2,
    )
    .await;
    samples.stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    eprintln!(
        "drift replaced {REPLICAS} nodes in {:.1}s",
        drifting.elapsed().as_secs_f64()
    );

    assert!(
        samples.saw_drifted.load(Ordering::Relaxed),
        "old NodeClaims carry Drifted=True (NodePoolDrifted)"
    );
    assert_eq!(
        samples.max_disrupting.load(Ordering::Relaxed),
        1,
        "the nodes: \"1\" budget allows exactly one node disrupting at a time"
    );
    let labelled = managed_nodes(&admin)
        .await
        .into_iter()
        .filter(|n| new_nodes.contains(n.metadata.name.as_deref().unwrap_or_default()))
        .all(|n| {
            n.metadata
                .labels
                .unwrap_or_default()
                .get(LABEL)
                .map(String::as_str)
                == Some("2")
        });
    assert!(labelled, "the replacements carry the new template label");
    let claims = nodeclaims(&admin).await;
    assert!(
        claims
            .iter()
            .all(|c| true_condition_reason(c, "Drifted").is_none()),
        "the replacements are not drifted"
    );

    // One DisruptionTerminating per old NodeClaim ("Disrupting NodeClaim: Drifted").
    let terminating: BTreeSet<String> =
        events_with_reason(&admin, "default", "DisruptionTerminating")
            .await
            .into_iter()
            .filter(|e| e.message.as_deref() == Some("Disrupting NodeClaim: Drifted"))
            .filter_map(|e| e.involved_object.name)
            .collect();
    assert_eq!(terminating, old_claims);
    let metrics = controller.metrics();
    assert_eq!(
        metrics
            .nodeclaims_disrupted
            .get(&["drifted", "default", "on-demand", "", "graceful"]),
        REPLICAS as f64
    );
    assert_eq!(
        metrics
            .disruption_decisions
            .get(&["replace", "drifted", ""]),
        REPLICAS as f64
    );
    assert_eq!(
        metrics
            .nodeclaims_created
            .get(&["drifted", "default", "false"]),
        REPLICAS as f64
    );
    let text = metrics.render();
    assert!(
        text.contains("karpenter_voluntary_disruption_eligible_nodes{reason=\"drifted\"}"),
        "{text}"
    );
    eprintln!("e2e wall time: {:.1}s", began.elapsed().as_secs_f64());
}
