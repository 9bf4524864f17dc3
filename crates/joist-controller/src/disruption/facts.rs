//! A [`DisruptionInput`] built from the index: the snapshot plus the per-node, per-pool, PDB and
//! pod facts the snapshot does not model (spec core §4.2, §4.3).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use joist_api::nodeclaim::NodeClaim;
use joist_api::nodepool::NodePool;
use joist_core::disruption::{
    ConsolidationPolicy, DisruptionInput, NodeDisruptionState, PdbStatus, PoolDisruption,
    is_consolidatable,
};
use joist_core::duration::NillableDuration;
use joist_core::instancetype::InstanceType;
use joist_core::labels::NODEPOOL;
use joist_core::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::pod_events::PodEvents;
use crate::index::{Index, SnapshotInput, provider_id_of_node};
use crate::lifecycle::INITIALIZED;
use crate::node_termination::to_chrono;

/// `InstanceTerminating`, set on a NodeClaim while its instance is being deleted.
const INSTANCE_TERMINATING: &str = "InstanceTerminating";

/// Everything one disruption decision reads, owned; [`Facts::input`] lends it to joist-core.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The scheduling snapshot.
    pub snapshot: Snapshot,
    /// Per-node facts by node name.
    pub nodes: BTreeMap<String, NodeDisruptionState>,
    /// `spec.disruption` by NodePool name.
    pub pools: BTreeMap<String, PoolDisruption>,
    /// PDB status by `(namespace, name)`.
    pub pdb_status: BTreeMap<(String, String), PdbStatus>,
    /// `status.startTime` by pod uid.
    pub pod_start_times: BTreeMap<String, DateTime<Utc>>,
    /// Uids of pods that are not Ready.
    pub unready_pods: BTreeSet<String>,
}

impl Facts {
    /// Reads the index at `now`; objects that do not convert are left out and logged. Nodes
    /// (or NodeClaims) named in `nominated` are nominated: not disruption candidates.
    pub fn build(
        index: &Index,
        instance_types: &std::sync::Arc<[InstanceType]>,
        pod_events: &PodEvents,
        nominated: &BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let (mut snapshot, errors) = index.snapshot(SnapshotInput {
            now,
            created: &[],
            instance_types,
        });
        for node in &mut snapshot.nodes {
            node.nominated |= nominated.contains(&node.name)
                || node
                    .nodeclaim
                    .as_ref()
                    .is_some_and(|c| nominated.contains(c));
        }
        for error in errors {
            tracing::debug!(controller = "disruption", error = %error, "object left out of the snapshot");
        }
        let pools: BTreeMap<String, PoolDisruption> = index
            .nodepools
            .state()
            .iter()
            .map(|pool| (pool.0.name().to_owned(), pool_disruption(&pool.0)))
            .collect();
        let nodes = index
            .nodes
            .state()
            .iter()
            .filter_map(|node| {
                let name = node.metadata.name.clone()?;
                let claim = provider_id_of_node(node)
                    .and_then(|id| index.nodeclaims_with_provider_id(id).into_iter().next());
                let claim = claim.as_ref().map(|c| &c.0);
                let state = node_state(node, claim, &pools, pod_events.last_event(&name), now);
                Some((name, state))
            })
            .collect();
        let pdb_status = index
            .pdbs
            .state()
            .iter()
            .filter_map(|pdb| {
                let status = pdb.status.as_ref()?;
                let key = (
                    pdb.metadata.namespace.clone().unwrap_or_default(),
                    pdb.metadata.name.clone().unwrap_or_default(),
                );
                let always_allow = pdb
                    .spec
                    .as_ref()
                    .and_then(|s| s.unhealthy_pod_eviction_policy.as_deref())
                    == Some("AlwaysAllow");
                Some((
                    key,
                    PdbStatus {
                        disruptions_allowed: status.disruptions_allowed,
                        always_allow_unhealthy: always_allow,
                    },
                ))
            })
            .collect();
        let pods = index.pods.state();
        let pod_start_times = pods
            .iter()
            .filter_map(|pod| {
                let start = pod
                    .status
                    .as_ref()?
                    .start_time
                    .as_ref()
                    .and_then(to_chrono)?;
                Some((pod.metadata.uid.clone()?, start))
            })
            .collect();
        let unready_pods = pods
            .iter()
            .filter(|pod| !pod_ready(pod))
            .filter_map(|pod| pod.metadata.uid.clone())
            .collect();
        Self {
            snapshot,
            nodes,
            pools,
            pdb_status,
            pod_start_times,
            unready_pods,
        }
    }

    /// The facts as joist-core's input.
    pub fn input(&self) -> DisruptionInput<'_> {
        DisruptionInput {
            snapshot: &self.snapshot,
            nodes: &self.nodes,
            pools: &self.pools,
            pdb_status: &self.pdb_status,
            pod_start_times: &self.pod_start_times,
            unready_pods: &self.unready_pods,
        }
    }

    /// Marks `nodes` (whose NodeClaims a command deleted) as queued and marked for deletion,
    /// as upstream's queue and cluster state do, so that until the watch shows the deletion
    /// they are no candidates and count against budgets.
    pub fn mark_deleting(&mut self, nodes: &BTreeSet<String>) {
        for node in self
            .snapshot
            .nodes
            .iter_mut()
            .filter(|n| nodes.contains(&n.name))
        {
            node.marked_for_deletion = true;
        }
        for (_, state) in self.nodes.iter_mut().filter(|(n, _)| nodes.contains(*n)) {
            state.queued = true;
        }
    }

    /// The NodeClaim name of the snapshot node `node`.
    pub fn nodeclaim_of(&self, node: &str) -> Option<&str> {
        self.snapshot
            .nodes
            .iter()
            .find(|n| n.name == node)?
            .nodeclaim
            .as_deref()
    }
}

/// A NodePool's `spec.disruption` with the CRD defaults. A pool whose budgets or
/// `consolidateAfter` do not convert gets `consolidateAfter: Never`: nothing of it is emptied or
/// consolidated until it is fixed (admission rejects such pools, so this is a safety net).
pub fn pool_disruption(pool: &NodePool) -> PoolDisruption {
    let disruption = pool.spec.disruption.as_ref();
    let policy = match disruption.and_then(|d| d.consolidation_policy.as_deref()) {
        Some("WhenEmpty") => ConsolidationPolicy::WhenEmpty,
        Some("Balanced") => ConsolidationPolicy::Balanced,
        _ => ConsolidationPolicy::WhenEmptyOrUnderutilized,
    };
    let after = disruption
        .and_then(|d| d.consolidate_after.as_deref())
        .unwrap_or(joist_api::nodepool::DEFAULT_CONSOLIDATE_AFTER);
    match (NillableDuration::parse(after), pool.budgets()) {
        (Ok(consolidate_after), Ok(budgets)) => PoolDisruption {
            consolidation_policy: policy,
            consolidate_after,
            budgets,
        },
        (after, budgets) => {
            tracing::error!(
                controller = "disruption",
                NodePool = %pool.name(),
                consolidate_after = ?after.err(),
                budgets = ?budgets.err(),
                "invalid disruption settings, not disrupting the pool"
            );
            PoolDisruption {
                consolidation_policy: policy,
                consolidate_after: NillableDuration::never(),
                ..PoolDisruption::default()
            }
        }
    }
}

/// A node's disruption facts (§4.3 computes `consolidatable` from the NodePool's
/// `consolidateAfter`, the NodeClaim's initialization and the last pod event).
fn node_state(
    node: &Node,
    claim: Option<&NodeClaim>,
    pools: &BTreeMap<String, PoolDisruption>,
    pod_event: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NodeDisruptionState {
    let condition = |type_: &str| {
        claim
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
    };
    let initialized_at = condition(INITIALIZED).and_then(|c| to_chrono(&c.last_transition_time));
    let recorded_event = claim
        .and_then(|c| c.status.as_ref())
        .and_then(|s| s.last_pod_event_time.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let last_pod_event = pod_event.max(recorded_event);
    let pool = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(NODEPOOL))
        .and_then(|name| pools.get(name));
    let consolidatable = pool.is_some_and(|pool| {
        is_consolidatable(&pool.consolidate_after, initialized_at, last_pod_event, now)
    });
    NodeDisruptionState {
        annotations: node.metadata.annotations.clone().unwrap_or_default(),
        ready: is_node_ready(node),
        instance_terminating: claim.is_some_and(|c| condition_true(c, INSTANCE_TERMINATING)),
        consolidatable,
        queued: false,
        created: claim
            .and_then(|c| c.metadata.creation_timestamp.as_ref())
            .and_then(to_chrono),
        termination_grace_period: claim.and_then(|c| c.spec.termination_grace_period.clone()),
    }
}

/// Whether the NodeClaim's condition `type_` is `True`.
pub fn condition_true(claim: &NodeClaim, type_: &str) -> bool {
    claim
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// Whether the Node's `Ready` condition is `True`.
pub fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool(disruption: &serde_json::Value) -> NodePool {
        serde_json::from_value(json!({
            "metadata": {"name": "default"},
            "spec": {"disruption": disruption, "template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [],
            }}},
        }))
        .expect("a NodePool")
    }

    #[test]
    fn pool_disruption_applies_the_crd_defaults() {
        let converted = pool_disruption(&pool(&json!({})));
        assert_eq!(converted, PoolDisruption::default());
    }

    #[test]
    fn pool_disruption_reads_policy_consolidate_after_and_budgets() {
        let converted = pool_disruption(&pool(&json!({
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": "30s",
            "budgets": [{"nodes": "100%"}, {"nodes": "0", "reasons": ["Drifted"]}],
        })));
        assert_eq!(
            converted.consolidation_policy,
            ConsolidationPolicy::WhenEmpty
        );
        assert_eq!(
            converted.consolidate_after.duration(),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(converted.budgets.len(), 2);
    }

    #[test]
    fn deleting_nodes_are_queued_and_marked_for_deletion() {
        let node = |name: &str| joist_core::snapshot::Node {
            name: name.to_owned(),
            ..joist_core::snapshot::Node::default()
        };
        let mut facts = Facts {
            snapshot: Snapshot {
                nodes: vec![node("a"), node("b")],
                ..Snapshot::default()
            },
            nodes: BTreeMap::from([
                ("a".to_owned(), NodeDisruptionState::default()),
                ("b".to_owned(), NodeDisruptionState::default()),
            ]),
            pools: BTreeMap::new(),
            pdb_status: BTreeMap::new(),
            pod_start_times: BTreeMap::new(),
            unready_pods: BTreeSet::new(),
        };
        facts.mark_deleting(&BTreeSet::from(["a".to_owned()]));
        let marked: Vec<bool> = facts
            .snapshot
            .nodes
            .iter()
            .map(|n| n.marked_for_deletion)
            .collect();
        assert_eq!(marked, [true, false]);
        assert!(facts.nodes["a"].queued);
        assert!(!facts.nodes["b"].queued);
    }

    #[test]
    fn an_invalid_pool_is_never_consolidated() {
        let converted = pool_disruption(&pool(&json!({"consolidateAfter": "soon"})));
        assert!(converted.consolidate_after.is_never());
    }
}
