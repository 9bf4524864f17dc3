//! Finalize a deleting NodeClaim (spec core §3.1): delete its Nodes and wait for them (their
//! own finalizer drains them), terminate the instance, then release the finalizer.

use std::time::Duration;

use joist_core::labels::TERMINATION_FINALIZER;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::{Context, LifecycleError, has_finalizer};
use crate::objects::NodeClaimObject;
use crate::provider::{CloudProvider, Deletion, ProviderError};
use joist_api::nodeclaim::NodeClaim;

/// How often a finalizing NodeClaim is looked at while its Node drains.
const WAIT: Duration = Duration::from_secs(1);
/// How often a terminating instance is checked (upstream: 5 s).
const INSTANCE_WAIT: Duration = Duration::from_secs(5);

pub(super) async fn reconcile<P: CloudProvider>(
    claim: &NodeClaim,
    context: &Context<P>,
) -> Result<Action, LifecycleError> {
    if !has_finalizer(&claim.metadata.finalizers) {
        return Ok(Action::await_change());
    }
    let provider_id = claim
        .status
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .filter(|id| !id.is_empty());
    if let Some(provider_id) = provider_id {
        let nodes = context.index.nodes_with_provider_id(provider_id);
        if !nodes.is_empty() {
            let api: Api<Node> = Api::all(context.client.clone());
            for node in nodes
                .iter()
                .filter(|n| n.metadata.deletion_timestamp.is_none())
            {
                let name = node.metadata.name.as_deref().unwrap_or_default();
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(error) => return Err(error.into()),
                }
            }
            return Ok(Action::requeue(WAIT));
        }
        match context.provider.delete(claim).await {
            Ok(Deletion::Gone) | Err(ProviderError::NotFound { .. }) => {}
            Ok(Deletion::Terminating) => return Ok(Action::requeue(INSTANCE_WAIT)),
            Err(error) => return Err(error.into()),
        }
    }
    let finalizers: Vec<&String> = claim
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != TERMINATION_FINALIZER)
        .collect();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": claim.metadata.resource_version}});
    Api::<NodeClaimObject>::all(context.client.clone())
        .patch(claim.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(controller = "nodeclaim.lifecycle", NodeClaim = %claim.name(), "deleted nodeclaim");
    Ok(Action::await_change())
}
