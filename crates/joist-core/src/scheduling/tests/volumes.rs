//! Volumes (spec core §9.2 items 28, 45, 46, 55).

use chrono::{DateTime, TimeDelta, Utc};

use super::support::*;
use crate::labels::{HOSTNAME, ZONE};
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::snapshot::{
    ClaimPhase, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim, StorageClass,
    TopologySelectorTerm, VolumeBindingMode,
};
use crate::testing::*;

const EBS: &str = "ebs.csi.aws.com";

fn zonal_pv(name: &str, zones: &[&str]) -> PersistentVolume {
    PersistentVolume {
        name: name.into(),
        node_affinity: zones
            .iter()
            .map(|z| {
                NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(ZONE, Operator::In, [*z])])
            })
            .collect(),
        csi_driver: Some(EBS.into()),
        ..PersistentVolume::default()
    }
}

fn bound(name: &str, volume: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        namespace: "default".into(),
        name: name.into(),
        volume_name: Some(volume.into()),
        phase: ClaimPhase::Bound,
        bind_completed: true,
        ..PersistentVolumeClaim::default()
    }
}

fn unbound(name: &str, class: Option<&str>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        namespace: "default".into(),
        name: name.into(),
        storage_class_name: class.map(Into::into),
        ..PersistentVolumeClaim::default()
    }
}

fn class(name: &str, zones: &[&str], default: bool, age: i64) -> StorageClass {
    StorageClass {
        name: name.into(),
        provisioner: EBS.into(),
        volume_binding_mode: VolumeBindingMode::WaitForFirstConsumer,
        allowed_topologies: if zones.is_empty() {
            vec![]
        } else {
            vec![TopologySelectorTerm {
                match_label_expressions: vec![(
                    ZONE.into(),
                    zones.iter().map(|z| (*z).to_owned()).collect(),
                )],
            }]
        },
        is_default: default,
        creation_timestamp: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(age),
    }
}

fn zone_of(plan: &crate::scheduling::Plan, pod: usize) -> String {
    plan.nodeclaim_of(pod)
        .expect("scheduled")
        .requirements
        .get(ZONE)
        .to_string()
}

#[test]
fn bound_volume_zones_constrain_the_node() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .volume(zonal_pv("pv", &["test-zone-3"]))
        .claim(bound("data", "pv"))
        .pod(pod().pvc("data"))
        .build();
    let plan = run(&s);
    assert_eq!(
        zone_of(&plan, 0),
        "topology.kubernetes.io/zone In [test-zone-3]"
    );
}

#[test]
fn storage_class_zones_apply_before_the_volume_exists() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .storage_class(class("zonal", &["test-zone-2"], false, 0))
        .claim(unbound("data", Some("zonal")))
        .pod(pod().pvc("data"))
        .build();
    assert_eq!(
        zone_of(&run(&s), 0),
        "topology.kubernetes.io/zone In [test-zone-2]"
    );
}

#[test]
fn multi_zone_volumes_are_alternatives_and_disjoint_ones_are_pruned() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(
            ZONE,
            Operator::In,
            &["test-zone-2", "test-zone-3"],
        ))
        .volume(zonal_pv("pv-a", &["test-zone-1", "test-zone-3"]))
        .volume(zonal_pv("pv-b", &["test-zone-2", "test-zone-3"]))
        .claim(bound("a", "pv-a"))
        .claim(bound("b", "pv-b"))
        .pod(pod().pvc("a").pvc("b"))
        .build();
    assert_eq!(
        zone_of(&run(&s), 0),
        "topology.kubernetes.io/zone In [test-zone-3]"
    );
}

#[test]
fn incompatible_volume_zones_fail() {
    let s = snapshot()
        .nodepool(nodepool("default").requirement(ZONE, Operator::In, &["test-zone-1"]))
        .volume(zonal_pv("pv", &["test-zone-3"]))
        .claim(bound("data", "pv"))
        .pod(pod().pvc("data"))
        .build();
    let plan = run(&s);
    assert!(plan.new_nodeclaims.is_empty());
    let explanation = plan.explanation_of(0).unwrap();
    assert_eq!(
        explanation.nodepools[0].reason,
        crate::explain::RejectReason::Volumes
    );
}

#[test]
fn volume_zones_are_never_relaxed_away() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .volume(zonal_pv("pv", &["test-zone-2"]))
        .claim(bound("data", "pv"))
        .pod(
            pod()
                .pvc("data")
                .preferred(100, ZONE, Operator::In, &["test-zone-1"]),
        )
        .build();
    assert_eq!(
        zone_of(&run(&s), 0),
        "topology.kubernetes.io/zone In [test-zone-2]"
    );
}

#[test]
fn local_volume_hostname_affinity_is_ignored() {
    let local = PersistentVolume {
        name: "local".into(),
        node_affinity: vec![NodeSelectorTerm::new(vec![
            NodeSelectorRequirement::new(HOSTNAME, Operator::In, ["old-node"]),
            NodeSelectorRequirement::new(ZONE, Operator::In, ["test-zone-1"]),
        ])],
        local_or_host_path: true,
        ..PersistentVolume::default()
    };
    let s = snapshot()
        .nodepool(nodepool("default"))
        .volume(local)
        .claim(bound("data", "local"))
        .pod(pod().pvc("data"))
        .build();
    assert_eq!(
        zone_of(&run(&s), 0),
        "topology.kubernetes.io/zone In [test-zone-1]"
    );
}

#[test]
fn ephemeral_volumes_use_the_named_or_newest_default_class() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .storage_class(class("old-default", &["test-zone-1"], true, 0))
        .storage_class(class("new-default", &["test-zone-2"], true, 10))
        .storage_class(class("named", &["test-zone-3"], false, 0))
        .pod(pod().name("defaulted").ephemeral_volume("scratch", None))
        .pod(
            pod()
                .name("named")
                .ephemeral_volume("scratch", Some("named")),
        )
        .build();
    let plan = run(&s);
    assert_eq!(
        zone_of(&plan, 0),
        "topology.kubernetes.io/zone In [test-zone-2]"
    );
    assert_eq!(
        zone_of(&plan, 1),
        "topology.kubernetes.io/zone In [test-zone-3]"
    );
}

#[test]
fn invalid_claims_are_ignored_without_blocking_valid_pods() {
    let deleting = PersistentVolumeClaim {
        deleting: true,
        ..bound("deleting", "pv")
    };
    let lost = PersistentVolumeClaim {
        phase: ClaimPhase::Lost,
        ..bound("lost", "pv")
    };
    let unfinished = PersistentVolumeClaim {
        bind_completed: false,
        ..bound("unfinished", "pv")
    };
    let s = snapshot()
        .nodepool(nodepool("default"))
        .volume(zonal_pv("pv", &["test-zone-1"]))
        .storage_class(immediate_class())
        .claim(deleting)
        .claim(lost)
        .claim(unfinished)
        .claim(bound("missing-volume", "nope"))
        .claim(unbound("no-class", None))
        .claim(unbound("unknown-class", Some("nope")))
        .claim(unbound("immediate", Some("immediate")))
        .pods(7, |i| {
            let claims = [
                "deleting",
                "lost",
                "unfinished",
                "missing-volume",
                "no-class",
                "unknown-class",
                "immediate",
            ];
            pod().pvc(claims[i])
        })
        .pod(pod().name("valid"))
        .pod(pod().name("missing-claim").pvc("never-created"))
        .build();
    let plan = run(&s);
    assert_eq!(plan.ignored.len(), 8, "{:#?}", plan.ignored);
    assert!(plan.nodeclaim_of(pod_named(&s, "valid")).is_some());
    let no_class = plan.ignored.iter().find(|i| i.pod == 4).unwrap();
    assert_eq!(
        no_class.message,
        "unbound pvc no-class must define a storage class"
    );
}

/// A StorageClass that binds immediately (unbound claims of it cannot be provisioned for).
fn immediate_class() -> StorageClass {
    StorageClass {
        volume_binding_mode: VolumeBindingMode::Immediate,
        ..class("immediate", &[], false, 0)
    }
}

#[test]
fn csi_attach_limits_force_new_nodes_and_shared_claims_count_once() {
    let base = || {
        snapshot()
            .nodepool(nodepool("default"))
            .node(
                node("n1")
                    .cpu("4")
                    .memory("4Gi")
                    .pods(10)
                    .zone("test-zone-1")
                    .csi_limit(EBS, 1),
            )
            .volume(zonal_pv("pv-a", &["test-zone-1"]))
            .volume(zonal_pv("pv-b", &["test-zone-1"]))
            .claim(bound("a", "pv-a"))
            .claim(bound("b", "pv-b"))
            .pod(pod().pvc("a").node_name("n1"))
    };
    let other = base().pod(pod().pvc("b")).build();
    let plan = run(&other);
    assert!(
        plan.nominations.is_empty(),
        "a second volume exceeds the limit"
    );
    assert_eq!(plan.new_nodeclaims.len(), 1);
    let shared = base().pod(pod().pvc("a")).build();
    assert_eq!(run(&shared).nomination_of(1), Some("n1"));
}

// === item 55: volumes and topology spread with minDomains ===

/// Zonal spread (maxSkew 1, DoNotSchedule, minDomains 3) over `app=db` pods.
fn spread_min_domains_three(s: &mut crate::snapshot::Snapshot) {
    use crate::snapshot::{LabelSelector, TopologySpreadConstraint, WhenUnsatisfiable};
    for p in &mut s.pods {
        p.constraints
            .topology_spread
            .push(TopologySpreadConstraint {
                max_skew: 1,
                topology_key: ZONE.into(),
                when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
                label_selector: Some(LabelSelector::from_labels([("app", "db")])),
                min_domains: Some(3),
                node_affinity_policy: None,
                node_taints_policy: None,
                match_label_keys: Vec::new(),
            });
    }
}

#[test]
fn unbound_claims_with_min_domains_three_spread_one_per_zone() {
    let zones = ["test-zone-1", "test-zone-2", "test-zone-3"];
    let mut s = snapshot()
        .nodepool(nodepool("default"))
        .storage_class(class("zonal", &zones, true, 0))
        .claim(unbound("data-0", Some("zonal")))
        .claim(unbound("data-1", Some("zonal")))
        .claim(unbound("data-2", Some("zonal")))
        .pods(3, |i| pod().label("app", "db").pvc(&format!("data-{i}")))
        .build();
    spread_min_domains_three(&mut s);
    let plan = run(&s);
    assert_eq!(plan.scheduled_count(), 3, "{plan:#?}");
    let mut placed: Vec<String> = (0..3).map(|i| zone_of(&plan, i)).collect();
    placed.sort();
    let expected: Vec<String> = zones
        .iter()
        .map(|z| format!("topology.kubernetes.io/zone In [{z}]"))
        .collect();
    assert_eq!(placed, expected);
}

#[test]
fn bound_volumes_in_each_zone_with_min_domains_three_all_schedule_in_their_zone() {
    let zones = ["test-zone-1", "test-zone-2", "test-zone-3"];
    let mut builder = snapshot().nodepool(nodepool("default"));
    for (i, zone) in zones.iter().enumerate() {
        builder = builder
            .volume(zonal_pv(&format!("pv-{i}"), &[zone]))
            .claim(bound(&format!("data-{i}"), &format!("pv-{i}")));
    }
    // Reverse order: the queue's first pod is pinned to zone 3 by its volume, so the spread
    // must accept the volume's zone rather than pick the lowest-named one.
    let mut s = builder
        .pods(3, |i| {
            pod().label("app", "db").pvc(&format!("data-{}", 2 - i))
        })
        .build();
    spread_min_domains_three(&mut s);
    let plan = run(&s);
    assert_eq!(plan.scheduled_count(), 3, "{plan:#?}");
    for i in 0..3 {
        assert_eq!(
            zone_of(&plan, i),
            format!("topology.kubernetes.io/zone In [{}]", zones[2 - i])
        );
    }
}
