//! Drift detection (spec core §4.5 "Detection", §3.2; upstream `nodeclaim.disruption` Drift):
//! the `Drifted` condition reason a NodeClaim should carry, from plain facts about the NodeClaim,
//! its NodePool and the provider.
//!
//! The checks run in upstream's order and the first hit wins: static (hash) drift, requirements
//! drift, `InstanceTypeNotFound` (rate-limited), then the provider's own drift (AMI, subnet,
//! security group ... on AWS), supplied through [`ProviderDrift`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::instancetype::InstanceType;
use crate::labels::{
    CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_RESERVED, INSTANCE_TYPE, LabelAliases,
    NODEPOOL_HASH, NODEPOOL_HASH_VERSION, WellKnownLabels,
};
use crate::requirements::{Requirement, Requirements};

/// How often a launched NodeClaim's drift is re-evaluated (upstream's 5 min requeue).
pub const DRIFT_RECHECK: Duration = Duration::from_secs(5 * 60);
/// A NodeClaim younger than this is not checked for `InstanceTypeNotFound` (instance types
/// may lag behind a fresh launch).
pub const INSTANCE_TYPE_CHECK_MIN_AGE: Duration = Duration::from_secs(60 * 60);
/// After a passing `InstanceTypeNotFound` check, the next one waits this long.
pub const INSTANCE_TYPE_CHECK_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// The reason of a `Drifted=True` condition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftReason {
    /// The NodePool's template hash differs from the one the NodeClaim was launched with.
    NodePoolDrifted,
    /// The NodeClaim's labels no longer satisfy the NodePool's requirements.
    RequirementsDrifted,
    /// The instance type, or every offering compatible with the NodeClaim, is gone.
    InstanceTypeNotFound,
    /// The provider's reason (AWS: `NodeClassDrift`, `AMIDrift`, `SecurityGroupDrift`,
    /// `SubnetDrift`, `CapacityReservationDrift`, `PlacementGroupDrift`).
    Provider(String),
}

impl DriftReason {
    /// The condition reason as written on the NodeClaim.
    pub fn as_str(&self) -> &str {
        match self {
            Self::NodePoolDrifted => "NodePoolDrifted",
            Self::RequirementsDrifted => "RequirementsDrifted",
            Self::InstanceTypeNotFound => "InstanceTypeNotFound",
            Self::Provider(reason) => reason,
        }
    }
}

impl fmt::Display for DriftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A NodeClaim's `Drifted=True` condition, which the Drift and StaticDrift methods act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedCondition {
    /// The condition's reason.
    pub reason: DriftReason,
    /// `lastTransitionTime`: the oldest drift is disrupted first.
    pub since: DateTime<Utc>,
}

/// `Drifted=True` conditions by node name (a NodeClaim without the condition, or with it not
/// `True`, has no entry).
pub type DriftedNodes = BTreeMap<String, DriftedCondition>;

/// The facts of one NodeClaim that drift detection reads (the snapshot does not model them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeClaimFacts {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels` (instance type, zone, capacity type, NodePool ...).
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (the NodePool hash and hash-version it was launched with).
    pub annotations: BTreeMap<String, String>,
    /// Whether the `Launched` condition is `True`; drift is only evaluated for launched claims.
    pub launched: bool,
    /// `metadata.creationTimestamp`, which gates the `InstanceTypeNotFound` check.
    pub created: DateTime<Utc>,
    /// When the last `InstanceTypeNotFound` check passed (upstream's 30 min cache entry), if
    /// within memory of the driver.
    pub instance_type_check_passed: Option<DateTime<Utc>>,
}

/// The NodePool side of drift detection.
#[derive(Debug, Clone, Copy)]
pub struct NodePoolFacts<'a> {
    /// The NodePool object's annotations (`karpenter.sh/nodepool-hash` and its version).
    pub annotations: &'a BTreeMap<String, String>,
    /// `spec.template.spec.requirements`, keys normalised.
    pub requirements: &'a Requirements,
    /// Every instance type the provider returns for the pool, unavailable offerings included.
    pub instance_types: &'a [InstanceType],
}

/// The provider's drift check (upstream `CloudProvider.IsDrifted`), consulted only when the
/// core checks found nothing. The AWS side implements it from the EC2NodeClass (hash, AMIs,
/// subnets, security groups); a map from NodeClaim name to reason is the plain-data form.
pub trait ProviderDrift {
    /// The provider's drift reason for the NodeClaim, if drifted.
    fn drift_reason(&self, nodeclaim: &NodeClaimFacts) -> Option<String>;
}

/// A provider that never reports drift (upstream's KWOK provider).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProviderDrift;

impl ProviderDrift for NoProviderDrift {
    fn drift_reason(&self, _nodeclaim: &NodeClaimFacts) -> Option<String> {
        None
    }
}

impl ProviderDrift for BTreeMap<String, String> {
    /// The reason recorded for the NodeClaim's name, if any.
    fn drift_reason(&self, nodeclaim: &NodeClaimFacts) -> Option<String> {
        self.get(&nodeclaim.name).cloned()
    }
}

/// Label handling for the checks: aliases to normalise NodeClaim label keys, and the provider's
/// reservation-id label, which the instance-type check ignores.
#[derive(Debug, Clone, Copy)]
pub struct DriftLabels<'a> {
    /// Label aliases (the NodePool requirements are already normalised with them).
    pub aliases: &'a LabelAliases,
    /// The provider's capacity-reservation-id label key (AWS:
    /// `karpenter.k8s.aws/capacity-reservation-id`), if it has one.
    pub reservation_id: Option<&'a str>,
}

/// What the `Drifted` condition should become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftStatus {
    /// Set `Drifted=True` with this reason.
    Drifted(DriftReason),
    /// Remove the condition.
    NotDrifted,
    /// Leave the condition as it is (the NodePool is gone: upstream returns before evaluating).
    Unchanged,
}

/// One drift evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCheck {
    /// The condition's new state.
    pub status: DriftStatus,
    /// Whether an `InstanceTypeNotFound` check ran and passed now: the driver records `now` as
    /// [`NodeClaimFacts::instance_type_check_passed`].
    pub instance_type_check_passed: bool,
    /// When to evaluate again ([`DRIFT_RECHECK`] for launched NodeClaims).
    pub requeue_after: Option<Duration>,
}

/// Evaluates a NodeClaim's drift at `now`. `nodepool` is `None` when the NodePool does not
/// exist.
pub fn detect_drift(
    nodeclaim: &NodeClaimFacts,
    nodepool: Option<NodePoolFacts<'_>>,
    labels: DriftLabels<'_>,
    provider: &dyn ProviderDrift,
    now: DateTime<Utc>,
) -> DriftCheck {
    let Some(nodepool) = nodepool else {
        return DriftCheck {
            status: DriftStatus::Unchanged,
            instance_type_check_passed: false,
            requeue_after: None,
        };
    };
    if !nodeclaim.launched {
        return DriftCheck {
            status: DriftStatus::NotDrifted,
            instance_type_check_passed: false,
            requeue_after: None,
        };
    }
    let mut check = DriftCheck {
        status: DriftStatus::NotDrifted,
        instance_type_check_passed: false,
        requeue_after: Some(DRIFT_RECHECK),
    };
    let core = static_drift(nodepool.annotations, &nodeclaim.annotations)
        .or_else(|| requirements_drift(nodepool.requirements, &nodeclaim.labels, labels.aliases));
    if let Some(reason) = core {
        check.status = DriftStatus::Drifted(reason);
        return check;
    }
    if instance_type_check_due(nodeclaim, now) {
        if instance_type_not_found(nodepool.instance_types, &nodeclaim.labels, labels) {
            check.status = DriftStatus::Drifted(DriftReason::InstanceTypeNotFound);
            return check;
        }
        check.instance_type_check_passed = true;
    }
    if let Some(reason) = provider.drift_reason(nodeclaim) {
        check.status = DriftStatus::Drifted(DriftReason::Provider(reason));
    }
    check
}

/// Static drift: both sides carry hash and hash-version, the versions are equal and the hashes
/// differ. A missing annotation or a version mismatch (a hash scheme change, or a NodeClaim
/// stamped by another implementation) is not drift: the hash controller re-stamps those.
pub fn static_drift(
    nodepool_annotations: &BTreeMap<String, String>,
    nodeclaim_annotations: &BTreeMap<String, String>,
) -> Option<DriftReason> {
    let (pool_hash, pool_version) = hash_stamp(nodepool_annotations)?;
    let (claim_hash, claim_version) = hash_stamp(nodeclaim_annotations)?;
    (pool_version == claim_version && pool_hash != claim_hash)
        .then_some(DriftReason::NodePoolDrifted)
}

/// The hash and hash-version annotations, when both are present.
fn hash_stamp(annotations: &BTreeMap<String, String>) -> Option<(&str, &str)> {
    Some((
        annotations.get(NODEPOOL_HASH)?.as_str(),
        annotations.get(NODEPOOL_HASH_VERSION)?.as_str(),
    ))
}

/// Requirements drift (upstream `areRequirementsDrifted`): the NodeClaim's labels, as `In`
/// requirements, must be compatible with every NodePool requirement, with no undefined label
/// allowed (a requirement on a key the NodeClaim has no label for drifts, unless it is
/// `NotIn`/`DoesNotExist`).
pub fn requirements_drift(
    nodepool_requirements: &Requirements,
    nodeclaim_labels: &BTreeMap<String, String>,
    aliases: &LabelAliases,
) -> Option<DriftReason> {
    let labels = Requirements::from_labels(nodeclaim_labels, aliases);
    (!labels.is_compatible(nodepool_requirements, &WellKnownLabels::empty()))
        .then_some(DriftReason::RequirementsDrifted)
}

/// Whether the `InstanceTypeNotFound` check runs now: the NodeClaim is at least an hour old and
/// no check passed within the last 30 minutes.
fn instance_type_check_due(nodeclaim: &NodeClaimFacts, now: DateTime<Utc>) -> bool {
    let elapsed = |since: DateTime<Utc>, span: Duration| {
        TimeDelta::from_std(span).is_ok_and(|span| now - since >= span)
    };
    elapsed(nodeclaim.created, INSTANCE_TYPE_CHECK_MIN_AGE)
        && nodeclaim
            .instance_type_check_passed
            .is_none_or(|passed| elapsed(passed, INSTANCE_TYPE_CHECK_INTERVAL))
}

/// Upstream `instanceTypeNotFound`: the instance-type label is missing, names no type the
/// provider returns, or no offering of that type (available or not) is compatible with the
/// NodeClaim's labels. A `reserved` NodeClaim also accepts on-demand offerings (the provider may
/// have demoted it), and the reservation-id label is ignored.
fn instance_type_not_found(
    instance_types: &[InstanceType],
    nodeclaim_labels: &BTreeMap<String, String>,
    labels: DriftLabels<'_>,
) -> bool {
    let Some(name) = nodeclaim_labels.get(INSTANCE_TYPE) else {
        return true;
    };
    let Some(instance_type) = instance_types.iter().find(|it| &it.name == name) else {
        return true;
    };
    let mut requirements = Requirements::from_labels(nodeclaim_labels, labels.aliases);
    if let Some(key) = labels.reservation_id {
        requirements.remove(key);
    }
    if nodeclaim_labels.get(CAPACITY_TYPE).map(String::as_str) == Some(CAPACITY_TYPE_RESERVED) {
        requirements.remove(CAPACITY_TYPE);
        requirements.add(Requirement::in_values(
            CAPACITY_TYPE,
            [CAPACITY_TYPE_RESERVED, CAPACITY_TYPE_ON_DEMAND],
        ));
    }
    !instance_type.offerings.iter().any(|offering| {
        let mut offering_requirements = offering.requirements.clone();
        if let Some(key) = labels.reservation_id {
            offering_requirements.remove(key);
        }
        requirements.can_intersect(&offering_requirements)
    })
}

/// Orders candidates by their `Drifted` transition time, then node name.
pub(crate) fn oldest_drift_first(
    mut candidates: Vec<super::Candidate>,
    drifted: &DriftedNodes,
) -> Vec<super::Candidate> {
    candidates.sort_by(|a, b| {
        let since = |c: &super::Candidate| drifted.get(&c.node).map(|d| d.since);
        since(a).cmp(&since(b)).then_with(|| a.node.cmp(&b.node))
    });
    candidates
}
