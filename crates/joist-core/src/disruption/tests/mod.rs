//! Disruption tests, named after the spec core §9.2 checklist item each covers, with the fixture
//! they share.

// Drift, expiration and static capacity.
mod drift_detection;
mod drift_method;
mod expiration;
mod static_capacity;

mod candidates;
mod consolidation;

// The §9.2 checklist items the files above did not assert (docs/design/disruption.md).
mod checklist_candidates;
mod checklist_consolidation;
mod checklist_lifecycle;
mod emptiness;
mod joist_search;
mod search;
mod simulate;
mod validation;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::duration::NillableDuration;
use crate::labels::{DO_NOT_DISRUPT, NODEPOOL};
use crate::nodepool::budgets::Budget;
use crate::snapshot::{LabelSelector, PodPhase, Snapshot};
use crate::testing::{
    NodeBuilder, PodBuilder, SnapshotBuilder, instance_type, node, nodepool, pod, snapshot,
};

/// Monday 2026-01-05 10:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

/// A managed, initialized, registered on-demand node of `pool` in test-zone-1.
fn managed(name: &str, pool: &str) -> NodeBuilder {
    node(name)
        .nodepool(pool)
        .instance_type("default-instance-type", "on-demand")
        .zone("test-zone-1")
}

/// A running pod bound to `node`.
fn bound(name: &str, node: &str) -> PodBuilder {
    pod().name(name).uid(name).node_name(node)
}

/// The snapshot and the disruption facts it does not model, owned for the test.
struct Fixture {
    snapshot: Snapshot,
    nodes: BTreeMap<String, NodeDisruptionState>,
    pools: BTreeMap<String, PoolDisruption>,
    pdb_status: BTreeMap<(String, String), PdbStatus>,
    pod_start_times: BTreeMap<String, DateTime<Utc>>,
    unready_pods: BTreeSet<String>,
}

impl Fixture {
    /// Every node Ready and Consolidatable; pools with CRD-default disruption settings.
    fn new(builder: SnapshotBuilder) -> Self {
        let mut snapshot = builder.build();
        snapshot.now = now();
        let nodes = snapshot
            .nodes
            .iter()
            .map(|n| {
                let state = NodeDisruptionState {
                    ready: true,
                    consolidatable: true,
                    ..NodeDisruptionState::default()
                };
                (n.name.clone(), state)
            })
            .collect();
        Self {
            snapshot,
            nodes,
            pools: BTreeMap::new(),
            pdb_status: BTreeMap::new(),
            pod_start_times: BTreeMap::new(),
            unready_pods: BTreeSet::new(),
        }
    }

    fn budgets(mut self, pool: &str, budgets: Vec<Budget>) -> Self {
        self.pools.entry(pool.into()).or_default().budgets = budgets;
        self
    }

    fn node_state(&mut self, name: &str) -> &mut NodeDisruptionState {
        self.nodes.entry(name.into()).or_default()
    }

    fn input(&self) -> DisruptionInput<'_> {
        DisruptionInput {
            snapshot: &self.snapshot,
            nodes: &self.nodes,
            pools: &self.pools,
            pdb_status: &self.pdb_status,
            pod_start_times: &self.pod_start_times,
            unready_pods: &self.unready_pods,
        }
    }

    fn empty(&self) -> EmptinessDecision {
        empty_command(&self.input())
    }

    /// Names of the nodes the Empty method deletes.
    fn deleted(&self) -> Vec<String> {
        self.empty().command.map_or_else(Vec::new, |c| {
            c.candidates.into_iter().map(|c| c.node).collect()
        })
    }

    fn blocked(&self, node: &str) -> Option<BlockReason> {
        CandidateSet::build(&self.input(), DisruptionClass::Graceful)
            .blocked
            .into_iter()
            .find(|(name, _)| name == node)
            .map(|(_, reason)| reason)
    }
}

/// `count` empty nodes `n0..` of pool `pool` (plus the pool).
fn empty_nodes(pool: &str, count: usize) -> SnapshotBuilder {
    (0..count).fold(snapshot().nodepool(nodepool(pool)), |s, i| {
        s.node(managed(&format!("{pool}-n{i}"), pool))
    })
}

fn unlimited() -> Vec<Budget> {
    vec![Budget::new("100%")]
}
