//! Launch: create the instance once and record what was launched (spec core §3.1).

use joist_api::nodeclaim::NodeClaim;
use joist_core::labels::TERMINATION_FINALIZER;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::{Value, json};

use super::launch_cache::LaunchCache;
use super::{Context, LAUNCHED, LifecycleError, State};
use crate::conditions::UNKNOWN;
use crate::objects::NodeClaimObject;
use crate::provider::kwok::kube_resources;
use crate::provider::{CloudProvider, Launched, ProviderError};

/// Upstream truncates launch failure messages to this many characters.
const MAX_MESSAGE: usize = 300;

pub(super) async fn reconcile<P: CloudProvider>(
    state: &mut State,
    context: &Context<P>,
    launches: &LaunchCache,
) -> Result<(), LifecycleError> {
    match launch(state, &*context.provider, launches).await {
        Ok(()) => Ok(()),
        Err(
            error @ (ProviderError::InsufficientCapacity { .. }
            | ProviderError::NodeClassNotReady { .. }),
        ) => {
            // The pods go back to the provisioner, which plans again without this NodeClaim.
            tracing::error!(controller = "nodeclaim.lifecycle", NodeClaim = %state.claim.name(), error = %error, "failed launching nodeclaim");
            launches.forget(&state.claim);
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

/// Makes sure `state`'s NodeClaim has exactly one instance: nothing to do once its status shows
/// a providerID; otherwise the instance this process already launched for it (its status patch
/// not yet visible in the watch cache, or lost) or a new one, recorded in `state`.
async fn launch<P: CloudProvider>(
    state: &mut State,
    provider: &P,
    launches: &LaunchCache,
) -> Result<(), ProviderError> {
    let launched = state
        .claim
        .status
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|id| !id.is_empty());
    if launched {
        launches.forget(&state.claim);
        return Ok(());
    }
    let instance = match launches.recall(&state.claim) {
        Some(instance) => instance,
        None => {
            let instance = provider.create(&state.claim).await?;
            launches.remember(&state.claim, instance.clone());
            log_launch(&state.claim, &instance);
            instance
        }
    };
    record(state, instance);
    Ok(())
}

/// Writes what was launched into `state`: provider labels, providerID, capacity, allocatable and
/// `Launched=True`.
fn record(state: &mut State, instance: Launched) {
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
    // Later sub-reconcilers read the providerID from the claim.
    let status = state.claim.status.get_or_insert_with(Default::default);
    status.provider_id = Some(instance.provider_id);
}

/// Logged once per `create` call: the crash tests count these lines per NodeClaim.
fn log_launch(claim: &NodeClaim, instance: &Launched) {
    tracing::info!(
        controller = "nodeclaim.lifecycle",
        NodeClaim = %claim.name(),
        "provider-id" = %instance.provider_id,
        "instance-type" = %instance.instance_type,
        zone = %instance.zone,
        "capacity-type" = %instance.capacity_type,
        allocatable = %instance.allocatable,
        "launched nodeclaim"
    );
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use joist_core::instancetype::InstanceType;
    use std::sync::Arc;

    use super::*;
    use crate::conditions::Conditions;
    use crate::provider::{Deletion, Instance};

    /// A provider that counts `create` calls per NodeClaim UID and fails the first
    /// `failures` of them.
    #[derive(Default)]
    struct CountingProvider {
        types: Arc<[InstanceType]>,
        creates: Mutex<Vec<String>>,
        failures: AtomicUsize,
    }

    impl CountingProvider {
        fn creates_of(&self, uid: &str) -> usize {
            let creates = self.creates.lock().expect("lock");
            creates.iter().filter(|u| u.as_str() == uid).count()
        }
    }

    impl CloudProvider for CountingProvider {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn instance_types(&self) -> &Arc<[InstanceType]> {
            &self.types
        }

        async fn create(&self, claim: &NodeClaim) -> Result<Launched, ProviderError> {
            let uid = claim.metadata.uid.clone().expect("uid");
            self.creates.lock().expect("lock").push(uid.clone());
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(ProviderError::Create {
                    reason: "Throttled".to_owned(),
                    message: "try again".to_owned(),
                });
            }
            let calls = self.creates_of(&uid);
            Ok(Launched {
                // A second instance would get a different ID, so double launches show.
                provider_id: format!("fake://{}-{calls}", claim.name()),
                instance_type: "m5.large".to_owned(),
                zone: "us-east-1a".to_owned(),
                capacity_type: "on-demand".to_owned(),
                price: 0.096,
                labels: [(
                    "node.kubernetes.io/instance-type".to_owned(),
                    "m5.large".to_owned(),
                )]
                .into(),
                capacity: Default::default(),
                allocatable: Default::default(),
            })
        }

        async fn delete(&self, _: &NodeClaim) -> Result<Deletion, ProviderError> {
            Ok(Deletion::Gone)
        }

        async fn get(&self, provider_id: &str) -> Result<Instance, ProviderError> {
            Ok(Instance::new(provider_id))
        }

        async fn list(&self) -> Result<Vec<Instance>, ProviderError> {
            Ok(Vec::new())
        }
    }

    fn claim(uid: &str, provider_id: Option<&str>) -> NodeClaim {
        let mut doc = serde_json::json!({
            "metadata": {"name": "default-a", "uid": uid},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        });
        if let Some(id) = provider_id {
            doc["status"] = serde_json::json!({"providerID": id});
        }
        serde_json::from_value(doc).expect("a NodeClaim")
    }

    fn state(claim: NodeClaim) -> State {
        State {
            conditions: Conditions::new(None, None),
            claim,
            now: k8s_openapi::jiff::Timestamp::now(),
            status: serde_json::Map::new(),
            labels: serde_json::Map::new(),
            deleted: false,
        }
    }

    fn recorded_provider_id(state: &State) -> Option<&str> {
        state.status.get("providerID").and_then(Value::as_str)
    }

    #[tokio::test]
    async fn a_stale_claim_reconciled_again_reuses_the_instance_instead_of_launching_twice() {
        let provider = CountingProvider::default();
        let launches = LaunchCache::new();
        let mut first = state(claim("uid-1", None));
        launch(&mut first, &provider, &launches)
            .await
            .expect("launched");
        // The watch cache still has the claim without its providerID.
        let mut second = state(claim("uid-1", None));
        launch(&mut second, &provider, &launches)
            .await
            .expect("launched");
        assert_eq!(provider.creates_of("uid-1"), 1);
        assert_eq!(recorded_provider_id(&first), Some("fake://default-a-1"));
        assert_eq!(recorded_provider_id(&second), Some("fake://default-a-1"));
        assert!(second.conditions.is_true(LAUNCHED));
        assert_eq!(
            second
                .labels
                .get("node.kubernetes.io/instance-type")
                .and_then(Value::as_str),
            Some("m5.large")
        );

        // Once the status shows the launch, nothing is created and the entry is dropped.
        let mut visible = state(claim("uid-1", Some("fake://default-a-1")));
        launch(&mut visible, &provider, &launches)
            .await
            .expect("launched");
        assert_eq!(provider.creates_of("uid-1"), 1);
        assert!(visible.status.is_empty(), "nothing to write: {visible:?}");
        assert!(launches.is_empty());
    }

    #[tokio::test]
    async fn each_claim_gets_its_own_instance() {
        let provider = CountingProvider::default();
        let launches = LaunchCache::new();
        for uid in ["uid-1", "uid-2", "uid-1", "uid-2"] {
            launch(&mut state(claim(uid, None)), &provider, &launches)
                .await
                .expect("launched");
        }
        assert_eq!(provider.creates_of("uid-1"), 1);
        assert_eq!(provider.creates_of("uid-2"), 1);
        assert_eq!(launches.len(), 2);
    }

    #[tokio::test]
    async fn a_failed_create_is_not_remembered_and_is_retried() {
        let provider = CountingProvider {
            failures: AtomicUsize::new(1),
            ..CountingProvider::default()
        };
        let launches = LaunchCache::new();
        let mut first = state(claim("uid-1", None));
        let error = launch(&mut first, &provider, &launches)
            .await
            .expect_err("the first create fails");
        assert!(matches!(error, ProviderError::Create { .. }), "{error}");
        assert!(launches.is_empty());
        let mut retry = state(claim("uid-1", None));
        launch(&mut retry, &provider, &launches)
            .await
            .expect("launched");
        assert_eq!(provider.creates_of("uid-1"), 2);
        assert_eq!(recorded_provider_id(&retry), Some("fake://default-a-2"));
    }
}
