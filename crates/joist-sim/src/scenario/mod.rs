//! Scenario files: multi-document YAML of Kubernetes and Karpenter objects plus at most one
//! `joist.dev/v1alpha1` `Scenario` object with the simulation's options and steps.
//!
//! NodePools and EC2NodeClasses are admitted with the rules of `joist validate`; workloads are
//! converted with [`ConvertOptions::simulation`]. Every error names the document, its first line,
//! the object and the field, and the first error stops the load (a simulation of half a scenario
//! would mislead).

mod error;
mod loader;
mod nodeclass;
mod options;
mod steps;
mod wire;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use joist_api::common::ValidationOptions;
use joist_api::convert::ConvertOptions;
use joist_api::document::split_bytes;
use joist_core::disruption::PoolDisruption;
use joist_core::scheduling::{MinValuesPolicy, PreferencePolicy};
use joist_core::snapshot::{self, Volumes};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};

pub use error::LoadError;
pub use nodeclass::{NodeClassInfo, ReservationTerm};
pub use wire::{API_VERSION, KIND};

use loader::Loader;

/// Kinds a scenario may hold, as `apiVersion kind`, for the "not supported" message.
const SUPPORTED_KINDS: &str = "karpenter.sh/v1 NodePool, karpenter.k8s.aws/v1 EC2NodeClass, \
     v1 Pod, apps/v1 Deployment, apps/v1 StatefulSet, batch/v1 Job, apps/v1 DaemonSet, \
     policy/v1 PodDisruptionBudget, storage.k8s.io/v1 StorageClass, v1 PersistentVolumeClaim, \
     v1 PersistentVolume, scheduling.k8s.io/v1 PriorityClass, v1 Node, joist.dev/v1alpha1 Scenario";

/// Provisioning delays of the in-memory provider (the Scenario's `spec.timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From the NodeClaim's creation to the instance running.
    pub launch: Duration,
    /// From the instance running to the Node registering.
    pub register: Duration,
    /// From registration to `karpenter.sh/initialized` (kubelet ready, startup taints gone).
    pub initialize: Duration,
    /// Extra initialization time of GPU instance types: the device plugin must publish
    /// `nvidia.com/gpu` before upstream's initialization check passes.
    pub gpu_device_plugin: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            launch: Duration::from_secs(30),
            register: Duration::from_secs(15),
            initialize: Duration::from_secs(10),
            gpu_device_plugin: Duration::ZERO,
        }
    }
}

/// The provisioner's batching window (upstream `BATCH_IDLE_DURATION` / `BATCH_MAX_DURATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// A batch closes once no new pending pod arrived for this long.
    pub idle: Duration,
    /// A batch closes at the latest this long after it opened.
    pub max: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(1),
            max: Duration::from_secs(10),
        }
    }
}

/// Upstream feature gates the simulation honours (`spec.featureGates`, upstream names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureGates {
    /// `StaticCapacity` (alpha, default off): NodePools with `replicas` are provisioned.
    pub static_capacity: bool,
    /// `ReservedCapacity` (default on): capacity reservations are offered.
    pub reserved_capacity: bool,
    /// `SpotToSpotConsolidation` (default off): passed to consolidation once it exists.
    pub spot_to_spot_consolidation: bool,
    /// `NodeRepair` (default off): accepted; node health is not simulated.
    pub node_repair: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        Self {
            static_capacity: false,
            reserved_capacity: true,
            spot_to_spot_consolidation: false,
            node_repair: false,
        }
    }
}

/// `karpenter.k8s.aws/capacity-reservation-type` of a scenario reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationKind {
    /// An On-Demand Capacity Reservation.
    Default,
    /// An EC2 Capacity Block for ML (drained 40 min before its end).
    CapacityBlock,
}

/// A capacity reservation that exists in the simulated account (`spec.capacityReservations`);
/// EC2NodeClasses select it with `capacityReservationSelectorTerms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// `cr-...`.
    pub id: String,
    /// The instance type it holds.
    pub instance_type: String,
    /// Its zone.
    pub zone: String,
    /// How many instances it holds.
    pub count: u32,
    /// ODCR or capacity block.
    pub kind: ReservationKind,
    /// Whether EC2 may interrupt its instances.
    pub interruptible: bool,
    /// Its end, from the start of the simulation (capacity blocks always have one).
    pub end: Option<Duration>,
    /// Tags, for tag selector terms.
    pub tags: BTreeMap<String, String>,
}

/// A declared lack of capacity (`spec.insufficientCapacity`): launches into a matching offering
/// fail with `InsufficientInstanceCapacity` between `from` and `until`. Unset fields match all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InsufficientCapacity {
    /// Instance type name.
    pub instance_type: Option<String>,
    /// Zone name.
    pub zone: Option<String>,
    /// `spot`, `on-demand` or `reserved`.
    pub capacity_type: Option<String>,
    /// Start of the shortage.
    pub from: Duration,
    /// End of the shortage (`None`: to the end of the run).
    pub until: Option<Duration>,
}

impl InsufficientCapacity {
    /// Whether launching (`instance_type`, `zone`, `capacity_type`) at `now` fails.
    pub fn applies(
        &self,
        instance_type: &str,
        zone: &str,
        capacity_type: &str,
        now: Duration,
    ) -> bool {
        let field = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        field(&self.instance_type, instance_type)
            && field(&self.zone, zone)
            && field(&self.capacity_type, capacity_type)
            && now >= self.from
            && self.until.is_none_or(|until| now < until)
    }
}

/// How a step names the node it interrupts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelector {
    /// A node name.
    Name(String),
    /// `key=value` pairs that must all match the node's labels (the first matching node by name).
    Labels(BTreeMap<String, String>),
}

/// What kind of interruption a step sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptKind {
    /// "EC2 Spot Instance Interruption Warning": 2 minutes' notice.
    Spot,
    /// "EC2 Capacity Reservation Instance Interruption Warning": 2 minutes' notice, the
    /// reservation is marked unavailable.
    CapacityReservation,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Sets a Deployment's `spec.replicas`: pods are created or the highest ordinals removed.
    Scale {
        /// The Deployment's namespace.
        namespace: String,
        /// The Deployment's name.
        deployment: String,
        /// The new replica count.
        replicas: i32,
    },
    /// Creates or replaces one object (loaded and validated like a scenario document).
    Apply(Box<Scenario>),
    /// Deletes one object.
    Delete {
        /// Its kind (`Deployment`, `Pod`, `NodePool`, `DaemonSet`, `PodDisruptionBudget` ...).
        kind: String,
        /// Its name.
        name: String,
        /// Its namespace (namespaced kinds).
        namespace: String,
    },
    /// Sends an interruption notice for a node.
    Interrupt {
        /// Which node.
        node: NodeSelector,
        /// Which notice.
        kind: InterruptKind,
    },
}

/// One scripted change, at a virtual time from the start.
#[derive(Debug, Clone)]
pub struct Step {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub action: StepAction,
}

/// A loaded scenario: the initial objects in the scheduling core's terms and the options.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The AWS region whose catalog and prices are used.
    pub region: String,
    /// Provisioning delays.
    pub timing: Timing,
    /// Batching window.
    pub batching: Batching,
    /// Feature gates.
    pub feature_gates: FeatureGates,
    /// `preferencePolicy` for the solver.
    pub preference_policy: PreferencePolicy,
    /// `minValuesPolicy` for the solver.
    pub min_values_policy: MinValuesPolicy,
    /// Explicit end of the simulation, if given.
    pub until: Option<Duration>,
    /// Steps in time order (ties keep file order).
    pub steps: Vec<Step>,
    /// Capacity reservations of the simulated account.
    pub reservations: Vec<Reservation>,
    /// Declared capacity shortages.
    pub insufficient_capacity: Vec<InsufficientCapacity>,
    /// NodePools (not ready when their EC2NodeClass is missing, as upstream marks them).
    pub nodepools: Vec<snapshot::NodePool>,
    /// Each NodePool's `spec.disruption`, by NodePool name.
    pub pool_disruption: BTreeMap<String, PoolDisruption>,
    /// EC2NodeClasses by name: zones, reservation selectors, the AMI selection drift compares.
    pub node_classes: BTreeMap<String, NodeClassInfo>,
    /// The pods that exist at the start (standalone pods and expanded workloads).
    pub pods: Vec<snapshot::Pod>,
    /// Nodes that exist at the start (`Node` objects: unmanaged nodes, or nodes of a NodePool).
    pub nodes: Vec<snapshot::Node>,
    /// Deployments, kept as written so scale steps can expand them again.
    pub deployments: Vec<Deployment>,
    /// DaemonSets in the scheduling model (their overhead on new nodes).
    pub daemonsets: Vec<snapshot::DaemonSet>,
    /// DaemonSets as written, so their pods can be created on each eligible node.
    pub daemonset_objects: Vec<DaemonSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<snapshot::PodDisruptionBudget>,
    /// PVCs, PVs and StorageClasses.
    pub volumes: Volumes,
    /// How scenario objects were converted (namespace default, aliases); steps reuse it.
    pub convert_options: ConvertOptions,
}

/// Reads a scenario file. `validation` is the label policy NodePools are admitted under (the
/// binary passes the AWS provider's, as `joist validate` does).
pub fn load(input: &[u8], validation: &ValidationOptions) -> Result<Scenario, LoadError> {
    let documents = split_bytes(input)?;
    if documents.is_empty() {
        return Err(LoadError::Empty);
    }
    let mut convert_options = ConvertOptions::simulation();
    convert_options.aliases = validation.aliases.clone();
    let mut loader = Loader::new(convert_options, validation.clone());
    // Pods may come before the PriorityClasses their priorityClassName names.
    for document in &documents {
        loader.add_priority_class(document)?;
    }
    for document in &documents {
        loader.add(document)?;
    }
    loader.finish()
}
