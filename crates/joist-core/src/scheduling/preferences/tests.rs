use super::*;
use crate::labels::ZONE;
use crate::requirements::Operator;
use crate::snapshot::{LabelSelectorRequirement, SelectorOperator};
use crate::taints::Taint;

fn zone_term(zone: &str) -> NodeSelectorTerm {
    NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
        ZONE,
        Operator::In,
        [zone],
    )])
}

fn preferred_zone(weight: i32, zone: &str) -> PreferredSchedulingTerm {
    PreferredSchedulingTerm {
        weight,
        preference: zone_term(zone),
    }
}

fn pod_term(weight: i32, app: &str) -> WeightedPodAffinityTerm {
    WeightedPodAffinityTerm {
        weight,
        term: PodAffinityTerm {
            label_selector: Some(LabelSelector::from_labels([("app", app)])),
            topology_key: ZONE.into(),
            ..PodAffinityTerm::default()
        },
    }
}

fn spread(when: WhenUnsatisfiable, key: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.into(),
        when_unsatisfiable: when,
        label_selector: Some(LabelSelector::from_labels([("app", "web")])),
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

/// A pod with one of everything relaxable.
fn everything() -> PodConstraints {
    let mut c = PodConstraints::default();
    c.node_affinity.required = vec![zone_term("z1"), zone_term("z2")];
    c.node_affinity.preferred = vec![preferred_zone(1, "z1"), preferred_zone(50, "z2")];
    c.pod_affinity.preferred = vec![pod_term(10, "db")];
    c.pod_anti_affinity.preferred = vec![pod_term(20, "web")];
    c.topology_spread = vec![
        spread(WhenUnsatisfiable::DoNotSchedule, ZONE),
        spread(WhenUnsatisfiable::ScheduleAnyway, "kubernetes.io/hostname"),
    ];
    c
}

fn step_names(preferences: Preferences, mut c: PodConstraints) -> Vec<&'static str> {
    std::iter::from_fn(|| preferences.relax(&mut c))
        .map(|step| match step {
            RelaxationStep::RequiredNodeAffinityTerm(_) => "required node",
            RelaxationStep::PreferredPodAffinityTerm(_) => "preferred pod affinity",
            RelaxationStep::PreferredPodAntiAffinityTerm(_) => "preferred anti-affinity",
            RelaxationStep::PreferredNodeAffinityTerm(_) => "preferred node",
            RelaxationStep::ScheduleAnywaySpread(_) => "schedule anyway",
            RelaxationStep::ToleratePreferNoSchedule => "toleration",
        })
        .collect()
}

#[test]
fn one_step_per_call_in_upstream_order() {
    assert_eq!(
        step_names(Preferences::new(true), everything()),
        [
            "required node",
            "preferred pod affinity",
            "preferred anti-affinity",
            "preferred node",
            "preferred node",
            "schedule anyway",
            "toleration",
        ]
    );
}

#[test]
fn toleration_step_only_when_enabled() {
    let steps = step_names(Preferences::new(false), everything());
    assert_eq!(steps.last(), Some(&"schedule anyway"));
    assert!(!steps.contains(&"toleration"));
}

#[test]
fn the_last_required_term_is_never_removed() {
    let mut c = PodConstraints::default();
    c.node_affinity.required = vec![zone_term("z1"), zone_term("z2"), zone_term("z3")];
    let p = Preferences::new(false);
    assert_eq!(
        p.relax(&mut c),
        Some(RelaxationStep::RequiredNodeAffinityTerm(zone_term("z1")))
    );
    assert_eq!(
        p.relax(&mut c),
        Some(RelaxationStep::RequiredNodeAffinityTerm(zone_term("z2")))
    );
    assert_eq!(p.relax(&mut c), None);
    assert_eq!(c.node_affinity.required, vec![zone_term("z3")]);
}

#[test]
fn heaviest_preferred_terms_go_first_and_the_rest_stay_sorted() {
    let mut c = PodConstraints::default();
    c.node_affinity.preferred = vec![
        preferred_zone(1, "z1"),
        preferred_zone(100, "nowhere"),
        preferred_zone(50, "z2"),
        preferred_zone(100, "also-nowhere"),
    ];
    let p = Preferences::new(false);
    let removed = |step| match step {
        Some(RelaxationStep::PreferredNodeAffinityTerm(t)) => t,
        other => panic!("unexpected step {other:?}"),
    };
    assert_eq!(removed(p.relax(&mut c)), preferred_zone(100, "nowhere"));
    assert_eq!(
        removed(p.relax(&mut c)),
        preferred_zone(100, "also-nowhere")
    );
    assert_eq!(
        c.node_affinity.preferred,
        vec![preferred_zone(50, "z2"), preferred_zone(1, "z1")]
    );
    // The heaviest remaining (z2, weight 50) is what the pod's requirements now use.
    assert_eq!(c.heaviest_preferred_node_term(), Some(0));
}

#[test]
fn schedule_anyway_spreads_are_swap_removed_one_at_a_time() {
    let mut c = PodConstraints {
        topology_spread: vec![
            spread(WhenUnsatisfiable::ScheduleAnyway, "a"),
            spread(WhenUnsatisfiable::DoNotSchedule, "b"),
            spread(WhenUnsatisfiable::ScheduleAnyway, "c"),
        ],
        ..PodConstraints::default()
    };
    let p = Preferences::new(false);
    let Some(RelaxationStep::ScheduleAnywaySpread(first)) = p.relax(&mut c) else {
        panic!("expected a spread relaxation");
    };
    assert_eq!(first.topology_key, "a");
    let keys: Vec<&str> = c
        .topology_spread
        .iter()
        .map(|t| t.topology_key.as_str())
        .collect();
    assert_eq!(keys, ["c", "b"]);
    assert!(
        matches!(p.relax(&mut c), Some(RelaxationStep::ScheduleAnywaySpread(t)) if t.topology_key == "c")
    );
    assert_eq!(p.relax(&mut c), None);
    assert_eq!(c.topology_spread.len(), 1);
}

#[test]
fn toleration_is_added_once() {
    let mut c = PodConstraints::default();
    let p = Preferences::new(true);
    assert_eq!(
        p.relax(&mut c),
        Some(RelaxationStep::ToleratePreferNoSchedule)
    );
    assert_eq!(c.tolerations, vec![prefer_no_schedule_toleration()]);
    let taint = Taint::new("soft", "x", Effect::PreferNoSchedule);
    assert!(c.tolerations[0].tolerates(&taint));
    assert_eq!(p.relax(&mut c), None);
}

#[test]
fn toleration_step_is_enabled_by_a_prefer_no_schedule_nodepool() {
    let mut soft = NodePool::default();
    assert_eq!(Preferences::for_nodepools([&soft]), Preferences::new(false));
    soft.taints.push(Taint::new("soft", "", Effect::NoSchedule));
    assert_eq!(Preferences::for_nodepools([&soft]), Preferences::new(false));
    soft.taints
        .push(Taint::new("soft", "", Effect::PreferNoSchedule));
    assert_eq!(
        Preferences::for_nodepools([&NodePool::default(), &soft]),
        Preferences::new(true)
    );
}

#[test]
fn ignore_policy_drops_preferences_up_front() {
    let mut c = everything();
    apply_policy(&mut c, PreferencePolicy::Respect);
    assert_eq!(c, everything());
    apply_policy(&mut c, PreferencePolicy::Ignore);
    assert!(c.node_affinity.preferred.is_empty());
    assert!(c.pod_affinity.preferred.is_empty() && c.pod_anti_affinity.preferred.is_empty());
    assert_eq!(
        c.topology_spread,
        vec![spread(WhenUnsatisfiable::DoNotSchedule, ZONE)]
    );
    assert_eq!(c.node_affinity.required.len(), 2, "required terms stay");
    assert_eq!(step_names(Preferences::new(false), c), ["required node"]);
    // A policy-aware engine drops them itself, without spending a step.
    let ignoring = Preferences::new(false).with_policy(PreferencePolicy::Ignore);
    assert_eq!(step_names(ignoring, everything()), ["required node"]);
}

#[test]
fn reasons_render_the_removed_term_as_go_json() {
    let node = RelaxationStep::PreferredNodeAffinityTerm(preferred_zone(1, "z1"));
    assert_eq!(
        node.reason(),
        "removing: spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]=\
         {\"weight\":1,\"preference\":{\"matchExpressions\":[{\"key\":\"topology.kubernetes.io/zone\",\
         \"operator\":\"In\",\"values\":[\"z1\"]}]}}"
    );
    let required = RelaxationStep::RequiredNodeAffinityTerm(NodeSelectorTerm::new(vec![
        NodeSelectorRequirement::new("gpu", Operator::Exists, Vec::<String>::new()),
    ]));
    assert_eq!(
        required.reason(),
        "removing: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]=\
         {\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}"
    );
    let anti = RelaxationStep::PreferredPodAntiAffinityTerm(pod_term(10, "web"));
    assert_eq!(
        anti.to_string(),
        "removing: spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]=\
         {\"weight\":10,\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\
         \"topologyKey\":\"topology.kubernetes.io/zone\"}}"
    );
    assert_eq!(
        RelaxationStep::ToleratePreferNoSchedule.reason(),
        "adding: toleration for PreferNoSchedule taints"
    );
}

#[test]
fn spread_reason_lists_set_fields_only() {
    let mut tsc = spread(WhenUnsatisfiable::ScheduleAnyway, ZONE);
    tsc.label_selector = Some(LabelSelector::everything().with_expression(
        LabelSelectorRequirement::new("tier", SelectorOperator::NotIn, ["<b&d>"]),
    ));
    tsc.min_domains = Some(3);
    tsc.node_taints_policy = Some(NodeInclusionPolicy::Honor);
    tsc.match_label_keys = vec!["pod-template-hash".into()];
    assert_eq!(
        RelaxationStep::ScheduleAnywaySpread(tsc).reason(),
        "removing: spec.topologySpreadConstraints = {\"maxSkew\":1,\
         \"topologyKey\":\"topology.kubernetes.io/zone\",\"whenUnsatisfiable\":\"ScheduleAnyway\",\
         \"labelSelector\":{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\",\
         \"values\":[\"\\u003cb\\u0026d\\u003e\"]}]},\"minDomains\":3,\"nodeTaintsPolicy\":\"Honor\",\
         \"matchLabelKeys\":[\"pod-template-hash\"]}"
    );
}
