//! [`PodBuilder`]: `pod().cpu("500m").memory("1Gi").zone("us-east-1a").build()`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::quantity;
use crate::labels::ZONE;
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::resources::{ContainerResources, PodResources, ResourceList, names, pod_requests};
use crate::snapshot::{
    HostPort, LabelSelector, NodeSelectorTerm, OwnerReference, Pod, PodAffinityTerm, PodConstraints,
    PodPhase, PodVolume, PreferredSchedulingTerm, Protocol, TopologySpreadConstraint,
    VolumeSource, WeightedPodAffinityTerm, WhenUnsatisfiable,
};
use crate::taints::{Effect, Toleration};

/// Starts a pending, unschedulable pod in namespace `default` with no requests. Unnamed pods get
/// `pod-<index>` names from [`SnapshotBuilder`](super::SnapshotBuilder).
pub fn pod() -> PodBuilder {
    PodBuilder {
        pod: Pod {
            uid: String::new(),
            namespace: "default".into(),
            name: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            owner: None,
            creation_timestamp: DateTime::<Utc>::UNIX_EPOCH,
            deletion_timestamp: None,
            priority: 0,
            node_name: None,
            nominated_node_name: None,
            phase: PodPhase::Pending,
            unschedulable: true,
            requests: ResourceList::new(),
            constraints: PodConstraints::default(),
            host_ports: Vec::new(),
            volumes: Vec::new(),
            has_resource_claims: false,
        },
        resources: PodResources::default(),
        container_requests: ResourceList::new(),
    }
}

/// Builds a [`Pod`].
#[derive(Debug, Clone)]
pub struct PodBuilder {
    /// The pod being built (requests are filled in by [`build`](Self::build)).
    pod: Pod,
    /// Init containers, overhead and pod-level resources for `pod_requests`.
    resources: PodResources,
    /// Requests of the single regular container.
    container_requests: ResourceList,
}

impl PodBuilder {
    /// Sets the name (and, unless set, the uid `<namespace>/<name>`).
    pub fn name(mut self, name: &str) -> Self {
        self.pod.name = name.into();
        self
    }

    /// Whether the builder has a name yet.
    pub fn has_name(&self) -> bool {
        !self.pod.name.is_empty()
    }

    /// Sets the uid.
    pub fn uid(mut self, uid: &str) -> Self {
        self.pod.uid = uid.into();
        self
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.pod.namespace = namespace.into();
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.pod.labels.insert(key.into(), value.into());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.pod.annotations.insert(key.into(), value.into());
        self
    }

    /// Requests `amount` of resource `name` in the pod's container.
    pub fn request(mut self, name: &str, amount: &str) -> Self {
        self.container_requests.insert(name, quantity(amount));
        self
    }

    /// Requests CPU.
    pub fn cpu(self, amount: &str) -> Self {
        self.request(names::CPU, amount)
    }

    /// Requests memory.
    pub fn memory(self, amount: &str) -> Self {
        self.request(names::MEMORY, amount)
    }

    /// Requests `count` NVIDIA GPUs.
    pub fn gpu(self, count: u32) -> Self {
        self.request(names::NVIDIA_GPU, &count.to_string())
    }

    /// Replaces init containers, overhead and pod-level resources (for request semantics tests);
    /// the container requests set with [`request`](Self::request) stay the regular container.
    pub fn resources(mut self, resources: PodResources) -> Self {
        self.resources = resources;
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.pod
            .constraints
            .node_selector
            .insert(key.into(), value.into());
        self
    }

    /// Selects a zone (`topology.kubernetes.io/zone` node selector).
    pub fn zone(self, zone: &str) -> Self {
        self.node_selector(ZONE, zone)
    }

    /// Adds an expression to the first required node-affinity term (creating it).
    pub fn node_requirement(mut self, key: &str, operator: Operator, values: &[&str]) -> Self {
        let required = &mut self.pod.constraints.node_affinity.required;
        if required.is_empty() {
            required.push(NodeSelectorTerm::default());
        }
        required[0]
            .match_expressions
            .push(NodeSelectorRequirement::new(key, operator, values.iter().copied()));
        self
    }

    /// Adds one more (ORed) required node-affinity term.
    pub fn required_term(mut self, expressions: Vec<NodeSelectorRequirement>) -> Self {
        self.pod
            .constraints
            .node_affinity
            .required
            .push(NodeSelectorTerm::new(expressions));
        self
    }

    /// Adds a preferred node-affinity term of one expression.
    pub fn preferred(mut self, weight: i32, key: &str, operator: Operator, values: &[&str]) -> Self {
        self.pod
            .constraints
            .node_affinity
            .preferred
            .push(PreferredSchedulingTerm {
                weight,
                preference: NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
                    key,
                    operator,
                    values.iter().copied(),
                )]),
            });
        self
    }

    /// Adds a toleration.
    pub fn toleration(mut self, toleration: Toleration) -> Self {
        self.pod.constraints.tolerations.push(toleration);
        self
    }

    /// Tolerates `key=value:effect` (`Equal`).
    pub fn tolerate(self, key: &str, value: &str, effect: Effect) -> Self {
        self.toleration(Toleration::equal(key, value, Some(effect)))
    }

    /// Adds a topology spread constraint selecting pods with `selector` labels.
    pub fn spread(
        mut self,
        topology_key: &str,
        max_skew: i32,
        when: WhenUnsatisfiable,
        selector: Option<LabelSelector>,
    ) -> Self {
        self.pod
            .constraints
            .topology_spread
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: topology_key.into(),
                when_unsatisfiable: when,
                label_selector: selector,
                min_domains: None,
                node_affinity_policy: None,
                node_taints_policy: None,
                match_label_keys: Vec::new(),
            });
        self
    }

    /// Adds a required pod anti-affinity term.
    pub fn anti_affinity(mut self, topology_key: &str, selector: LabelSelector) -> Self {
        self.pod
            .constraints
            .pod_anti_affinity
            .required
            .push(affinity_term(topology_key, selector));
        self
    }

    /// Adds a required pod affinity term.
    pub fn affinity(mut self, topology_key: &str, selector: LabelSelector) -> Self {
        self.pod
            .constraints
            .pod_affinity
            .required
            .push(affinity_term(topology_key, selector));
        self
    }

    /// Adds a preferred pod anti-affinity term.
    pub fn preferred_anti_affinity(
        mut self,
        weight: i32,
        topology_key: &str,
        selector: LabelSelector,
    ) -> Self {
        self.pod
            .constraints
            .pod_anti_affinity
            .preferred
            .push(WeightedPodAffinityTerm {
                weight,
                term: affinity_term(topology_key, selector),
            });
        self
    }

    /// Adds a TCP host port on all addresses.
    pub fn host_port(mut self, port: i32) -> Self {
        self.pod.host_ports.push(HostPort {
            ip: String::new(),
            port,
            protocol: Protocol::Tcp,
        });
        self
    }

    /// Adds a PVC volume.
    pub fn pvc(mut self, claim_name: &str) -> Self {
        self.pod.volumes.push(PodVolume {
            name: claim_name.into(),
            source: VolumeSource::PersistentVolumeClaim {
                claim_name: claim_name.into(),
            },
        });
        self
    }

    /// Binds the pod to a node (it is then not provisionable).
    pub fn node_name(mut self, node: &str) -> Self {
        self.pod.node_name = Some(node.into());
        self.pod.unschedulable = false;
        self.pod.phase = PodPhase::Running;
        self
    }

    /// Marks the pod as preempting towards `node`.
    pub fn nominated(mut self, node: &str) -> Self {
        self.pod.nominated_node_name = Some(node.into());
        self
    }

    /// Sets the controlling owner.
    pub fn owner(mut self, api_version: &str, kind: &str, name: &str) -> Self {
        self.pod.owner = Some(OwnerReference::new(api_version, kind, name));
        self
    }

    /// Sets the creation time to `seconds` after the Unix epoch (the queue's third key).
    pub fn created(mut self, seconds: i64) -> Self {
        self.pod.creation_timestamp = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(seconds);
        self
    }

    /// Sets the phase.
    pub fn phase(mut self, phase: PodPhase) -> Self {
        self.pod.phase = phase;
        self
    }

    /// Marks the pod as terminating.
    pub fn terminating(mut self) -> Self {
        self.pod.deletion_timestamp = Some(DateTime::<Utc>::UNIX_EPOCH);
        self
    }

    /// Marks the pod as referencing DRA resource claims.
    pub fn resource_claims(mut self) -> Self {
        self.pod.has_resource_claims = true;
        self
    }

    /// Finishes the pod: requests via [`pod_requests`] (so `pods: 1` is included).
    pub fn build(self) -> Pod {
        let mut pod = self.pod;
        let mut resources = self.resources;
        resources
            .containers
            .insert(0, ContainerResources::with_requests(self.container_requests));
        pod.requests = pod_requests(&resources);
        if pod.uid.is_empty() {
            pod.uid = format!("{}/{}", pod.namespace, pod.name);
        }
        pod
    }
}

fn affinity_term(topology_key: &str, selector: LabelSelector) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector),
        topology_key: topology_key.into(),
        ..PodAffinityTerm::default()
    }
}
