//! Simulated nodes: created from a solver NodeClaim and the provider's launch (with declared
//! insufficient capacity), tracked through registration and initialization; DaemonSet pods
//! appear on registration.

use std::collections::BTreeMap;
use std::time::Duration;

use joist_aws::labels::CAPACITY_RESERVATION_ID;
use joist_core::duration::parse_go_duration;
use joist_core::labels::{CAPACITY_TYPE, HOSTNAME, INSTANCE_TYPE, NODEPOOL, ZONE};
use joist_core::requirements::{Operator, Requirements};
use joist_core::resources::ResourceList;
use joist_core::scheduling::NewNodeClaim;
use joist_core::snapshot::{Node, OwnerReference, PodPhase};

use super::capacity::UNAVAILABLE_TTL;
use super::{Simulation, Timed};
use crate::kube;
use crate::provider::Launch;

/// Kubernetes' alphabet for generated name suffixes.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Length of the random part of a generated name (`generateName` uses 5).
const NAME_SUFFIX_LEN: usize = 5;
/// The extended resource a GPU device plugin publishes.
pub(crate) const GPU: &str = "nvidia.com/gpu";

/// A node being deleted: since when, why, and when its pods are deleted whatever PDBs say.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    /// When the deletion started.
    pub since: Duration,
    /// Why (`expired`, `empty`, `spot interruption` ...).
    pub reason: String,
    /// TerminationGracePeriod or reclaim deadline: remaining pods are force-deleted then.
    pub deadline: Option<Duration>,
}

/// Simulator facts of a launched node; its Kubernetes view lives in the cluster snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNode {
    /// NodeClaim and Node name (`<nodepool>-<suffix>`).
    pub name: String,
    /// The NodePool that asked for it.
    pub nodepool: String,
    /// The EC2NodeClass it was launched from.
    pub nodeclass: String,
    /// The launched instance type.
    pub instance_type: String,
    /// `karpenter.sh/capacity-type` of the chosen offering.
    pub capacity_type: String,
    /// `topology.kubernetes.io/zone` of the chosen offering.
    pub zone: String,
    /// The capacity reservation it runs in, if any.
    pub reservation_id: Option<String>,
    /// The offering's price per hour.
    pub price: f64,
    /// When the NodeClaim was created (cost counts from here).
    pub created: Duration,
    /// When it was initialized.
    pub initialized_at: Option<Duration>,
    /// Last time a non-DaemonSet pod was bound to or left the node (`lastPodEventTime`).
    pub last_pod_event: Option<Duration>,
    /// Set while the node is being deleted.
    pub deletion: Option<Deletion>,
    /// The instance type's allocatable.
    pub allocatable: ResourceList,
    /// Whether the Node registered.
    pub registered: bool,
    /// Whether the Node is initialized (pods may bind).
    pub initialized: bool,
    /// The NodeClass's AMI selection at launch (what drift compares).
    pub ami_selection: String,
}

/// Adds the single-valued `In` requirements of `requirements` to `labels`.
fn add_single_values(labels: &mut BTreeMap<String, String>, requirements: &Requirements) {
    for requirement in requirements.iter() {
        if requirement.operator() == Operator::In
            && let [value] = requirement.shared_values()
        {
            labels.insert(requirement.key().to_owned(), value.to_string());
        }
    }
}

impl Simulation<'_> {
    /// A fresh `<nodepool>-<suffix>` name.
    fn node_name(&mut self, nodepool: &str) -> String {
        loop {
            let suffix: String = (0..NAME_SUFFIX_LEN)
                .map(|_| {
                    // `below` returns less than the alphabet's length, so the index is in range.
                    let i = self.rng.below(NAME_ALPHABET.len() as u64) as usize;
                    char::from(NAME_ALPHABET[i])
                })
                .collect();
            let name = format!("{nodepool}-{suffix}");
            // Never reuse a name: timed events of a gone node must not reach a new one.
            if self.used_names.insert(name.clone()) {
                return name;
            }
        }
    }

    /// The index of node `name` in the cluster snapshot.
    pub(super) fn node_index(&self, name: &str) -> Option<usize> {
        self.cluster.nodes.iter().position(|n| n.name == name)
    }

    /// Creates the NodeClaim's instance and schedules its lifecycle; its pods are nominated to
    /// it. Offerings with declared insufficient capacity are marked unavailable and skipped; when
    /// none is left the NodeClaim is deleted and its pods go back to the provisioner.
    pub(super) fn launch(&mut self, nodeclaim: &NewNodeClaim) -> Option<String> {
        let pods: Vec<String> = nodeclaim
            .pods
            .iter()
            .filter_map(|&i| self.cluster.pods.get(i).map(|p| p.key()))
            .collect();
        let class = nodeclaim.node_class_ref.name.clone();
        let Some(provider) = self.capacity.provider(&class) else {
            self.launch_failed(&pods, &format!("EC2NodeClass {class} not found"), false);
            return None;
        };
        let (chosen, marked) = self.first_launchable(&provider, nodeclaim);
        let Some(launch) = chosen else {
            let reason = format!(
                "NodePool {}: InsufficientCapacityError: no offering of the NodeClaim's instance types could be launched",
                nodeclaim.nodepool
            );
            self.launch_failed(&pods, &reason, marked);
            return None;
        };
        let name = self.node_name(&nodeclaim.nodepool);
        let (node, sim) = self.build_node(&name, nodeclaim, &launch, &class);
        self.record(
            "nodeclaim-created",
            format!(
                "{name}: {} {} in {} at ${:.4}/h for {} pods",
                sim.instance_type,
                sim.capacity_type,
                sim.zone,
                sim.price,
                pods.len()
            ),
        );
        for key in pods {
            self.reasons.remove(&key);
            self.nominated.insert(key, name.clone());
        }
        if let Some(id) = &sim.reservation_id {
            self.capacity.reserve(id);
            self.refresh_instance_types();
        }
        let gpu = !launch.instance_type.capacity().get_or_zero(GPU).is_zero();
        self.schedule_lifecycle(&name, gpu, nodeclaim.expire_after.as_deref());
        self.cluster.nodes.push(node);
        self.nodes.insert(name.clone(), sim);
        self.peak_nodes = self.peak_nodes.max(self.nodes.len());
        self.disruption.bump();
        Some(name)
    }

    /// The first offering the launch gets: offerings with declared insufficient capacity are
    /// marked unavailable for 3 minutes and skipped. Also whether any was marked.
    fn first_launchable<'p>(
        &mut self,
        provider: &'p crate::provider::Provider,
        nodeclaim: &NewNodeClaim,
    ) -> (Option<Launch<'p>>, bool) {
        let mut marked = false;
        for launch in provider.choose(&nodeclaim.instance_types, &nodeclaim.requirements) {
            let capacity_type = launch.offering.capacity_type().unwrap_or_default();
            let zone = launch.offering.zone().unwrap_or_default();
            let name = &launch.instance_type.name;
            let short = self
                .scenario
                .insufficient_capacity
                .iter()
                .any(|s| s.applies(name, zone, capacity_type, self.now));
            if !short {
                return (Some(launch), marked);
            }
            let key = (capacity_type.to_owned(), name.clone(), zone.to_owned());
            self.capacity
                .mark_unavailable(key, self.now + UNAVAILABLE_TTL);
            self.schedule(self.now + UNAVAILABLE_TTL, Timed::OfferingAvailable);
            self.record(
                "insufficient-capacity",
                format!("{name} {capacity_type} in {zone}: InsufficientInstanceCapacity, offering unavailable for 3m0s"),
            );
            marked = true;
        }
        (None, marked)
    }

    fn launch_failed(&mut self, pods: &[String], reason: &str, retry: bool) {
        self.record("launch-failed", reason.to_owned());
        for key in pods {
            self.nominated.remove(key);
            self.reasons.insert(key.clone(), reason.to_owned());
        }
        if retry {
            // The cache changed, so a new solve can pick another offering (upstream: the
            // NodeClaim is deleted and the pods trigger a new round).
            self.refresh_instance_types();
            self.pods_arrived();
        }
    }

    fn build_node(
        &self,
        name: &str,
        nodeclaim: &NewNodeClaim,
        launch: &Launch<'_>,
        class: &str,
    ) -> (Node, SimNode) {
        let (instance_type, offering) = (launch.instance_type, launch.offering);
        let mut labels = nodeclaim.labels.clone();
        add_single_values(&mut labels, &instance_type.requirements);
        add_single_values(&mut labels, &offering.requirements);
        labels.insert(HOSTNAME.to_owned(), name.to_owned());
        labels.insert(NODEPOOL.to_owned(), nodeclaim.nodepool.clone());
        let mut taints = nodeclaim.taints.clone();
        taints.extend(nodeclaim.startup_taints.iter().cloned());
        let node = Node {
            name: name.to_owned(),
            nodeclaim: Some(name.to_owned()),
            provider_id: Some(format!(
                "aws:///{}/{name}",
                offering.zone().unwrap_or_default()
            )),
            labels,
            taints,
            startup_taints: nodeclaim.startup_taints.clone(),
            capacity: instance_type.capacity().clone(),
            allocatable: instance_type.allocatable().clone(),
            nodepool: Some(nodeclaim.nodepool.clone()),
            ..Node::default()
        };
        let sim = SimNode {
            name: name.to_owned(),
            nodepool: nodeclaim.nodepool.clone(),
            nodeclass: class.to_owned(),
            instance_type: instance_type.name.clone(),
            capacity_type: offering.capacity_type().unwrap_or_default().to_owned(),
            zone: offering.zone().unwrap_or_default().to_owned(),
            reservation_id: offering
                .single_value(CAPACITY_RESERVATION_ID)
                .map(str::to_owned),
            price: offering.price,
            created: self.now,
            initialized_at: None,
            last_pod_event: None,
            deletion: None,
            allocatable: instance_type.allocatable().clone(),
            registered: false,
            initialized: false,
            ami_selection: self
                .objects
                .node_classes
                .get(class)
                .map(|c| c.ami_selection.clone())
                .unwrap_or_default(),
        };
        (node, sim)
    }

    fn schedule_lifecycle(&mut self, name: &str, gpu: bool, expire_after: Option<&str>) {
        let timing = self.scenario.timing;
        let launched = self.now + timing.launch;
        let registered = launched + timing.register;
        let mut initialized = registered + timing.initialize;
        if gpu {
            initialized += timing.gpu_device_plugin;
        }
        self.schedule(launched, Timed::Launched(name.to_owned()));
        self.schedule(registered, Timed::Registered(name.to_owned()));
        self.schedule(initialized, Timed::Initialized(name.to_owned()));
        // The NodePool's expireAfter was validated at load; "Never" arrives as None.
        if let Some(after) = expire_after.and_then(|text| parse_go_duration(text).ok()) {
            self.schedule(self.now + after, Timed::Expired(name.to_owned()));
        }
    }

    /// A Node of the scenario: it is there from the start, priced from the catalog offering its
    /// instance-type, zone and capacity-type labels name (0 when they name none).
    pub(super) fn add_existing_node(&mut self, node: &Node) {
        let label = |key: &str| node.labels.get(key).cloned().unwrap_or_default();
        let (instance_type, zone) = (label(INSTANCE_TYPE), label(ZONE));
        let capacity_type = node
            .labels
            .get(CAPACITY_TYPE)
            .cloned()
            .unwrap_or_else(|| "on-demand".to_owned());
        let price = self
            .cluster
            .instance_types
            .values()
            .flat_map(|types| types.iter())
            .filter(|t| t.name == instance_type)
            .flat_map(|t| t.offerings.iter())
            .find(|o| {
                o.zone() == Some(zone.as_str()) && o.capacity_type() == Some(capacity_type.as_str())
            })
            .map_or(0.0, |o| o.price);
        let sim = SimNode {
            name: node.name.clone(),
            nodepool: node.nodepool.clone().unwrap_or_default(),
            nodeclass: String::new(),
            instance_type,
            capacity_type,
            zone,
            reservation_id: None,
            price,
            created: Duration::ZERO,
            initialized_at: node.initialized.then_some(Duration::ZERO),
            last_pod_event: None,
            deletion: None,
            allocatable: node.allocatable.clone(),
            registered: node.registered,
            initialized: node.initialized,
            ami_selection: String::new(),
        };
        self.record(
            "node-existing",
            format!("{} ({} {})", sim.name, sim.instance_type, sim.capacity_type),
        );
        self.cluster.nodes.push(node.clone());
        self.used_names.insert(node.name.clone());
        self.nodes.insert(node.name.clone(), sim);
        self.peak_nodes = self.peak_nodes.max(self.nodes.len());
        if node.registered {
            self.add_daemonset_pods(self.cluster.nodes.len() - 1);
        }
    }

    pub(super) fn launched(&mut self, name: &str) -> bool {
        if !self.nodes.contains_key(name) {
            return false;
        }
        self.record("node-launched", format!("instance of {name} is running"));
        true
    }

    pub(super) fn registered(&mut self, name: &str) -> bool {
        let Some(index) = self.node_index(name) else {
            return false;
        };
        self.cluster.nodes[index].registered = true;
        if let Some(sim) = self.nodes.get_mut(name) {
            sim.registered = true;
        }
        self.record("node-registered", name.to_owned());
        self.add_daemonset_pods(index);
        true
    }

    pub(super) fn initialized(&mut self, name: &str) -> bool {
        let Some(index) = self.node_index(name) else {
            return false;
        };
        let node = &mut self.cluster.nodes[index];
        node.initialized = true;
        let startup = std::mem::take(&mut node.startup_taints);
        node.taints
            .retain(|t| !startup.iter().any(|s| s.matches(t)));
        if let Some(sim) = self.nodes.get_mut(name) {
            sim.initialized = true;
            sim.initialized_at = Some(self.now);
        }
        self.record("node-initialized", name.to_owned());
        self.disruption.bump();
        self.advance_in_flight();
        self.schedule_bind();
        true
    }

    /// The DaemonSet controller's pods for a registered node: one per DaemonSet whose pod
    /// tolerates the node's taints and matches its labels.
    pub(super) fn add_daemonset_pods(&mut self, index: usize) {
        let node = &self.cluster.nodes[index];
        let mut added = Vec::new();
        for daemonset in &self.cluster.daemonsets {
            let mut pod = daemonset.scheduling_pod();
            if !kube::admits(node, &pod) {
                continue;
            }
            pod.name = format!("{}-{}", daemonset.name, node.name);
            pod.uid = format!("{}/{}", daemonset.namespace, pod.name);
            pod.namespace.clone_from(&daemonset.namespace);
            pod.node_name = Some(node.name.clone());
            pod.phase = PodPhase::Running;
            pod.creation_timestamp = self.cluster.now;
            if !pod.is_daemonset_pod() {
                pod.owner = Some(OwnerReference::new("apps/v1", "DaemonSet", &daemonset.name));
            }
            added.push(pod);
        }
        if !added.is_empty() {
            let detail = format!("{} DaemonSet pods on {}", added.len(), node.name);
            self.cluster.pods.extend(added);
            self.record("daemonset-pods", detail);
        }
    }
}
