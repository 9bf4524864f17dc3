use serde_json::json;

use super::*;

fn claim(name: &str, pool: &str, provider_id: Option<&str>, cpu: &str) -> NodeClaim {
    let mut status = json!({"capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"}});
    if let Some(id) = provider_id {
        status["providerID"] = json!(id);
    }
    serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": name, "labels": {"karpenter.sh/nodepool": pool}},
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        "status": status,
    }))
    .expect("a NodeClaim")
}

fn node(name: &str, pool: &str, provider_id: &str, cpu: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"karpenter.sh/nodepool": pool}},
        "spec": {"providerID": provider_id},
        "status": {"capacity": {"cpu": cpu, "memory": "16Gi", "pods": "58", "ephemeral-storage": "20Gi"}},
    }))
    .expect("a Node")
}

fn deleting<T: serde::Serialize + serde::de::DeserializeOwned>(object: T) -> T {
    let mut value = serde_json::to_value(object).expect("json");
    value["metadata"]["deletionTimestamp"] = json!("2026-11-22T10:00:00Z");
    value["metadata"]["finalizers"] = json!(["karpenter.sh/termination"]);
    serde_json::from_value(value).expect("same kind")
}

fn usage(claims: &[NodeClaim], nodes: &[Node]) -> PoolUsage {
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let nodes: Vec<&Node> = nodes.iter().collect();
    pool_usage("default", &claims, &nodes)
}

#[test]
fn an_empty_pool_lists_zeroes_for_the_standard_resources() {
    let usage = usage(&[], &[]);
    assert_eq!(usage.nodes, 0);
    let names: Vec<&str> = usage.resources.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["cpu", "ephemeral-storage", "memory", "nodes", "pods"]
    );
    assert!(usage.resources.values().all(|v| v == "0"), "{usage:?}");
}

#[test]
fn registered_claims_count_their_nodes_capacity_and_in_flight_ones_their_own() {
    let claims = [
        claim("a", "default", Some("kwok://a"), "2"),
        claim("b", "default", Some("kwok://b"), "4"),
        claim("other", "gpu", Some("kwok://other"), "64"),
    ];
    // `a` registered (its Node reports 8 CPUs, more than the claim said); `b` is in flight.
    let nodes = [
        node("a", "default", "kwok://a", "8"),
        node("other", "gpu", "kwok://other", "64"),
    ];
    let usage = usage(&claims, &nodes);
    assert_eq!(usage.nodes, 2);
    assert_eq!(usage.resources["cpu"], "12");
    assert_eq!(usage.resources["pods"], "168");
    assert_eq!(usage.resources["nodes"], "2");
    assert_eq!(usage.resources["ephemeral-storage"], "20Gi");
}

#[test]
fn deleting_claims_and_nodes_are_left_out_and_orphan_nodes_count() {
    let claims = [
        deleting(claim("a", "default", Some("kwok://a"), "2")),
        claim("b", "default", Some("kwok://b"), "4"),
    ];
    let nodes = [
        node("b", "default", "kwok://b", "4"),
        node("orphan", "default", "kwok://orphan", "16"),
        deleting(node("gone", "default", "kwok://gone", "32")),
    ];
    let usage = usage(&claims, &nodes);
    assert_eq!(usage.nodes, 2, "b and the orphan");
    assert_eq!(usage.resources["cpu"], "20");
}

fn pool_with_status(status: &serde_json::Value) -> NodePool {
    serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "default"},
        "spec": {"template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": []
        }}},
        "status": status,
    }))
    .expect("a NodePool")
}

#[test]
fn the_patch_is_skipped_when_the_status_already_agrees_in_any_quantity_form() {
    let claims = [claim("b", "default", Some("kwok://b"), "4")];
    let wanted = usage(&claims, &[]);
    let pool = pool_with_status(&json!({
        "nodes": 1,
        "resources": {"cpu": "4000m", "memory": "8Gi", "pods": "110", "ephemeral-storage": "0", "nodes": "1"}
    }));
    assert_eq!(status_patch(&pool, &wanted), None);
}

#[test]
fn the_patch_sets_the_totals_and_removes_resources_no_longer_present() {
    let claims = [claim("b", "default", Some("kwok://b"), "4")];
    let wanted = usage(&claims, &[]);
    let pool = pool_with_status(&json!({
        "nodes": 3,
        "resources": {"cpu": "12", "nvidia.com/gpu": "1", "nodes": "3"}
    }));
    let patch = status_patch(&pool, &wanted).expect("a patch");
    assert_eq!(patch["status"]["nodes"], 1);
    assert_eq!(patch["status"]["resources"]["cpu"], "4");
    assert_eq!(patch["status"]["resources"]["nodes"], "1");
    assert_eq!(patch["status"]["resources"]["nvidia.com/gpu"], json!(null));
}
