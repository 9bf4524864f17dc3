//! `nodepool.counter` (spec core §1.2, §3.4): every 5 s, each NodePool's `status.resources` (the
//! summed capacity of its nodes and in-flight NodeClaims not marked for deletion, always with
//! `cpu`, `memory`, `pods`, `ephemeral-storage` and `nodes`) and `status.nodes` (the count, which
//! the scale subresource reports). `kubectl get nodepools` shows both, and `limits` are checked
//! against the same sums.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use joist_api::nodeclaim::NodeClaim;
use joist_api::nodepool::NodePool;
use joist_core::labels::NODEPOOL;
use joist_core::resources::Quantity;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Map, Value, json};

use crate::index::Index;
use crate::objects::NodePoolObject;

/// Upstream's counter period.
const PERIOD: Duration = Duration::from_secs(5);

/// Resources every NodePool status lists, zero when the pool has nothing.
const ALWAYS_LISTED: [&str; 4] = ["cpu", "memory", "pods", "ephemeral-storage"];

/// What a NodePool's status should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// `status.resources`: resource name to its total, in Kubernetes quantity form.
    pub resources: BTreeMap<String, String>,
    /// `status.nodes`.
    pub nodes: i64,
}

/// Sums the capacity of `pool`'s nodes and NodeClaims. A NodeClaim counts with its Node's
/// capacity once registered (what the kubelet reports), else with the capacity its launch
/// recorded; a pool Node without a NodeClaim counts on its own. Anything being deleted is left
/// out, so a pool at its limit can replace a node that is going away.
pub fn pool_usage(pool: &str, claims: &[&NodeClaim], nodes: &[&Node]) -> PoolUsage {
    let in_pool = |labels: Option<&BTreeMap<String, String>>| {
        labels.and_then(|l| l.get(NODEPOOL)).map(String::as_str) == Some(pool)
    };
    let mut totals: BTreeMap<String, Quantity> = ALWAYS_LISTED
        .iter()
        .map(|name| ((*name).to_owned(), Quantity::ZERO))
        .collect();
    let mut count = 0_i64;
    let mut claimed = BTreeSet::new();
    for claim in claims
        .iter()
        .filter(|c| in_pool(c.metadata.labels.as_ref()))
    {
        let provider_id = claim.status.as_ref().and_then(|s| s.provider_id.as_deref());
        let node = provider_id.and_then(|id| {
            nodes
                .iter()
                .find(|n| n.spec.as_ref().and_then(|s| s.provider_id.as_deref()) == Some(id))
        });
        if let Some(id) = provider_id {
            claimed.insert(id.to_owned());
        }
        let deleting = claim.metadata.deletion_timestamp.is_some()
            || node.is_some_and(|n| n.metadata.deletion_timestamp.is_some());
        if deleting {
            continue;
        }
        count += 1;
        match node {
            Some(node) => add_node_capacity(&mut totals, node),
            None => {
                let capacity = claim.status.as_ref().and_then(|s| s.capacity.as_ref());
                for (name, value) in capacity.into_iter().flatten() {
                    add(&mut totals, name, value.text().as_deref());
                }
            }
        }
    }
    for node in nodes.iter().filter(|n| in_pool(n.metadata.labels.as_ref())) {
        let provider_id = node.spec.as_ref().and_then(|s| s.provider_id.as_deref());
        let unclaimed = provider_id.is_none_or(|id| !claimed.contains(id));
        if unclaimed && node.metadata.deletion_timestamp.is_none() {
            count += 1;
            add_node_capacity(&mut totals, node);
        }
    }
    let mut resources: BTreeMap<String, String> = totals
        .into_iter()
        .map(|(name, quantity)| (name, quantity.to_string()))
        .collect();
    resources.insert("nodes".to_owned(), count.to_string());
    PoolUsage {
        resources,
        nodes: count,
    }
}

fn add_node_capacity(totals: &mut BTreeMap<String, Quantity>, node: &Node) {
    let capacity = node.status.as_ref().and_then(|s| s.capacity.as_ref());
    for (name, value) in capacity.into_iter().flatten() {
        add(totals, name, Some(value.0.as_str()));
    }
}

/// Adds one quantity; one that does not parse is skipped (the API server validated node
/// capacity; a NodeClaim's was written by a provider), so one bad value cannot hide the rest.
fn add(totals: &mut BTreeMap<String, Quantity>, name: &str, text: Option<&str>) {
    if let Some(quantity) = text.and_then(|t| Quantity::parse(t).ok()) {
        *totals.entry(name.to_owned()).or_insert(Quantity::ZERO) += quantity;
    }
}

/// The status patch that turns `pool`'s status into `usage`, or `None` when it already says so.
/// Resources the pool no longer has are removed (a merge patch keeps unnamed keys).
pub fn status_patch(pool: &NodePool, usage: &PoolUsage) -> Option<Value> {
    let status = pool.status.as_ref();
    let old = status.and_then(|s| s.resources.as_ref());
    let same_resources = old.is_some_and(|old| {
        old.len() == usage.resources.len()
            && old.iter().all(|(name, value)| {
                let parsed = value.text().and_then(|t| Quantity::parse(&t).ok());
                let wanted = usage
                    .resources
                    .get(name)
                    .and_then(|t| Quantity::parse(t).ok());
                parsed.is_some() && parsed == wanted
            })
    });
    if same_resources && status.and_then(|s| s.nodes) == Some(usage.nodes) {
        return None;
    }
    let mut resources: Map<String, Value> = usage
        .resources
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    for name in old.into_iter().flatten().map(|(name, _)| name) {
        resources.entry(name.clone()).or_insert(Value::Null);
    }
    Some(json!({"status": {"resources": resources, "nodes": usage.nodes}}))
}

/// Runs the counter until the controller stops.
pub async fn run(client: Client, index: Index) {
    index.wait_until_ready().await;
    let api = Api::<NodePoolObject>::all(client);
    loop {
        let claims = index.nodeclaims.state();
        let nodes = index.nodes.state();
        let claims: Vec<&NodeClaim> = claims.iter().map(|c| &c.0).collect();
        let nodes: Vec<&Node> = nodes.iter().map(AsRef::as_ref).collect();
        for pool in index.nodepools.state() {
            let usage = pool_usage(pool.0.name(), &claims, &nodes);
            let Some(patch) = status_patch(&pool.0, &usage) else {
                continue;
            };
            if let Err(error) = api
                .patch_status(
                    pool.0.name(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                tracing::error!(controller = "nodepool.counter", NodePool = %pool.0.name(), error = %error, "reconciler error");
            }
        }
        tokio::time::sleep(PERIOD).await;
    }
}

#[cfg(test)]
mod tests;
