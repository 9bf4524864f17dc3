//! [`SnapshotBuilder`]: assembles a [`Snapshot`] from builders.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::fake::fake_instance_types;
use super::nodes::{DaemonSetBuilder, NodeBuilder, NodePoolBuilder};
use super::pods::PodBuilder;
use crate::instancetype::InstanceType;
use crate::snapshot::{
    LabelSelector, PersistentVolume, PersistentVolumeClaim, PodDisruptionBudget, Service, Snapshot,
    StorageClass, WorkloadKind, WorkloadSelector,
};

/// Starts an empty snapshot whose NodePools get the fake default instance types unless told
/// otherwise.
pub fn snapshot() -> SnapshotBuilder {
    SnapshotBuilder {
        snapshot: Snapshot::default(),
        default_instance_types: None,
        per_nodepool: BTreeMap::new(),
    }
}

/// Builds a [`Snapshot`].
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    /// The snapshot being built (instance types are attached at build).
    snapshot: Snapshot,
    /// Instance types for NodePools without their own list.
    default_instance_types: Option<Arc<[InstanceType]>>,
    /// Instance types per NodePool.
    per_nodepool: BTreeMap<String, Arc<[InstanceType]>>,
}

impl SnapshotBuilder {
    /// Adds a pod; unnamed pods are named `pod-<index>`.
    pub fn pod(mut self, pod: PodBuilder) -> Self {
        let index = self.snapshot.pods.len();
        let pod = if pod.has_name() {
            pod
        } else {
            pod.name(&format!("pod-{index}"))
        };
        self.snapshot.pods.push(pod.build());
        self
    }

    /// Adds `count` pods made by `make(i)`.
    pub fn pods(mut self, count: usize, make: impl Fn(usize) -> PodBuilder) -> Self {
        for i in 0..count {
            self = self.pod(make(i));
        }
        self
    }

    /// Adds a NodePool.
    pub fn nodepool(mut self, nodepool: NodePoolBuilder) -> Self {
        self.snapshot.nodepools.push(nodepool.build());
        self
    }

    /// Adds a node.
    pub fn node(mut self, node: NodeBuilder) -> Self {
        self.snapshot.nodes.push(node.build());
        self
    }

    /// Adds a DaemonSet.
    pub fn daemonset(mut self, daemonset: DaemonSetBuilder) -> Self {
        self.snapshot.daemonsets.push(daemonset.build());
        self
    }

    /// Adds a PodDisruptionBudget.
    pub fn pdb(mut self, pdb: PodDisruptionBudget) -> Self {
        self.snapshot.pdbs.push(pdb);
        self
    }

    /// Adds a PersistentVolumeClaim.
    pub fn claim(mut self, claim: PersistentVolumeClaim) -> Self {
        self.snapshot.volumes.claims.push(claim);
        self
    }

    /// Adds a PersistentVolume.
    pub fn volume(mut self, volume: PersistentVolume) -> Self {
        self.snapshot.volumes.volumes.push(volume);
        self
    }

    /// Adds a StorageClass.
    pub fn storage_class(mut self, class: StorageClass) -> Self {
        self.snapshot.volumes.storage_classes.push(class);
        self
    }

    /// Adds a Service in `namespace` selecting `selector` (`None`: a Service without selector).
    pub fn service(
        mut self,
        namespace: &str,
        name: &str,
        selector: Option<&[(&str, &str)]>,
    ) -> Self {
        self.snapshot.services.push(Service {
            namespace: namespace.into(),
            name: name.into(),
            selector: selector.map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
        });
        self
    }

    /// Adds the selector of a ReplicationController, ReplicaSet or StatefulSet.
    pub fn workload(
        mut self,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
        selector: LabelSelector,
    ) -> Self {
        self.snapshot.workload_selectors.push(WorkloadSelector {
            namespace: namespace.into(),
            kind,
            name: name.into(),
            selector,
        });
        self
    }

    /// Sets the instance types of every NodePool without its own list.
    pub fn instance_types(mut self, types: Vec<InstanceType>) -> Self {
        self.default_instance_types = Some(types.into());
        self
    }

    /// Sets the instance types of one NodePool.
    pub fn instance_types_for(mut self, nodepool: &str, types: Vec<InstanceType>) -> Self {
        self.per_nodepool.insert(nodepool.into(), types.into());
        self
    }

    /// Finishes the snapshot.
    pub fn build(self) -> Snapshot {
        let mut snapshot = self.snapshot;
        let default = self
            .default_instance_types
            .unwrap_or_else(|| fake_instance_types().into());
        for nodepool in &snapshot.nodepools {
            let types = self
                .per_nodepool
                .get(&nodepool.name)
                .cloned()
                .unwrap_or_else(|| Arc::clone(&default));
            snapshot.instance_types.insert(nodepool.name.clone(), types);
        }
        snapshot
    }
}
