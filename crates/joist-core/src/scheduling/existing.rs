//! Existing and in-flight nodes (spec core §2.3 step 10, §2.5).

use std::collections::BTreeMap;

use super::dense::{self, Dense, ResourceIndex};
use super::plan::PodIndex;
use super::settings::SchedulingSettings;
use crate::labels::{HOSTNAME, WellKnownLabels};
use crate::requirements::{Requirement, Requirements};
use crate::snapshot::{HostPort, Node, Pod, Snapshot};
use crate::taints::{Taint, Taints};

/// A node the solver may nominate pods to (upstream `ExistingNode`).
#[derive(Debug)]
pub(crate) struct ExistingNode<'s> {
    /// The node.
    pub(crate) node: &'s Node,
    /// Its labels as requirements plus `kubernetes.io/hostname In [hostname]`; narrowed by the
    /// requirements of pods placed on it.
    pub(crate) requirements: Requirements,
    /// The taints pods must tolerate.
    pub(crate) taints: Taints,
    /// Allocatable minus bound pods minus the DaemonSet pods still expected.
    pub(crate) remaining: Dense,
    /// Host ports in use.
    pub(crate) host_ports: Vec<HostPort>,
    /// Pods placed on it this solve.
    pub(crate) pods: Vec<PodIndex>,
}

/// Builds the existing nodes (all nodes not marked for deletion), initialized first, then by
/// name. `daemons` are the DaemonSet scheduling pods with their dense requests.
pub(crate) fn build_existing<'s>(
    snapshot: &'s Snapshot,
    settings: &SchedulingSettings,
    index: &ResourceIndex,
    daemons: &[(Pod, Dense)],
) -> Vec<ExistingNode<'s>> {
    let mut bound: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in snapshot.pods.iter().filter(|p| !p.is_terminal()) {
        if let Some(node) = pod.node_name.as_deref() {
            bound.entry(node).or_default().push(pod);
        }
    }
    let mut nodes: Vec<ExistingNode<'s>> = snapshot
        .nodes
        .iter()
        .filter(|n| !n.marked_for_deletion)
        .map(|n| {
            let pods = bound.get(n.name.as_str()).map_or(&[][..], Vec::as_slice);
            existing_node(n, pods, settings, index, daemons)
        })
        .collect();
    nodes.sort_by(|a, b| {
        b.node
            .initialized
            .cmp(&a.node.initialized)
            .then_with(|| a.node.name.cmp(&b.node.name))
    });
    nodes
}

fn existing_node<'s>(
    node: &'s Node,
    bound: &[&Pod],
    settings: &SchedulingSettings,
    index: &ResourceIndex,
    daemons: &[(Pod, Dense)],
) -> ExistingNode<'s> {
    let taints: Taints = node.scheduling_taints().into();
    let mut requirements = Requirements::from_labels(&node.labels, &settings.label_aliases);
    requirements.add(Requirement::in_values(HOSTNAME, [node.hostname()]));
    let mut remaining = index.dense(&node.allocatable);
    let mut daemon_pods_bound = index.zero();
    for pod in bound {
        let requests = index.dense(&pod.requests);
        dense::sub(&mut remaining, &requests);
        if pod.is_daemonset_pod() {
            dense::add(&mut daemon_pods_bound, &requests);
        }
    }
    let mut expected_daemons = index.zero();
    for (pod, requests) in daemons {
        if daemon_fits_node(pod, &taints, &requirements, settings) {
            dense::add(&mut expected_daemons, requests);
        }
    }
    dense::sub(&mut expected_daemons, &daemon_pods_bound);
    for amount in expected_daemons.iter_mut() {
        *amount = (*amount).max(0);
    }
    dense::sub(&mut remaining, &expected_daemons);
    ExistingNode {
        node,
        requirements,
        taints,
        remaining,
        host_ports: bound.iter().flat_map(|p| p.host_ports.iter().cloned()).collect(),
        pods: Vec::new(),
    }
}

/// Whether a DaemonSet pod would run on the node: it tolerates the node's taints and the node's
/// labels are compatible with its strict requirements, undefined keys not allowed.
fn daemon_fits_node(
    pod: &Pod,
    taints: &Taints,
    node_requirements: &Requirements,
    settings: &SchedulingSettings,
) -> bool {
    taints.is_tolerated_by(&pod.constraints.tolerations)
        && pod
            .constraints
            .strict_requirements(&settings.label_aliases)
            .is_ok_and(|r| node_requirements.is_compatible(&r, &WellKnownLabels::empty()))
}

impl ExistingNode<'_> {
    /// Upstream `ExistingNode.CanAdd` up to topology: taints, host ports, resources, then
    /// requirements (undefined keys not allowed). Returns the merged requirements.
    pub(crate) fn admits(
        &self,
        pod: &Pod,
        tolerations: &[crate::taints::Toleration],
        requests: &[i128],
        pod_requirements: &Requirements,
    ) -> Option<Requirements> {
        if !self.taints.is_tolerated_by(tolerations) {
            return None;
        }
        let conflict = pod
            .host_ports
            .iter()
            .any(|p| self.host_ports.iter().any(|q| p.conflicts_with(q)));
        if conflict || !dense::fits(requests, &self.remaining) {
            return None;
        }
        if !self
            .requirements
            .is_compatible(pod_requirements, &WellKnownLabels::empty())
        {
            return None;
        }
        Some(self.requirements.intersection(pod_requirements))
    }

    /// Records `pod` on the node.
    pub(crate) fn add(
        &mut self,
        index: PodIndex,
        pod: &Pod,
        requests: &[i128],
        requirements: Requirements,
    ) {
        dense::sub(&mut self.remaining, requests);
        self.requirements = requirements;
        self.host_ports.extend(pod.host_ports.iter().cloned());
        self.pods.push(index);
    }

    /// The taints as a slice (for topology).
    pub(crate) fn taint_slice(&self) -> &[Taint] {
        self.taints.as_slice()
    }
}
