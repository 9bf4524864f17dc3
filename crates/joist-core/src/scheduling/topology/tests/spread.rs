//! Topology spread outcomes (spec core §9.2 items 40, 48–54).

use super::*;

fn zonal(count: usize, max_skew: i32) -> Vec<Pod> {
    pods(
        "web",
        "web",
        count,
        &spreading(spread(ZONE, max_skew, "web")),
    )
}

#[test]
fn four_pods_over_three_zones_are_one_one_two() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = zonal(4, 1);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [1, 1, 2]);
    // Ties go to the lowest domain name, so the fourth pod lands in zone 1.
    assert_eq!(sim.per_domain(ZONE)["test-zone-1"], 2);
    assert_eq!(
        sim.topology.counts(TopologyKind::Spread, ZONE),
        [
            ("test-zone-1".into(), 2),
            ("test-zone-2".into(), 1),
            ("test-zone-3".into(), 1)
        ]
    );
}

#[test]
fn nodepool_zone_subset_limits_the_domains() {
    let pools = vec![nodepool("default", &ZONES[..2])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = zonal(4, 1);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [2, 2]);
}

#[test]
fn template_zone_label_puts_every_pod_in_that_zone() {
    let mut pools = three_zones();
    pools[0].0.labels.insert(ZONE.into(), "test-zone-1".into());
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = zonal(4, 1);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [4]);
}

#[test]
fn existing_pods_are_counted() {
    // One running pod in zone 3; the NodePool may only use zones 1 and 2: at most two per zone.
    let pools = vec![nodepool("default", &ZONES[..2])];
    let existing = node("existing", &[(ZONE, "test-zone-3")]);
    let snap = snapshot(
        &pools,
        vec![existing],
        vec![bound("old", "web", "existing")],
    );
    let batch = zonal(6, 1);
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes[0].pods = 1; // the existing node is full
    assert_eq!(sim.place_all(&batch).len(), 2);
    assert_eq!(sim.skew(ZONE), [2, 2]);
    assert_eq!(
        sim.topology.counts(TopologyKind::Spread, ZONE),
        [
            ("test-zone-1".into(), 2),
            ("test-zone-2".into(), 2),
            ("test-zone-3".into(), 1)
        ]
    );
}

#[test]
fn pods_that_do_not_count_are_ignored() {
    let pools = three_zones();
    let nodes = vec![
        node("n1", &[(ZONE, "test-zone-1")]),
        node("n2", &[("other", "x")]),
    ];
    let mut terminal = bound("done", "web", "n1");
    terminal.phase = PodPhase::Succeeded;
    let mut terminating = bound("leaving", "web", "n1");
    terminating.deletion_timestamp = Some(Default::default());
    let existing = vec![
        terminal,
        terminating,
        bound("other-app", "db", "n1"),
        bound("unlabelled-node", "web", "n2"),
        bound("missing-node", "web", "gone"),
        bound("counted", "web", "n1"),
    ];
    let snap = snapshot(&pools, nodes, existing);
    let batch = zonal(1, 1);
    let sim = Sim::new(&snap, &batch, 1);
    assert_eq!(
        sim.topology.counts(TopologyKind::Spread, ZONE),
        [
            ("test-zone-1".into(), 1),
            ("test-zone-2".into(), 0),
            ("test-zone-3".into(), 0)
        ]
    );
}

#[test]
fn batch_pods_already_bound_are_not_counted() {
    let pools = three_zones();
    let mut moving = bound("web-000", "web", "n1");
    moving.constraints = spreading(spread(ZONE, 1, "web"));
    let snap = snapshot(
        &pools,
        vec![node("n1", &[(ZONE, "test-zone-1")])],
        vec![moving.clone()],
    );
    let sim = Sim::new(&snap, &[moving], 1);
    assert!(
        sim.topology
            .counts(TopologyKind::Spread, ZONE)
            .iter()
            .all(|(_, c)| *c == 0)
    );
}

#[test]
fn a_non_minimum_domain_is_used_when_it_is_the_only_one_allowed() {
    // Existing counts 1/1/0 with maxSkew 5: a pool restricted to zone 3 can take 6 pods.
    let pools = vec![nodepool("zone-3", &ZONES[2..])];
    let nodes = vec![
        node("a", &[(ZONE, "test-zone-1")]),
        node("b", &[(ZONE, "test-zone-2")]),
    ];
    let existing = vec![bound("p1", "web", "a"), bound("p2", "web", "b")];
    let snap = snapshot(&pools, nodes, existing);
    let batch = zonal(10, 5);
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes.iter_mut().for_each(|n| n.pods = 1);
    assert_eq!(sim.place_all(&batch).len(), 4);
    assert_eq!(sim.per_domain(ZONE)["test-zone-3"], 6);
}

#[test]
fn already_violated_skew_only_fills_minimum_domains() {
    let pools = three_zones();
    let nodes = vec![node("a", &[(ZONE, "test-zone-1")])];
    let existing = (0..3)
        .map(|i| bound(&format!("old-{i}"), "web", "a"))
        .collect();
    let snap = snapshot(&pools, nodes, existing);
    let batch = zonal(3, 1);
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes[0].pods = 3;
    sim.nodes[0].requirements = Requirements::new(); // full anyway; keep it out of the way
    assert!(sim.place_all(&batch).is_empty());
    let per = sim.per_domain(ZONE);
    assert_eq!(
        per.get("test-zone-1"),
        None,
        "no new pod in the over-full zone"
    );
    assert_eq!(sim.skew(ZONE), [1, 2]);
}

#[test]
fn nil_selector_never_restricts() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut tsc = spread(ZONE, 1, "web");
    tsc.label_selector = None;
    let batch = pods("web", "web", 2, &spreading(tsc));
    let mut sim = Sim::new(&snap, &batch, 10);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [2]);
    assert_eq!(sim.nodeclaims(), 1);
}

#[test]
fn unknown_topology_key_refuses_the_pod_with_upstreams_message() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 1, &spreading(spread("unknown", 1, "web")));
    let mut sim = Sim::new(&snap, &batch, 10);
    let error = sim.place(&batch[0]).unwrap_err().expect("a topology error");
    assert_eq!(
        error.to_string(),
        "unsatisfiable topology constraint for topology spread, key=unknown (podDomains = unknown \
         Exists, nodeDomains = unknown Exists"
    );
    assert_eq!(
        sim.topology.explain(&error),
        "unsatisfiable topology constraint for topology spread, key=unknown (counts = , podDomains \
         = unknown Exists, nodeDomains = unknown Exists"
    );
    // A pod without the constraint is unaffected.
    assert!(sim.place(&pod("plain", "other")).is_ok());
}

#[test]
fn min_domains_above_the_zones_available_caps_placements() {
    let pools = vec![nodepool("default", &ZONES[..2])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut tsc = spread(ZONE, 1, "web");
    tsc.min_domains = Some(3);
    let batch = pods("web", "web", 3, &spreading(tsc));
    let mut sim = Sim::new(&snap, &batch, 1);
    assert_eq!(sim.place_all(&batch).len(), 1);
    assert_eq!(sim.skew(ZONE), [1, 1]);
}

#[test]
fn satisfied_min_domains_spreads_normally() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut tsc = spread(ZONE, 1, "web");
    tsc.min_domains = Some(3);
    let batch = pods("web", "web", 11, &spreading(tsc));
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [3, 4, 4]);
}

#[test]
fn hostname_spread_puts_max_skew_pods_per_node() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    for max_skew in [1, 3] {
        let batch = pods(
            "web",
            "web",
            6,
            &spreading(spread(HOSTNAME, max_skew, "web")),
        );
        let mut sim = Sim::new(&snap, &batch, 100);
        assert!(sim.place_all(&batch).is_empty());
        assert_eq!(sim.nodeclaims(), 6 / max_skew as usize);
        assert!(sim.nodes.iter().all(|n| n.pods == max_skew as usize));
    }
}

#[test]
fn in_flight_nodes_count_for_zonal_and_hostname_spread() {
    // An in-flight node in zone 1 already holding one selected pod (nominated earlier).
    let pools = three_zones();
    let mut inflight = node("inflight", &[(ZONE, "test-zone-1")]);
    inflight.registered = false;
    let snap = snapshot(&pools, vec![inflight], Vec::new());
    let constraints = PodConstraints {
        topology_spread: vec![spread(ZONE, 1, "web"), spread(HOSTNAME, 1, "web")],
        ..PodConstraints::default()
    };
    let batch = pods("web", "web", 4, &constraints);
    let mut sim = Sim::new(&snap, &batch, 10);
    assert_eq!(
        sim.place(&batch[0]).unwrap(),
        0,
        "the in-flight node takes the first pod"
    );
    assert!(sim.place_all(&batch[1..]).is_empty());
    // One pod per host; zones end 2/1/1 with the in-flight node's pod counted in zone 1.
    assert!(sim.nodes.iter().all(|n| n.pods == 1));
    assert_eq!(
        sim.topology.counts(TopologyKind::Spread, ZONE),
        [
            ("test-zone-1".into(), 2),
            ("test-zone-2".into(), 1),
            ("test-zone-3".into(), 1)
        ]
    );
}

#[test]
fn spread_domains_follow_strict_requirements_not_preferences() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut constraints = spreading(spread(ZONE, 1, "web"));
    constraints.node_affinity.required = vec![crate::snapshot::NodeSelectorTerm::new(vec![
        crate::requirements::NodeSelectorRequirement::new(
            ZONE,
            Operator::In,
            ZONES[..2].iter().copied(),
        ),
    ])];
    let batch = pods("web", "web", 4, &constraints);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [2, 2]);

    // A preferred zone does not narrow the domains: 4 pods still spread over all three zones.
    let mut preferring = spreading(spread(ZONE, 1, "web"));
    preferring.node_affinity.preferred = vec![crate::snapshot::PreferredSchedulingTerm {
        weight: 10,
        preference: crate::snapshot::NodeSelectorTerm::new(vec![
            crate::requirements::NodeSelectorRequirement::new(ZONE, Operator::In, ["test-zone-1"]),
        ]),
    }];
    let batch = pods("pref", "web", 4, &preferring);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.skew(ZONE), [1, 1, 2]);
}

#[test]
fn match_label_keys_split_the_counts_per_value() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut tsc = spread(ZONE, 1, "web");
    tsc.match_label_keys = vec!["version".into(), "not-a-label".into()];
    let mut batch = pods("v1", "web", 2, &spreading(tsc.clone()));
    batch.extend(pods("v2", "web", 2, &spreading(tsc)));
    for (i, p) in batch.iter_mut().enumerate() {
        p.labels
            .insert("version".into(), if i < 2 { "1" } else { "2" }.into());
    }
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    // Each version spreads on its own: both start in zone 1 (ties by name), then zone 2.
    assert_eq!(sim.skew(ZONE), [2, 2]);
}

#[test]
fn node_taints_policy_decides_whether_tainted_pools_add_domains() {
    let (mut tainted, its) = nodepool("tainted", &ZONES[2..]);
    tainted.taints.push(Taint::new(
        "dedicated",
        "x",
        crate::taints::Effect::NoSchedule,
    ));
    let pools = vec![nodepool("default", &ZONES[..2]), (tainted, its)];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    for (policy, placed) in [
        (NodeInclusionPolicy::Ignore, 2),
        (NodeInclusionPolicy::Honor, 4),
    ] {
        let mut tsc = spread(ZONE, 1, "web");
        tsc.node_taints_policy = Some(policy);
        let batch = pods("web", "web", 4, &spreading(tsc));
        let mut sim = Sim::new(&snap, &batch, 1);
        // Ignore: zone 3 (only on the tainted pool, not tolerated) stays at 0 and caps the others.
        assert_eq!(
            batch.len() - sim.place_all(&batch).len(),
            placed,
            "{policy:?}"
        );
    }
}

#[test]
fn node_affinity_policy_decides_whether_other_pools_add_domains() {
    let pools = vec![nodepool("a", &ZONES[..2]), nodepool("b", &ZONES[2..])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    for (policy, placed) in [
        (NodeInclusionPolicy::Honor, 4),
        (NodeInclusionPolicy::Ignore, 2),
    ] {
        let mut tsc = spread(ZONE, 1, "web");
        tsc.node_affinity_policy = Some(policy);
        let mut constraints = spreading(tsc);
        constraints
            .node_selector
            .insert(crate::labels::NODEPOOL.into(), "a".into());
        let batch = pods("web", "web", 4, &constraints);
        let mut sim = Sim::new(&snap, &batch, 1);
        assert_eq!(
            batch.len() - sim.place_all(&batch).len(),
            placed,
            "{policy:?}"
        );
    }
}

#[test]
fn schedule_anyway_is_hard_under_respect_and_absent_under_ignore() {
    let pools = vec![nodepool("default", &ZONES[..1])];
    let mut tsc = spread(ZONE, 1, "web");
    tsc.when_unsatisfiable = WhenUnsatisfiable::ScheduleAnyway;
    tsc.min_domains = Some(2);
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 3, &spreading(tsc));
    let mut respect = Sim::new(&snap, &batch, 1);
    assert_eq!(respect.place_all(&batch).len(), 2);
    let ignore = SchedulingSettings {
        preference_policy: PreferencePolicy::Ignore,
        ..SchedulingSettings::default()
    };
    let mut sim = Sim::with_settings(&snap, &batch, 1, ignore);
    assert!(sim.place_all(&batch).is_empty());
    assert!(!sim.topology.constrains(&batch[0]));
}

#[test]
fn relaxing_a_spread_constraint_releases_the_pod() {
    let pools = vec![nodepool("default", &ZONES[..1])];
    let mut tsc = spread(ZONE, 1, "web");
    tsc.when_unsatisfiable = WhenUnsatisfiable::ScheduleAnyway;
    tsc.min_domains = Some(2);
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 2, &spreading(tsc));
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place(&batch[0]).is_ok());
    assert!(sim.place(&batch[1]).is_err());
    let mut relaxed = batch[1].constraints.clone();
    let step = crate::scheduling::preferences::Preferences::new(false).relax(&mut relaxed);
    assert!(step.is_some());
    sim.topology.update(&batch[1], &relaxed);
    assert!(!sim.topology.constrains(&batch[1]));
    assert!(sim.place(&batch[1]).is_ok());
}

#[test]
fn combined_zone_and_hostname_constraints_hold_together() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let constraints = PodConstraints {
        topology_spread: vec![
            spread(ZONE, 1, "web"),
            spread(HOSTNAME, 1, "web"),
            spread(CAPACITY_TYPE, 1, "web"),
        ],
        ..PodConstraints::default()
    };
    let batch = pods("web", "web", 6, &constraints);
    let mut sim = Sim::new(&snap, &batch, 100);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.nodeclaims(), 6);
    assert_eq!(sim.skew(ZONE), [2, 2, 2]);
    assert_eq!(sim.skew(CAPACITY_TYPE), [3, 3]);
}
