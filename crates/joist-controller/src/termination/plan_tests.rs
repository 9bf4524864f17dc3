//! Tiers, skipped pods and TGP force-deletes of [`super::plan::plan_drain`].

use super::plan::*;
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).expect("valid")
}

/// A running pod, refined by the builder methods.
struct PodBuilder(Pod);

fn pod(name: &str) -> PodBuilder {
    let mut pod = Pod::default();
    pod.metadata.namespace = Some("default".to_owned());
    pod.metadata.name = Some(name.to_owned());
    pod.metadata.uid = Some(format!("uid-{name}"));
    pod.spec = Some(PodSpec::default());
    pod.status = Some(PodStatus {
        phase: Some("Running".to_owned()),
        start_time: Some(Time(at(0))),
        ..PodStatus::default()
    });
    PodBuilder(pod)
}

impl PodBuilder {
    fn critical(mut self) -> Self {
        self.spec().priority_class_name = Some("system-node-critical".to_owned());
        self
    }
    fn owned_by(mut self, api_version: &str, kind: &str) -> Self {
        self.0.metadata.owner_references = Some(vec![OwnerReference {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: "owner".to_owned(),
            uid: "owner-uid".to_owned(),
            ..OwnerReference::default()
        }]);
        self
    }
    fn daemon(self) -> Self {
        self.owned_by("apps/v1", "DaemonSet")
    }
    fn phase(mut self, phase: &str) -> Self {
        self.0.status.as_mut().expect("status").phase = Some(phase.to_owned());
        self
    }
    fn deleted_at(mut self, time: Timestamp) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(time));
        self
    }
    fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_owned(), value.to_owned());
        self
    }
    fn toleration(mut self, key: Option<&str>, operator: &str, effect: Option<&str>) -> Self {
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: key.map(str::to_owned),
                operator: Some(operator.to_owned()),
                effect: effect.map(str::to_owned),
                ..Toleration::default()
            });
        self
    }
    fn grace(mut self, seconds: i64) -> Self {
        self.spec().termination_grace_period_seconds = Some(seconds);
        self
    }
    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(PodSpec::default)
    }
    fn build(self) -> Pod {
        self.0
    }
}

fn names(keys: &[PodKey]) -> Vec<&str> {
    keys.iter().map(|key| key.name.as_str()).collect()
}

fn evicted(plan: &DrainPlan) -> (EvictionTier, Vec<&str>) {
    let tier = plan.tier.as_ref().expect("a tier");
    (tier.tier, names(&tier.evict))
}

#[test]
fn tiers_go_noncritical_first_then_daemons_then_critical() {
    let all = vec![
        pod("critical-daemon").critical().daemon().build(),
        pod("critical").critical().build(),
        pod("daemon").daemon().build(),
        pod("app").build(),
        pod("app-2").owned_by("apps/v1", "ReplicaSet").build(),
    ];
    let plan = plan_drain(&all, at(10), None);
    assert_eq!(
        evicted(&plan),
        (EvictionTier::NonCriticalNonDaemon, vec!["app", "app-2"])
    );
    assert_eq!(plan.waiting, 5);

    let expected = [
        (1, EvictionTier::NonCriticalDaemon, "daemon"),
        (2, EvictionTier::CriticalNonDaemon, "critical"),
        (3, EvictionTier::CriticalDaemon, "critical-daemon"),
    ];
    for (gone, tier, name) in expected {
        let remaining = &all[..all.len() - 1 - gone];
        assert_eq!(
            evicted(&plan_drain(remaining, at(10), None)),
            (tier, vec![name])
        );
    }
    assert!(plan_drain(&[], at(10), None).is_drained());
}

#[test]
fn a_terminating_pod_keeps_its_tier_current_without_being_evicted_again() {
    let all = vec![
        pod("app").deleted_at(at(0)).build(),
        pod("daemon").daemon().build(),
    ];
    let plan = plan_drain(&all, at(30), None);
    assert_eq!(evicted(&plan), (EvictionTier::NonCriticalNonDaemon, vec![]));
    assert_eq!(plan.waiting, 2);
    // After a minute it is stuck: the drain stops waiting and moves on.
    let plan = plan_drain(&all, at(61), None);
    assert_eq!(
        evicted(&plan),
        (EvictionTier::NonCriticalDaemon, vec!["daemon"])
    );
    assert_eq!(plan.waiting, 1);
}

#[test]
fn terminal_mirror_and_tolerating_pods_are_neither_evicted_nor_waited_for() {
    let all = vec![
        pod("done").phase("Succeeded").build(),
        pod("failed").phase("Failed").build(),
        pod("static").owned_by("v1", "Node").build(),
        pod("mirror")
            .annotation(MIRROR_POD_ANNOTATION, "abc")
            .build(),
        pod("tolerates-all")
            .toleration(None, "Exists", None)
            .build(),
        pod("tolerates-key")
            .toleration(Some(DISRUPTED_TAINT_KEY), "Exists", Some("NoSchedule"))
            .build(),
    ];
    let plan = plan_drain(&all, at(10), None);
    assert!(plan.is_drained(), "{plan:?}");
    assert_eq!(plan.tier, None);
    // Tolerating another effect or key does not count.
    let other = vec![
        pod("no-execute")
            .toleration(Some(DISRUPTED_TAINT_KEY), "Exists", Some("NoExecute"))
            .build(),
        pod("other-key")
            .toleration(Some("x"), "Exists", None)
            .build(),
    ];
    assert_eq!(plan_drain(&other, at(10), None).waiting, 2);
}

#[test]
fn do_not_disrupt_pods_are_held_and_block_later_tiers() {
    let all = vec![
        pod("pinned")
            .annotation(DO_NOT_DISRUPT_ANNOTATION, "true")
            .build(),
        pod("for-a-while")
            .annotation(DO_NOT_DISRUPT_ANNOTATION, "1m")
            .build(),
        pod("invalid")
            .annotation(DO_NOT_DISRUPT_ANNOTATION, "false")
            .build(),
        pod("daemon").daemon().build(),
    ];
    let plan = plan_drain(&all, at(30), None);
    let tier = plan.tier.expect("tier");
    assert_eq!(tier.tier, EvictionTier::NonCriticalNonDaemon);
    assert_eq!(names(&tier.evict), vec!["invalid"]);
    assert_eq!(names(&tier.held), vec!["pinned", "for-a-while"]);
    // The duration counts from the pod's start (at 0): after 60 s it no longer holds.
    let later = plan_drain(&all, at(61), None).tier.expect("tier");
    assert_eq!(names(&later.evict), vec!["for-a-while", "invalid"]);
}

#[test]
fn pods_whose_grace_period_would_outlast_the_deadline_are_force_deleted() {
    let deadline = at(100);
    let all = vec![
        pod("long").grace(300).build(),
        pod("short").grace(30).build(),
        pod("pinned")
            .grace(120)
            .annotation(DO_NOT_DISRUPT_ANNOTATION, "true")
            .build(),
        pod("late-deletion").deleted_at(at(150)).build(),
        pod("critical").critical().grace(10).build(),
    ];
    let plan = plan_drain(&all, at(40), Some(deadline));
    let forced: Vec<(&str, i64)> = plan
        .force_delete
        .iter()
        .map(|force| (force.pod.name.as_str(), force.grace_period_seconds))
        .collect();
    // long: 100-300 < 40; pinned: 100-120 < 40 (do-not-disrupt does not hold a force delete);
    // late-deletion ends after the deadline; short: 100-30 = 70 > 40; critical: 90 > 40.
    assert_eq!(
        forced,
        vec![("long", 60), ("pinned", 60), ("late-deletion", 60)]
    );
    // The tier evicts only what is not force-deleted; the terminating pod is not evicted again.
    let tier = plan.tier.expect("tier");
    assert_eq!(
        (names(&tier.evict), names(&tier.held)),
        (vec!["short"], vec![])
    );
    // Past the deadline everything goes, with the 1 s floor.
    let plan = plan_drain(&all, at(200), Some(deadline));
    assert_eq!(plan.force_delete.len(), 5, "{plan:?}");
    assert!(
        plan.force_delete
            .iter()
            .all(|force| force.grace_period_seconds == 1)
    );
}
