use joist_core::labels::{NODEPOOL_HASH, NODEPOOL_HASH_VERSION, NODEPOOL_HASH_VERSION_VALUE};
use serde_json::{Value, json};

use super::*;

fn pool(annotations: &Value) -> NodePool {
    serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "default", "annotations": annotations},
        "spec": {"template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": []
        }}},
    }))
    .expect("a NodePool")
}

fn claim(name: &str, pool: &str, version: &str, drifted: bool) -> NodeClaim {
    let conditions = if drifted {
        json!([{"type": "Drifted", "status": "True", "reason": "NodePoolDrifted", "message": "",
                "lastTransitionTime": "2026-11-22T10:00:00Z"}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": {"karpenter.sh/nodepool": pool},
            "annotations": {NODEPOOL_HASH: "old", NODEPOOL_HASH_VERSION: version},
        },
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        "status": {"conditions": conditions},
    }))
    .expect("a NodeClaim")
}

#[test]
fn a_pool_upstream_stamped_gets_joists_hash_and_its_claims_are_restamped_not_drifted() {
    let pool = pool(&json!({NODEPOOL_HASH: "123", NODEPOOL_HASH_VERSION: "v3"}));
    let claims = [
        claim("b", "default", "v3", false),
        claim("a", "default", "v3", true),
        claim("other-pool", "gpu", "v3", false),
        claim("current", "default", NODEPOOL_HASH_VERSION_VALUE, false),
    ];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let plan = hash_plan(&pool, &claims);
    let hash = pool.hash();
    let names: Vec<&str> = plan.restamps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b"],
        "only this pool's claims on another version"
    );
    // Drifted keeps its hash (its drift stands); the other takes the pool's current hash.
    assert_eq!(plan.restamps[0].1[NODEPOOL_HASH], "old");
    assert_eq!(plan.restamps[1].1[NODEPOOL_HASH], hash);
    for (_, stamp) in &plan.restamps {
        assert_eq!(stamp[NODEPOOL_HASH_VERSION], NODEPOOL_HASH_VERSION_VALUE);
    }
    let annotations = plan.nodepool.expect("the pool is stamped");
    assert_eq!(annotations[NODEPOOL_HASH], hash);
    assert_eq!(
        annotations[NODEPOOL_HASH_VERSION],
        NODEPOOL_HASH_VERSION_VALUE
    );
}

#[test]
fn a_template_change_restamps_the_pool_only() {
    // Same version, stale hash: the claims keep theirs, so drift can see the change.
    let pool =
        pool(&json!({NODEPOOL_HASH: "stale", NODEPOOL_HASH_VERSION: NODEPOOL_HASH_VERSION_VALUE}));
    let claims = [claim("a", "default", NODEPOOL_HASH_VERSION_VALUE, false)];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let plan = hash_plan(&pool, &claims);
    assert!(plan.restamps.is_empty());
    assert_eq!(plan.nodepool.expect("stamped")[NODEPOOL_HASH], pool.hash());
}

#[test]
fn an_up_to_date_pool_needs_nothing() {
    let unstamped = pool(&json!({}));
    let hash = unstamped.hash();
    let pool =
        pool(&json!({NODEPOOL_HASH: hash, NODEPOOL_HASH_VERSION: NODEPOOL_HASH_VERSION_VALUE}));
    let claims = [claim("a", "default", "v3", false)];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    assert_eq!(hash_plan(&pool, &claims), HashPlan::default());
}
