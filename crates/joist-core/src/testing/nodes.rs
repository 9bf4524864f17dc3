//! Builders for NodePools, nodes and DaemonSets.

use super::pods::PodBuilder;
use super::quantity;
use crate::labels::{CAPACITY_TYPE, HOSTNAME, INSTANCE_TYPE, NODEPOOL, ZONE};
use crate::requirements::{Operator, Requirement};
use crate::resources::{ResourceList, names};
use crate::snapshot::{DaemonSet, Node, NodeClassRef, NodePool};
use crate::taints::Taint;

/// Starts a ready, dynamic NodePool named `name` with no requirements, node class
/// `karpenter.test.sh/TestNodeClass default`, `expireAfter: 720h` and hash `test-hash`.
pub fn nodepool(name: &str) -> NodePoolBuilder {
    NodePoolBuilder {
        nodepool: NodePool {
            name: name.into(),
            node_class_ref: NodeClassRef::new("karpenter.test.sh", "TestNodeClass", "default"),
            ready: true,
            expire_after: Some("720h".into()),
            hash: "test-hash".into(),
            ..NodePool::default()
        },
    }
}

/// Builds a [`NodePool`].
#[derive(Debug, Clone)]
pub struct NodePoolBuilder {
    /// The NodePool being built.
    nodepool: NodePool,
}

impl NodePoolBuilder {
    /// Sets the weight.
    pub fn weight(mut self, weight: i32) -> Self {
        self.nodepool.weight = weight;
        self
    }

    /// Adds a template label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.nodepool.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a template annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.nodepool.annotations.insert(key.into(), value.into());
        self
    }

    /// Adds a requirement (panics on malformed numeric operators: test helper).
    pub fn requirement(self, key: &str, operator: Operator, values: &[&str]) -> Self {
        self.requirement_with_min_values(key, operator, values, None)
    }

    /// Adds a requirement with `minValues`.
    pub fn requirement_with_min_values(
        mut self,
        key: &str,
        operator: Operator,
        values: &[&str],
        min_values: Option<u32>,
    ) -> Self {
        let requirement = match Requirement::new(key, operator, values.iter().copied()) {
            Ok(r) => r.with_min_values(min_values),
            Err(e) => panic!("bad requirement in test: {e}"),
        };
        self.nodepool.requirements.add(requirement);
        self
    }

    /// Adds a taint, written `key[=value]:Effect`.
    pub fn taint(mut self, taint: &str) -> Self {
        self.nodepool.taints.push(parse_taint(taint));
        self
    }

    /// Adds a startup taint, written `key[=value]:Effect`.
    pub fn startup_taint(mut self, taint: &str) -> Self {
        self.nodepool.startup_taints.push(parse_taint(taint));
        self
    }

    /// Sets a limit.
    pub fn limit(mut self, resource: &str, amount: &str) -> Self {
        self.nodepool.limits.insert(resource, quantity(amount));
        self
    }

    /// Makes the NodePool static with `replicas`.
    pub fn replicas(mut self, replicas: i64) -> Self {
        self.nodepool.replicas = Some(replicas);
        self
    }

    /// Marks the NodePool not ready.
    pub fn not_ready(mut self) -> Self {
        self.nodepool.ready = false;
        self
    }

    /// Marks the NodePool as being deleted.
    pub fn deleting(mut self) -> Self {
        self.nodepool.deleting = true;
        self
    }

    /// Sets the termination grace period.
    pub fn termination_grace_period(mut self, value: &str) -> Self {
        self.nodepool.termination_grace_period = Some(value.into());
        self
    }

    /// Finishes the NodePool.
    pub fn build(self) -> NodePool {
        self.nodepool
    }
}

fn parse_taint(text: &str) -> Taint {
    match text.parse() {
        Ok(t) => t,
        Err(e) => panic!("bad taint {text:?} in test: {e}"),
    }
}

/// Starts an initialized, registered, unmanaged node named `name` with no capacity.
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder {
        node: Node {
            name: name.into(),
            initialized: true,
            registered: true,
            ..Node::default()
        },
    }
}

/// Builds a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    /// The node being built.
    node: Node,
}

impl NodeBuilder {
    /// Makes the node managed by `nodepool` (and labels it so).
    pub fn nodepool(mut self, nodepool: &str) -> Self {
        self.node.nodepool = Some(nodepool.into());
        self.node.nodeclaim = Some(self.node.name.clone());
        self.label(NODEPOOL, nodepool)
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.node.labels.insert(key.into(), value.into());
        self
    }

    /// Labels the zone.
    pub fn zone(self, zone: &str) -> Self {
        self.label(ZONE, zone)
    }

    /// Labels the instance type and capacity type.
    pub fn instance_type(self, name: &str, capacity_type: &str) -> Self {
        self.label(INSTANCE_TYPE, name).label(CAPACITY_TYPE, capacity_type)
    }

    /// Adds a taint, written `key[=value]:Effect`.
    pub fn taint(mut self, taint: &str) -> Self {
        self.node.taints.push(parse_taint(taint));
        self
    }

    /// Adds a startup taint (also put on the node, as the NodeClaim would).
    pub fn startup_taint(mut self, taint: &str) -> Self {
        let taint = parse_taint(taint);
        self.node.taints.push(taint.clone());
        self.node.startup_taints.push(taint);
        self
    }

    /// Sets capacity and allocatable of a resource to `amount`.
    pub fn resource(mut self, name: &str, amount: &str) -> Self {
        self.node.capacity.insert(name, quantity(amount));
        self.node.allocatable.insert(name, quantity(amount));
        self
    }

    /// Sets CPU capacity and allocatable.
    pub fn cpu(self, amount: &str) -> Self {
        self.resource(names::CPU, amount)
    }

    /// Sets memory capacity and allocatable.
    pub fn memory(self, amount: &str) -> Self {
        self.resource(names::MEMORY, amount)
    }

    /// Sets pod capacity and allocatable.
    pub fn pods(self, count: u32) -> Self {
        self.resource(names::PODS, &count.to_string())
    }

    /// Sets allocatable only (capacity stays).
    pub fn allocatable(mut self, allocatable: ResourceList) -> Self {
        self.node.allocatable = allocatable;
        self
    }

    /// Sets whether the node is initialized.
    pub fn initialized(mut self, initialized: bool) -> Self {
        self.node.initialized = initialized;
        self
    }

    /// Sets whether the node has registered.
    pub fn registered(mut self, registered: bool) -> Self {
        self.node.registered = registered;
        self
    }

    /// Marks the node for deletion.
    pub fn marked_for_deletion(mut self) -> Self {
        self.node.marked_for_deletion = true;
        self
    }

    /// Sets a CSI driver's volume limit.
    pub fn csi_limit(mut self, driver: &str, limit: u32) -> Self {
        self.node.csi_volume_limits.insert(driver.into(), limit);
        self
    }

    /// Finishes the node; the hostname label defaults to the name.
    pub fn build(self) -> Node {
        let mut node = self.node;
        node.labels
            .entry(HOSTNAME.into())
            .or_insert_with(|| node.name.clone());
        node
    }
}

/// Starts a DaemonSet named `name` in `default` whose template requests nothing.
pub fn daemonset(name: &str) -> DaemonSetBuilder {
    DaemonSetBuilder {
        name: name.into(),
        template: super::pod().name(name),
        live_pod: None,
    }
}

/// Builds a [`DaemonSet`].
#[derive(Debug, Clone)]
pub struct DaemonSetBuilder {
    /// The DaemonSet's name.
    name: String,
    /// The template pod.
    template: PodBuilder,
    /// The newest live pod, if any.
    live_pod: Option<PodBuilder>,
}

impl DaemonSetBuilder {
    /// Sets the pod template.
    pub fn template(mut self, template: PodBuilder) -> Self {
        self.template = template;
        self
    }

    /// Sets the newest live pod.
    pub fn live_pod(mut self, pod: PodBuilder) -> Self {
        self.live_pod = Some(pod);
        self
    }

    /// Finishes the DaemonSet (its pods are owned by it).
    pub fn build(self) -> DaemonSet {
        let own = |b: PodBuilder, suffix: &str| {
            let b = if b.has_name() { b } else { b.name(&format!("{}-{suffix}", self.name)) };
            let mut pod = b.owner("apps/v1", "DaemonSet", &self.name).build();
            pod.unschedulable = false;
            pod
        };
        DaemonSet {
            namespace: "default".into(),
            name: self.name.clone(),
            template: own(self.template.clone(), "template"),
            live_pod: self.live_pod.clone().map(|p| own(p, "live")),
        }
    }
}
