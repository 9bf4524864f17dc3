//! Launch: create the instance once and record what was launched (spec core §3.1).

use joist_core::labels::TERMINATION_FINALIZER;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::{Value, json};

use super::{Context, LAUNCHED, LifecycleError, State};
use crate::conditions::UNKNOWN;
use crate::objects::NodeClaimObject;
use crate::provider::kwok::kube_resources;
use crate::provider::{CloudProvider, ProviderError};

/// Upstream truncates launch failure messages to this many characters.
const MAX_MESSAGE: usize = 300;

pub(super) async fn reconcile<P: CloudProvider>(
    state: &mut State,
    context: &Context<P>,
) -> Result<(), LifecycleError> {
    let launched = state
        .claim
        .status
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|id| !id.is_empty());
    if launched {
        return Ok(());
    }
    match context.provider.create(&state.claim).await {
        Ok(instance) => {
            // Provider labels go under the NodeClaim's own: user and NodePool labels win.
            let own = state.claim.metadata.labels.clone().unwrap_or_default();
            for (key, value) in &instance.labels {
                if !own.contains_key(key) {
                    state
                        .labels
                        .insert(key.clone(), Value::String(value.clone()));
                }
            }
            state
                .status
                .insert("providerID".to_owned(), json!(instance.provider_id));
            state.status.insert(
                "capacity".to_owned(),
                json!(kube_resources(&instance.capacity)),
            );
            state.status.insert(
                "allocatable".to_owned(),
                json!(kube_resources(&instance.allocatable)),
            );
            state.conditions.set_true(LAUNCHED, state.now);
            tracing::info!(
                controller = "nodeclaim.lifecycle",
                NodeClaim = %state.claim.name(),
                "provider-id" = %instance.provider_id,
                "instance-type" = %instance.instance_type,
                zone = %instance.zone,
                "capacity-type" = %instance.capacity_type,
                allocatable = %instance.allocatable,
                "launched nodeclaim"
            );
            // Later sub-reconcilers read the providerID from the claim.
            let status = state.claim.status.get_or_insert_with(Default::default);
            status.provider_id = Some(instance.provider_id);
            Ok(())
        }
        Err(
            error @ (ProviderError::InsufficientCapacity { .. }
            | ProviderError::NodeClassNotReady { .. }),
        ) => {
            // The pods go back to the provisioner, which plans again without this NodeClaim.
            tracing::error!(controller = "nodeclaim.lifecycle", NodeClaim = %state.claim.name(), error = %error, "failed launching nodeclaim");
            delete_unlaunched(state, context).await
        }
        Err(error) => {
            let reason = match &error {
                ProviderError::Create { reason, .. } => reason.clone(),
                _ => "LaunchFailed".to_owned(),
            };
            let message: String = error.to_string().chars().take(MAX_MESSAGE).collect();
            state
                .conditions
                .set(LAUNCHED, UNKNOWN, &reason, &message, state.now);
            Err(error.into())
        }
    }
}

/// Deletes a NodeClaim that never launched; with no instance there is nothing to finalize, so
/// the finalizer is removed at once.
async fn delete_unlaunched<P>(
    state: &mut State,
    context: &Context<P>,
) -> Result<(), LifecycleError> {
    let api: Api<NodeClaimObject> = Api::all(context.client.clone());
    let name = state.claim.name().to_owned();
    api.delete(&name, &DeleteParams::default()).await?;
    let finalizers: Vec<String> = state
        .claim
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != TERMINATION_FINALIZER)
        .cloned()
        .collect();
    let patch = json!({"metadata": {"finalizers": finalizers}});
    api.patch(
        &name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await?;
    state.deleted = true;
    Ok(())
}
