//! [`Node`]: one entry of cluster state, a registered node and/or a launched NodeClaim that has not
//! registered yet (spec core §2.3 step 10).

use std::collections::BTreeMap;

use crate::labels::HOSTNAME;
use crate::resources::ResourceList;
use crate::taints::{Taint, is_known_ephemeral};

/// A node or in-flight NodeClaim as the scheduler sees it.
///
/// Drivers fill `labels` and `taints` from the Node once it is registered, and from the NodeClaim
/// before that (upstream `StateNode.Labels()/Taints()`); `allocatable` likewise falls back to the
/// NodeClaim's status. Pods bound to the node are not listed here: the solver derives usage from
/// the snapshot's pods whose `node_name` is this node's name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// The Node's name (the NodeClaim's name while unregistered).
    pub name: String,
    /// The NodeClaim backing the node, if Karpenter launched it.
    pub nodeclaim: Option<String>,
    /// `spec.providerID` of the node or NodeClaim, if known.
    pub provider_id: Option<String>,
    /// Labels (Node labels once registered, NodeClaim labels before).
    pub labels: BTreeMap<String, String>,
    /// Taints (Node taints once registered, NodeClaim `taints` before).
    pub taints: Vec<Taint>,
    /// The NodeClaim's `startupTaints`: ignored while the node is uninitialized.
    pub startup_taints: Vec<Taint>,
    /// `status.capacity` (counts against NodePool limits).
    pub capacity: ResourceList,
    /// `status.allocatable` (what pods may use).
    pub allocatable: ResourceList,
    /// Owning NodePool; `None` for nodes Karpenter does not manage.
    pub nodepool: Option<String>,
    /// Whether the node is initialized (`karpenter.sh/initialized=true`); unmanaged nodes count
    /// as initialized.
    pub initialized: bool,
    /// Whether the node has registered (a Node object exists).
    pub registered: bool,
    /// Whether the node or its NodeClaim is being deleted or is a disruption candidate.
    pub marked_for_deletion: bool,
    /// Whether a recent scheduling decision nominated the node (blocks disruption).
    pub nominated: bool,
    /// CSI volume limits per driver (`CSINode.spec.drivers[].allocatable.count`).
    pub csi_volume_limits: BTreeMap<String, u32>,
}

impl Node {
    /// The node's hostname: the `kubernetes.io/hostname` label, else its name.
    pub fn hostname(&self) -> &str {
        self.labels
            .get(HOSTNAME)
            .map_or(self.name.as_str(), String::as_str)
    }

    /// Whether Karpenter manages the node (it belongs to a NodePool).
    pub fn is_managed(&self) -> bool {
        self.nodepool.is_some()
    }

    /// The taints pods must tolerate (upstream `StateNode.Taints()`): for a managed node that is
    /// not yet initialized, startup taints and known ephemeral taints are left out, because they
    /// are expected to go away once the node is ready.
    pub fn scheduling_taints(&self) -> Vec<Taint> {
        if !self.is_managed() || self.initialized {
            return self.taints.clone();
        }
        self.taints
            .iter()
            .filter(|t| !is_known_ephemeral(t) && !self.startup_taints.iter().any(|s| s.matches(t)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taints::Effect;

    #[test]
    fn hostname_falls_back_to_the_name() {
        let mut n = Node {
            name: "n1".into(),
            ..Node::default()
        };
        assert_eq!(n.hostname(), "n1");
        n.labels.insert(HOSTNAME.into(), "ip-10-0-0-1".into());
        assert_eq!(n.hostname(), "ip-10-0-0-1");
    }

    #[test]
    fn uninitialized_managed_nodes_ignore_startup_and_ephemeral_taints() {
        let startup = Taint::new("example.com/startup", "", Effect::NoSchedule);
        let not_ready = Taint::new("node.kubernetes.io/not-ready", "", Effect::NoExecute);
        let custom = Taint::new("team", "a", Effect::NoSchedule);
        let mut n = Node {
            name: "n".into(),
            nodepool: Some("default".into()),
            taints: vec![startup.clone(), not_ready, custom.clone()],
            startup_taints: vec![startup],
            ..Node::default()
        };
        assert_eq!(n.scheduling_taints(), vec![custom]);
        n.initialized = true;
        assert_eq!(n.scheduling_taints().len(), 3);
        n.initialized = false;
        n.nodepool = None;
        assert_eq!(
            n.scheduling_taints().len(),
            3,
            "unmanaged nodes keep every taint"
        );
    }
}
