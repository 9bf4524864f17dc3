//! End to end on a real control plane: two pods on nodes of their own, one annotated
//! `karpenter.sh/do-not-disrupt: "true"`, the other covered by a PodDisruptionBudget with
//! `maxUnavailable: 0`. A NodePool template change drifts both nodes, yet neither is disrupted:
//! each gets a `DisruptionBlocked` event naming its blocker (pod annotation, PDB), and neither
//! node is tainted. Once the annotation is removed from the pod and the PDB is deleted, both
//! nodes are replaced and the pods run on new nodes.
//!
//! The controller is restarted after the pods run: `DisruptionBlocked` is deduplicated per
//! object for 2 minutes whatever its message, and a node's first passes (not yet initialized,
//! nominated for its pod) already publish one, so a fresh recorder is what lets the blocker's
//! own message through within seconds. It also shows drift being found from the cluster alone.

mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use joist_testenv::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use support::{
    WAIT, app_pods, disruption_cluster, disruption_settings, events_with_reason,
    four_cpu_requirements, is_disrupting, managed_nodes, nodeclaims, patch_default_nodepool,
    replaced, sized_deployment, start_with, true_condition_reason,
};

const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";

/// The node `app`'s single pod runs on, once it runs.
async fn node_of(admin: &Client, app: &str) -> String {
    eventually(&format!("{app} Running"), WAIT, || async move {
        let pods = app_pods(admin, "e2e", app).await;
        let pod = pods.first()?;
        (support::running(&pods) == 1).then(|| pod.spec.as_ref()?.node_name.clone())?
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

/// The NodeClaim whose Node is `node`.
async fn claim_of(admin: &Client, node: &str) -> String {
    eventually(&format!("the NodeClaim of {node}"), WAIT, || async move {
        nodeclaims(admin).await.into_iter().find_map(|c| {
            let status = c.0.status.as_ref()?;
            (status.node_name.as_deref() == Some(node)).then(|| c.0.name().to_owned())
        })
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

/// Waits for a `DisruptionBlocked` event on Node `node` whose message starts with `prefix`.
async fn blocked_event(admin: &Client, node: &str, prefix: &str) {
    eventually(
        &format!("DisruptionBlocked on {node}: {prefix}"),
        WAIT,
        || async move {
            events_with_reason(admin, "default", "DisruptionBlocked")
                .await
                .into_iter()
                .any(|e| {
                    e.involved_object.kind.as_deref() == Some("Node")
                        && e.involved_object.name.as_deref() == Some(node)
                        && e.message.as_deref().is_some_and(|m| m.starts_with(prefix))
                })
                .then_some(())
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_not_disrupt_pods_and_blocking_pdbs_hold_their_nodes_until_removed() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let cluster = disruption_cluster(json!({"spec": {
        "disruption": {"consolidateAfter": "Never", "budgets": [{"nodes": "100%"}]},
        "template": {"spec": {"requirements": four_cpu_requirements()}},
    }}))
    .await;
    let admin = cluster.admin.clone();
    let config = cluster.config.clone();
    let controller = cluster.controller;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "budgeted"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "budgeted"}}},
    }))
    .expect("a PDB");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(admin.clone(), "e2e");
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("pdb");
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "e2e");
    for deployment in [
        sized_deployment("guarded", 1, "3", &[(DO_NOT_DISRUPT, "true")]),
        sized_deployment("budgeted", 1, "3", &[]),
    ] {
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .expect("deployment");
    }
    let guarded_node = node_of(&admin, "guarded").await;
    let budgeted_node = node_of(&admin, "budgeted").await;
    assert_ne!(guarded_node, budgeted_node, "3-CPU pods need a node each");
    let old_nodes = BTreeSet::from([guarded_node.clone(), budgeted_node.clone()]);
    let guarded_claim = claim_of(&admin, &guarded_node).await;
    let budgeted_claim = claim_of(&admin, &budgeted_node).await;
    eprintln!("pods running after {:.1}s", began.elapsed().as_secs_f64());

    drop(controller);
    patch_default_nodepool(
        &admin,
        json!({"spec": {"template": {"metadata": {"labels": {"e2e.joist.dev/generation": "2"}}}}}),
    )
    .await;
    let blocking = Instant::now();
    let _controller = start_with(&config, &disruption_settings()).await;
    eventually("both NodeClaims Drifted", WAIT, || {
        let (admin, claims) = (
            admin.clone(),
            [guarded_claim.clone(), budgeted_claim.clone()],
        );
        async move {
            let drifted = nodeclaims(&admin)
                .await
                .into_iter()
                .filter(|c| claims.iter().any(|n| n == c.0.name()))
                .filter(|c| {
                    true_condition_reason(c, "Drifted").as_deref() == Some("NodePoolDrifted")
                })
                .count();
            (drifted == 2).then_some(())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    blocked_event(
        &admin,
        &guarded_node,
        "Pod has \"karpenter.sh/do-not-disrupt\" annotation (Pod=e2e/guarded-",
    )
    .await;
    blocked_event(
        &admin,
        &budgeted_node,
        "Pdb prevents pod evictions (PodDisruptionBudget=[e2e/budgeted])",
    )
    .await;
    // The events come from passes that ran Drift too; nothing was touched.
    let nodes = managed_nodes(&admin).await;
    assert!(
        nodes.iter().all(|n| !is_disrupting(n)),
        "blocked nodes are neither tainted nor deleting"
    );
    let claims: BTreeSet<String> = nodeclaims(&admin)
        .await
        .into_iter()
        .map(|c| c.0.name().to_owned())
        .collect();
    let old_claims = BTreeSet::from([guarded_claim, budgeted_claim]);
    assert_eq!(claims, old_claims, "no replacement was launched");
    eprintln!(
        "both blockers reported in {:.1}s",
        blocking.elapsed().as_secs_f64()
    );

    // Remove both blockers: the annotation from the running pod (not the Deployment, which
    // would roll a new pod) and the PDB.
    let unblocked = Instant::now();
    let guarded_pod = app_pods(&admin, "e2e", "guarded").await;
    let guarded_pod = guarded_pod
        .first()
        .and_then(|p| p.metadata.name.clone())
        .expect("the guarded pod");
    Api::<Pod>::namespaced(admin.clone(), "e2e")
        .patch(
            &guarded_pod,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {DO_NOT_DISRUPT: null}}})),
        )
        .await
        .expect("annotation removed");
    pdbs.delete("budgeted", &DeleteParams::default())
        .await
        .expect("pdb deleted");
    for app in ["guarded", "budgeted"] {
        replaced(&admin, "e2e", app, 1, &old_nodes, &old_claims, WAIT).await;
    }
    eprintln!(
        "both nodes replaced {:.1}s after unblocking; e2e wall time: {:.1}s",
        unblocked.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
