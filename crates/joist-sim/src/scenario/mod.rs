//! Scenario files: multi-document YAML of Kubernetes and Karpenter objects plus at most one
//! `joist.dev/v1alpha1` `Scenario` object with the simulation's options and steps.
//!
//! NodePools and EC2NodeClasses are admitted with the rules of `joist validate`; workloads are
//! converted with [`ConvertOptions::simulation`]. Every error names the document, its first line,
//! the object and the field, and the first error stops the load (a simulation of half a scenario
//! would mislead).

mod options;
mod wire;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeSet;
use std::time::Duration;

use joist_api::common::ValidationOptions;
use joist_api::convert::{self, ConvertError, ConvertOptions};
use joist_api::document::{
    Document, DocumentError, KINDS, Position, check_document, required_field, split_bytes,
};
use joist_api::ec2nodeclass;
use joist_api::nodepool::{self, NodePool as ApiNodePool};
use joist_api::validation::FieldError;
use joist_core::scheduling::{MinValuesPolicy, PreferencePolicy};
use joist_core::snapshot::{self, Volumes};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use thiserror::Error;

pub use wire::{API_VERSION, KIND};

/// Kinds a scenario may hold, as `apiVersion kind`, for the "not supported" message.
const SUPPORTED_KINDS: &str = "karpenter.sh/v1 NodePool, karpenter.k8s.aws/v1 EC2NodeClass, \
     v1 Pod, apps/v1 Deployment, apps/v1 StatefulSet, batch/v1 Job, apps/v1 DaemonSet, \
     policy/v1 PodDisruptionBudget, storage.k8s.io/v1 StorageClass, v1 PersistentVolumeClaim, \
     v1 PersistentVolume, joist.dev/v1alpha1 Scenario";

/// Provisioning delays of the in-memory provider (the Scenario's `spec.timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From the NodeClaim's creation to the instance running.
    pub launch: Duration,
    /// From the instance running to the Node registering.
    pub register: Duration,
    /// From registration to `karpenter.sh/initialized` (kubelet ready, startup taints gone).
    pub initialize: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            launch: Duration::from_secs(30),
            register: Duration::from_secs(15),
            initialize: Duration::from_secs(10),
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

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// One scripted change, at a virtual time from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `preferencePolicy` for the solver.
    pub preference_policy: PreferencePolicy,
    /// `minValuesPolicy` for the solver.
    pub min_values_policy: MinValuesPolicy,
    /// Explicit end of the simulation, if given.
    pub until: Option<Duration>,
    /// Steps in time order (ties keep file order).
    pub steps: Vec<Step>,
    /// NodePools (not ready when their EC2NodeClass is missing, as upstream marks them).
    pub nodepools: Vec<snapshot::NodePool>,
    /// The pods that exist at the start (standalone pods and expanded workloads).
    pub pods: Vec<snapshot::Pod>,
    /// Deployments, kept as written so scale steps can expand them again.
    pub deployments: Vec<Deployment>,
    /// DaemonSets.
    pub daemonsets: Vec<snapshot::DaemonSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<snapshot::PodDisruptionBudget>,
    /// PVCs, PVs and StorageClasses.
    pub volumes: Volumes,
    /// How scenario objects were converted (namespace default, aliases); steps reuse it.
    pub convert_options: ConvertOptions,
}

/// Why a scenario cannot be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A document is not a readable object (YAML, types, missing `apiVersion`/`kind`/name).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A kind the simulator does not take.
    #[error(
        "{at}: {kind}/{name}: {api_version} {kind} is not supported in scenarios (supported: {SUPPORTED_KINDS})"
    )]
    UnsupportedKind {
        /// Where the object starts.
        at: Position,
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
        /// Its name.
        name: String,
    },
    /// A NodePool or EC2NodeClass that `joist validate` rejects.
    #[error("{at}: {kind}/{name}: {}", join(errors))]
    Invalid {
        /// Where the object starts.
        at: Position,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// Every problem, as `joist validate` reports them.
        errors: Vec<FieldError>,
    },
    /// An object the conversion to the scheduling model refuses.
    #[error("{at}: {kind}/{name}: {source}")]
    Convert {
        /// Where the object starts.
        at: Position,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// The conversion's error (names the field); boxed to keep the error small.
        source: Box<ConvertError>,
    },
    /// A field of the Scenario object with a value the simulator cannot use.
    #[error("{at}: Scenario/{name}: {field}: {reason}")]
    Scenario {
        /// Where the Scenario starts.
        at: Position,
        /// Its name.
        name: String,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A step kind this version does not simulate (never skipped silently).
    #[error(
        "{at}: Scenario/{name}: spec.steps[{index}]: step \"{step}\" is not supported yet (supported: scale)"
    )]
    StepNotSupported {
        /// Where the Scenario starts.
        at: Position,
        /// Its name.
        name: String,
        /// Index of the step.
        index: usize,
        /// The step's kind (its key besides `at`).
        step: String,
    },
    /// More than one Scenario object.
    #[error("{at}: Scenario/{name}: a scenario file holds at most one Scenario object")]
    DuplicateScenario {
        /// Where the second Scenario starts.
        at: Position,
        /// Its name.
        name: String,
    },
    /// A scale step names a Deployment the scenario does not have.
    #[error(
        "spec.steps[{index}].scale: Deployment {namespace}/{deployment} is not in the scenario"
    )]
    UnknownDeployment {
        /// Index of the step.
        index: usize,
        /// The namespace named.
        namespace: String,
        /// The Deployment named.
        deployment: String,
    },
    /// The file holds no object at all.
    #[error("the scenario holds no objects")]
    Empty,
}

fn join(errors: &[FieldError]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("; ")
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
    let mut loader = Loader::new(convert_options);
    for document in &documents {
        loader.add(document, validation)?;
    }
    loader.finish()
}

/// The scenario being assembled, document by document.
struct Loader {
    scenario: Scenario,
    node_classes: BTreeSet<String>,
    nodepool_classes: Vec<String>,
    seen_scenario: bool,
}

impl Loader {
    fn new(convert_options: ConvertOptions) -> Self {
        Self {
            scenario: Scenario {
                region: options::DEFAULT_REGION.to_owned(),
                timing: Timing::default(),
                batching: Batching::default(),
                preference_policy: PreferencePolicy::Respect,
                min_values_policy: MinValuesPolicy::Strict,
                until: None,
                steps: Vec::new(),
                nodepools: Vec::new(),
                pods: Vec::new(),
                deployments: Vec::new(),
                daemonsets: Vec::new(),
                pdbs: Vec::new(),
                volumes: Volumes::default(),
                convert_options,
            },
            node_classes: BTreeSet::new(),
            nodepool_classes: Vec::new(),
            seen_scenario: false,
        }
    }

    fn add(
        &mut self,
        document: &Document<'_>,
        validation: &ValidationOptions,
    ) -> Result<(), LoadError> {
        let header = document.header()?;
        let at = document.position();
        let api_version = required_field(header.api_version, "apiVersion", at)?;
        let kind = required_field(header.kind, "kind", at)?;
        let name = required_field(header.name, "metadata.name", at)?;
        let object = Object {
            at,
            kind: kind.clone(),
            name: name.clone(),
        };
        match (api_version.as_str(), kind.as_str()) {
            (nodepool::API_VERSION, nodepool::KIND) => {
                self.add_nodepool(document, validation, &object)
            }
            (ec2nodeclass::API_VERSION, ec2nodeclass::KIND) => {
                object.admit(document, validation)?;
                self.node_classes.insert(name);
                Ok(())
            }
            (API_VERSION, KIND) => {
                if std::mem::replace(&mut self.seen_scenario, true) {
                    return Err(LoadError::DuplicateScenario { at, name });
                }
                options::apply(document, &name, &mut self.scenario)
            }
            _ => {
                if self.add_workload(document, &object, &api_version)?
                    || self.add_cluster_object(document, &object, &api_version)?
                {
                    return Ok(());
                }
                Err(LoadError::UnsupportedKind {
                    at,
                    api_version,
                    kind,
                    name,
                })
            }
        }
    }

    /// Pods and the workloads that create them; `false` when the kind is none of these.
    fn add_workload(
        &mut self,
        document: &Document<'_>,
        object: &Object,
        api_version: &str,
    ) -> Result<bool, LoadError> {
        match (api_version, object.kind.as_str()) {
            ("v1", "Pod") => {
                let pod: core::Pod = document.decode()?;
                let converted =
                    object.convert(convert::pod(&pod, &self.scenario.convert_options))?;
                self.scenario.pods.push(converted);
                Ok(true)
            }
            ("apps/v1", "Deployment") => {
                let deployment: Deployment = document.decode()?;
                let pods = object.convert(convert::expand_deployment(
                    &deployment,
                    &self.scenario.convert_options,
                ))?;
                self.add_pods(object, &pods)?;
                self.scenario.deployments.push(deployment);
                Ok(true)
            }
            ("apps/v1", "StatefulSet") => self.add_statefulset(document, object).map(|()| true),
            ("batch/v1", "Job") => {
                let job: Job = document.decode()?;
                let pods =
                    object.convert(convert::expand_job(&job, &self.scenario.convert_options))?;
                self.add_pods(object, &pods).map(|()| true)
            }
            ("apps/v1", "DaemonSet") => {
                let daemonset: DaemonSet = document.decode()?;
                let converted = object.convert(convert::daemonset(
                    &daemonset,
                    None,
                    &self.scenario.convert_options,
                ))?;
                self.scenario.daemonsets.push(converted);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Disruption budgets and storage objects; `false` when the kind is none of these.
    fn add_cluster_object(
        &mut self,
        document: &Document<'_>,
        object: &Object,
        api_version: &str,
    ) -> Result<bool, LoadError> {
        match (api_version, object.kind.as_str()) {
            ("policy/v1", "PodDisruptionBudget") => {
                let pdb: PodDisruptionBudget = document.decode()?;
                let converted =
                    object.convert(convert::pdb(&pdb, &self.scenario.convert_options))?;
                self.scenario.pdbs.push(converted);
                Ok(true)
            }
            ("storage.k8s.io/v1", "StorageClass") => {
                let class: StorageClass = document.decode()?;
                let converted = object.convert(convert::storage_class(
                    &class,
                    &self.scenario.convert_options,
                ))?;
                self.scenario.volumes.storage_classes.push(converted);
                Ok(true)
            }
            ("v1", "PersistentVolumeClaim") => {
                let claim: core::PersistentVolumeClaim = document.decode()?;
                let converted = object.convert(convert::persistent_volume_claim(
                    &claim,
                    &self.scenario.convert_options,
                ))?;
                self.scenario.volumes.claims.push(converted);
                Ok(true)
            }
            ("v1", "PersistentVolume") => {
                let volume: core::PersistentVolume = document.decode()?;
                let converted = object.convert(convert::persistent_volume(&volume))?;
                self.scenario.volumes.volumes.push(converted);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn add_nodepool(
        &mut self,
        document: &Document<'_>,
        validation: &ValidationOptions,
        object: &Object,
    ) -> Result<(), LoadError> {
        object.admit(document, validation)?;
        let nodepool = document.decode::<ApiNodePool>()?.with_defaults();
        let converted =
            object.convert(convert::nodepool(&nodepool, &self.scenario.convert_options))?;
        self.nodepool_classes
            .push(converted.node_class_ref.name.clone());
        self.scenario.nodepools.push(converted);
        Ok(())
    }

    fn add_statefulset(
        &mut self,
        document: &Document<'_>,
        object: &Object,
    ) -> Result<(), LoadError> {
        let statefulset: StatefulSet = document.decode()?;
        let expanded = object.convert(convert::expand_statefulset(
            &statefulset,
            &self.scenario.convert_options,
        ))?;
        for claim in &expanded.claims {
            let converted = object.convert(convert::persistent_volume_claim(
                claim,
                &self.scenario.convert_options,
            ))?;
            self.scenario.volumes.claims.push(converted);
        }
        self.add_pods(object, &expanded.pods)
    }

    fn add_pods(&mut self, object: &Object, pods: &[core::Pod]) -> Result<(), LoadError> {
        for pod in pods {
            let converted = object.convert(convert::pod(pod, &self.scenario.convert_options))?;
            self.scenario.pods.push(converted);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Scenario, LoadError> {
        // Upstream's NodePool readiness requires its NodeClass: a missing EC2NodeClass makes the
        // NodePool not ready, and the solver skips it with that reason.
        for (nodepool, class) in self
            .scenario
            .nodepools
            .iter_mut()
            .zip(&self.nodepool_classes)
        {
            if !self.node_classes.contains(class) {
                nodepool.ready = false;
            }
        }
        for (index, step) in self.scenario.steps.iter().enumerate() {
            let StepAction::Scale {
                namespace,
                deployment,
                ..
            } = &step.action;
            let known = self.scenario.deployments.iter().any(|d| {
                d.metadata.name.as_deref() == Some(deployment.as_str())
                    && d.metadata
                        .namespace
                        .as_deref()
                        .unwrap_or(&self.scenario.convert_options.default_namespace)
                        == namespace
            });
            if !known {
                return Err(LoadError::UnknownDeployment {
                    index,
                    namespace: namespace.clone(),
                    deployment: deployment.clone(),
                });
            }
        }
        self.scenario.steps.sort_by_key(|s| s.at);
        Ok(self.scenario)
    }
}

/// The object a document holds, for error messages.
struct Object {
    at: Position,
    kind: String,
    name: String,
}

impl Object {
    /// Runs `joist validate`'s checks; any field error rejects the scenario.
    fn admit(
        &self,
        document: &Document<'_>,
        validation: &ValidationOptions,
    ) -> Result<(), LoadError> {
        let checked = check_document(document, KINDS, validation)?;
        if checked.is_valid() {
            return Ok(());
        }
        Err(LoadError::Invalid {
            at: self.at,
            kind: self.kind.clone(),
            name: self.name.clone(),
            errors: checked.errors,
        })
    }

    fn convert<T>(&self, result: Result<T, ConvertError>) -> Result<T, LoadError> {
        result.map_err(|source| LoadError::Convert {
            at: self.at,
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        })
    }
}
