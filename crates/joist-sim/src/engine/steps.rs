//! Scenario steps: `scale`, `apply`, `delete` and `interrupt`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use joist_api::convert;
use joist_core::disruption::PoolDisruption;
use joist_core::snapshot::{self, Pod};
use k8s_openapi::api::apps::v1::Deployment;

use super::capacity::UNAVAILABLE_TTL;
use super::{SimError, Simulation, Timed};
use crate::scenario::{InterruptKind, NodeClassInfo, NodeSelector, Scenario, StepAction};

/// An interruption notice's lead time.
const INTERRUPTION_NOTICE: Duration = Duration::from_secs(2 * 60);

/// The scenario's objects as steps change them.
pub(super) struct Objects {
    pub(super) nodepools: Vec<snapshot::NodePool>,
    pub(super) pool_disruption: BTreeMap<String, PoolDisruption>,
    pub(super) node_classes: BTreeMap<String, NodeClassInfo>,
    pub(super) deployments: Vec<Deployment>,
}

impl Objects {
    pub(super) fn from_scenario(scenario: &Scenario) -> Self {
        Self {
            nodepools: scenario.nodepools.clone(),
            pool_disruption: scenario.pool_disruption.clone(),
            node_classes: scenario.node_classes.clone(),
            deployments: scenario.deployments.clone(),
        }
    }
}

/// `namespace/name` of an object's metadata.
fn same_object(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    namespace: &str,
    name: &str,
    default_namespace: &str,
) -> bool {
    meta.name.as_deref() == Some(name)
        && meta.namespace.as_deref().unwrap_or(default_namespace) == namespace
}

/// Whether a ReplicaSet called `replica_set` belongs to Deployment `deployment`.
fn owned_by_deployment(pod: &Pod, namespace: &str, deployment: &str) -> bool {
    pod.namespace == namespace
        && pod.owner.as_ref().is_some_and(|o| {
            o.kind == "ReplicaSet"
                && o.name
                    .strip_prefix(deployment)
                    .is_some_and(|rest| rest.starts_with('-'))
        })
}

impl Simulation<'_> {
    /// Applies step `index`.
    pub(super) fn step(&mut self, index: usize) -> Result<(), SimError> {
        let step = &self.scenario.steps[index];
        let at = step.at;
        match &step.action {
            StepAction::Scale {
                namespace,
                deployment,
                replicas,
            } => self.scale(at, namespace, deployment, *replicas),
            StepAction::Apply(fragment) => self.apply_objects(fragment),
            StepAction::Delete {
                kind,
                name,
                namespace,
            } => {
                self.delete_object(kind, name, namespace);
                Ok(())
            }
            StepAction::Interrupt { node, kind } => {
                self.interrupt(node, *kind);
                Ok(())
            }
        }
    }

    fn scale(
        &mut self,
        at: Duration,
        namespace: &str,
        deployment: &str,
        replicas: i32,
    ) -> Result<(), SimError> {
        let default_namespace = self.scenario.convert_options.default_namespace.clone();
        let Some(found) = self
            .objects
            .deployments
            .iter()
            .find(|d| same_object(&d.metadata, namespace, deployment, &default_namespace))
        else {
            self.record(
                "scale",
                format!("Deployment {namespace}/{deployment} not found"),
            );
            return Ok(());
        };
        let mut scaled = found.clone();
        if let Some(spec) = scaled.spec.as_mut() {
            spec.replicas = Some(replicas);
        }
        let wanted = self.expand(at, &scaled)?;
        let what = format!("Deployment {namespace}/{deployment}");
        self.reconcile_replicas(wanted, namespace, deployment, &what, replicas);
        Ok(())
    }

    /// The pods of `deployment` as the controllers would create them now.
    fn expand(&self, at: Duration, deployment: &Deployment) -> Result<Vec<Pod>, SimError> {
        let mut options = self.scenario.convert_options.clone();
        options.default_creation_timestamp = self.time();
        let failed = |e: &dyn std::fmt::Display| SimError::Step {
            at: crate::report::format_time(at),
            reason: e.to_string(),
        };
        let pods = convert::expand_deployment(deployment, &options).map_err(|e| failed(&e))?;
        pods.iter()
            .map(|p| convert::pod(p, &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&e))
    }

    /// Makes the pods of Deployment `deployment` exactly `wanted`: missing ones are created,
    /// others (surplus replicas, or every pod of an older template) deleted.
    fn reconcile_replicas(
        &mut self,
        wanted: Vec<Pod>,
        namespace: &str,
        deployment: &str,
        what: &str,
        replicas: i32,
    ) {
        let keys: BTreeSet<String> = wanted.iter().map(Pod::key).collect();
        let removed = self.remove_pods(|p| {
            owned_by_deployment(p, namespace, deployment) && !keys.contains(&p.key())
        });
        let existing: BTreeSet<String> = self.cluster.pods.iter().map(Pod::key).collect();
        let added: Vec<Pod> = wanted
            .into_iter()
            .filter(|p| !existing.contains(&p.key()))
            .collect();
        let created = added.len();
        self.cluster.pods.extend(added);
        self.record(
            "scale",
            format!("{what} to {replicas} replicas: {created} pods created, {removed} deleted"),
        );
        if created > 0 {
            self.bind(true);
            if self.cluster.pods.iter().any(|p| p.node_name.is_none()) {
                self.pods_arrived();
            }
        }
    }

    /// Deletes the pods `doomed` selects; returns how many.
    fn remove_pods(&mut self, doomed: impl Fn(&Pod) -> bool) -> usize {
        let before = self.cluster.pods.len();
        let mut touched = BTreeSet::new();
        self.cluster.pods.retain(|p| {
            let remove = doomed(p);
            if remove && let Some(node) = &p.node_name {
                touched.insert(node.clone());
            }
            !remove
        });
        for node in touched {
            if let Some(sim) = self.nodes.get_mut(&node) {
                sim.last_pod_event = Some(self.now);
            }
        }
        let live: BTreeSet<String> = self.cluster.pods.iter().map(Pod::key).collect();
        self.nominated.retain(|k, _| live.contains(k));
        self.reasons.retain(|k, _| live.contains(k));
        self.disruption.bump();
        before - self.cluster.pods.len()
    }

    /// An `apply` step: each object of the fragment replaces its namesake or is added.
    fn apply_objects(&mut self, fragment: &Scenario) -> Result<(), SimError> {
        for pool in &fragment.nodepools {
            self.objects.nodepools.retain(|p| p.name != pool.name);
            self.objects.nodepools.push(pool.clone());
            if let Some(disruption) = fragment.pool_disruption.get(&pool.name) {
                self.objects
                    .pool_disruption
                    .insert(pool.name.clone(), disruption.clone());
            }
            self.record("apply", format!("NodePool {}", pool.name));
        }
        for (name, class) in &fragment.node_classes {
            self.apply_node_class(name, class)?;
        }
        self.sync_nodepools()?;
        let default_namespace = self.scenario.convert_options.default_namespace.clone();
        for deployment in &fragment.deployments {
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let namespace = deployment
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| default_namespace.clone());
            self.objects
                .deployments
                .retain(|d| !same_object(&d.metadata, &namespace, &name, &default_namespace));
            self.objects.deployments.push(deployment.clone());
            let wanted: Vec<Pod> = fragment
                .pods
                .iter()
                .filter(|p| owned_by_deployment(p, &namespace, &name))
                .cloned()
                .collect();
            let replicas = i32::try_from(wanted.len()).unwrap_or(i32::MAX);
            let what = format!("apply Deployment {namespace}/{name}");
            self.reconcile_replicas(wanted, &namespace, &name, &what, replicas);
        }
        self.apply_other_objects(fragment);
        self.reconcile_static();
        Ok(())
    }

    fn apply_node_class(&mut self, name: &str, class: &NodeClassInfo) -> Result<(), SimError> {
        let old = self
            .objects
            .node_classes
            .insert(name.to_owned(), class.clone());
        self.capacity.set_class(name, class)?;
        let previous: usize = self
            .nodes
            .values()
            .filter(|n| n.nodeclass == name && n.ami_selection != class.ami_selection)
            .count();
        let changed = old.is_some_and(|o| o.ami_selection != class.ami_selection);
        if changed {
            self.class_changed.insert(name.to_owned(), self.now);
            self.disruption.bump();
        }
        let detail = if changed {
            format!(
                "EC2NodeClass {name}: AMI selection changed; {previous} nodes run the previous selection"
            )
        } else {
            format!("EC2NodeClass {name}")
        };
        self.record("apply", detail);
        Ok(())
    }

    /// Standalone pods, StatefulSet and Job pods, DaemonSets, PDBs and volumes of a fragment.
    fn apply_other_objects(&mut self, fragment: &Scenario) {
        let standalone: Vec<Pod> = fragment
            .pods
            .iter()
            .filter(|p| p.owner.as_ref().is_none_or(|o| o.kind != "ReplicaSet"))
            .cloned()
            .collect();
        if !standalone.is_empty() {
            let keys: BTreeSet<String> = standalone.iter().map(Pod::key).collect();
            self.remove_pods(|p| keys.contains(&p.key()));
            self.record("apply", format!("{} pods", standalone.len()));
            self.cluster.pods.extend(standalone);
            self.bind(true);
            self.pods_arrived();
        }
        self.apply_daemonsets(fragment);
        for pdb in &fragment.pdbs {
            self.cluster
                .pdbs
                .retain(|p| !(p.namespace == pdb.namespace && p.name == pdb.name));
            self.cluster.pdbs.push(pdb.clone());
            self.record(
                "apply",
                format!("PodDisruptionBudget {}/{}", pdb.namespace, pdb.name),
            );
        }
        let volumes = &fragment.volumes;
        self.cluster
            .volumes
            .claims
            .extend(volumes.claims.iter().cloned());
        self.cluster
            .volumes
            .volumes
            .extend(volumes.volumes.iter().cloned());
        self.cluster
            .volumes
            .storage_classes
            .extend(volumes.storage_classes.iter().cloned());
    }

    /// DaemonSets of a fragment: each replaces its namesake and its pods, and gets pods on every
    /// registered node it admits.
    fn apply_daemonsets(&mut self, fragment: &Scenario) {
        for daemonset in &fragment.daemonsets {
            let (namespace, name) = (daemonset.namespace.clone(), daemonset.name.clone());
            self.cluster
                .daemonsets
                .retain(|d| !(d.namespace == namespace && d.name == name));
            self.remove_pods(|p| {
                p.namespace == namespace
                    && p.owner
                        .as_ref()
                        .is_some_and(|o| o.kind == "DaemonSet" && o.name == name)
            });
            self.cluster.daemonsets.push(daemonset.clone());
            self.record("apply", format!("DaemonSet {namespace}/{name}"));
        }
        if !fragment.daemonsets.is_empty() {
            let saved =
                std::mem::replace(&mut self.cluster.daemonsets, fragment.daemonsets.clone());
            for index in 0..self.cluster.nodes.len() {
                if self.cluster.nodes[index].registered {
                    self.add_daemonset_pods(index);
                }
            }
            self.cluster.daemonsets = saved;
        }
    }

    /// A `delete` step.
    fn delete_object(&mut self, kind: &str, name: &str, namespace: &str) {
        let owned = |owner_kind: &'static str| {
            move |p: &Pod| {
                p.namespace == namespace
                    && p.owner
                        .as_ref()
                        .is_some_and(|o| o.kind == owner_kind && o.name == name)
            }
        };
        let removed = match kind {
            "Deployment" => {
                let default_namespace = self.scenario.convert_options.default_namespace.clone();
                self.objects
                    .deployments
                    .retain(|d| !same_object(&d.metadata, namespace, name, &default_namespace));
                self.remove_pods(|p| owned_by_deployment(p, namespace, name))
            }
            "StatefulSet" => self.remove_pods(owned("StatefulSet")),
            "Job" => self.remove_pods(owned("Job")),
            "Pod" => self.remove_pods(|p| p.namespace == namespace && p.name == name),
            "DaemonSet" => {
                self.cluster
                    .daemonsets
                    .retain(|d| !(d.namespace == namespace && d.name == name));
                self.remove_pods(owned("DaemonSet"))
            }
            "PodDisruptionBudget" => {
                self.cluster
                    .pdbs
                    .retain(|p| !(p.namespace == namespace && p.name == name));
                0
            }
            "NodePool" => {
                self.delete_nodepool(name);
                0
            }
            _ => {
                self.objects.node_classes.remove(name);
                self.capacity.remove_class(name);
                // Errors only come from building instance types, which a removal does not do.
                let _ = self.sync_nodepools();
                0
            }
        };
        let target = if namespace.is_empty() {
            format!("{kind} {name}")
        } else {
            format!("{kind} {namespace}/{name}")
        };
        self.record("delete", format!("{target}: {removed} pods deleted"));
    }

    /// Deleting a NodePool deletes its NodeClaims (owner references cascade).
    fn delete_nodepool(&mut self, name: &str) {
        self.objects.nodepools.retain(|p| p.name != name);
        self.objects.pool_disruption.remove(name);
        // Errors only come from building instance types, which a removal does not do.
        let _ = self.sync_nodepools();
        let nodes: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.nodepool == name)
            .map(|n| n.name.clone())
            .collect();
        for node in nodes {
            self.delete_node(&node, "nodepool deleted", None);
        }
    }

    /// An interruption notice: the node is cordoned and drained and reclaimed 2 minutes later;
    /// a spot notice marks the spot offering unavailable, a reservation notice the reservation.
    fn interrupt(&mut self, selector: &NodeSelector, kind: InterruptKind) {
        let found = self
            .nodes
            .values()
            .filter(|n| n.deletion.is_none())
            .find(|n| match selector {
                NodeSelector::Name(name) => n.name == *name,
                NodeSelector::Labels(labels) => self
                    .cluster
                    .nodes
                    .iter()
                    .find(|node| node.name == n.name)
                    .is_some_and(|node| labels.iter().all(|(k, v)| node.labels.get(k) == Some(v))),
            })
            .cloned();
        let Some(node) = found else {
            self.record(
                "interrupt-missed",
                format!("no running node matches {selector:?}"),
            );
            return;
        };
        let reclaim = self.now + INTERRUPTION_NOTICE;
        match kind {
            InterruptKind::Spot => {
                let key = (
                    "spot".to_owned(),
                    node.instance_type.clone(),
                    node.zone.clone(),
                );
                self.capacity
                    .mark_unavailable(key, self.now + UNAVAILABLE_TTL);
                self.schedule(self.now + UNAVAILABLE_TTL, Timed::OfferingAvailable);
                self.record(
                    "spot-interrupted",
                    format!(
                        "{}: EC2 Spot Instance Interruption Warning; {} spot in {} unavailable for 3m0s",
                        node.name, node.instance_type, node.zone
                    ),
                );
            }
            InterruptKind::CapacityReservation => {
                if let Some(id) = &node.reservation_id {
                    self.capacity.close(id);
                }
                self.record(
                    "capacity-reservation-interrupted",
                    format!(
                        "{}: EC2 Capacity Reservation Instance Interruption Warning",
                        node.name
                    ),
                );
            }
        }
        self.refresh_instance_types();
        self.delete_node(&node.name, "interrupted", Some(reclaim));
        self.schedule(reclaim, Timed::Terminated(node.name));
    }
}
