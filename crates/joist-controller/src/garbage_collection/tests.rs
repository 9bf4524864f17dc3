use chrono::TimeZone;
use serde_json::json;

use super::*;

fn claim(name: &str, provider_id: Option<&str>, registered: bool) -> NodeClaim {
    let mut status = json!({});
    if let Some(id) = provider_id {
        status["providerID"] = json!(id);
    }
    if registered {
        status["conditions"] = json!([{
            "type": "Registered", "status": "True", "reason": "Registered", "message": "",
            "lastTransitionTime": "2026-11-22T10:00:00Z"
        }]);
    }
    serde_json::from_value(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": name},
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        "status": status,
    }))
    .expect("a NodeClaim")
}

fn node(provider_id: &str, ready: bool) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": provider_id.trim_start_matches("kwok://")},
        "spec": {"providerID": provider_id},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .expect("a Node")
}

fn deleting(claim: NodeClaim) -> NodeClaim {
    let mut value = serde_json::to_value(claim).expect("json");
    value["metadata"]["deletionTimestamp"] = json!("2026-11-22T10:00:00Z");
    value["metadata"]["finalizers"] = json!(["karpenter.sh/termination"]);
    serde_json::from_value(value).expect("a NodeClaim")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .expect("a time")
}

fn instance(provider_id: &str, age_seconds: i64, nodeclaim: Option<&str>) -> Instance {
    Instance {
        launched: Some(now() - chrono::TimeDelta::seconds(age_seconds)),
        nodeclaim: nodeclaim.map(str::to_owned),
        node: nodeclaim.map(str::to_owned),
        ..Instance::new(provider_id)
    }
}

#[test]
fn a_registered_claim_whose_instance_is_gone_is_collected_unless_its_node_is_ready() {
    let claims = [
        claim("listed", Some("kwok://listed"), true),
        claim("gone", Some("kwok://gone"), true),
        claim("gone-but-ready", Some("kwok://gone-but-ready"), true),
        claim("unregistered", Some("kwok://unregistered"), false),
        claim("unlaunched", None, true),
        deleting(claim("deleting", Some("kwok://deleting"), true)),
    ];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let instances = [Instance::new("kwok://listed")];
    let nodes = [
        node("kwok://gone", false),
        node("kwok://gone-but-ready", true),
    ];
    let nodes: Vec<&Node> = nodes.iter().collect();
    assert_eq!(orphaned_nodeclaims(&claims, &instances, &nodes), ["gone"]);
}

#[test]
fn an_old_instance_no_claim_owns_is_collected_and_young_or_claimed_ones_are_not() {
    let claims = [
        claim("owner", Some("kwok://owned"), true),
        claim("launching", None, false),
    ];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let instances = [
        instance("kwok://owned", 600, Some("owner")),
        instance("kwok://orphan", 31, Some("deleted-claim")),
        instance("kwok://young", 29, Some("another-deleted-claim")),
        // Its NodeClaim exists but has not recorded the providerID yet (a crash mid-launch).
        instance("kwok://launching", 600, Some("launching")),
        Instance::new("kwok://age-unknown"),
    ];
    let orphans: Vec<&str> = orphaned_instances(&instances, &claims, now())
        .into_iter()
        .map(|i| i.provider_id.as_str())
        .collect();
    assert_eq!(orphans, ["kwok://orphan"]);
}

#[test]
fn a_deleting_claim_still_owns_its_instance() {
    // Its finalizer terminates the instance; collecting it too would race the finalizer.
    let claims = [deleting(claim("going", Some("kwok://going"), true))];
    let claims: Vec<&NodeClaim> = claims.iter().collect();
    let instances = [instance("kwok://going", 600, None)];
    assert!(orphaned_instances(&instances, &claims, now()).is_empty());
}
