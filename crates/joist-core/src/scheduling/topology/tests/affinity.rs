//! Pod affinity and anti-affinity outcomes (spec core §9.2 items 56–58).

use super::*;
use crate::snapshot::{PodAffinity, SelectorOperator};

fn affine(required: Vec<PodAffinityTerm>) -> PodConstraints {
    PodConstraints {
        pod_affinity: PodAffinity {
            required,
            preferred: Vec::new(),
        },
        ..PodConstraints::default()
    }
}

fn anti(required: Vec<PodAffinityTerm>) -> PodConstraints {
    PodConstraints {
        pod_anti_affinity: PodAffinity {
            required,
            preferred: Vec::new(),
        },
        ..PodConstraints::default()
    }
}

#[test]
fn required_hostname_anti_affinity_puts_one_pod_per_node() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 5, &anti(vec![term(HOSTNAME, "web")]));
    let mut sim = Sim::new(&snap, &batch, 100);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.nodeclaims(), 5);
    assert!(sim.nodes.iter().all(|n| n.pods == 1));
}

#[test]
fn hostname_anti_affinity_error_names_the_node() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 2, &anti(vec![term(HOSTNAME, "web")]));
    let mut sim = Sim::new(&snap, &batch, 100);
    sim.place(&batch[0]).unwrap();
    let node = sim.nodes[0].requirements.clone();
    let strict = Requirements::new();
    let error = sim
        .topology
        .add_requirements(&batch[1], &strict, &node)
        .unwrap_err();
    assert_eq!(
        sim.topology.explain(&error),
        "unsatisfiable topology constraint for pod anti-affinity, key=kubernetes.io/hostname \
         (counts = hostname-placeholder-0000: 1, podDomains = kubernetes.io/hostname Exists, \
         nodeDomains = kubernetes.io/hostname In [hostname-placeholder-0000]"
    );
}

#[test]
fn zonal_anti_affinity_is_never_violated() {
    // One pod pinned to each zone, then one more: no zone is left for it.
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut batch = pods("web", "web", 4, &anti(vec![term(ZONE, "web")]));
    for (p, zone) in batch.iter_mut().zip(ZONES) {
        p.constraints.node_selector.insert(ZONE.into(), zone.into());
    }
    let mut sim = Sim::new(&snap, &batch, 100);
    assert_eq!(sim.place_all(&batch), ["web-003"]);
    assert_eq!(sim.skew(ZONE), [1, 1, 1]);
}

#[test]
fn a_zone_flexible_node_blocks_every_zone_it_could_use() {
    // "Schrödinger": the db pod sits on a NodeClaim that may still launch in any zone, so a pod
    // with zonal anti-affinity to it has nowhere safe to go.
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut batch = vec![pod("db", "db")];
    batch.extend(pods("web", "web", 1, &anti(vec![term(ZONE, "db")])));
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.place(&batch[0]).unwrap();
    assert_eq!(sim.nodes[0].requirements.find(ZONE).unwrap().len(), 3);
    let Err(Some(TopologyError::Unsatisfiable(refusal))) = sim.place(&batch[1]) else {
        panic!("expected a topology refusal");
    };
    assert_eq!(refusal.kind, TopologyKind::PodAntiAffinity);
}

#[test]
fn existing_pods_required_anti_affinity_blocks_newcomers() {
    let pools = three_zones();
    let mut guard = bound("guard", "guard", "n1");
    guard.constraints = anti(vec![term(ZONE, "web")]);
    let snap = snapshot(
        &pools,
        vec![node("n1", &[(ZONE, "test-zone-1")])],
        vec![guard],
    );
    let batch = pods("web", "web", 6, &PodConstraints::default());
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes[0].pods = 1;
    assert!(sim.place_all(&batch).is_empty());
    let per = sim.per_domain(ZONE);
    assert!(!per.contains_key("test-zone-1"), "{per:?}");
}

#[test]
fn existing_pods_preferred_anti_affinity_is_ignored() {
    let pools = vec![nodepool("default", &ZONES[..1])];
    let mut guard = bound("guard", "guard", "n1");
    guard.constraints.pod_anti_affinity.preferred = vec![weighted(100, ZONE, "web")];
    let snap = snapshot(
        &pools,
        vec![node("n1", &[(ZONE, "test-zone-1")])],
        vec![guard],
    );
    let batch = pods("web", "web", 1, &PodConstraints::default());
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes[0].pods = 1;
    assert!(sim.place_all(&batch).is_empty());
    assert!(!sim.topology.constrains(&batch[0]));
}

#[test]
fn batch_pods_anti_affinity_also_blocks_later_pods_it_selects() {
    // The guard has required zonal anti-affinity to web; web pods themselves have no constraint.
    let pools = vec![nodepool("default", &ZONES[..2])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut batch = pods("guard", "guard", 1, &anti(vec![term(ZONE, "web")]));
    batch[0]
        .constraints
        .node_selector
        .insert(ZONE.into(), "test-zone-1".into());
    batch.extend(pods("web", "web", 3, &PodConstraints::default()));
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place_all(&batch).is_empty());
    let per = sim.per_domain(ZONE);
    assert_eq!(per["test-zone-1"], 1, "only the guard: {per:?}");
    assert_eq!(per["test-zone-2"], 3);
}

#[test]
fn self_affinity_bootstraps_in_the_first_domain_only() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    for key in [ZONE, HOSTNAME] {
        let batch = pods("web", "web", 5, &affine(vec![term(key, "web")]));
        let capacity = if key == ZONE { 1 } else { 100 };
        let mut sim = Sim::new(&snap, &batch, capacity);
        assert!(sim.place_all(&batch).is_empty(), "{key}");
        assert_eq!(sim.skew(key), [5], "{key}");
    }
}

#[test]
fn affinity_follows_existing_pods() {
    let pools = three_zones();
    let snap = snapshot(
        &pools,
        vec![node("n1", &[(ZONE, "test-zone-2")])],
        vec![bound("db", "db", "n1")],
    );
    let batch = pods("web", "web", 3, &affine(vec![term(ZONE, "db")]));
    let mut sim = Sim::new(&snap, &batch, 1);
    sim.nodes[0].pods = 1;
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(
        sim.per_domain(ZONE).keys().collect::<Vec<_>>(),
        ["test-zone-2"]
    );
}

#[test]
fn affinity_to_a_missing_pod_is_unschedulable() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("web", "web", 1, &affine(vec![term(ZONE, "nobody")]));
    let mut sim = Sim::new(&snap, &batch, 1);
    assert_eq!(sim.place_all(&batch).len(), 1);
}

#[test]
fn dependent_affinities_resolve_across_queue_cycles() {
    // web needs db's zone; db comes later in the queue: web fails once, then follows db.
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut batch = pods("web", "web", 1, &affine(vec![term(ZONE, "db")]));
    batch.push(pod("db", "db"));
    let mut sim = Sim::new(&snap, &batch, 1);
    // db on a zone-flexible node does not pin a zone: make db's zone explicit.
    batch[1]
        .constraints
        .node_selector
        .insert(ZONE.into(), "test-zone-3".into());
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.per_domain(ZONE)["test-zone-3"], 2);
}

#[test]
fn self_affine_pods_with_incompatible_selectors_bootstrap_separately() {
    // b cannot join a's zone, and no zone b allows holds a selected pod: b bootstraps anew.
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut batch = pods("pair", "pair", 2, &affine(vec![term(ZONE, "pair")]));
    batch[0]
        .constraints
        .node_selector
        .insert(ZONE.into(), "test-zone-1".into());
    batch[1]
        .constraints
        .node_selector
        .insert(ZONE.into(), "test-zone-2".into());
    let mut sim = Sim::new(&snap, &batch, 10);
    assert!(sim.place_all(&batch).is_empty());
    assert_eq!(sim.nodeclaims(), 2);
    assert_eq!(sim.skew(ZONE), [1, 1]);
}

#[test]
fn namespaces_limit_what_affinity_counts() {
    let pools = three_zones();
    let mut other = bound("db", "db", "n1");
    other.namespace = "other".into();
    let mut snap = snapshot(
        &pools,
        vec![node("n1", &[(ZONE, "test-zone-2")])],
        vec![other],
    );
    snap.namespaces.insert(
        "default".into(),
        [("team".to_owned(), "a".to_owned())].into(),
    );
    snap.namespaces
        .insert("other".into(), [("team".to_owned(), "b".to_owned())].into());
    let mut listed = term(ZONE, "db");
    listed.namespaces = vec!["other".into()];
    let mut by_selector = term(ZONE, "db");
    by_selector.namespace_selector = Some(LabelSelector::from_labels([("team", "b")]));
    let mut everywhere = term(ZONE, "db");
    everywhere.namespace_selector = Some(LabelSelector::everything());
    let mut expression = term(ZONE, "db");
    expression.namespace_selector = Some(LabelSelector::everything().with_expression(
        crate::snapshot::LabelSelectorRequirement::new("team", SelectorOperator::In, ["a"]),
    ));
    let cases = [
        (term(ZONE, "db"), false),
        (listed, true),
        (by_selector, true),
        (everywhere, true),
        (expression, false),
    ];
    for (i, (t, found)) in cases.into_iter().enumerate() {
        let batch = pods(&format!("web{i}"), "web", 1, &affine(vec![t]));
        let mut sim = Sim::new(&snap, &batch, 1);
        sim.nodes[0].pods = 1;
        assert_eq!(sim.place_all(&batch).is_empty(), found, "case {i}");
    }
}

#[test]
fn preferred_terms_constrain_until_relaxed() {
    let pools = vec![nodepool("default", &ZONES[..1])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut constraints = PodConstraints::default();
    constraints.pod_anti_affinity.preferred = vec![weighted(10, ZONE, "web")];
    let batch = pods("web", "web", 2, &constraints);
    let mut sim = Sim::new(&snap, &batch, 1);
    assert!(sim.place(&batch[0]).is_ok());
    assert!(sim.place(&batch[1]).is_err(), "the only zone is taken");
    let mut relaxed = batch[1].constraints.clone();
    let step = crate::scheduling::preferences::Preferences::new(false).relax(&mut relaxed);
    assert!(matches!(
        step,
        Some(crate::scheduling::preferences::RelaxationStep::PreferredPodAntiAffinityTerm(_))
    ));
    sim.topology.update(&batch[1], &relaxed);
    assert!(sim.place(&batch[1]).is_ok());
}

#[test]
fn preferred_terms_are_not_constraints_under_ignore() {
    let pools = vec![nodepool("default", &ZONES[..1])];
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let mut constraints = PodConstraints::default();
    constraints.pod_anti_affinity.preferred = vec![weighted(10, ZONE, "web")];
    constraints.pod_affinity.preferred = vec![weighted(10, ZONE, "nobody")];
    let batch = pods("web", "web", 2, &constraints);
    let ignore = SchedulingSettings {
        preference_policy: PreferencePolicy::Ignore,
        ..SchedulingSettings::default()
    };
    let mut sim = Sim::with_settings(&snap, &batch, 1, ignore);
    assert!(sim.place_all(&batch).is_empty());
}
