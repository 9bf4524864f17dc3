//! Static capacity (spec core §4.15, gate `StaticCapacity`; upstream `static.provisioning` and
//! `static.deprovisioning`): a NodePool with `spec.replicas` keeps exactly that many NodeClaims,
//! created from its template (the provider picks the instance type) and removed in upstream's
//! preference order. Budgets do not apply to either direction; `limits.nodes` caps scale-up.

use std::collections::BTreeMap;
use std::time::Duration;

use super::DisruptionInput;
use super::candidates::{disruption_cost, lifetime_remaining};
use crate::labels::{
    LabelAliases, NODEPOOL, NODEPOOL_HASH, NODEPOOL_HASH_VERSION, NODEPOOL_HASH_VERSION_VALUE,
};
use crate::requirements::Requirements;
use crate::scheduling::NewNodeClaim;
use crate::snapshot::{NodePool, Pod};

/// Requeue after a reconcile that acted or found the pool satisfied.
pub const STATIC_REQUEUE: Duration = Duration::from_secs(60);
/// Requeue when `limits.nodes` leaves no room ("nodepool node limit reached").
pub const STATIC_LIMIT_REQUEUE: Duration = Duration::from_secs(30);

/// The cluster-state NodeClaim counts of one static NodePool (upstream `NodePoolState`), which
/// static provisioning, static drift and deprovisioning share to avoid double-creating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StaticPoolState {
    /// NodeClaims that are neither deleting nor being replaced for drift.
    pub active: usize,
    /// NodeClaims being deleted.
    pub deleting: usize,
    /// Drifted NodeClaims whose replacement a StaticDrift command is creating.
    pub pending_disruption: usize,
    /// Node-count headroom already reserved for NodeClaims being created.
    pub reserved: usize,
}

impl StaticPoolState {
    /// Every NodeClaim the pool holds or is about to hold.
    fn total(&self) -> usize {
        self.active + self.deleting + self.pending_disruption
    }

    /// Upstream `ReserveNodeCount`: grants up to `wanted` nodes so that active + deleting +
    /// pending-disruption + reserved stays within `node_limit` (`None`: unlimited), records the
    /// grant in [`Self::reserved`] and returns it.
    pub fn reserve(&mut self, node_limit: Option<u64>, wanted: usize) -> usize {
        let room = node_limit.map_or(usize::MAX, |limit| {
            let used = (self.total() + self.reserved) as u64;
            usize::try_from(limit.saturating_sub(used)).unwrap_or(usize::MAX)
        });
        let granted = wanted.min(room);
        self.reserved += granted;
        granted
    }
}

/// `spec.limits.nodes` as a count (`None` when the pool has no node limit); a negative limit
/// allows nothing.
pub fn node_limit(pool: &NodePool) -> Option<u64> {
    let limit = pool.limits.get("nodes")?.value();
    Some(u64::try_from(limit.max(0)).unwrap_or(u64::MAX))
}

/// What static provisioning decided for one NodePool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticProvisioning {
    /// How many NodeClaims to create from the template (reason `provisioned`).
    pub create: usize,
    /// Whether `limits.nodes` left no room although NodeClaims are missing (upstream logs
    /// "nodepool node limit reached").
    pub limit_reached: bool,
    /// When to reconcile again.
    pub requeue_after: Duration,
}

/// Upstream `static.provisioning` for one pool (the driver checks that cluster state synced
/// once): nothing for dynamic or not-Ready pools; nothing while active + pending-disruption
/// NodeClaims reach `replicas` (drift replacements are in flight); otherwise reserve up to
/// `replicas − active` under `limits.nodes` and create that many.
pub fn static_scale_up(pool: &NodePool, state: &mut StaticPoolState) -> Option<StaticProvisioning> {
    let replicas = usize::try_from(pool.replicas?.max(0)).unwrap_or(usize::MAX);
    if !pool.ready {
        return None;
    }
    if state.active + state.pending_disruption >= replicas {
        return Some(StaticProvisioning {
            create: 0,
            limit_reached: false,
            requeue_after: STATIC_REQUEUE,
        });
    }
    let create = state.reserve(node_limit(pool), replicas - state.active);
    Some(StaticProvisioning {
        create,
        limit_reached: create == 0,
        requeue_after: if create == 0 {
            STATIC_LIMIT_REQUEUE
        } else {
            STATIC_REQUEUE
        },
    })
}

/// A NodeClaim of a static pool that has not launched yet (no providerID), which the snapshot
/// does not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlaunchedNodeClaim {
    /// `metadata.name`.
    pub name: String,
    /// Whether it already has a deletion timestamp.
    pub deleting: bool,
}

/// Upstream `static.deprovisioning` for one pool: when active NodeClaims exceed `replicas`, the
/// NodeClaims to delete (forcefully, reason `overprovisioned`), in upstream's order:
/// 1. NodeClaims that have not launched, in listing order;
/// 2. nodes with no pods, or only DaemonSet pods none of which has `do-not-disrupt: "true"`;
/// 3. the rest, those without `do-not-disrupt` pods first, each group by rescheduling cost ×
///    lifetime remaining ascending (ties by node name).
///
/// Only running NodeClaims count toward the excess (replacements of drifted NodeClaims do not).
pub fn static_scale_down(
    input: &DisruptionInput<'_>,
    pool: &NodePool,
    state: &StaticPoolState,
    unlaunched: &[UnlaunchedNodeClaim],
) -> Vec<String> {
    let Some(replicas) = pool.replicas else {
        return Vec::new();
    };
    let excess = i64::try_from(state.active).unwrap_or(i64::MAX) - replicas.max(0);
    let Ok(excess) = usize::try_from(excess) else {
        return Vec::new();
    };
    let mut chosen: Vec<String> = unlaunched
        .iter()
        .filter(|nc| !nc.deleting)
        .take(excess)
        .map(|nc| nc.name.clone())
        .collect();
    if chosen.len() < excess {
        let ranked = ranked_nodes(input, pool);
        chosen.extend(ranked.into_iter().take(excess - chosen.len()));
    }
    chosen
}

/// The pool's launched, not-deleting NodeClaims in deprovisioning order (see
/// [`static_scale_down`]).
fn ranked_nodes(input: &DisruptionInput<'_>, pool: &NodePool) -> Vec<String> {
    let snapshot = input.snapshot;
    let mut pods_by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in &snapshot.pods {
        if let Some(node) = pod.node_name.as_deref() {
            pods_by_node.entry(node).or_default().push(pod);
        }
    }
    // (group, cost, node name, nodeclaim): group 0 empty, 1 without do-not-disrupt, 2 with.
    let mut ranked: Vec<(u8, f64, &str, &str)> = Vec::new();
    for node in &snapshot.nodes {
        let in_pool = node.labels.get(NODEPOOL).map(String::as_str) == Some(pool.name.as_str());
        let Some(nodeclaim) = node.nodeclaim.as_deref().filter(|_| in_pool) else {
            continue;
        };
        if node.marked_for_deletion {
            continue;
        }
        let pods = pods_by_node
            .get(node.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let has_do_not_disrupt = pods.iter().any(|p| p.do_not_disrupt() == Some("true"));
        let empty = pods.iter().all(|p| p.is_daemonset_pod()) && !has_do_not_disrupt;
        let created = input.node_state(&node.name).created;
        let cost = disruption_cost(
            pods.iter().copied(),
            lifetime_remaining(pool, created, snapshot.now),
        );
        let group = if empty {
            0
        } else {
            1 + u8::from(has_do_not_disrupt)
        };
        ranked.push((group, if empty { 0.0 } else { cost }, &node.name, nodeclaim));
    }
    ranked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.total_cmp(&b.1))
            .then_with(|| a.2.cmp(b.2))
    });
    ranked
        .into_iter()
        .map(|(_, _, _, nc)| nc.to_owned())
        .collect()
}

/// A NodeClaim straight from a static pool's template (upstream `NewNodeClaimTemplate` with no
/// pods): template labels plus the NodePool and node-class labels, template annotations plus the
/// hash annotations, the pool's requirements with the labels as `In` requirements, no instance
/// type list (the provider picks) and no requests.
pub fn template_nodeclaim(pool: &NodePool, aliases: &LabelAliases) -> NewNodeClaim {
    let mut labels = pool.labels.clone();
    labels.insert(NODEPOOL.into(), pool.name.clone());
    let (class_key, class_value) = pool.node_class_ref.label();
    labels.insert(class_key, class_value);
    let mut annotations = pool.annotations.clone();
    annotations.insert(NODEPOOL_HASH.into(), pool.hash.clone());
    annotations.insert(
        NODEPOOL_HASH_VERSION.into(),
        NODEPOOL_HASH_VERSION_VALUE.into(),
    );
    let mut requirements = pool.requirements.clone();
    requirements.add_all(&Requirements::from_labels(&labels, aliases));
    NewNodeClaim {
        nodepool: pool.name.clone(),
        labels,
        annotations,
        requirements,
        instance_types: Vec::new().into(),
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
