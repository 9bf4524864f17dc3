//! Static NodePools (spec core §4.15, gate `StaticCapacity`): `replicas` NodeClaims are kept,
//! under `limits.nodes`, without pods driving them; surplus ones are deleted (not launched
//! first, then empty ones, then the rest by name).

use std::collections::BTreeMap;
use std::sync::Arc;

use joist_core::resources::Quantity;
use joist_core::scheduling::NewNodeClaim;
use joist_core::snapshot::NodePool;

use super::Simulation;

/// The `limits` key that caps a NodePool's node count.
const NODES_LIMIT: &str = "nodes";

impl Simulation<'_> {
    /// Brings every static NodePool to its replica count.
    pub(super) fn reconcile_static(&mut self) {
        let pools: Vec<NodePool> = self
            .cluster
            .nodepools
            .iter()
            .filter(|p| p.is_static() && p.ready && !p.deleting)
            .cloned()
            .collect();
        if pools.is_empty() {
            return;
        }
        if !self.scenario.feature_gates.static_capacity {
            if !self
                .events
                .iter()
                .any(|e| e.kind == "static-capacity-disabled")
            {
                self.record(
                    "static-capacity-disabled",
                    "NodePools with replicas need the StaticCapacity feature gate".to_owned(),
                );
            }
            return;
        }
        for pool in pools {
            self.reconcile_pool(&pool);
        }
    }

    fn reconcile_pool(&mut self, pool: &NodePool) {
        let replicas = usize::try_from(pool.replicas.unwrap_or(0)).unwrap_or(0);
        let active: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.nodepool == pool.name && n.deletion.is_none())
            .map(|n| n.name.clone())
            .collect();
        if active.len() > replicas {
            self.deprovision(pool, active, replicas);
            return;
        }
        let limit = pool
            .limits
            .get(NODES_LIMIT)
            .map(Quantity::as_f64)
            .map_or(usize::MAX, |n| n.max(0.0) as usize);
        let room = limit.saturating_sub(active.len());
        let count = (replicas - active.len()).min(room);
        if count == 0 {
            if replicas > active.len() {
                self.record(
                    "static-limit",
                    format!("NodePool {}: nodepool node limit reached", pool.name),
                );
            }
            return;
        }
        self.record(
            "static-provisioning",
            format!(
                "NodePool {}: provisioning nodeclaims to satisfy replica count (current {}, desired {replicas}, provision-count {count})",
                pool.name,
                active.len()
            ),
        );
        let nodeclaim = self.static_nodeclaim(pool);
        for _ in 0..count {
            let _ = self.launch(&nodeclaim);
        }
    }

    /// A NodeClaim from the template with every compatible instance type (the provider picks).
    fn static_nodeclaim(&self, pool: &NodePool) -> NewNodeClaim {
        let types = self.cluster.instance_types.get(&pool.name);
        let names: Vec<Arc<str>> = types
            .iter()
            .flat_map(|list| list.iter())
            .filter(|t| pool.requirements.can_intersect(&t.requirements))
            .map(|t| Arc::from(t.name.as_str()))
            .collect();
        let (key, value) = pool.node_class_ref.label();
        let mut labels: BTreeMap<String, String> = pool.labels.clone();
        labels.insert(key, value);
        NewNodeClaim {
            nodepool: pool.name.clone(),
            labels,
            annotations: pool.annotations.clone(),
            requirements: pool.requirements.clone(),
            instance_types: Arc::from(names),
            requests: Default::default(),
            taints: pool.taints.clone(),
            startup_taints: pool.startup_taints.clone(),
            node_class_ref: pool.node_class_ref.clone(),
            expire_after: pool.expire_after.clone(),
            termination_grace_period: pool.termination_grace_period.clone(),
            min_values_relaxed: false,
            hostname_placeholder: String::new(),
            pods: Vec::new(),
        }
    }

    /// Deletes the surplus of a static pool: not yet registered first, then empty, then by name.
    fn deprovision(&mut self, pool: &NodePool, mut active: Vec<String>, replicas: usize) {
        let busy = |name: &str| {
            self.cluster
                .pods
                .iter()
                .any(|p| p.node_name.as_deref() == Some(name) && !p.is_daemonset_pod())
        };
        active.sort_by_key(|name| {
            let registered = self.nodes.get(name).is_some_and(|n| n.registered);
            (registered, busy(name), name.clone())
        });
        let surplus = active.len() - replicas;
        self.record(
            "static-deprovisioning",
            format!(
                "NodePool {}: deprovisioning nodeclaims to satisfy replica count (current {}, desired {replicas})",
                pool.name,
                active.len()
            ),
        );
        for name in active.into_iter().take(surplus) {
            self.delete_node(&name, "static scale-down", None);
        }
    }
}
