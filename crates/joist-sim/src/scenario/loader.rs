//! The loader: documents are dispatched by kind into a [`Scenario`].

use std::collections::BTreeSet;

use joist_api::common::ValidationOptions;
use joist_api::convert::{self, ConvertError, ConvertOptions};
use joist_api::document::{Document, KINDS, Position, check_document, required_field, split_bytes};
use joist_api::ec2nodeclass::{self, EC2NodeClass};
use joist_api::nodepool::{self, NodePool as ApiNodePool};
use joist_core::disruption::{ConsolidationPolicy, PoolDisruption};
use joist_core::duration::NillableDuration;
use joist_core::scheduling::{MinValuesPolicy, PreferencePolicy};
use joist_core::snapshot::Volumes;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;

use super::wire::{API_VERSION, KIND};
use super::{
    Batching, FeatureGates, LoadError, NodeClassInfo, Scenario, StepAction, Timing, options,
};

/// Loads one object written inline in a step (`apply`): it must be exactly one object of a kind
/// scenarios take, validated like a document of the file (the Scenario kind is refused).
pub(crate) fn load_object(
    value: &serde_json::Value,
    convert: &ConvertOptions,
    validation: &ValidationOptions,
) -> Result<Scenario, LoadError> {
    // JSON is YAML, so the object goes through the same document reader as the file.
    let text = serde_json::to_vec(value).unwrap_or_default();
    let documents = split_bytes(&text)?;
    let mut loader = Loader::new(convert.clone(), validation.clone());
    loader.seen_scenario = true;
    for document in &documents {
        loader.add(document)?;
    }
    Ok(loader.scenario)
}

/// The scenario being assembled, document by document.
pub(crate) struct Loader {
    scenario: Scenario,
    node_classes: BTreeSet<String>,
    nodepool_classes: Vec<String>,
    seen_scenario: bool,
    validation: ValidationOptions,
}

impl Loader {
    pub(crate) fn new(convert_options: ConvertOptions, validation: ValidationOptions) -> Self {
        Self {
            scenario: Scenario {
                region: options::DEFAULT_REGION.to_owned(),
                timing: Timing::default(),
                batching: Batching::default(),
                feature_gates: FeatureGates::default(),
                preference_policy: PreferencePolicy::Respect,
                min_values_policy: MinValuesPolicy::Strict,
                until: None,
                steps: Vec::new(),
                reservations: Vec::new(),
                insufficient_capacity: Vec::new(),
                nodepools: Vec::new(),
                pool_disruption: Default::default(),
                node_classes: Default::default(),
                pods: Vec::new(),
                nodes: Vec::new(),
                deployments: Vec::new(),
                daemonsets: Vec::new(),
                daemonset_objects: Vec::new(),
                pdbs: Vec::new(),
                volumes: Volumes::default(),
                convert_options,
            },
            node_classes: BTreeSet::new(),
            nodepool_classes: Vec::new(),
            seen_scenario: false,
            validation,
        }
    }

    /// Records a PriorityClass's value (and the global default) so pods can resolve
    /// `priorityClassName`; other documents are left to [`Loader::add`].
    pub(crate) fn add_priority_class(&mut self, document: &Document<'_>) -> Result<(), LoadError> {
        let header = document.header()?;
        if header.api_version.as_deref() != Some("scheduling.k8s.io/v1")
            || header.kind.as_deref() != Some("PriorityClass")
        {
            return Ok(());
        }
        let class: PriorityClass = document.decode()?;
        let name = required_field(header.name, "metadata.name", document.position())?;
        let options = &mut self.scenario.convert_options;
        options.priority_classes.insert(name, class.value);
        if class.global_default == Some(true) {
            options.global_default_priority = Some(class.value);
        }
        Ok(())
    }

    pub(crate) fn add(&mut self, document: &Document<'_>) -> Result<(), LoadError> {
        let validation = &self.validation.clone();
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
                let class: EC2NodeClass = document.decode()?;
                self.scenario
                    .node_classes
                    .insert(name.clone(), NodeClassInfo::from_api(&class));
                self.node_classes.insert(name);
                Ok(())
            }
            (API_VERSION, KIND) => {
                if std::mem::replace(&mut self.seen_scenario, true) {
                    return Err(LoadError::DuplicateScenario { at, name });
                }
                options::apply(document, &name, &mut self.scenario, validation)
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
                self.scenario.daemonset_objects.push(daemonset);
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
            ("scheduling.k8s.io/v1", "PriorityClass") => Ok(true),
            ("v1", "Node") => {
                let node: core::Node = document.decode()?;
                let converted = object.convert(convert::node(&node, None))?;
                self.scenario.nodes.push(converted);
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
        let disruption = pool_disruption(&nodepool).map_err(|source| LoadError::Convert {
            at: object.at,
            kind: object.kind.clone(),
            name: object.name.clone(),
            source: Box::new(source),
        })?;
        self.scenario
            .pool_disruption
            .insert(converted.name.clone(), disruption);
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

    pub(crate) fn finish(mut self) -> Result<Scenario, LoadError> {
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
            } = &step.action
            else {
                continue;
            };
            let applied = self.scenario.steps[..index]
                .iter()
                .any(|s| match &s.action {
                    StepAction::Apply(fragment) => fragment
                        .deployments
                        .iter()
                        .any(|d| d.metadata.name.as_deref() == Some(deployment.as_str())),
                    _ => false,
                });
            let known = applied
                || self.scenario.deployments.iter().any(|d| {
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

/// A NodePool's `spec.disruption` in the core's terms (CRD defaults already applied).
fn pool_disruption(nodepool: &ApiNodePool) -> Result<PoolDisruption, ConvertError> {
    let wire = nodepool.spec.disruption.as_ref();
    let policy = match wire.and_then(|d| d.consolidation_policy.as_deref()) {
        Some("WhenEmpty") => ConsolidationPolicy::WhenEmpty,
        Some("Balanced") => ConsolidationPolicy::Balanced,
        _ => ConsolidationPolicy::WhenEmptyOrUnderutilized,
    };
    let after = wire
        .and_then(|d| d.consolidate_after.as_deref())
        .map(NillableDuration::parse)
        .transpose()
        .map_err(|e| {
            ConvertError::Api(joist_api::common::convert::ConversionError::Duration {
                object: format!("NodePool {}", nodepool.name()),
                path: "spec.disruption.consolidateAfter".to_owned(),
                source: e,
            })
        })?;
    Ok(PoolDisruption {
        consolidation_policy: policy,
        consolidate_after: after
            .unwrap_or_else(|| NillableDuration::from_duration(std::time::Duration::ZERO)),
        budgets: nodepool.budgets()?,
    })
}
