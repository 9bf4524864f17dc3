//! Initialization: the registered Node is Ready, its startup and ephemeral taints are gone and
//! every resource the NodeClaim requested is allocatable; label it `karpenter.sh/initialized`
//! (spec core §3.1).

use std::str::FromStr;

use joist_core::labels::INITIALIZED as INITIALIZED_LABEL;
use joist_core::resources::Quantity;
use joist_core::taints::{Effect, Taint, is_known_ephemeral};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::{Context, INITIALIZED, LifecycleError, NodeLookup, REGISTERED, State, node_of};
use crate::conditions::UNKNOWN;
use crate::provider::CloudProvider;

pub(super) async fn reconcile<P: CloudProvider>(
    state: &mut State,
    context: &Context<P>,
) -> Result<(), LifecycleError> {
    if state.conditions.is_true(INITIALIZED) || !state.conditions.is_true(REGISTERED) {
        return Ok(());
    }
    let NodeLookup::Found(node) = node_of(&state.claim, &context.index) else {
        state.conditions.set(
            INITIALIZED,
            UNKNOWN,
            "NodeNotFound",
            "Node not registered with cluster",
            state.now,
        );
        return Ok(());
    };
    if let Some((reason, message)) = not_initialized(state, &node) {
        state
            .conditions
            .set(INITIALIZED, UNKNOWN, reason, &message, state.now);
        return Ok(());
    }
    let patch = json!({"metadata": {"labels": {INITIALIZED_LABEL: "true"}}});
    let name = node.metadata.name.clone().unwrap_or_default();
    Api::<Node>::all(context.client.clone())
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    state.conditions.set_true(INITIALIZED, state.now);
    let allocatable = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.clone())
        .unwrap_or_default();
    let allocatable: Vec<String> = allocatable
        .iter()
        .map(|(k, v)| format!("{k}={}", v.0))
        .collect();
    tracing::info!(controller = "nodeclaim.lifecycle", NodeClaim = %state.claim.name(), allocatable = %allocatable.join(","), "initialized nodeclaim");
    Ok(())
}

/// The first reason the node is not initialized yet, in upstream's order and words.
fn not_initialized(state: &State, node: &Node) -> Option<(&'static str, String)> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    if !ready {
        return Some(("NodeNotReady", "Node status is NotReady".to_owned()));
    }
    let taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let effect = Effect::from_str(&t.effect).ok()?;
            Some(Taint::new(
                t.key.clone(),
                t.value.clone().unwrap_or_default(),
                effect,
            ))
        })
        .collect();
    let startup = state.claim.startup_taints().unwrap_or_default();
    if let Some(taint) = taints.iter().find(|t| startup.iter().any(|s| s.matches(t))) {
        return Some((
            "StartupTaintsExist",
            format!("StartupTaint \"{taint}\" still exists"),
        ));
    }
    if let Some(taint) = taints.iter().find(|t| is_known_ephemeral(t)) {
        return Some((
            "KnownEphemeralTaintsExist",
            format!("KnownEphemeralTaint \"{taint}\" still exists"),
        ));
    }
    let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    let requests = state
        .claim
        .spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    for (name, value) in requests.into_iter().flatten() {
        let requested = value.text().and_then(|t| Quantity::parse(&t).ok());
        if requested.is_none_or(|q| q.is_zero()) {
            continue;
        }
        let present = allocatable
            .and_then(|a| a.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
            .is_some_and(|q| !q.is_zero());
        if !present {
            return Some((
                "ResourceNotRegistered",
                format!("Resource \"{name}\" was requested but not registered"),
            ));
        }
    }
    None
}
