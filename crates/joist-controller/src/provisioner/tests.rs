use super::*;
use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

fn pending(reason: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".to_owned()),
            uid: Some("u1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                reason: Some(reason.to_owned()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

#[test]
fn only_unschedulable_unbound_pods_are_provisionable() {
    assert!(is_provisionable(&pending("Unschedulable")));
    assert!(!is_provisionable(&pending("SchedulerError")));
    let mut bound = pending("Unschedulable");
    bound.spec.as_mut().expect("spec").node_name = Some("n1".to_owned());
    assert!(!is_provisionable(&bound));
    let mut preempting = pending("Unschedulable");
    preempting
        .status
        .as_mut()
        .expect("status")
        .nominated_node_name = Some("n1".to_owned());
    assert!(!is_provisionable(&preempting));
    let mut daemon = pending("Unschedulable");
    daemon.metadata.owner_references = Some(vec![OwnerReference {
        kind: "DaemonSet".to_owned(),
        ..OwnerReference::default()
    }]);
    assert!(!is_provisionable(&daemon));
}

#[test]
fn long_lists_are_abbreviated_as_upstream() {
    assert_eq!(first_five(&["a", "b"]), "a, b");
    let names: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    assert_eq!(first_five(&names), "p0, p1, p2, p3, p4 and 3 other(s)");
}
