//! [`NodePool`]: the scheduling view of a `karpenter.sh/v1` NodePool.

use std::collections::BTreeMap;

use crate::labels::nodeclass_label_key;
use crate::requirements::Requirements;
use crate::resources::ResourceList;
use crate::taints::Taint;

/// `spec.template.spec.nodeClassRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NodeClassRef {
    /// API group of the node class, e.g. `karpenter.k8s.aws`.
    pub group: String,
    /// Kind, e.g. `EC2NodeClass`.
    pub kind: String,
    /// Name of the node class object.
    pub name: String,
}

impl NodeClassRef {
    /// Builds a reference.
    pub fn new(group: impl Into<String>, kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// The node label Karpenter puts on nodes of this class: `<group>/<lowercase kind>=<name>`.
    pub fn label(&self) -> (String, String) {
        (
            nodeclass_label_key(&self.group, &self.kind),
            self.name.clone(),
        )
    }
}

/// A NodePool as the scheduler needs it. Drivers leave out NodePools whose node class the
/// provider does not support (upstream drops those silently).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePool {
    /// `metadata.name`.
    pub name: String,
    /// `spec.weight` (unset is 0); higher weights are tried first.
    pub weight: i32,
    /// `spec.template.metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.template.metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.template.spec.requirements`, keys normalised, with `minValues`.
    pub requirements: Requirements,
    /// `spec.template.spec.taints`: pods must tolerate them.
    pub taints: Vec<Taint>,
    /// `spec.template.spec.startupTaints`: put on nodes, pods need not tolerate them.
    pub startup_taints: Vec<Taint>,
    /// `spec.template.spec.nodeClassRef`.
    pub node_class_ref: NodeClassRef,
    /// `spec.limits` (may include `nodes`).
    pub limits: ResourceList,
    /// `spec.replicas`: set for static NodePools, which the solver skips.
    pub replicas: Option<i64>,
    /// Whether the `Ready` condition is True; not-ready NodePools are skipped.
    pub ready: bool,
    /// Whether the NodePool is being deleted (has a deletion timestamp); such pools are skipped.
    pub deleting: bool,
    /// `spec.template.spec.expireAfter` as written (`"720h"`); `None` for `Never`.
    pub expire_after: Option<String>,
    /// `spec.template.spec.terminationGracePeriod` as written; `None` when unset.
    pub termination_grace_period: Option<String>,
    /// The `karpenter.sh/nodepool-hash` annotation value captured for new NodeClaims.
    pub hash: String,
}

impl NodePool {
    /// Whether the NodePool is static (`spec.replicas` set).
    pub fn is_static(&self) -> bool {
        self.replicas.is_some()
    }
}
