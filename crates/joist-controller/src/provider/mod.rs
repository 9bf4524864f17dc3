//! The cloud provider contract the controller drives (spec core §1.7), reduced to what this
//! slice uses: create, delete, get and list instances by NodeClaim, plus the instance types.

pub mod kwok;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use joist_api::nodeclaim::NodeClaim;
use joist_core::instancetype::InstanceType;
use joist_core::resources::ResourceList;
use thiserror::Error;

/// What a successful `create` launched.
#[derive(Debug, Clone, PartialEq)]
pub struct Launched {
    /// The instance's provider ID (also the Node's `spec.providerID`).
    pub provider_id: String,
    /// The chosen instance type.
    pub instance_type: String,
    /// `topology.kubernetes.io/zone` of the chosen offering.
    pub zone: String,
    /// `karpenter.sh/capacity-type` of the chosen offering.
    pub capacity_type: String,
    /// The offering's price per hour.
    pub price: f64,
    /// Labels the provider resolved (instance type, zone, capacity type, ...); the NodeClaim's
    /// own labels win over these.
    pub labels: BTreeMap<String, String>,
    /// The instance type's capacity.
    pub capacity: ResourceList,
    /// The instance type's allocatable.
    pub allocatable: ResourceList,
}

/// An instance the provider knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its provider ID.
    pub provider_id: String,
    /// When it was launched, if the provider knows: instance garbage collection spares young
    /// instances whose NodeClaim may not have recorded them yet.
    pub launched: Option<chrono::DateTime<chrono::Utc>>,
    /// The NodeClaim it was launched for (AWS tags `karpenter.sh/nodeclaim`; kwok names the Node
    /// after it), so an instance whose NodeClaim still exists is never collected.
    pub nodeclaim: Option<String>,
    /// Its Node object's name, if the provider knows it (deleted with the instance).
    pub node: Option<String>,
}

impl Instance {
    /// An instance known only by its provider ID.
    pub fn new(provider_id: impl Into<String>) -> Instance {
        Instance {
            provider_id: provider_id.into(),
            launched: None,
            nodeclaim: None,
            node: None,
        }
    }
}

/// Where a `delete` left the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Termination started; ask again later.
    Terminating,
    /// The instance no longer exists.
    Gone,
}

/// Why a provider call failed (upstream's typed cloud-provider errors).
#[derive(Debug, Error)]
pub enum ProviderError {
    /// The instance does not exist (upstream `NodeClaimNotFoundError`).
    #[error("instance {provider_id} not found")]
    NotFound {
        /// The provider ID asked for.
        provider_id: String,
    },
    /// No offering can satisfy the NodeClaim (upstream `InsufficientCapacityError`): the
    /// NodeClaim is deleted and its pods go back to the provisioner.
    #[error("insufficient capacity, {reason}")]
    InsufficientCapacity {
        /// Why.
        reason: String,
    },
    /// The NodeClaim's NodeClass exists but is not ready (upstream `NodeClassNotReadyError`).
    #[error("nodeclass {name} is not ready")]
    NodeClassNotReady {
        /// The NodeClass's name.
        name: String,
    },
    /// The NodeClaim cannot be launched as written (upstream `CreateError`).
    #[error("{reason}: {message}")]
    Create {
        /// Machine-readable reason (the `Launched` condition's reason).
        reason: String,
        /// What is wrong.
        message: String,
    },
    /// The Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
}

/// A cloud provider: launches and terminates the instances behind NodeClaims.
pub trait CloudProvider: Send + Sync + 'static {
    /// The provider's name (`kwok`, `aws`).
    fn name(&self) -> &'static str;
    /// The instance types every NodePool may use.
    fn instance_types(&self) -> &Arc<[InstanceType]>;
    /// Launches an instance for `claim`.
    fn create(
        &self,
        claim: &NodeClaim,
    ) -> impl Future<Output = Result<Launched, ProviderError>> + Send;
    /// Terminates the instance of `claim` (by its `status.providerID`).
    fn delete(
        &self,
        claim: &NodeClaim,
    ) -> impl Future<Output = Result<Deletion, ProviderError>> + Send;
    /// The instance with `provider_id`; [`ProviderError::NotFound`] when it is gone.
    fn get(
        &self,
        provider_id: &str,
    ) -> impl Future<Output = Result<Instance, ProviderError>> + Send;
    /// Every instance the provider runs for this cluster.
    fn list(&self) -> impl Future<Output = Result<Vec<Instance>, ProviderError>> + Send;
}
