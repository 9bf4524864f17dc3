//! What the disruption loop publishes (spec core §4.2, §4.12, §6.1, §6.2): `DisruptionBlocked`
//! on nodes that are no candidates and on NodePools whose budget allows nothing,
//! `Unconsolidatable`, `ConsolidationRejected` when a command fails validation,
//! `DisruptionLaunching` / `DisruptionWaitingReadiness` on replacements,
//! `DisruptionTerminating` on the candidates it deletes; the eligible-nodes and
//! allowed-disruptions gauges, and the decision and disrupted counters with upstream's labels.
//! An event that cannot be written is logged and never fails the pass.

use joist_api::nodeclaim::NodeClaim;
use joist_core::disruption::{
    BlockReason, Command, ConsolidationPolicy, DisruptionInput, pool_allowances,
};
use joist_core::duration::parse_go_duration;
use joist_core::labels::{CAPACITY_TYPE, NODEPOOL};
use joist_core::nodepool::budgets::DisruptionReason;
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;

use super::Disruption;
use super::facts::Facts;
use crate::events::{self, Event};
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;

/// Which method produced a command (upstream's `consolidation_type` label and reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// Emptiness.
    Empty,
    /// Drift.
    Drift,
    /// Multi-node consolidation.
    Multi,
    /// Single-node consolidation.
    Single,
}

impl MethodKind {
    /// The `consolidation_type` label: `empty`, `multi`, `single`, and "" for drift.
    pub const fn consolidation_type(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Drift => "",
            Self::Multi => "multi",
            Self::Single => "single",
        }
    }

    /// The method's disruption reason.
    pub const fn reason(self) -> DisruptionReason {
        match self {
            Self::Empty => DisruptionReason::Empty,
            Self::Drift => DisruptionReason::Drifted,
            Self::Multi | Self::Single => DisruptionReason::Underutilized,
        }
    }
}

/// A reason as the counters spell it: lower (snake) case (`empty`, `drifted`, `underutilized`).
pub fn metric_reason(reason: DisruptionReason) -> String {
    reason.as_str().to_lowercase()
}

/// The `termination_mode` label from the NodeClaim's `terminationGracePeriod`: none ⇒
/// `graceful`, zero or less ⇒ `forceful`, otherwise `eventual`.
pub fn termination_mode(claim: &NodeClaim) -> &'static str {
    let Some(text) = claim.spec.termination_grace_period.as_deref() else {
        return "graceful";
    };
    match parse_go_duration(text) {
        Ok(duration) if duration.is_zero() => "forceful",
        Ok(_) => "eventual",
        // A negative duration does not parse as a std Duration: it is "≤ 0".
        Err(_) if text.starts_with('-') => "forceful",
        Err(_) => "graceful",
    }
}

/// The `consolidation_policy` label: the pool's policy in snake case for consolidation
/// reasons, "" for drift.
pub fn consolidation_policy_label(
    reason: DisruptionReason,
    policy: ConsolidationPolicy,
) -> &'static str {
    if reason == DisruptionReason::Drifted {
        return "";
    }
    match policy {
        ConsolidationPolicy::WhenEmpty => "when_empty",
        ConsolidationPolicy::WhenEmptyOrUnderutilized => "when_empty_or_underutilized",
        ConsolidationPolicy::Balanced => "balanced",
    }
}

/// The disrupted-counter labels of `claim` for `reason` with `policy` (already a label value).
pub fn disrupted_labels(claim: &NodeClaim, reason: &str, policy: &'static str) -> [String; 5] {
    let label = |key: &str| {
        claim
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_default()
    };
    [
        reason.to_owned(),
        label(NODEPOOL),
        label(CAPACITY_TYPE),
        policy.to_owned(),
        termination_mode(claim).to_owned(),
    ]
}

/// A reference to a Node, as events name it.
pub fn node_ref(node: &Node) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: node.metadata.name.clone(),
        uid: node.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// A reference to a NodeClaim, as events name it.
pub fn claim_ref(claim: &NodeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some(joist_api::nodeclaim::API_VERSION.to_owned()),
        kind: Some(joist_api::nodeclaim::KIND.to_owned()),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

impl<P: CloudProvider> Disruption<P> {
    /// Publishes `event`; a failure is logged only.
    pub(super) async fn publish(&self, event: Event) {
        if let Err(error) = self.recorder.publish(&event).await {
            tracing::debug!(controller = "disruption", error = %error, "publishing an event failed");
        }
    }

    /// The Node named `node` and the NodeClaim of it (by the snapshot, else by name: a
    /// NodeClaim without a Node is listed under its own name).
    fn objects_of(
        &self,
        facts: &Facts,
        node: &str,
    ) -> (Option<Arc<Node>>, Option<Arc<NodeClaimObject>>) {
        let node_object = self.index.nodes.get(&ObjectRef::new(node));
        let claim_name = facts.nodeclaim_of(node).unwrap_or(node);
        let claim = self.index.nodeclaims.get(&ObjectRef::new(claim_name));
        (node_object, claim)
    }

    /// Publishes `make(object)` on the Node and the NodeClaim behind `node`.
    pub(super) async fn publish_on_both(
        &self,
        facts: &Facts,
        node: &str,
        make: impl Fn(&ObjectReference) -> Event,
    ) {
        let (node_object, claim) = self.objects_of(facts, node);
        if let Some(node_object) = node_object {
            self.publish(make(&node_ref(&node_object))).await;
        }
        if let Some(claim) = claim {
            self.publish(make(&claim_ref(&claim.0))).await;
        }
    }

    /// `DisruptionBlocked` on the managed nodes that are no candidates (upstream publishes
    /// nothing for unmanaged nodes or those already in the queue).
    pub(super) async fn publish_blocked(&self, facts: &Facts, blocked: &[(String, BlockReason)]) {
        for (node, reason) in blocked {
            if matches!(reason, BlockReason::Unmanaged | BlockReason::AlreadyQueued) {
                continue;
            }
            let message = reason.to_string();
            self.publish_on_both(facts, node, |object| {
                events::disruption_blocked(object, &message)
            })
            .await;
        }
    }

    /// `DisruptionBlocked` with a free-form message (Drift's unschedulable pods).
    pub(super) async fn publish_blocked_messages(
        &self,
        facts: &Facts,
        blocked: &[(String, String)],
    ) {
        for (node, message) in blocked {
            self.publish_on_both(facts, node, |object| {
                events::disruption_blocked(object, message)
            })
            .await;
        }
    }

    /// `Unconsolidatable` on each node and its NodeClaim.
    pub(super) async fn publish_unconsolidatable(&self, facts: &Facts, nodes: &[(String, String)]) {
        for (node, message) in nodes {
            self.publish_on_both(facts, node, |object| {
                events::unconsolidatable(object, message)
            })
            .await;
        }
    }

    /// A method's bookkeeping before it decides: the eligible-nodes gauge, each pool's allowed
    /// disruptions for the method's reason, and `DisruptionBlocked` on pools whose budget
    /// allows none (upstream `BuildDisruptionBudgetMapping`).
    pub(super) async fn observe_budgets(
        &self,
        input: &DisruptionInput<'_>,
        kind: MethodKind,
        eligible: usize,
    ) {
        let reason = kind.reason();
        self.metrics
            .eligible_nodes
            .set(&[&metric_reason(reason)], eligible as f64);
        for (pool, allowance) in pool_allowances(input, reason) {
            self.metrics
                .allowed_disruptions
                .set(&[&pool, reason.as_str()], f64::from(allowance.allowed));
            if !allowance.is_blocked() {
                continue;
            }
            let object =
                self.index
                    .nodepools
                    .find(|p| p.0.name() == pool)
                    .map(|p| ObjectReference {
                        api_version: Some("karpenter.sh/v1".to_owned()),
                        kind: Some("NodePool".to_owned()),
                        name: p.0.metadata.name.clone(),
                        uid: p.0.metadata.uid.clone(),
                        ..ObjectReference::default()
                    });
            if let Some(object) = object {
                self.publish(events::nodepool_disruption_blocked(
                    &object,
                    reason.as_str(),
                ))
                .await;
            }
        }
    }

    /// `karpenter_voluntary_disruption_decisions_total` and its per-NodePool twin, once a
    /// command has started.
    pub(super) fn record_decision(&self, command: &Command, kind: MethodKind) {
        let decision = command.decision.as_str();
        let reason = metric_reason(command.reason);
        let kind_label = kind.consolidation_type();
        self.metrics
            .disruption_decisions
            .inc(&[decision, &reason, kind_label]);
        let pools: std::collections::BTreeSet<&str> = command
            .candidates
            .iter()
            .map(|c| c.nodepool.as_str())
            .collect();
        for pool in pools {
            self.metrics
                .disruption_decisions_by_nodepool
                .inc(&[pool, decision, &reason, kind_label]);
        }
    }

    /// Upstream's unrecoverable queue failure counter (its quirk: `consolidation_type` carries
    /// the decision).
    pub(super) fn record_queue_failure(&self, command: &Command) {
        let decision = command.decision.as_str();
        self.metrics
            .queue_failures
            .inc(&[decision, &metric_reason(command.reason), decision]);
    }

    /// A candidate's NodeClaim deleted by a command: `DisruptionTerminating` on its Node and
    /// NodeClaim, `karpenter_nodeclaims_disrupted_total` and
    /// `karpenter_pods_disruption_initiated_total`.
    pub(super) async fn record_terminating(
        &self,
        facts: &Facts,
        command: &Command,
        candidate: &joist_core::disruption::Candidate,
    ) {
        let reason = command.reason.as_str();
        self.publish_on_both(facts, &candidate.node, |object| {
            events::disruption_terminating(object, reason)
        })
        .await;
        let (_, claim) = self.objects_of(facts, &candidate.node);
        let Some(claim) = claim else {
            return;
        };
        let policy = facts
            .pools
            .get(&candidate.nodepool)
            .map(|p| p.consolidation_policy)
            .unwrap_or_default();
        let labels = disrupted_labels(
            &claim.0,
            &metric_reason(command.reason),
            consolidation_policy_label(command.reason, policy),
        );
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        self.metrics.nodeclaims_disrupted.inc(&labels);
        self.metrics
            .pods_disruption_initiated
            .inc_by(&labels, candidate.reschedulable_pods.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(tgp: Option<&str>) -> NodeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "default-abc", "labels": {
                "karpenter.sh/nodepool": "default", "karpenter.sh/capacity-type": "spot"}},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                     "requirements": [], "terminationGracePeriod": tgp},
        }))
        .expect("a NodeClaim")
    }

    #[test]
    fn termination_mode_follows_the_termination_grace_period() {
        assert_eq!(termination_mode(&claim(None)), "graceful");
        assert_eq!(termination_mode(&claim(Some("0s"))), "forceful");
        assert_eq!(termination_mode(&claim(Some("-1s"))), "forceful");
        assert_eq!(termination_mode(&claim(Some("1h"))), "eventual");
    }

    #[test]
    fn labels_are_upstreams_snake_case() {
        assert_eq!(
            metric_reason(DisruptionReason::Underutilized),
            "underutilized"
        );
        assert_eq!(
            consolidation_policy_label(DisruptionReason::Empty, ConsolidationPolicy::WhenEmpty),
            "when_empty"
        );
        assert_eq!(
            consolidation_policy_label(
                DisruptionReason::Underutilized,
                ConsolidationPolicy::WhenEmptyOrUnderutilized
            ),
            "when_empty_or_underutilized"
        );
        assert_eq!(
            consolidation_policy_label(DisruptionReason::Drifted, ConsolidationPolicy::Balanced),
            ""
        );
        assert_eq!(
            disrupted_labels(&claim(Some("1h")), "drifted", ""),
            ["drifted", "default", "spot", "", "eventual"].map(str::to_owned)
        );
        assert_eq!(MethodKind::Drift.consolidation_type(), "");
        assert_eq!(MethodKind::Single.reason(), DisruptionReason::Underutilized);
    }
}
