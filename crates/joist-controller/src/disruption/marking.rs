//! The `DisruptionReason` NodeClaim condition (spec core §4.1 step 2, §4.12 step 3): a command
//! sets it, with its reason (`Empty`, `Drifted`, `Underutilized`), on each candidate's NodeClaim
//! when it taints the node; untainting clears it, and so does the cleanup for NodeClaims no
//! command owns. Node termination reads it as the `reason` of `karpenter_pods_drained_total`.
//! Writes are guarded by the resourceVersion; a failed one is logged (the condition informs,
//! it decides nothing) and the cleanup retries the clearing on later passes.

use joist_api::nodeclaim::NodeClaim;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::Disruption;
use crate::conditions::{Conditions, TRUE};
use crate::index::provider_id_of_node;
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;

/// The condition a command puts on its candidates' NodeClaims.
pub const DISRUPTION_REASON: &str = "DisruptionReason";

/// The reason of the NodeClaim's `DisruptionReason=True` condition, if it has one.
pub fn disruption_reason(claim: &NodeClaim) -> Option<&str> {
    claim
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == DISRUPTION_REASON && c.status == TRUE)
        .map(|c| c.reason.as_str())
}

/// `claim`'s conditions with `DisruptionReason=True(reason)`, or without the condition when
/// `reason` is `None`; `None` when nothing would change.
pub fn with_disruption_reason(
    claim: &NodeClaim,
    reason: Option<&str>,
    now: Timestamp,
) -> Option<Vec<Condition>> {
    let old = claim.status.as_ref().and_then(|s| s.conditions.as_deref());
    let present = old
        .into_iter()
        .flatten()
        .any(|c| c.type_ == DISRUPTION_REASON);
    match reason {
        Some(reason) if disruption_reason(claim) == Some(reason) => None,
        Some(reason) => {
            let mut conditions = Conditions::new(old, claim.metadata.generation);
            conditions.set(DISRUPTION_REASON, TRUE, reason, "", now);
            Some(conditions.into_list())
        }
        None if !present => None,
        None => Some(
            old.into_iter()
                .flatten()
                .filter(|c| c.type_ != DISRUPTION_REASON)
                .cloned()
                .collect(),
        ),
    }
}

impl<P: CloudProvider> Disruption<P> {
    /// Sets (`Some`) or clears (`None`) the `DisruptionReason` of `node`'s NodeClaim.
    pub(super) async fn mark_reason(&self, node: &Node, reason: Option<&str>) {
        let Some(provider_id) = provider_id_of_node(node) else {
            return;
        };
        for claim in self.index.nodeclaims_with_provider_id(provider_id) {
            let claim = &claim.0;
            let Some(conditions) = with_disruption_reason(claim, reason, Timestamp::now()) else {
                continue;
            };
            let patch = json!({
                "metadata": {"resourceVersion": claim.metadata.resource_version},
                "status": {"conditions": conditions},
            });
            let written = Api::<NodeClaimObject>::all(self.client.clone())
                .patch_status(claim.name(), &PatchParams::default(), &Patch::Merge(&patch))
                .await;
            if let Err(error) = written {
                tracing::debug!(controller = "disruption", NodeClaim = %claim.name(), error = %error, "writing the DisruptionReason condition failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn claim(conditions: Vec<Condition>) -> NodeClaim {
        let mut claim: NodeClaim = serde_json::from_value(json!({
            "metadata": {"name": "default-abc"},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                     "requirements": []},
        }))
        .expect("a NodeClaim");
        claim.status = Some(joist_api::nodeclaim::NodeClaimStatus {
            conditions: Some(conditions),
            ..Default::default()
        });
        claim
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + second).expect("valid")
    }

    #[test]
    fn the_reason_is_set_once_and_cleared() {
        let launched = Condition {
            type_: "Launched".to_owned(),
            status: TRUE.to_owned(),
            reason: "Launched".to_owned(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(at(0)),
        };
        let fresh = claim(vec![launched.clone()]);
        assert_eq!(with_disruption_reason(&fresh, None, at(1)), None);
        let marked = claim(with_disruption_reason(&fresh, Some("Drifted"), at(1)).expect("set"));
        assert_eq!(disruption_reason(&marked), Some("Drifted"));
        assert_eq!(
            with_disruption_reason(&marked, Some("Drifted"), at(2)),
            None
        );
        let changed = with_disruption_reason(&marked, Some("Empty"), at(2)).expect("changed");
        assert_eq!(disruption_reason(&claim(changed)), Some("Empty"));
        assert_eq!(
            with_disruption_reason(&marked, None, at(3)),
            Some(vec![launched])
        );
    }
}
