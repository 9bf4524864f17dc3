//! Simulated nodes: created from a solver NodeClaim and the provider's launch, tracked through
//! registration and initialization.

use std::collections::BTreeMap;

use joist_core::labels::{HOSTNAME, NODEPOOL};
use joist_core::requirements::{Operator, Requirements};
use joist_core::resources::ResourceList;
use joist_core::scheduling::NewNodeClaim;
use joist_core::snapshot::Node;
use joist_core::taints::Taint;

use super::{Simulation, Timed};

/// Kubernetes' alphabet for generated name suffixes.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Length of the random part of a generated name (`generateName` uses 5).
const NAME_SUFFIX_LEN: usize = 5;

/// A node launched by the simulated provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNode {
    /// NodeClaim and Node name (`<nodepool>-<suffix>`).
    pub name: String,
    /// The NodePool that asked for it.
    pub nodepool: String,
    /// The launched instance type.
    pub instance_type: String,
    /// `karpenter.sh/capacity-type` of the chosen offering.
    pub capacity_type: String,
    /// `topology.kubernetes.io/zone` of the chosen offering.
    pub zone: String,
    /// The offering's price per hour.
    pub price: f64,
    /// Labels: the NodeClaim's, the instance type's and the offering's single values, hostname.
    pub labels: BTreeMap<String, String>,
    /// Taints (startup taints included until initialization).
    pub taints: Vec<Taint>,
    /// The NodeClaim's startup taints.
    pub startup_taints: Vec<Taint>,
    /// The instance type's capacity.
    pub capacity: ResourceList,
    /// The instance type's allocatable.
    pub allocatable: ResourceList,
    /// Whether the Node registered.
    pub registered: bool,
    /// Whether the Node is initialized (pods may bind).
    pub initialized: bool,
}

impl SimNode {
    /// Marks the node initialized; its startup taints are gone, as the components that own them
    /// would have removed them by then.
    pub fn initialize(&mut self) {
        self.initialized = true;
        let startup = std::mem::take(&mut self.startup_taints);
        self.taints
            .retain(|t| !startup.iter().any(|s| s.matches(t)));
    }

    /// The node as the solver and the kube-scheduler stand-in see it.
    pub fn to_snapshot(&self) -> Node {
        Node {
            name: self.name.clone(),
            nodeclaim: Some(self.name.clone()),
            provider_id: Some(format!("aws:///{}/{}", self.zone, self.name)),
            labels: self.labels.clone(),
            taints: self.taints.clone(),
            startup_taints: self.startup_taints.clone(),
            capacity: self.capacity.clone(),
            allocatable: self.allocatable.clone(),
            nodepool: Some(self.nodepool.clone()),
            initialized: self.initialized,
            registered: self.registered,
            ..Node::default()
        }
    }
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
            if !self.nodes.iter().any(|n| n.name == name) {
                return name;
            }
        }
    }

    /// Creates the NodeClaim's instance and schedules its lifecycle; its pods are nominated to it.
    pub(super) fn launch(&mut self, nodeclaim: &NewNodeClaim) {
        let pods: Vec<String> = nodeclaim.pods.iter().map(|&i| self.pods[i].key()).collect();
        // Named before the launch so the provider's borrow can last while the node is built.
        let name = self.node_name(&nodeclaim.nodepool);
        let provider = self.provider.clone();
        let Some(launch) = provider.launch(nodeclaim) else {
            let reason = format!(
                "NodePool {}: no available offering for the NodeClaim's instance types",
                nodeclaim.nodepool
            );
            self.record("launch-failed", reason.clone());
            for key in pods {
                self.reasons.insert(key, reason.clone());
            }
            return;
        };
        let (instance_type, offering) = (launch.instance_type, launch.offering);
        let mut labels = nodeclaim.labels.clone();
        add_single_values(&mut labels, &instance_type.requirements);
        add_single_values(&mut labels, &offering.requirements);
        labels.insert(HOSTNAME.to_owned(), name.clone());
        labels.insert(NODEPOOL.to_owned(), nodeclaim.nodepool.clone());
        let mut taints = nodeclaim.taints.clone();
        taints.extend(nodeclaim.startup_taints.iter().cloned());
        let node = SimNode {
            name: name.clone(),
            nodepool: nodeclaim.nodepool.clone(),
            instance_type: instance_type.name.clone(),
            capacity_type: offering.capacity_type().unwrap_or_default().to_owned(),
            zone: offering.zone().unwrap_or_default().to_owned(),
            price: offering.price,
            labels,
            taints,
            startup_taints: nodeclaim.startup_taints.clone(),
            capacity: instance_type.capacity().clone(),
            allocatable: instance_type.allocatable().clone(),
            registered: false,
            initialized: false,
        };
        self.record(
            "nodeclaim-created",
            format!(
                "{name}: {} {} in {} at ${:.4}/h for {} pods",
                node.instance_type,
                node.capacity_type,
                node.zone,
                node.price,
                pods.len()
            ),
        );
        for key in pods {
            self.reasons.remove(&key);
            self.nominated.insert(key, name.clone());
        }
        let timing = self.scenario.timing;
        let launched = self.now + timing.launch;
        let registered = launched + timing.register;
        self.schedule(launched, Timed::Launched(name.clone()));
        self.schedule(registered, Timed::Registered(name.clone()));
        self.schedule(registered + timing.initialize, Timed::Initialized(name));
        self.nodes.push(node);
    }
}
