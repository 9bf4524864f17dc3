//! Drain planning (spec core §3.3 step 5): which of a node's pods the drain still waits for,
//! which must be deleted now because the NodeClaim's terminationGracePeriod deadline leaves
//! them no time, and which eviction tier goes next. Pure: the clock is an argument.

use k8s_openapi::api::core::v1::{Pod, Toleration};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// The taint key every draining node carries (`karpenter.sh/disrupted:NoSchedule`); pods that
/// tolerate it would come straight back, so the drain neither evicts nor waits for them.
pub const DISRUPTED_TAINT_KEY: &str = "karpenter.sh/disrupted";
/// The pod annotation that holds a pod's eviction (but not a TGP force-delete).
pub const DO_NOT_DISRUPT_ANNOTATION: &str = "karpenter.sh/do-not-disrupt";
/// The annotation the kubelet puts on mirror pods of static pods.
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// A pod still terminating this long after its deletionTimestamp is "stuck": the drain stops
/// waiting for it (upstream's hard-coded 1 min).
pub const STUCK_TERMINATING_AFTER: Duration = Duration::from_secs(60);
/// The shortest time a drain lasts after `Drained` went Unknown (upstream `MinDrainTime`).
pub const MIN_DRAIN_TIME: Duration = Duration::from_secs(5);
/// The pod grace period Kubernetes defaults to when the spec leaves it unset.
const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// Upstream's eviction tiers, in eviction order: only the first tier with a pod still waiting
/// is evicted, so critical and DaemonSet pods keep serving until the rest are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvictionTier {
    /// Not `system-cluster-critical`/`system-node-critical`, not owned by a DaemonSet.
    NonCriticalNonDaemon,
    /// Not critical, owned by a DaemonSet.
    NonCriticalDaemon,
    /// Critical priority class, not owned by a DaemonSet.
    CriticalNonDaemon,
    /// Critical priority class, owned by a DaemonSet.
    CriticalDaemon,
}

impl EvictionTier {
    /// Every tier in eviction order.
    pub const ORDER: [EvictionTier; 4] = [
        EvictionTier::NonCriticalNonDaemon,
        EvictionTier::NonCriticalDaemon,
        EvictionTier::CriticalNonDaemon,
        EvictionTier::CriticalDaemon,
    ];

    /// The tier a pod belongs to.
    pub fn of(pod: &Pod) -> EvictionTier {
        let critical = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.priority_class_name.as_deref())
            .is_some_and(|class| {
                class == "system-cluster-critical" || class == "system-node-critical"
            });
        match (critical, is_owned_by(pod, "apps/v1", "DaemonSet")) {
            (false, false) => EvictionTier::NonCriticalNonDaemon,
            (false, true) => EvictionTier::NonCriticalDaemon,
            (true, false) => EvictionTier::CriticalNonDaemon,
            (true, true) => EvictionTier::CriticalDaemon,
        }
    }
}

/// Identifies a pod for the Eviction and Delete calls; the UID is the precondition that keeps
/// a call from hitting a new pod with the same name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's UID (empty when the object had none).
    pub uid: String,
}

impl PodKey {
    /// The key of `pod`.
    pub fn of(pod: &Pod) -> PodKey {
        PodKey {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// A pod the TGP deadline forces out: deleted directly (no PDB, no do-not-disrupt), with its
/// grace period clamped so it ends by the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForceDelete {
    /// The pod.
    pub pod: PodKey,
    /// `max(deadline − now, 1)` in whole seconds.
    pub grace_period_seconds: i64,
}

/// The tier being drained now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPlan {
    /// Which tier.
    pub tier: EvictionTier,
    /// Its pods the Eviction API should be called for (not yet terminating, not being
    /// force-deleted, no active do-not-disrupt).
    pub evict: Vec<PodKey>,
    /// Its pods held back by an active `karpenter.sh/do-not-disrupt`: the drain waits for them
    /// (upstream requeues them with backoff until the TGP deadline forces them).
    pub held: Vec<PodKey>,
}

/// What one drain pass should do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrainPlan {
    /// Pods to delete now because of the TGP deadline, whatever their tier.
    pub force_delete: Vec<ForceDelete>,
    /// The first tier with a pod still waiting, if any.
    pub tier: Option<TierPlan>,
    /// Pods the drain waits for in all tiers (upstream's "N pods are waiting to be evicted").
    pub waiting: usize,
}

impl DrainPlan {
    /// Whether no pod is waiting any more (the caller still applies [`MIN_DRAIN_TIME`]).
    pub fn is_drained(&self) -> bool {
        self.waiting == 0
    }
}

/// Plans one drain pass over the pods bound to a node, at `now`, with the NodeClaim's
/// termination deadline (`karpenter.sh/nodeclaim-termination-timestamp`) if it has one.
/// Pods come back in the input's order within each list.
pub fn plan_drain(pods: &[Pod], now: Timestamp, deadline: Option<Timestamp>) -> DrainPlan {
    let mut plan = DrainPlan::default();
    let mut tiers: [Vec<&Pod>; 4] = Default::default();
    for pod in pods.iter().filter(|pod| is_waiting_eviction(pod, now)) {
        plan.waiting += 1;
        if let Some(deadline) = deadline
            && must_force_delete(pod, now, deadline)
        {
            let remaining = deadline.duration_since(now).as_secs();
            plan.force_delete.push(ForceDelete {
                pod: PodKey::of(pod),
                grace_period_seconds: remaining.max(1),
            });
        }
        tiers[EvictionTier::of(pod) as usize].push(pod);
    }
    plan.tier = EvictionTier::ORDER
        .into_iter()
        .zip(tiers)
        .find(|(_, pods)| !pods.is_empty())
        .map(|(tier, pods)| tier_plan(tier, &pods, now, &plan.force_delete));
    plan
}

/// The evictable and held pods of the tier being drained; pods being force-deleted are in
/// neither (they still keep the tier current until they are gone).
fn tier_plan(
    tier: EvictionTier,
    pods: &[&Pod],
    now: Timestamp,
    forced: &[ForceDelete],
) -> TierPlan {
    let mut plan = TierPlan {
        tier,
        evict: Vec::new(),
        held: Vec::new(),
    };
    for pod in pods.iter().filter(|pod| !is_terminating(pod)) {
        let key = PodKey::of(pod);
        if forced.iter().any(|force| force.pod == key) {
            continue;
        }
        if has_active_do_not_disrupt(pod, now) {
            plan.held.push(key);
        } else {
            plan.evict.push(key);
        }
    }
    plan
}

/// Upstream `IsWaitingEviction`: the drain is not done while such a pod exists.
pub fn is_waiting_eviction(pod: &Pod, now: Timestamp) -> bool {
    !is_terminal(pod)
        && !is_stuck_terminating(pod, now)
        && !tolerates_disrupted_taint(pod)
        && !is_mirror(pod)
}

/// Whether the pod's grace period would run past the TGP deadline: not yet terminating and
/// `now > deadline − terminationGracePeriodSeconds`, or terminating with a deletionTimestamp
/// after the deadline.
fn must_force_delete(pod: &Pod, now: Timestamp, deadline: Timestamp) -> bool {
    match deletion_timestamp(pod) {
        Some(deleted_at) => deleted_at > deadline,
        None => {
            let grace = pod
                .spec
                .as_ref()
                .and_then(|spec| spec.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_POD_GRACE_SECONDS);
            // A deadline so early that subtracting overflows has long passed.
            deadline
                .checked_sub(SignedDuration::from_secs(grace))
                .is_ok_and(|start| now > start)
        }
    }
}

/// Phase `Succeeded` or `Failed`.
fn is_terminal(pod: &Pod) -> bool {
    let phase = pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// The pod's deletionTimestamp, if it is being deleted.
fn deletion_timestamp(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.deletion_timestamp.as_ref().map(|time| time.0)
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Terminating for longer than [`STUCK_TERMINATING_AFTER`].
fn is_stuck_terminating(pod: &Pod, now: Timestamp) -> bool {
    deletion_timestamp(pod).is_some_and(|deleted_at| {
        deleted_at
            .checked_add(STUCK_TERMINATING_AFTER)
            .is_ok_and(|stuck| now > stuck)
    })
}

/// A mirror pod (static pod): owned by its Node or annotated by the kubelet. It cannot be
/// evicted and goes away with the node.
fn is_mirror(pod: &Pod) -> bool {
    is_owned_by(pod, "v1", "Node")
        || pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|annotations| annotations.contains_key(MIRROR_POD_ANNOTATION))
}

fn is_owned_by(pod: &Pod, api_version: &str, kind: &str) -> bool {
    pod.metadata
        .owner_references
        .as_ref()
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner.api_version == api_version && owner.kind == kind)
        })
}

/// Whether some toleration of the pod tolerates `karpenter.sh/disrupted:NoSchedule`.
fn tolerates_disrupted_taint(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.tolerations.as_ref())
        .is_some_and(|tolerations| tolerations.iter().any(tolerates_disrupted))
}

/// Kubernetes' toleration matching against the disrupted taint (value empty).
fn tolerates_disrupted(toleration: &Toleration) -> bool {
    let effect_matches = toleration
        .effect
        .as_deref()
        .is_none_or(|effect| effect.is_empty() || effect == "NoSchedule");
    let key = toleration.key.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    let key_matches = key == DISRUPTED_TAINT_KEY || (key.is_empty() && operator == "Exists");
    let value_matches =
        operator == "Exists" || toleration.value.as_deref().unwrap_or_default().is_empty();
    effect_matches && key_matches && value_matches
}

/// An active `karpenter.sh/do-not-disrupt`: `"true"`, or a positive Go duration not yet
/// elapsed since the pod started. Other values are ignored, as upstream ignores them.
pub fn has_active_do_not_disrupt(pod: &Pod, now: Timestamp) -> bool {
    let Some(value) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(DO_NOT_DISRUPT_ANNOTATION))
    else {
        return false;
    };
    if value == "true" {
        return true;
    }
    let Ok(duration) = joist_core::duration::parse_go_duration(value) else {
        return false;
    };
    let started = pod
        .status
        .as_ref()
        .and_then(|status| status.start_time.as_ref());
    // An end past the representable range never comes.
    !duration.is_zero()
        && started.is_none_or(|started| {
            started
                .0
                .checked_add(duration)
                .map_or(true, |end| now < end)
        })
}
