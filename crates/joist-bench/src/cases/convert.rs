//! Turns the plain-data [`BenchPod`]s into the scheduler's [`Pod`]s.
//!
//! The pods look like upstream's benchmark pods (`test.Pod`): namespace `default`, pending with
//! `PodScheduled=False/Unschedulable`, no owner, one creation time shared by every pod (upstream's
//! are never written to an API server, so all are zero) and the pod name as UID.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use joist_core::labels::{HOSTNAME, ZONE};
use joist_core::requirements::{NodeSelectorRequirement, Operator};
use joist_core::resources::names;
use joist_core::snapshot::{
    LabelSelector, NodeAffinity, NodeSelectorTerm, Pod, PodAffinity, PodAffinityTerm,
    PodConstraints, PodPhase, PreferredSchedulingTerm, TopologySpreadConstraint,
    WeightedPodAffinityTerm, WhenUnsatisfiable,
};
use joist_core::taints::{Effect, Toleration, TolerationOperator};

use crate::mix::upstream::{APP_NGINX, MY_LABEL};
use crate::mix::{BenchPod, Constraint, TopologyKey};

/// The namespace of every benchmark pod.
pub const NAMESPACE: &str = "default";

/// The label key of a topology key.
fn topology_key(key: TopologyKey) -> String {
    match key {
        TopologyKey::Zone => ZONE.to_string(),
        TopologyKey::Hostname => HOSTNAME.to_string(),
    }
}

/// A required (anti-)affinity term over `selector` in `key` domains, in the pod's namespace.
fn affinity_term(selector: LabelSelector, key: TopologyKey) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector),
        topology_key: topology_key(key),
        ..PodAffinityTerm::default()
    }
}

fn nginx_selector() -> LabelSelector {
    LabelSelector::from_labels([APP_NGINX])
}

/// Upstream's three preferences: zone node affinity (weight 1), zonal (weight 10) and hostname
/// (weight 1) anti-affinity to `app=nginx`.
fn add_preferences(constraints: &mut PodConstraints, preferred_zone: &str) {
    let zone = NodeSelectorRequirement::new(ZONE, Operator::In, [preferred_zone]);
    constraints.node_affinity = NodeAffinity {
        required: Vec::new(),
        preferred: vec![PreferredSchedulingTerm {
            weight: 1,
            preference: NodeSelectorTerm::new(vec![zone]),
        }],
    };
    constraints.pod_anti_affinity = PodAffinity {
        required: Vec::new(),
        preferred: vec![
            WeightedPodAffinityTerm {
                weight: 10,
                term: affinity_term(nginx_selector(), TopologyKey::Zone),
            },
            WeightedPodAffinityTerm {
                weight: 1,
                term: affinity_term(nginx_selector(), TopologyKey::Hostname),
            },
        ],
    };
}

/// The scheduling constraints of one mix constraint.
fn constraints(pod: &BenchPod, labels: &BTreeMap<String, String>) -> PodConstraints {
    let mut constraints = PodConstraints::default();
    match &pod.constraint {
        Constraint::Generic => {}
        Constraint::Spread {
            key,
            selector_value,
        } => constraints.topology_spread.push(TopologySpreadConstraint {
            max_skew: 1,
            topology_key: topology_key(*key),
            when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
            label_selector: Some(LabelSelector::from_labels([(MY_LABEL, *selector_value)])),
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: Vec::new(),
        }),
        Constraint::SelfAffinity { key } => {
            let own = LabelSelector::from_labels(labels.clone());
            constraints
                .pod_affinity
                .required
                .push(affinity_term(own, *key));
        }
        Constraint::AntiAffinity { key } => {
            let term = affinity_term(nginx_selector(), *key);
            constraints.pod_anti_affinity.required.push(term);
        }
        Constraint::Preferences { preferred_zone } => {
            add_preferences(&mut constraints, preferred_zone);
        }
    }
    if pod.tolerates_gpu_taint {
        constraints.tolerations.push(Toleration {
            key: names::NVIDIA_GPU.to_string(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: Some(Effect::NoSchedule),
            toleration_seconds: None,
        });
    }
    constraints
}

/// The scheduler's view of `pod`, created at `created`.
pub fn to_pod(pod: &BenchPod, created: DateTime<Utc>) -> Pod {
    let labels: BTreeMap<String, String> = pod
        .labels
        .iter()
        .map(|(key, value)| ((*key).to_string(), value.clone()))
        .collect();
    let constraints = constraints(pod, &labels);
    Pod {
        uid: pod.name.clone(),
        namespace: NAMESPACE.to_string(),
        name: pod.name.clone(),
        labels,
        annotations: BTreeMap::new(),
        owner: None,
        creation_timestamp: created,
        deletion_timestamp: None,
        priority: 0,
        node_name: None,
        nominated_node_name: None,
        phase: PodPhase::Pending,
        unschedulable: true,
        requests: pod.requests.to_resource_list(),
        constraints,
        host_ports: Vec::new(),
        volumes: Vec::new(),
        has_resource_claims: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::Requests;
    use crate::mix::upstream::MY_AFFINITY;
    use joist_core::resources::Quantity;

    fn bench_pod(constraint: Constraint, labels: Vec<(&'static str, String)>) -> BenchPod {
        BenchPod {
            name: "p-1".into(),
            labels,
            requests: Requests {
                cpu_millis: 250,
                memory_mib: 512,
                gpus: 0,
            },
            constraint,
            tolerates_gpu_taint: false,
        }
    }

    #[test]
    fn a_generic_pod_is_pending_unschedulable_with_requests_and_no_constraints() {
        let pod = to_pod(
            &bench_pod(Constraint::Generic, vec![(MY_LABEL, "c".into())]),
            DateTime::UNIX_EPOCH,
        );
        assert_eq!((pod.uid.as_str(), pod.name.as_str()), ("p-1", "p-1"));
        assert_eq!(pod.namespace, NAMESPACE);
        assert_eq!(pod.labels.get(MY_LABEL).map(String::as_str), Some("c"));
        assert!(pod.unschedulable && pod.phase == PodPhase::Pending && pod.owner.is_none());
        assert_eq!(
            pod.requests.get(names::CPU),
            Some(Quantity::from_milli(250))
        );
        assert_eq!(pod.requests.get(names::PODS), Some(Quantity::from_int(1)));
        assert_eq!(pod.constraints, PodConstraints::default());
    }

    #[test]
    fn spread_selects_the_drawn_value_not_the_pods_own() {
        let constraint = Constraint::Spread {
            key: TopologyKey::Zone,
            selector_value: "e",
        };
        let pod = to_pod(
            &bench_pod(constraint, vec![(MY_LABEL, "a".into())]),
            DateTime::UNIX_EPOCH,
        );
        let tsc = &pod.constraints.topology_spread[0];
        assert_eq!((tsc.max_skew, tsc.topology_key.as_str()), (1, ZONE));
        assert_eq!(tsc.when_unsatisfiable, WhenUnsatisfiable::DoNotSchedule);
        assert_eq!(
            tsc.label_selector,
            Some(LabelSelector::from_labels([(MY_LABEL, "e")]))
        );
    }

    #[test]
    fn self_affinity_selects_the_pods_own_label() {
        let constraint = Constraint::SelfAffinity {
            key: TopologyKey::Zone,
        };
        let pod = to_pod(
            &bench_pod(constraint, vec![(MY_AFFINITY, "d".into())]),
            DateTime::UNIX_EPOCH,
        );
        let term = &pod.constraints.pod_affinity.required[0];
        assert_eq!(term.topology_key, ZONE);
        assert_eq!(
            term.label_selector,
            Some(LabelSelector::from_labels([(MY_AFFINITY, "d")]))
        );
        assert!(
            term.label_selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
        );
    }

    #[test]
    fn anti_affinity_pods_repel_every_nginx_pod_per_host() {
        let constraint = Constraint::AntiAffinity {
            key: TopologyKey::Hostname,
        };
        let labels = vec![(APP_NGINX.0, APP_NGINX.1.to_string())];
        let pod = to_pod(&bench_pod(constraint, labels), DateTime::UNIX_EPOCH);
        let term = &pod.constraints.pod_anti_affinity.required[0];
        assert_eq!(term.topology_key, HOSTNAME);
        assert!(
            term.label_selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
        );
    }

    #[test]
    fn preference_pods_carry_upstreams_three_weighted_preferences() {
        let constraint = Constraint::Preferences {
            preferred_zone: "test-zone-1",
        };
        let labels = vec![(APP_NGINX.0, APP_NGINX.1.to_string())];
        let pod = to_pod(&bench_pod(constraint, labels), DateTime::UNIX_EPOCH);
        let node = &pod.constraints.node_affinity;
        assert!(node.required.is_empty());
        assert_eq!(node.preferred.len(), 1);
        assert_eq!(node.preferred[0].weight, 1);
        let expression = &node.preferred[0].preference.match_expressions[0];
        assert_eq!(
            (expression.key.as_str(), expression.values.as_slice()),
            (ZONE, ["test-zone-1".to_string()].as_slice())
        );
        let anti = &pod.constraints.pod_anti_affinity;
        assert!(anti.required.is_empty());
        let weights: Vec<(i32, &str)> = anti
            .preferred
            .iter()
            .map(|w| (w.weight, w.term.topology_key.as_str()))
            .collect();
        assert_eq!(weights, vec![(10, ZONE), (1, HOSTNAME)]);
    }

    #[test]
    fn gpu_pods_tolerate_the_gpu_taint_only() {
        let mut gpu = bench_pod(Constraint::Generic, vec![]);
        gpu.tolerates_gpu_taint = true;
        let pod = to_pod(&gpu, DateTime::UNIX_EPOCH);
        assert_eq!(pod.constraints.tolerations.len(), 1);
        let toleration = &pod.constraints.tolerations[0];
        assert_eq!(toleration.key, names::NVIDIA_GPU);
        assert_eq!(toleration.operator, TolerationOperator::Exists);
        assert_eq!(toleration.effect, Some(Effect::NoSchedule));
    }
}
