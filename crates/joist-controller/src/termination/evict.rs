//! Carrying out a drain pass against the API server: TGP force-deletes, then the Eviction API
//! (policy/v1) for the current tier, with upstream's reading of the answers (404/409 done,
//! 429 blocked by a PodDisruptionBudget and retried on the next pass).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, EvictParams, ListParams, Preconditions};
use thiserror::Error;

use super::plan::{EvictionTier, ForceDelete, PodKey, plan_drain};

/// The message the API server gives when a pod is matched by more than one PDB; upstream
/// treats it like a 429.
const MULTIPLE_PDBS_MESSAGE: &str = "This pod has more than one PodDisruptionBudget";

/// Why a drain pass failed (the caller requeues; a PDB refusal is not a failure).
#[derive(Debug, Error)]
pub enum DrainError {
    /// The drainer's own client could not be built.
    #[error("building the drain client: {0}")]
    Client(kube::Error),
    /// Listing the node's pods failed.
    #[error("listing pods of node {node}: {source}")]
    ListPods {
        /// The node.
        node: String,
        /// The client's error.
        source: kube::Error,
    },
    /// An eviction failed with an unexpected answer.
    #[error("evicting pod {namespace}/{name}: {source}")]
    Evict {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        name: String,
        /// The client's error.
        source: kube::Error,
    },
    /// A TGP force-delete failed.
    #[error("deleting pod {namespace}/{name}: {source}")]
    Delete {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        name: String,
        /// The client's error.
        source: kube::Error,
    },
}

/// How the API server answered one eviction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    /// Accepted: the pod is now terminating (upstream event `Evicted`).
    Evicted,
    /// 404 or 409 (gone, or a new pod under the name): nothing left to evict.
    Gone,
    /// 429 or the multiple-PDB refusal: retry later (Warning `FailedDraining` upstream).
    Blocked {
        /// The API server's message.
        message: String,
    },
}

/// What one drain pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrainOutcome {
    /// The tier the pass worked on.
    pub tier: Option<EvictionTier>,
    /// Pods the pass evicted.
    pub evicted: Vec<PodKey>,
    /// Pods a PDB kept; they are retried on the next pass.
    pub blocked: Vec<(PodKey, String)>,
    /// Pods deleted because of the TGP deadline.
    pub force_deleted: Vec<PodKey>,
    /// Pods held by do-not-disrupt.
    pub held: Vec<PodKey>,
    /// Pods the drain still waits for (the caller's "N pods are waiting to be evicted").
    pub waiting: usize,
}

impl DrainOutcome {
    /// Whether nothing is left to wait for.
    pub fn is_drained(&self) -> bool {
        self.waiting == 0
    }
}

/// Runs drain passes for nodes through its own client: one that does not retry 429s. kube's
/// default client retries 429 up to 15 times with exponential backoff (minutes), which would
/// turn every PDB refusal into a stall instead of a "retry on the next pass".
#[derive(Clone)]
pub struct Drainer {
    client: kube::Client,
}

impl std::fmt::Debug for Drainer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Drainer").finish_non_exhaustive()
    }
}

impl Drainer {
    /// A drainer talking to the cluster `config` describes, with kube's 429/503/504 retry
    /// layer turned off.
    ///
    /// # Errors
    /// [`DrainError::Client`] when the client cannot be built (TLS, proxy settings).
    pub fn from_config(mut config: kube::Config) -> Result<Self, DrainError> {
        config.default_retry = false;
        let client = kube::Client::try_from(config).map_err(DrainError::Client)?;
        Ok(Self { client })
    }

    /// One pass over `node`'s pods at `now`, with the NodeClaim's termination deadline if any:
    /// force-deletes what the deadline requires, evicts the current tier, and reports what is
    /// left. Call again (upstream: every second) until [`DrainOutcome::is_drained`].
    ///
    /// # Errors
    /// [`DrainError`] when listing, an eviction or a delete fails other than as expected.
    pub async fn drain_once(
        &self,
        node: &str,
        now: Timestamp,
        deadline: Option<Timestamp>,
    ) -> Result<DrainOutcome, DrainError> {
        let pods = self.node_pods(node).await?;
        let plan = plan_drain(&pods, now, deadline);
        let mut outcome = DrainOutcome {
            waiting: plan.waiting,
            ..DrainOutcome::default()
        };
        for force in &plan.force_delete {
            self.force_delete(force).await?;
            outcome.force_deleted.push(force.pod.clone());
        }
        let Some(tier) = plan.tier else {
            return Ok(outcome);
        };
        outcome.tier = Some(tier.tier);
        outcome.held = tier.held;
        for pod in tier.evict {
            match self.evict(&pod).await? {
                Eviction::Evicted => outcome.evicted.push(pod),
                Eviction::Gone => {}
                Eviction::Blocked { message } => outcome.blocked.push((pod, message)),
            }
        }
        Ok(outcome)
    }

    /// The pods bound to `node` (field selector `spec.nodeName`).
    ///
    /// # Errors
    /// [`DrainError::ListPods`].
    pub async fn node_pods(&self, node: &str) -> Result<Vec<Pod>, DrainError> {
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        let pods = Api::<Pod>::all(self.client.clone()).list(&params).await;
        pods.map(|list| list.items)
            .map_err(|source| DrainError::ListPods {
                node: node.to_owned(),
                source,
            })
    }

    /// Calls the Eviction API for `pod`, with its UID as precondition.
    ///
    /// # Errors
    /// [`DrainError::Evict`] for answers other than success, 404, 409 and 429.
    pub async fn evict(&self, pod: &PodKey) -> Result<Eviction, DrainError> {
        let api = Api::<Pod>::namespaced(self.client.clone(), &pod.namespace);
        let params = EvictParams {
            delete_options: Some(DeleteParams {
                preconditions: preconditions(pod),
                ..DeleteParams::default()
            }),
            ..EvictParams::default()
        };
        match api.evict(&pod.name, &params).await {
            Ok(_) => Ok(Eviction::Evicted),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
                Ok(Eviction::Gone)
            }
            Err(kube::Error::Api(status))
                if status.code == 429 || status.message.contains(MULTIPLE_PDBS_MESSAGE) =>
            {
                Ok(Eviction::Blocked {
                    message: status.message,
                })
            }
            Err(source) => Err(DrainError::Evict {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                source,
            }),
        }
    }

    /// Deletes a pod directly with the clamped grace period (bypasses PDBs and do-not-disrupt);
    /// a pod already gone counts as deleted.
    ///
    /// # Errors
    /// [`DrainError::Delete`].
    pub async fn force_delete(&self, force: &ForceDelete) -> Result<(), DrainError> {
        let api = Api::<Pod>::namespaced(self.client.clone(), &force.pod.namespace);
        let params = DeleteParams {
            grace_period_seconds: u32::try_from(force.grace_period_seconds).ok(),
            preconditions: preconditions(&force.pod),
            ..DeleteParams::default()
        };
        match api.delete(&force.pod.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(source) => Err(DrainError::Delete {
                namespace: force.pod.namespace.clone(),
                name: force.pod.name.clone(),
                source,
            }),
        }
    }
}

/// The UID precondition, when the pod's UID is known.
fn preconditions(pod: &PodKey) -> Option<Preconditions> {
    (!pod.uid.is_empty()).then(|| Preconditions {
        uid: Some(pod.uid.clone()),
        resource_version: None,
    })
}
