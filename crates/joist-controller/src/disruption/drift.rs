//! Drift in the controller (spec core §3.2 `nodeclaim.disruption`, §4.5): each pass evaluates
//! every launched NodeClaim with `joist_core::disruption::detect_drift` and keeps its `Drifted`
//! condition in step (set `True` with the drift reason, or removed), then the Drift method
//! replaces drifted nodes within the NodePools' `Drifted` budgets: candidates are tainted, the
//! replacements launched and awaited until `Initialized`, and only then are the candidates'
//! NodeClaims deleted. Drift has no validation delay (upstream runs none for it).
//!
//! The NodePool side of static drift is the hash of the NodePool's current template (what
//! upstream's `nodepool.hash` controller stamps as `karpenter.sh/nodepool-hash`), so a template
//! change is seen on the next pass rather than after an annotation round-trip.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use joist_api::nodeclaim::NodeClaim;
use joist_core::disruption::{
    Command, DriftLabels, DriftReason, DriftStatus, DriftedCondition, DriftedNodes,
    NoProviderDrift, NodeClaimFacts, NodePoolFacts, detect_drift,
};
use joist_core::labels::{
    NODEPOOL, NODEPOOL_HASH, NODEPOOL_HASH_VERSION, NODEPOOL_HASH_VERSION_VALUE,
};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::facts::{Facts, condition_true};
use super::{Disruption, DisruptionError, Pass};
use crate::conditions::{Conditions, TRUE};
use crate::node_termination::to_chrono;
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;

/// The NodeClaim condition the Drift method acts on.
pub const DRIFTED: &str = "Drifted";
/// `Launched`: drift is only evaluated for launched NodeClaims.
const LAUNCHED: &str = "Launched";

/// What a NodeClaim's `Drifted` condition should be after one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftUpdate {
    /// Nothing to write.
    Keep,
    /// Write these conditions (the `Drifted` condition set or removed).
    Write(Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>),
}

/// The new conditions of `claim` for `status`, or [`DriftUpdate::Keep`] when they would not
/// change. Setting `Drifted=True` keeps the transition time of an already-true condition (the
/// Drift method disrupts the oldest drift first); a changed reason rewrites reason and message.
pub fn drift_update(claim: &NodeClaim, status: &DriftStatus, now: Timestamp) -> DriftUpdate {
    let old = claim.status.as_ref().and_then(|s| s.conditions.as_deref());
    let mut conditions = Conditions::new(old, claim.metadata.generation);
    match status {
        DriftStatus::Unchanged => return DriftUpdate::Keep,
        DriftStatus::Drifted(reason) => {
            let current = conditions.get(DRIFTED);
            if current.is_some_and(|c| c.status == TRUE && c.reason == reason.as_str()) {
                return DriftUpdate::Keep;
            }
            // Upstream writes the reason as the message too.
            conditions.set(DRIFTED, TRUE, reason.as_str(), reason.as_str(), now);
        }
        DriftStatus::NotDrifted => {
            if conditions.get(DRIFTED).is_none() {
                return DriftUpdate::Keep;
            }
            let list = conditions
                .into_list()
                .into_iter()
                .filter(|c| c.type_ != DRIFTED)
                .collect();
            return DriftUpdate::Write(list);
        }
    }
    DriftUpdate::Write(conditions.into_list())
}

/// The `Drifted=True` condition of `claim`, if it has one.
fn drifted_condition(claim: &NodeClaim) -> Option<DriftedCondition> {
    let condition = claim
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == DRIFTED && c.status == TRUE)?;
    Some(DriftedCondition {
        reason: parse_reason(&condition.reason),
        since: to_chrono(&condition.last_transition_time)?,
    })
}

/// A `Drifted` condition reason as joist-core's (provider reasons pass through).
fn parse_reason(reason: &str) -> DriftReason {
    match reason {
        "NodePoolDrifted" => DriftReason::NodePoolDrifted,
        "RequirementsDrifted" => DriftReason::RequirementsDrifted,
        "InstanceTypeNotFound" => DriftReason::InstanceTypeNotFound,
        other => DriftReason::Provider(other.to_owned()),
    }
}

/// The drift facts of `claim` (`None` for a NodeClaim without a creation time, which the API
/// server always sets).
fn claim_facts(claim: &NodeClaim, check_passed: Option<DateTime<Utc>>) -> Option<NodeClaimFacts> {
    Some(NodeClaimFacts {
        name: claim.name().to_owned(),
        labels: claim.metadata.labels.clone().unwrap_or_default(),
        annotations: claim.metadata.annotations.clone().unwrap_or_default(),
        launched: condition_true(claim, LAUNCHED),
        created: claim
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(to_chrono)?,
        instance_type_check_passed: check_passed,
    })
}

/// The hash annotations of each NodePool of the snapshot, as the hash controller stamps them.
fn pool_hash_annotations(facts: &Facts) -> BTreeMap<&str, BTreeMap<String, String>> {
    facts
        .snapshot
        .nodepools
        .iter()
        .map(|pool| {
            let annotations = BTreeMap::from([
                (NODEPOOL_HASH.to_owned(), pool.hash.clone()),
                (
                    NODEPOOL_HASH_VERSION.to_owned(),
                    NODEPOOL_HASH_VERSION_VALUE.to_owned(),
                ),
            ]);
            (pool.name.as_str(), annotations)
        })
        .collect()
}

impl<P: CloudProvider> Disruption<P> {
    /// `nodeclaim.disruption`'s drift half: evaluates every non-deleting NodeClaim, writes the
    /// `Drifted` conditions that changed, and returns the drifted nodes by node name. A failed
    /// write is logged and retried next pass (the condition then keeps its old value).
    pub(super) async fn update_drift(&mut self, facts: &Facts) -> DriftedNodes {
        let now = Utc::now();
        let hashes = pool_hash_annotations(facts);
        let scheduling = &self.consolidation.scheduling;
        let labels = DriftLabels {
            aliases: &scheduling.label_aliases,
            reservation_id: scheduling.reservation_id_label.as_deref(),
        };
        let instance_types = self.provider.instance_types().clone();
        let node_of_claim: BTreeMap<&str, &str> = facts
            .snapshot
            .nodes
            .iter()
            .filter_map(|n| Some((n.nodeclaim.as_deref()?, n.name.as_str())))
            .collect();
        let mut drifted = DriftedNodes::new();
        let claims = self.index.nodeclaims.state();
        let mut checks = BTreeMap::new();
        for claim in claims.iter().map(|c| &c.0) {
            if claim.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let passed = self.instance_type_checks.get(claim.name()).copied();
            let Some(claim_facts) = claim_facts(claim, passed) else {
                continue;
            };
            let pool_name = claim.metadata.labels.as_ref().and_then(|l| l.get(NODEPOOL));
            let pool = pool_name.and_then(|name| {
                let spec = facts.snapshot.nodepools.iter().find(|p| &p.name == name)?;
                Some(NodePoolFacts {
                    annotations: hashes.get(spec.name.as_str())?,
                    requirements: &spec.requirements,
                    instance_types: &instance_types,
                })
            });
            let check = detect_drift(&claim_facts, pool, labels, &NoProviderDrift, now);
            if check.instance_type_check_passed {
                checks.insert(claim.name().to_owned(), now);
            } else if let Some(passed) = passed {
                checks.insert(claim.name().to_owned(), passed);
            }
            let condition = self.write_drift(claim, &check.status).await;
            if let (Some(condition), Some(node)) = (condition, node_of_claim.get(claim.name())) {
                drifted.insert((*node).to_owned(), condition);
            }
        }
        self.instance_type_checks = checks;
        drifted
    }

    /// Writes `claim`'s `Drifted` condition for `status` when it changes; the condition the
    /// NodeClaim has afterwards (the old one when the write failed).
    async fn write_drift(
        &self,
        claim: &NodeClaim,
        status: &DriftStatus,
    ) -> Option<DriftedCondition> {
        let now = Timestamp::now();
        let DriftUpdate::Write(conditions) = drift_update(claim, status, now) else {
            return drifted_condition(claim);
        };
        let patch = json!({
            "metadata": {"resourceVersion": claim.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        let written = Api::<NodeClaimObject>::all(self.client.clone())
            .patch_status(claim.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await;
        match written {
            Ok(updated) => {
                match status {
                    DriftStatus::Drifted(reason) => {
                        tracing::debug!(controller = "nodeclaim.disruption", NodeClaim = %claim.name(), reason = %reason, "marking drifted");
                    }
                    _ => {
                        tracing::debug!(controller = "nodeclaim.disruption", NodeClaim = %claim.name(), "marking not drifted");
                    }
                }
                drifted_condition(&updated.0)
            }
            Err(error) => {
                tracing::debug!(controller = "nodeclaim.disruption", NodeClaim = %claim.name(), error = %error, "writing the drifted condition failed");
                drifted_condition(claim)
            }
        }
    }

    /// Runs a Drift command: taint every candidate, launch the replacements, wait until they
    /// are initialized, delete the candidates (see `consolidation.rs`). No validation delay.
    pub(super) async fn execute_drift(
        &mut self,
        command: Command,
        facts: Facts,
    ) -> Result<Pass, DisruptionError> {
        self.log_command(&command);
        let Some(tainted) = self.taint_all(&command).await? else {
            return Ok(Pass::Idle);
        };
        self.launch_then_delete(command, tainted, facts, super::MethodKind::Drift)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + second).expect("valid")
    }

    fn claim(conditions: Vec<Condition>) -> NodeClaim {
        let mut claim: NodeClaim = serde_json::from_value(json!({
            "metadata": {"name": "default-abc", "creationTimestamp": "2026-01-01T00:00:00Z"},
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

    fn condition(type_: &str, status: &str, reason: &str, second: i64) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: reason.to_owned(),
            observed_generation: None,
            last_transition_time: Time(at(second)),
        }
    }

    #[test]
    fn drift_sets_the_condition_with_the_reason_once() {
        let fresh = claim(vec![condition("Launched", "True", "Launched", 0)]);
        let drifted = DriftStatus::Drifted(DriftReason::NodePoolDrifted);
        let DriftUpdate::Write(list) = drift_update(&fresh, &drifted, at(5)) else {
            panic!("a new Drifted condition is written");
        };
        let written = list.iter().find(|c| c.type_ == DRIFTED).expect("Drifted");
        assert_eq!(
            (
                written.status.as_str(),
                written.reason.as_str(),
                written.message.as_str()
            ),
            (TRUE, "NodePoolDrifted", "NodePoolDrifted")
        );
        assert_eq!(written.last_transition_time, Time(at(5)));
        let again = claim(list);
        assert_eq!(drift_update(&again, &drifted, at(9)), DriftUpdate::Keep);
    }

    #[test]
    fn a_changed_reason_keeps_the_transition_time_and_no_drift_removes_it() {
        let drifted = claim(vec![
            condition("Launched", "True", "Launched", 0),
            condition(DRIFTED, TRUE, "RequirementsDrifted", 3),
        ]);
        let DriftUpdate::Write(list) = drift_update(
            &drifted,
            &DriftStatus::Drifted(DriftReason::NodePoolDrifted),
            at(9),
        ) else {
            panic!("the reason changed");
        };
        let written = list.iter().find(|c| c.type_ == DRIFTED).expect("Drifted");
        assert_eq!(written.reason, "NodePoolDrifted");
        assert_eq!(written.last_transition_time, Time(at(3)));
        let DriftUpdate::Write(cleared) = drift_update(&drifted, &DriftStatus::NotDrifted, at(9))
        else {
            panic!("no longer drifted");
        };
        assert_eq!(
            cleared.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(),
            ["Launched"]
        );
        assert_eq!(
            drift_update(&claim(Vec::new()), &DriftStatus::NotDrifted, at(9)),
            DriftUpdate::Keep
        );
        assert_eq!(
            drift_update(&drifted, &DriftStatus::Unchanged, at(9)),
            DriftUpdate::Keep
        );
    }

    #[test]
    fn the_drifted_condition_is_read_back_with_its_transition_time() {
        let drifted = claim(vec![condition(DRIFTED, TRUE, "NodePoolDrifted", 3)]);
        let read = drifted_condition(&drifted).expect("drifted");
        assert_eq!(read.reason, DriftReason::NodePoolDrifted);
        assert_eq!(read.since.timestamp(), 1_767_225_603);
        assert!(drifted_condition(&claim(Vec::new())).is_none());
    }
}
