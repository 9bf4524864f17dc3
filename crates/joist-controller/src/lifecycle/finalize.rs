//! Finalize a deleting NodeClaim (spec core §3.1): delete its Nodes and wait for them (their
//! own finalizer drains them), terminate the instance, then release the finalizer.

use std::time::Duration;

use joist_core::duration::parse_go_duration;
use joist_core::labels::{NODECLAIM_TERMINATION_TIMESTAMP, TERMINATION_FINALIZER};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::launch_cache::LaunchCache;
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
    launches: &LaunchCache,
) -> Result<Action, LifecycleError> {
    if !has_finalizer(&claim.metadata.finalizers) {
        launches.forget(claim);
        return Ok(Action::await_change());
    }
    if annotate_termination_timestamp(claim, context).await? {
        // The annotation's write wakes this NodeClaim again; the Node's drain reads it from there.
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
    // The NodeClaim is gone now: nothing more to remember of its launch.
    launches.forget(claim);
    tracing::info!(controller = "nodeclaim.lifecycle", NodeClaim = %claim.name(), "deleted nodeclaim");
    let label = |key: &str| {
        claim
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_default()
    };
    if let Some(uid) = &claim.metadata.uid {
        context
            .registrations_counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }
    context.metrics.nodeclaims_terminated.inc(&[
        &label(joist_core::labels::NODEPOOL),
        &label(joist_core::labels::CAPACITY_TYPE),
        &label(joist_core::labels::ZONE),
    ]);
    Ok(Action::await_change())
}

/// Stamps `karpenter.sh/nodeclaim-termination-timestamp` (deletionTimestamp + TGP, RFC 3339) on a
/// deleting NodeClaim that has a `terminationGracePeriod` and no stamp yet; whether it wrote.
async fn annotate_termination_timestamp<P: CloudProvider>(
    claim: &NodeClaim,
    context: &Context<P>,
) -> Result<bool, LifecycleError> {
    let stamped = claim
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(NODECLAIM_TERMINATION_TIMESTAMP));
    let Some(deadline) = (!stamped).then(|| termination_timestamp(claim)).flatten() else {
        return Ok(false);
    };
    let patch = json!({"metadata": {"annotations": {NODECLAIM_TERMINATION_TIMESTAMP: deadline}}});
    Api::<NodeClaimObject>::all(context.client.clone())
        .patch(claim.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(controller = "nodeclaim.lifecycle", NodeClaim = %claim.name(), annotation = NODECLAIM_TERMINATION_TIMESTAMP, value = %deadline, "annotated nodeclaim");
    Ok(true)
}

/// deletionTimestamp + `spec.terminationGracePeriod` in RFC 3339 (seconds, `Z`), or `None`
/// without a TGP or a deletionTimestamp.
fn termination_timestamp(claim: &NodeClaim) -> Option<String> {
    let tgp = parse_go_duration(claim.spec.termination_grace_period.as_deref()?).ok()?;
    let deleted = claim.metadata.deletion_timestamp.as_ref()?;
    let deleted = chrono::DateTime::from_timestamp(deleted.0.as_second(), 0)?;
    let deadline = deleted.checked_add_signed(chrono::TimeDelta::from_std(tgp).ok()?)?;
    Some(deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn claim(tgp: Option<&str>, deleted: Option<&str>) -> NodeClaim {
        let mut claim: NodeClaim = serde_json::from_value(json!({
            "metadata": {"name": "default-a"},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        }))
        .expect("a NodeClaim");
        claim.spec.termination_grace_period = tgp.map(str::to_owned);
        claim.metadata.deletion_timestamp = deleted.map(|t| Time(t.parse().expect("a timestamp")));
        claim
    }

    #[test]
    fn the_termination_timestamp_is_deletion_plus_the_grace_period() {
        assert_eq!(
            termination_timestamp(&claim(Some("1h30m"), Some("2026-01-02T03:04:05Z"))).as_deref(),
            Some("2026-01-02T04:34:05Z")
        );
        assert_eq!(
            termination_timestamp(&claim(None, Some("2026-01-02T03:04:05Z"))),
            None
        );
        assert_eq!(termination_timestamp(&claim(Some("1h"), None)), None);
    }
}
