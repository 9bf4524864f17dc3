//! Registration: the Node with the NodeClaim's providerID appeared; sync the NodeClaim's labels,
//! taints and finalizer onto it, lift `karpenter.sh/unregistered` and record the node name
//! (spec core §3.1).

use std::collections::BTreeMap;

use joist_core::labels::{
    DO_NOT_SYNC_TAINTS, REGISTERED as REGISTERED_LABEL, TERMINATION_FINALIZER,
    UNREGISTERED_TAINT_KEY,
};
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::{Context, LifecycleError, NodeLookup, REGISTERED, State, node_of};
use crate::conditions::{FALSE, UNKNOWN};
use crate::provider::CloudProvider;
use crate::provider::kwok::kube_taint;

pub(super) async fn reconcile<P: CloudProvider>(
    state: &mut State,
    context: &Context<P>,
) -> Result<(), LifecycleError> {
    if state.conditions.is_true(REGISTERED) {
        return Ok(());
    }
    let node = match node_of(&state.claim, &context.index) {
        NodeLookup::NotLaunched => return Ok(()),
        NodeLookup::NotFound => {
            state.conditions.set(
                REGISTERED,
                UNKNOWN,
                "NodeNotFound",
                "Node not registered with cluster",
                state.now,
            );
            return Ok(());
        }
        NodeLookup::Multiple => {
            state.conditions.set(
                REGISTERED,
                FALSE,
                "MultipleNodesFound",
                "Invariant violated, matched multiple nodes",
                state.now,
            );
            return Ok(());
        }
        NodeLookup::Found(node) => node,
    };
    let node_name = node.metadata.name.clone().unwrap_or_default();
    sync_node(&context.client, state, &node).await?;
    state.conditions.set_true(REGISTERED, state.now);
    state.status.insert("nodeName".to_owned(), json!(node_name));
    let status = state.claim.status.get_or_insert_with(Default::default);
    status.node_name = Some(node_name.clone());
    tracing::info!(controller = "nodeclaim.lifecycle", NodeClaim = %state.claim.name(), Node = %node_name, "registered nodeclaim");
    count_registration(context, state, &node);
    Ok(())
}

/// `karpenter_nodes_created_total{nodepool,zone}`, once per NodeClaim.
fn count_registration<P>(context: &Context<P>, state: &State, node: &Node) {
    let label = |key: &str| {
        node.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let uid = state.claim.metadata.uid.clone().unwrap_or_default();
    // A poisoned lock only means another reconcile panicked mid-insert; the set is still a set.
    let first = context
        .registrations_counted
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(uid);
    if !first {
        return;
    }
    context.metrics.nodes_created.inc(&[
        &label(joist_core::labels::NODEPOOL),
        &label(joist_core::labels::ZONE),
    ]);
}

/// One patch of the Node: finalizer, owner reference to the NodeClaim, NodeClaim labels and
/// annotations (the NodeClaim wins), its taints and startup taints (unless the node opts out),
/// the unregistered taint removed and `karpenter.sh/registered=true`.
async fn sync_node(
    client: &kube::Client,
    state: &State,
    node: &Node,
) -> Result<(), LifecycleError> {
    let claim = &state.claim;
    let meta = &node.metadata;
    let mut finalizers = meta.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == TERMINATION_FINALIZER) {
        finalizers.push(TERMINATION_FINALIZER.to_owned());
    }
    let mut owners = meta.owner_references.clone().unwrap_or_default();
    let claim_uid = claim.metadata.uid.clone().unwrap_or_default();
    if !owners.iter().any(|o| o.uid == claim_uid) {
        owners.push(OwnerReference {
            api_version: joist_api::nodeclaim::API_VERSION.to_owned(),
            kind: joist_api::nodeclaim::KIND.to_owned(),
            name: claim.name().to_owned(),
            uid: claim_uid,
            block_owner_deletion: Some(true),
            controller: None,
        });
    }
    let mut labels: BTreeMap<String, String> = claim.metadata.labels.clone().unwrap_or_default();
    labels.insert(REGISTERED_LABEL.to_owned(), "true".to_owned());
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    let taints = synced_taints(state, node)?;
    let patch = json!({
        "metadata": {
            "resourceVersion": meta.resource_version,
            "finalizers": finalizers,
            "ownerReferences": owners,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {"taints": taints},
    });
    Api::<Node>::all(client.clone())
        .patch(
            meta.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

/// The node's taints with the NodeClaim's taints and startup taints added (same key and effect
/// is the same taint) and `karpenter.sh/unregistered` removed.
fn synced_taints(state: &State, node: &Node) -> Result<Vec<Taint>, LifecycleError> {
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != UNREGISTERED_TAINT_KEY)
        .collect();
    let opted_out = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(DO_NOT_SYNC_TAINTS))
        .is_some_and(|v| v == "true");
    if opted_out {
        return Ok(taints);
    }
    let claim = &state.claim;
    let wanted = claim
        .taints()
        .and_then(|mut t| {
            t.extend(claim.startup_taints()?);
            Ok(t)
        })
        .map_err(|e| {
            LifecycleError::Provider(crate::provider::ProviderError::Create {
                reason: "InvalidTaints".to_owned(),
                message: e.to_string(),
            })
        })?;
    for taint in wanted {
        let kube = kube_taint(&taint);
        if !taints
            .iter()
            .any(|t| t.key == kube.key && t.effect == kube.effect)
        {
            taints.push(kube);
        }
    }
    Ok(taints)
}
