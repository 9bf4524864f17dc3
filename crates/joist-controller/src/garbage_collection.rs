//! Garbage collection between the cluster and the cloud, both ways:
//!
//! - `nodeclaim.garbagecollection` (spec core §3.2, every 2 min): a Registered, non-deleting
//!   NodeClaim whose instance the provider no longer lists is deleted, unless its Node is still
//!   Ready (a listing can lag; a Ready kubelet proves the instance runs). Unregistered NodeClaims
//!   are left to the liveness timeouts.
//! - `instance.garbagecollection` (spec aws §4.7): an instance no NodeClaim points at, launched
//!   more than 30 s ago, is terminated and its Node deleted. This is what makes a crash between
//!   the provider's create and the NodeClaim's status write leak nothing for long: the
//!   NodeClaim that would have owned the instance either comes back (and re-adopts it through
//!   the launch path) or is gone, and then the instance is collected. An instance whose
//!   NodeClaim still exists by name (the launch has not written its providerID yet) is spared
//!   however old it is, which upstream cannot know but joist's providers record.
//!
//! Both run every 10 s for their first 20 successful passes (a restart finds leftovers fast),
//! then every 2 minutes, as upstream's instance collector does.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use joist_api::nodeclaim::{NodeClaim, NodeClaimSpec, NodeClaimStatus};
use k8s_openapi::api::core::v1::Node;
use kube::api::DeleteParams;
use kube::{Api, Client};
use thiserror::Error;

use crate::disruption::{condition_true, is_node_ready};
use crate::index::Index;
use crate::objects::NodeClaimObject;
use crate::provider::{CloudProvider, Instance, ProviderError};

/// Instances younger than this are never collected: their NodeClaim's status write may still
/// be on its way (upstream's grace).
pub const INSTANCE_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// The fast period after a start.
const FAST_PERIOD: Duration = Duration::from_secs(10);
/// How many passes run at the fast period.
const FAST_PASSES: u32 = 20;
/// The steady period.
const PERIOD: Duration = Duration::from_secs(120);

/// Why a garbage-collection pass failed (logged; the next pass retries).
#[derive(Debug, Error)]
pub enum GarbageCollectionError {
    /// The provider could not list or terminate instances.
    #[error("cloud provider: {0}")]
    Provider(#[from] ProviderError),
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
}

/// The NodeClaims to delete because their instance is gone (sorted names).
pub fn orphaned_nodeclaims(
    claims: &[&NodeClaim],
    instances: &[Instance],
    nodes: &[&Node],
) -> Vec<String> {
    let listed: BTreeSet<&str> = instances.iter().map(|i| i.provider_id.as_str()).collect();
    let mut names: Vec<String> = claims
        .iter()
        .filter(|claim| claim.metadata.deletion_timestamp.is_none())
        .filter(|claim| condition_true(claim, "Registered"))
        .filter_map(|claim| {
            let id = claim.status.as_ref()?.provider_id.as_deref()?;
            if id.is_empty() || listed.contains(id) {
                return None;
            }
            let node_ready = nodes.iter().any(|node| {
                node.spec.as_ref().and_then(|s| s.provider_id.as_deref()) == Some(id)
                    && is_node_ready(node)
            });
            (!node_ready).then(|| claim.metadata.name.clone()).flatten()
        })
        .collect();
    names.sort();
    names
}

/// The instances to terminate because no NodeClaim owns them (sorted by provider ID).
pub fn orphaned_instances<'a>(
    instances: &'a [Instance],
    claims: &[&NodeClaim],
    now: DateTime<Utc>,
) -> Vec<&'a Instance> {
    let owned: BTreeSet<&str> = claims
        .iter()
        .filter_map(|c| c.status.as_ref()?.provider_id.as_deref())
        .collect();
    let claim_names: BTreeSet<&str> = claims
        .iter()
        .filter_map(|c| c.metadata.name.as_deref())
        .collect();
    let mut orphans: Vec<&Instance> = instances
        .iter()
        .filter(|i| !owned.contains(i.provider_id.as_str()))
        .filter(|i| {
            i.nodeclaim
                .as_deref()
                .is_none_or(|n| !claim_names.contains(n))
        })
        // An instance of unknown age might be mid-launch: only a known-old one is collected.
        .filter(|i| i.launched.is_some_and(|at| now - at > INSTANCE_GRACE))
        .collect();
    orphans.sort_by(|a, b| a.provider_id.cmp(&b.provider_id));
    orphans
}

/// Runs both collectors until the controller stops.
pub async fn run<P: CloudProvider>(client: Client, index: Index, provider: Arc<P>) {
    index.wait_until_ready().await;
    let mut succeeded = 0_u32;
    loop {
        match pass(&client, &index, provider.as_ref()).await {
            Ok(()) => succeeded = succeeded.saturating_add(1),
            Err(error) => {
                tracing::error!(controller = "nodeclaim.garbagecollection", error = %error, "reconciler error");
            }
        }
        let period = if succeeded < FAST_PASSES {
            FAST_PERIOD
        } else {
            PERIOD
        };
        tokio::time::sleep(period).await;
    }
}

/// One pass of both collectors.
pub async fn pass<P: CloudProvider>(
    client: &Client,
    index: &Index,
    provider: &P,
) -> Result<(), GarbageCollectionError> {
    let instances = provider.list().await?;
    // The claims are read after the listing: a claim launched in between is then known here,
    // so its fresh instance cannot look orphaned.
    let claims = index.nodeclaims.state();
    let claims: Vec<&NodeClaim> = claims.iter().map(|c| &c.0).collect();
    let nodes = index.nodes.state();
    let nodes: Vec<&Node> = nodes.iter().map(AsRef::as_ref).collect();
    let api = Api::<NodeClaimObject>::all(client.clone());
    for name in orphaned_nodeclaims(&claims, &instances, &nodes) {
        tracing::debug!(controller = "nodeclaim.garbagecollection", NodeClaim = %name, "garbage collecting nodeclaim with no cloudprovider representation");
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    for instance in orphaned_instances(&instances, &claims, chrono::Utc::now()) {
        terminate(client, provider, instance).await?;
    }
    Ok(())
}

/// Terminates an orphaned instance and deletes its Node, if any.
async fn terminate<P: CloudProvider>(
    client: &Client,
    provider: &P,
    instance: &Instance,
) -> Result<(), GarbageCollectionError> {
    tracing::info!(controller = "instance.garbagecollection", "provider-id" = %instance.provider_id, "garbage collecting instance with no nodeclaim");
    // The provider terminates by a NodeClaim's providerID; this one exists only to carry it.
    let carrier = NodeClaim {
        api_version: String::new(),
        kind: String::new(),
        metadata: kube::api::ObjectMeta::default(),
        spec: NodeClaimSpec::default(),
        status: Some(NodeClaimStatus {
            provider_id: Some(instance.provider_id.clone()),
            ..NodeClaimStatus::default()
        }),
        extra: Default::default(),
    };
    match provider.delete(&carrier).await {
        Ok(_) | Err(ProviderError::NotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    if let Some(node) = &instance.node {
        match Api::<Node>::all(client.clone())
            .delete(node, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
