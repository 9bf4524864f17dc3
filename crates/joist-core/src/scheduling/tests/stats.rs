//! Scheduling metrics data (spec core §9.2 item 62): queue depth, unschedulable and ignored
//! counts, pending pods by effective zone.

use std::collections::BTreeMap;

use super::support::*;
use crate::labels::ZONE;
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::scheduling::{FLEXIBLE_ZONE, NO_ZONE};
use crate::snapshot::{
    ClaimPhase, LabelSelector, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim,
    WhenUnsatisfiable,
};
use crate::testing::*;

fn zonal_pv(name: &str, zones: &[&str]) -> PersistentVolume {
    PersistentVolume {
        name: name.into(),
        node_affinity: zones
            .iter()
            .map(|z| {
                NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(ZONE, Operator::In, [*z])])
            })
            .collect(),
        csi_driver: Some("ebs.csi.aws.com".into()),
        ..PersistentVolume::default()
    }
}

fn bound_claim(name: &str, volume: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        namespace: "default".into(),
        name: name.into(),
        volume_name: Some(volume.into()),
        phase: ClaimPhase::Bound,
        bind_completed: true,
        ..PersistentVolumeClaim::default()
    }
}

fn web() -> LabelSelector {
    LabelSelector::from_labels([("app", "web")])
}

/// Nodes in zones 1 and 2, each running one `app=web` pod; zone 3 has none.
fn web_in_zones_one_and_two(builder: SnapshotBuilder) -> SnapshotBuilder {
    builder
        .node(node("n1").nodepool("default").zone("test-zone-1"))
        .node(node("n2").nodepool("default").zone("test-zone-2"))
        .pod(pod().name("old-1").label("app", "web").node_name("n1"))
        .pod(pod().name("old-2").label("app", "web").node_name("n2"))
}

fn counts(entries: &[(&str, usize)]) -> BTreeMap<String, usize> {
    entries.iter().map(|&(z, n)| (z.to_owned(), n)).collect()
}

#[test]
fn pending_pods_are_counted_by_effective_zone() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .volume(zonal_pv("pv-2", &["test-zone-2"]))
        .claim(bound_claim("data-2", "pv-2"))
        .claim(bound_claim("conflict", "pv-2"))
        .pods(2, |_| pod().cpu("100m"))
        .pod(pod().zone("test-zone-1"))
        .pod(pod().node_requirement(ZONE, Operator::In, &["test-zone-1", "test-zone-2"]))
        .pod(pod().pvc("data-2"))
        .pod(pod().zone("test-zone-1").pvc("conflict"))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[
            (FLEXIBLE_ZONE, 3),
            (NO_ZONE, 1),
            ("test-zone-1", 1),
            ("test-zone-2", 1)
        ])
    );
    assert_eq!(plan.stats.queue_depth, 6);
    assert_eq!(
        plan.stats.unschedulable, 1,
        "only the conflicting pod fails"
    );
    assert_eq!(plan.stats.ignored, 0);
}

#[test]
fn zonal_spread_with_one_valid_domain_pins_the_pod_to_it() {
    let s = web_in_zones_one_and_two(snapshot().nodepool(nodepool("default")))
        .pod(pod().name("new").label("app", "web").spread(
            ZONE,
            1,
            WhenUnsatisfiable::DoNotSchedule,
            Some(web()),
        ))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[("test-zone-3", 1)]),
        "zones 1 and 2 would exceed maxSkew 1"
    );
    assert_eq!(plan.stats.queue_depth, 1);
}

#[test]
fn zonal_spread_over_balanced_zones_stays_flexible() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pods(3, |_| {
            pod()
                .label("app", "web")
                .spread(ZONE, 1, WhenUnsatisfiable::DoNotSchedule, Some(web()))
        })
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[(FLEXIBLE_ZONE, 3)])
    );
}

#[test]
fn zonal_anti_affinity_leaves_the_empty_zone() {
    let s = web_in_zones_one_and_two(snapshot().nodepool(nodepool("default")))
        .pod(pod().name("new").anti_affinity(ZONE, web()))
        .build();
    assert_eq!(
        run(&s).stats.pending_by_effective_zone,
        counts(&[("test-zone-3", 1)])
    );
}

#[test]
fn unsatisfiable_zonal_affinity_is_none() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .pod(pod().name("lonely").affinity(ZONE, web()))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[(NO_ZONE, 1)]),
        "no app=web pod exists and the pod does not select itself"
    );
    assert_eq!(plan.stats.unschedulable, 1);
}

#[test]
fn topology_and_pod_zones_intersect() {
    // Spread allows only zone 3; the pod asks for zones 1 and 3.
    let s = web_in_zones_one_and_two(snapshot().nodepool(nodepool("default")))
        .pod(
            pod()
                .name("new")
                .label("app", "web")
                .spread(ZONE, 1, WhenUnsatisfiable::DoNotSchedule, Some(web()))
                .node_requirement(ZONE, Operator::In, &["test-zone-1", "test-zone-3"]),
        )
        .build();
    assert_eq!(
        run(&s).stats.pending_by_effective_zone,
        counts(&[("test-zone-3", 1)])
    );
}

#[test]
fn unschedulable_count_excludes_reserved_capacity_deferrals() {
    let reservable = vec![
        instance_type("reservable")
            .offering("on-demand", "test-zone-1", 1.0, true)
            .reserved_offering("test-zone-1", 0.5, "r-1", 1)
            .build(),
    ];
    let s = snapshot()
        .nodepool(nodepool("reserved"))
        .instance_types(reservable)
        .pods(2, |_| pod().cpu("100m").host_port(80))
        .pod(pod().name("huge").cpu("10000"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.deferred.len(), 1, "the second host-port pod waits");
    assert_eq!(plan.unschedulable.len(), 1, "the huge pod fits nothing");
    assert_eq!(plan.stats.unschedulable, 1);
    assert_eq!(plan.stats.queue_depth, 3);
}

#[test]
fn queue_depth_is_the_validated_batch_and_only_pending_pods_get_a_zone() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(node("leaving").nodepool("default").marked_for_deletion())
        .pods(3, |_| pod().cpu("100m"))
        .pod(pod().name("moving").node_name("leaving"))
        .pod(pod().name("missing-claim").pvc("absent"))
        .build();
    let plan = run(&s);
    assert_eq!(
        plan.stats.queue_depth, 4,
        "3 pending + 1 from the deleting node"
    );
    assert_eq!(plan.stats.ignored, 1, "the pod with a missing claim");
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[(FLEXIBLE_ZONE, 3)]),
        "the running pod of the deleting node is not pending"
    );
}

#[test]
fn every_pod_is_unschedulable_without_nodepools_and_still_counted() {
    let s = snapshot().pods(2, |_| pod().zone("test-zone-2")).build();
    let plan = run(&s);
    assert_eq!(plan.stats.unschedulable, 2);
    assert_eq!(plan.stats.queue_depth, 2);
    assert_eq!(
        plan.stats.pending_by_effective_zone,
        counts(&[("test-zone-2", 2)])
    );
}
