//! Drift detection (§4.5 detection; §9.2 item 71).

use chrono::TimeDelta;

use super::*;
use crate::instancetype::InstanceType;
use crate::labels::{
    CAPACITY_TYPE, INSTANCE_TYPE, LabelAliases, NODEPOOL_HASH, NODEPOOL_HASH_VERSION, ZONE,
};
use crate::requirements::{Operator, Requirement, Requirements};

const RESERVATION_ID: &str = "karpenter.test.sh/reservation-id";

/// A launched NodeClaim created two hours ago, on-demand `default-instance-type` in
/// test-zone-1, stamped with hash `h1` version `v`.
fn claim() -> NodeClaimFacts {
    NodeClaimFacts {
        name: "nc".into(),
        labels: BTreeMap::from([
            (INSTANCE_TYPE.into(), "default-instance-type".into()),
            (CAPACITY_TYPE.into(), "on-demand".into()),
            (ZONE.into(), "test-zone-1".into()),
        ]),
        annotations: stamp("h1", "v"),
        launched: true,
        created: now() - TimeDelta::hours(2),
        instance_type_check_passed: None,
    }
}

fn stamp(hash: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NODEPOOL_HASH.to_owned(), hash.to_owned()),
        (NODEPOOL_HASH_VERSION.to_owned(), version.to_owned()),
    ])
}

/// The NodePool side: annotations, requirements and instance types, owned for a test.
struct Pool {
    annotations: BTreeMap<String, String>,
    requirements: Requirements,
    instance_types: Vec<InstanceType>,
}

impl Pool {
    fn new() -> Self {
        Self {
            annotations: stamp("h1", "v"),
            requirements: Requirements::new(),
            instance_types: vec![
                instance_type("default-instance-type").build(),
                instance_type("reserved-type")
                    .reserved_offering("test-zone-1", 0.01, "cr-1", 1)
                    .build(),
            ],
        }
    }

    fn facts(&self) -> NodePoolFacts<'_> {
        NodePoolFacts {
            annotations: &self.annotations,
            requirements: &self.requirements,
            instance_types: &self.instance_types,
        }
    }

    fn require(mut self, key: &str, operator: Operator, values: &[&str]) -> Self {
        self.requirements
            .add(Requirement::new(key, operator, values.iter().copied()).unwrap());
        self
    }
}

fn check_with(
    claim: &NodeClaimFacts,
    pool: Option<&Pool>,
    provider: &dyn ProviderDrift,
) -> DriftCheck {
    let aliases = LabelAliases::core();
    let labels = DriftLabels {
        aliases: &aliases,
        reservation_id: Some(RESERVATION_ID),
    };
    detect_drift(claim, pool.map(Pool::facts), labels, provider, now())
}

fn status(claim: &NodeClaimFacts, pool: &Pool) -> DriftStatus {
    check_with(claim, Some(pool), &NoProviderDrift).status
}

fn drifted(reason: DriftReason) -> DriftStatus {
    DriftStatus::Drifted(reason)
}

#[test]
fn item_71_hash_mismatch_with_equal_versions_is_nodepool_drift() {
    let mut pool = Pool::new();
    assert_eq!(status(&claim(), &pool), DriftStatus::NotDrifted);
    pool.annotations = stamp("h2", "v");
    assert_eq!(
        status(&claim(), &pool),
        drifted(DriftReason::NodePoolDrifted)
    );
    assert_eq!(DriftReason::NodePoolDrifted.to_string(), "NodePoolDrifted");
}

#[test]
fn item_71_missing_hash_or_version_mismatch_is_not_static_drift() {
    let mut pool = Pool::new();
    pool.annotations = stamp("h2", "other");
    assert_eq!(status(&claim(), &pool), DriftStatus::NotDrifted);
    pool.annotations = stamp("h2", "v");
    let mut unstamped = claim();
    unstamped.annotations.remove(NODEPOOL_HASH_VERSION);
    assert_eq!(status(&unstamped, &pool), DriftStatus::NotDrifted);
    pool.annotations.remove(NODEPOOL_HASH);
    assert_eq!(status(&claim(), &pool), DriftStatus::NotDrifted);
}

#[test]
fn item_71_requirement_changes_are_requirements_drift() {
    let narrowed = Pool::new().require(ZONE, Operator::In, &["test-zone-2"]);
    assert_eq!(
        status(&claim(), &narrowed),
        drifted(DriftReason::RequirementsDrifted)
    );
    let spot_only = Pool::new().require(CAPACITY_TYPE, Operator::In, &["spot"]);
    assert_eq!(
        status(&claim(), &spot_only),
        drifted(DriftReason::RequirementsDrifted)
    );
    let still_fine = Pool::new().require(ZONE, Operator::In, &["test-zone-1", "test-zone-2"]);
    assert_eq!(status(&claim(), &still_fine), DriftStatus::NotDrifted);
    // A requirement on a key the NodeClaim has no label for drifts, unless it is negative.
    let custom = Pool::new().require("team", Operator::In, &["a"]);
    assert_eq!(
        status(&claim(), &custom),
        drifted(DriftReason::RequirementsDrifted)
    );
    let negative = Pool::new().require("team", Operator::DoesNotExist, &[]);
    assert_eq!(status(&claim(), &negative), DriftStatus::NotDrifted);
}

#[test]
fn item_71_static_drift_is_evaluated_before_requirements_and_provider_drift() {
    let mut pool = Pool::new().require(ZONE, Operator::In, &["test-zone-2"]);
    pool.annotations = stamp("h2", "v");
    let provider = BTreeMap::from([("nc".to_owned(), "AMIDrift".to_owned())]);
    let check = check_with(&claim(), Some(&pool), &provider);
    assert_eq!(check.status, drifted(DriftReason::NodePoolDrifted));
    let requirements_only = Pool::new().require(ZONE, Operator::In, &["test-zone-2"]);
    let check = check_with(&claim(), Some(&requirements_only), &provider);
    assert_eq!(check.status, drifted(DriftReason::RequirementsDrifted));
    let check = check_with(&claim(), Some(&Pool::new()), &provider);
    assert_eq!(
        check.status,
        drifted(DriftReason::Provider("AMIDrift".into()))
    );
    assert_eq!(check.requeue_after, Some(DRIFT_RECHECK));
}

#[test]
fn item_71_instance_type_missing_label_missing_or_offerings_gone() {
    let pool = Pool::new();
    let mut unknown = claim();
    unknown
        .labels
        .insert(INSTANCE_TYPE.into(), "gone-type".into());
    assert_eq!(
        status(&unknown, &pool),
        drifted(DriftReason::InstanceTypeNotFound)
    );
    let mut unlabelled = claim();
    unlabelled.labels.remove(INSTANCE_TYPE);
    assert_eq!(
        status(&unlabelled, &pool),
        drifted(DriftReason::InstanceTypeNotFound)
    );
    // The fake type offers spot in zones 1-2 and on-demand in zones 1-3: spot in zone 3 is gone.
    let mut incompatible = claim();
    incompatible
        .labels
        .insert(CAPACITY_TYPE.into(), "spot".into());
    incompatible
        .labels
        .insert(ZONE.into(), "test-zone-3".into());
    assert_eq!(
        status(&incompatible, &pool),
        drifted(DriftReason::InstanceTypeNotFound)
    );
}

#[test]
fn item_71_unavailable_offerings_still_count_as_existing() {
    let mut pool = Pool::new();
    for offering in &mut pool.instance_types[0].offerings {
        offering.available = false;
    }
    assert_eq!(status(&claim(), &pool), DriftStatus::NotDrifted);
}

#[test]
fn item_71_reserved_nodeclaims_accept_reserved_or_on_demand_offerings() {
    let pool = Pool::new();
    let mut reserved = claim();
    reserved
        .labels
        .insert(CAPACITY_TYPE.into(), "reserved".into());
    reserved
        .labels
        .insert(RESERVATION_ID.into(), "cr-other".into());
    // default-instance-type has no reserved offering but on-demand in zone 1: not drifted.
    assert_eq!(status(&reserved, &pool), DriftStatus::NotDrifted);
    // The reservation id differs from the offering's: ignored.
    reserved
        .labels
        .insert(INSTANCE_TYPE.into(), "reserved-type".into());
    assert_eq!(status(&reserved, &pool), DriftStatus::NotDrifted);
    // A spot NodeClaim of a type without spot offerings in its zone drifts.
    let mut spot = claim();
    spot.labels
        .insert(INSTANCE_TYPE.into(), "reserved-type".into());
    spot.labels.insert(CAPACITY_TYPE.into(), "spot".into());
    spot.labels.insert(ZONE.into(), "test-zone-3".into());
    assert_eq!(
        status(&spot, &pool),
        drifted(DriftReason::InstanceTypeNotFound)
    );
}

#[test]
fn instance_type_check_waits_an_hour_then_every_thirty_minutes() {
    let pool = Pool::new();
    let mut young = claim();
    young
        .labels
        .insert(INSTANCE_TYPE.into(), "gone-type".into());
    young.created = now() - TimeDelta::minutes(59);
    let check = check_with(&young, Some(&pool), &NoProviderDrift);
    assert_eq!(check.status, DriftStatus::NotDrifted);
    assert!(!check.instance_type_check_passed);
    let passing = check_with(&claim(), Some(&pool), &NoProviderDrift);
    assert!(
        passing.instance_type_check_passed,
        "the driver records the pass"
    );
    let mut recently_checked = claim();
    recently_checked
        .labels
        .insert(INSTANCE_TYPE.into(), "gone-type".into());
    recently_checked.instance_type_check_passed = Some(now() - TimeDelta::minutes(29));
    assert_eq!(status(&recently_checked, &pool), DriftStatus::NotDrifted);
    recently_checked.instance_type_check_passed = Some(now() - TimeDelta::minutes(30));
    assert_eq!(
        status(&recently_checked, &pool),
        drifted(DriftReason::InstanceTypeNotFound)
    );
}

#[test]
fn item_71_not_launched_removes_the_condition_and_missing_nodepool_changes_nothing() {
    let mut pool = Pool::new();
    pool.annotations = stamp("h2", "v");
    let mut unlaunched = claim();
    unlaunched.launched = false;
    let check = check_with(&unlaunched, Some(&pool), &NoProviderDrift);
    assert_eq!(check.status, DriftStatus::NotDrifted);
    assert_eq!(check.requeue_after, None);
    let check = check_with(&claim(), None, &NoProviderDrift);
    assert_eq!(check.status, DriftStatus::Unchanged);
}
