//! Node deletion (spec core §3.3): the `karpenter.sh/disrupted:NoSchedule` taint, eviction that
//! honours PodDisruptionBudgets and `karpenter.sh/do-not-disrupt` until the deadline
//! (TerminationGracePeriod, or the reclaim time of an interruption or capacity block), at least
//! 5 s of drain (`MinDrainTime`), then the instance is gone. Also expiration (§4.13) and
//! capacity-block expiry (spec aws §3.9).

use std::collections::BTreeSet;
use std::time::Duration;

use joist_core::duration::parse_go_duration;
use joist_core::labels::DISRUPTED_TAINT_KEY;
use joist_core::snapshot::{IntOrString, Pod, PodPhase, Snapshot};
use joist_core::taints::{Effect, Taint};

use super::capacity::BLOCK_RECLAIM_LEAD;
use super::nodes::Deletion;
use super::{Simulation, Timed};

/// Upstream's `MinDrainTime`.
const MIN_DRAIN: Duration = Duration::from_secs(5);
/// How often a blocked drain retries (upstream requeues every second).
const DRAIN_RETRY: Duration = Duration::from_secs(1);

/// Rounds `percent`% of `total` up, as Kubernetes resolves percentages in PDBs.
fn percent_of(text: &str, total: i32) -> i32 {
    let number = text.trim_end_matches('%').parse::<i64>().unwrap_or(0);
    i32::try_from((number * i64::from(total) + 99) / 100).unwrap_or(i32::MAX)
}

/// Pods a PDB covers: its namespace, its selector (nil selects nothing), not terminal.
pub(super) fn pdb_covers(pdb: &joist_core::snapshot::PodDisruptionBudget, pod: &Pod) -> bool {
    pod.namespace == pdb.namespace
        && !pod.is_terminal()
        && pdb
            .selector
            .as_ref()
            .is_some_and(|s| s.matches(&pod.labels))
}

/// `status.disruptionsAllowed` of every PDB of `cluster` (same order): healthy pods (bound to an
/// initialized node) minus the desired healthy count.
pub(super) fn pdb_allowances(cluster: &Snapshot) -> Vec<i32> {
    let ready: BTreeSet<&str> = cluster
        .nodes
        .iter()
        .filter(|n| n.initialized)
        .map(|n| n.name.as_str())
        .collect();
    let initialized = |name: &str| ready.contains(name);
    cluster
        .pdbs
        .iter()
        .map(|pdb| {
            let covered: Vec<&Pod> = cluster.pods.iter().filter(|p| pdb_covers(pdb, p)).collect();
            let expected = i32::try_from(covered.len()).unwrap_or(i32::MAX);
            let healthy = covered
                .iter()
                .filter(|p| p.node_name.as_deref().is_some_and(initialized))
                .count();
            let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
            let desired = match (&pdb.min_available, &pdb.max_unavailable) {
                (Some(IntOrString::Int(n)), _) => *n,
                (Some(IntOrString::String(p)), _) => percent_of(p, expected),
                (None, Some(IntOrString::Int(n))) => expected - n,
                (None, Some(IntOrString::String(p))) => expected - percent_of(p, expected),
                (None, None) => expected,
            };
            (healthy - desired).max(0)
        })
        .collect()
}

impl Simulation<'_> {
    /// Starts deleting node `name` (a no-op when it is already deleting, except that an earlier
    /// deadline wins). A node that never registered is gone at once.
    pub(super) fn delete_node(&mut self, name: &str, reason: &str, deadline: Option<Duration>) {
        let Some(sim) = self.nodes.get(name) else {
            return;
        };
        if let Some(deletion) = sim.deletion.clone() {
            let earlier = match (deletion.deadline, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(sim) = self.nodes.get_mut(name) {
                sim.deletion = Some(Deletion {
                    deadline: earlier,
                    ..deletion
                });
            }
            return;
        }
        let tgp = self
            .objects
            .nodepools
            .iter()
            .find(|p| p.name == sim.nodepool)
            .and_then(|p| p.termination_grace_period.as_deref())
            .and_then(|t| parse_go_duration(t).ok())
            .map(|t| self.now + t);
        let deadline = match (tgp, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let registered = sim.registered;
        if let Some(sim) = self.nodes.get_mut(name) {
            sim.deletion = Some(Deletion {
                since: self.now,
                reason: reason.to_owned(),
                deadline,
            });
        }
        self.record("node-deleting", format!("{name}: {reason}"));
        self.disruption.bump();
        if !registered {
            self.terminated(name);
            return;
        }
        if let Some(index) = self.node_index(name) {
            let node = &mut self.cluster.nodes[index];
            node.marked_for_deletion = true;
            node.taints.retain(|t| t.key != DISRUPTED_TAINT_KEY);
            node.taints
                .push(Taint::new(DISRUPTED_TAINT_KEY, "", Effect::NoSchedule));
        }
        self.schedule(self.now, Timed::Drain(name.to_owned()));
    }

    /// One drain round: evicts what PDBs and `do-not-disrupt` allow (everything once the deadline
    /// passed), then retries or finishes.
    pub(super) fn drain(&mut self, name: &str) -> bool {
        let Some(deletion) = self.nodes.get(name).and_then(|n| n.deletion.clone()) else {
            return false;
        };
        let force = deletion.deadline.is_some_and(|d| self.now >= d);
        let mut allowed = pdb_allowances(&self.cluster);
        let mut evict = Vec::new();
        let mut waiting = 0usize;
        for (index, pod) in self.cluster.pods.iter().enumerate() {
            if pod.node_name.as_deref() != Some(name) || pod.is_daemonset_pod() || pod.is_terminal()
            {
                continue;
            }
            let covering: Vec<usize> = (0..self.cluster.pdbs.len())
                .filter(|&i| pdb_covers(&self.cluster.pdbs[i], pod))
                .collect();
            let blocked = pod.do_not_disrupt() == Some("true")
                || covering.len() > 1
                || covering.iter().any(|&i| allowed[i] <= 0);
            if blocked && !force {
                waiting += 1;
                continue;
            }
            for &i in &covering {
                allowed[i] -= 1;
            }
            evict.push(index);
        }
        let evicted = evict.len();
        self.evict(&evict);
        if evicted > 0 {
            let how = if force {
                "deleted at the deadline"
            } else {
                "evicted"
            };
            self.record("pods-evicted", format!("{evicted} pods {how} from {name}"));
        }
        if waiting > 0 {
            self.schedule(self.now + DRAIN_RETRY, Timed::Drain(name.to_owned()));
        } else {
            let at = self.now.max(deletion.since + MIN_DRAIN);
            self.schedule(at, Timed::Terminated(name.to_owned()));
        }
        evicted > 0
    }

    /// Evicts pods (indices into the cluster's pods): owned pods are recreated pending by their
    /// controller, standalone pods are gone.
    pub(super) fn evict(&mut self, indices: &[usize]) {
        if indices.is_empty() {
            return;
        }
        let mut gone = BTreeSet::new();
        let now = self.time();
        for &index in indices {
            let pod = &mut self.cluster.pods[index];
            if let Some(node) = pod.node_name.take()
                && let Some(sim) = self.nodes.get_mut(&node)
            {
                sim.last_pod_event = Some(self.now);
            }
            if pod.owner.is_none() {
                gone.insert(index);
            } else {
                pod.phase = PodPhase::Pending;
                // kube-scheduler finds no room for the recreated pod, which makes it provisionable.
                pod.unschedulable = true;
                pod.creation_timestamp = now;
            }
        }
        let mut index = 0;
        self.cluster.pods.retain(|_| {
            let keep = !gone.contains(&index);
            index += 1;
            keep
        });
        self.disruption.bump();
        self.pods_arrived();
    }

    /// The node's instance is gone: its remaining pods are lost (owned ones go pending), its
    /// DaemonSet pods disappear, its reservation unit is free again.
    pub(super) fn terminated(&mut self, name: &str) -> bool {
        let Some(sim) = self.nodes.remove(name) else {
            return false;
        };
        let remaining: Vec<usize> = (0..self.cluster.pods.len())
            .filter(|&i| {
                let pod = &self.cluster.pods[i];
                pod.node_name.as_deref() == Some(name) && !pod.is_daemonset_pod()
            })
            .collect();
        self.evict(&remaining);
        self.cluster
            .pods
            .retain(|p| !(p.is_daemonset_pod() && p.node_name.as_deref() == Some(name)));
        self.cluster.nodes.retain(|n| n.name != name);
        if let Some(id) = &sim.reservation_id {
            self.capacity.release(id);
        }
        let hours = self.now.saturating_sub(sim.created).as_secs_f64() / 3600.0;
        self.spent += sim.price * hours;
        let stranded: Vec<String> = self
            .nominated
            .iter()
            .filter(|(_, node)| *node == name)
            .map(|(pod, _)| pod.clone())
            .collect();
        for pod in &stranded {
            self.nominated.remove(pod);
        }
        // Upstream re-triggers provisioning for pending pods every 10 s; a node going away is the
        // change that can make them schedulable (NodePool limits, reservations).
        if !stranded.is_empty() || self.has_pending() {
            self.pods_arrived();
        }
        self.record(
            "node-terminated",
            format!(
                "{name} ({} {}) after {}",
                sim.instance_type,
                sim.capacity_type,
                crate::report::format_time(self.now.saturating_sub(sim.created))
            ),
        );
        self.disruption.bump();
        self.reconcile_static();
        true
    }

    /// `expireAfter` reached: forceful deletion, no budget.
    pub(super) fn expired(&mut self, name: &str) -> bool {
        if !self.nodes.contains_key(name) {
            return false;
        }
        self.delete_node(name, "expired", None);
        true
    }

    /// A capacity block is 40 minutes from its end: no more launches into it, its nodes are
    /// drained; EC2 reclaims them 30 minutes before the end.
    pub(super) fn block_expiring(&mut self, index: usize) -> bool {
        let Some(reservation) = self.scenario.reservations.get(index) else {
            return false;
        };
        let id = reservation.id.clone();
        let reclaim = reservation
            .end
            .map(|end| end.saturating_sub(BLOCK_RECLAIM_LEAD));
        self.capacity.close(&id);
        self.refresh_instance_types();
        let nodes: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.reservation_id.as_deref() == Some(id.as_str()))
            .map(|n| n.name.clone())
            .collect();
        self.record(
            "capacity-block-expiring",
            format!("{id}: draining {} nodes", nodes.len()),
        );
        for name in nodes {
            self.delete_node(&name, "capacity block expiring", reclaim);
        }
        true
    }
}
