//! NodePool readiness (spec core §3.4, `nodepool.readiness` and `nodepool.validation`), with
//! `nodepool.hash` ([`crate::nodepool_hash`]) run on the same triggers:
//! `ValidationSucceeded` from joist's runtime validation, `NodeClassReady` from the referenced
//! EC2NodeClass, and the root `Ready`. The solver only uses Ready NodePools.
//!
//! The kwok provider does not resolve subnets, AMIs or security groups, so an EC2NodeClass
//! counts as ready when it exists and does not report `Ready=False`.

use std::time::Duration;

use joist_api::nodepool::NodePool;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::Notify;

use crate::conditions::{Conditions, FALSE};
use crate::index::Index;
use crate::objects::NodePoolObject;

/// How often every NodePool is re-checked without an event.
const RESYNC: Duration = Duration::from_secs(10);

/// Keeps every NodePool's readiness conditions current; woken by `changed` (NodePool events).
pub async fn run(client: Client, index: Index, changed: std::sync::Arc<Notify>) {
    index.wait_until_ready().await;
    loop {
        for pool in index.nodepools.state() {
            if let Err(error) = reconcile(&client, &index, &pool.0).await {
                tracing::error!(controller = "nodepool.readiness", NodePool = %pool.0.name(), error = %error, "reconciler error");
            }
            if let Err(error) = crate::nodepool_hash::reconcile(&client, &index, &pool.0).await {
                tracing::error!(controller = "nodepool.hash", NodePool = %pool.0.name(), error = %error, "reconciler error");
            }
        }
        tokio::select! {
            () = changed.notified() => {}
            () = tokio::time::sleep(RESYNC) => {}
        }
    }
}

async fn reconcile(client: &Client, index: &Index, pool: &NodePool) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let old = pool.status.as_ref().and_then(|s| s.conditions.as_deref());
    let mut conditions = Conditions::new(old, pool.metadata.generation);
    let errors = joist_api::nodepool::validate(pool);
    match errors.first() {
        None => conditions.set_true("ValidationSucceeded", now),
        Some(error) => conditions.set(
            "ValidationSucceeded",
            FALSE,
            "NodePoolValidationFailed",
            &error.to_string(),
            now,
        ),
    }
    let class = pool.template_spec().and_then(|s| s.node_class_ref.as_ref());
    let class_name = class.and_then(|c| c.name.clone()).unwrap_or_default();
    let supported = class.is_some_and(|c| {
        c.group.as_deref() == Some("karpenter.k8s.aws") && c.kind.as_deref() == Some("EC2NodeClass")
    });
    let found = index
        .nodeclasses
        .find(|nc| nc.0.metadata.name.as_deref() == Some(class_name.as_str()));
    match found {
        _ if !supported => conditions.set(
            "NodeClassReady",
            FALSE,
            "NodeClassNotSupported",
            "NodeClassRef is not an EC2NodeClass",
            now,
        ),
        None => conditions.set(
            "NodeClassReady",
            FALSE,
            "NodeClassNotFound",
            "NodeClass not found on cluster",
            now,
        ),
        Some(nodeclass) => {
            let not_ready = nodeclass
                .0
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == FALSE);
            if not_ready {
                conditions.set(
                    "NodeClassReady",
                    FALSE,
                    "NodeClassNotReady",
                    "NodeClass is not ready",
                    now,
                );
            } else {
                conditions.set_true("NodeClassReady", now);
            }
        }
    }
    conditions.set_root(&["ValidationSucceeded", "NodeClassReady"], now);
    let new = conditions.into_list();
    if old.is_some_and(|o| o == new.as_slice()) {
        return Ok(());
    }
    let patch = json!({"status": {"conditions": new}});
    Api::<NodePoolObject>::all(client.clone())
        .patch_status(pool.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
