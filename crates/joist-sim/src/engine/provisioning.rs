//! Provisioning: the batching window, the solve, acting on its plan, and the kube-scheduler
//! stand-in's bindings.

use std::collections::BTreeMap;

use joist_core::scheduling::{Plan, solve};

use super::{Batch, SimError, Simulation, Timed};
use crate::kube;

impl Simulation<'_> {
    /// Copies the NodePools into the cluster snapshot, ready only when their EC2NodeClass exists
    /// (upstream's readiness), and refreshes their instance types.
    pub(super) fn sync_nodepools(&mut self) -> Result<(), SimError> {
        let mut pools = self.objects.nodepools.clone();
        for pool in &mut pools {
            pool.ready = self
                .objects
                .node_classes
                .contains_key(&pool.node_class_ref.name);
        }
        self.cluster.nodepools = pools;
        self.refresh_instance_types();
        Ok(())
    }

    /// Points every NodePool at its NodeClass's current instance types.
    pub(super) fn refresh_instance_types(&mut self) {
        let mut types = BTreeMap::new();
        for pool in &self.cluster.nodepools {
            if let Some(list) = self.capacity.instance_types(&pool.node_class_ref.name) {
                types.insert(pool.name.clone(), list);
            }
        }
        self.cluster.instance_types = types;
    }

    /// Pending pods appeared: open the batch or extend it.
    pub(super) fn pods_arrived(&mut self) {
        let now = self.now;
        let batch = self.batch.get_or_insert(Batch {
            opened: now,
            last: now,
        });
        batch.last = now;
        let close =
            (now + self.scenario.batching.idle).min(batch.opened + self.scenario.batching.max);
        self.schedule(close, Timed::BatchCheck);
    }

    pub(super) fn batch_check(&mut self) -> bool {
        let Some(batch) = self.batch else {
            return false;
        };
        let batching = self.scenario.batching;
        if self.now < batch.last + batching.idle && self.now < batch.opened + batching.max {
            return false;
        }
        self.batch = None;
        self.provision();
        true
    }

    /// An unavailable-offerings entry expired: the solver may use the offering again.
    pub(super) fn offering_available(&mut self) -> bool {
        if !self.capacity.expire_unavailable(self.now) {
            return false;
        }
        self.refresh_instance_types();
        if self.has_pending() {
            self.pods_arrived();
        }
        true
    }

    /// Whether a pod waits for a node.
    pub(super) fn has_pending(&self) -> bool {
        self.cluster
            .pods
            .iter()
            .any(|p| p.node_name.is_none() && !p.is_terminal())
    }

    /// Runs the solver on the current state and acts on its plan.
    fn provision(&mut self) {
        if self.capacity.is_dirty() {
            self.refresh_instance_types();
        }
        let plan = solve(&self.cluster, &self.settings, &mut self.rng);
        let pending = self
            .cluster
            .pods
            .iter()
            .filter(|p| p.node_name.is_none())
            .count();
        self.record(
            "provisioning",
            format!(
                "solved {pending} pending pods: {} new nodeclaims, {} pods nominated to existing nodes, {} unschedulable",
                plan.new_nodeclaims.len(),
                plan.nominations.len(),
                plan.unschedulable.len() + plan.ignored.len()
            ),
        );
        self.apply_plan(&plan);
        // Pods the plan nominated to nodes that are already up bind at once; the ones that do
        // not fit wait for the next change rather than re-solving in a loop.
        self.bind(false);
    }

    fn apply_plan(&mut self, plan: &Plan) {
        for pod in self.cluster.pods.iter().filter(|p| p.node_name.is_none()) {
            self.nominated.remove(&pod.key());
        }
        for nomination in &plan.nominations {
            let key = self.cluster.pods[nomination.pod].key();
            self.reasons.remove(&key);
            self.nominated.insert(key, nomination.node.clone());
        }
        for nodeclaim in &plan.new_nodeclaims {
            let _ = self.launch(nodeclaim);
        }
        for unschedulable in &plan.unschedulable {
            let key = self.cluster.pods[unschedulable.pod].key();
            self.reasons
                .insert(key, unschedulable.explanation.message.clone());
        }
        if let Some(first) = plan.unschedulable.first() {
            let detail = format!(
                "{} pods cannot be scheduled; {}: {}",
                plan.unschedulable.len(),
                self.cluster.pods[first.pod].key(),
                first.explanation.message
            );
            self.record("unschedulable", detail);
        }
        for ignored in &plan.ignored {
            let key = self.cluster.pods[ignored.pod].key();
            self.reasons.insert(key, ignored.message.clone());
        }
        for &deferred in &plan.deferred {
            let key = self.cluster.pods[deferred].key();
            self.reasons
                .insert(key, "waiting for reserved capacity".to_owned());
        }
        if !plan.deferred.is_empty() {
            // Upstream re-runs the round once the reservations of this one are taken, so the
            // deferred pods see the updated reservation counts.
            self.pods_arrived();
        }
        let skipped: Vec<(String, String)> = plan
            .skipped_nodepools
            .iter()
            .map(|s| (s.nodepool.clone(), s.reason.clone()))
            .collect();
        for (nodepool, reason) in skipped {
            self.record("nodepool-skipped", format!("{nodepool}: {reason}"));
        }
    }

    /// Binds once after every event queued for this instant (nodes initializing together bind
    /// in one pass, as kube-scheduler's queue would drain them).
    pub(super) fn schedule_bind(&mut self) {
        if !std::mem::replace(&mut self.bind_queued, true) {
            self.schedule(self.now, Timed::Bind);
        }
    }

    /// Binds what kube-scheduler would bind now and records it per node. With `retry_stranded`,
    /// pods whose nominated node is up but full go back to the provisioner.
    pub(super) fn bind(&mut self, retry_stranded: bool) {
        let bound =
            kube::bind_pending(&mut self.cluster.pods, &self.cluster.nodes, &self.nominated);
        let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
        for (index, node) in bound {
            let key = self.cluster.pods[index].key();
            self.nominated.remove(&key);
            self.reasons.remove(&key);
            *per_node.entry(node).or_default() += 1;
        }
        for (node, count) in per_node {
            if let Some(sim) = self.nodes.get_mut(&node) {
                sim.last_pod_event = Some(self.now);
            }
            self.disruption.bump();
            self.record("pods-bound", format!("{count} pods bound to {node}"));
        }
        let stranded = self.cluster.pods.iter().any(|p| {
            p.node_name.is_none()
                && self
                    .nominated
                    .get(&p.key())
                    .is_some_and(|n| self.nodes.get(n).is_some_and(|node| node.initialized))
        });
        if retry_stranded && stranded {
            self.pods_arrived();
        }
    }
}
