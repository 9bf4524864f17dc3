//! What a provisioning round tells users through events (spec core §6.2): `Nominated` on pods
//! placed on a new NodeClaim (§2.16 step 6) or on an existing/in-flight node (§2.17),
//! `FailedScheduling` on pods no NodePool can take (§2.13) and on invalid pods (§2.2), and
//! `NoCompatibleInstanceTypes` on NodePools whose requirements leave no instance type (§2.3
//! step 8). Building the events is pure; [`publish`] writes them through the recorder, whose
//! dedupe and `Nominated` rate limit decide what reaches the API server.

use std::sync::Arc;

use joist_core::scheduling::Plan;
use joist_core::snapshot::{Node, Pod};
use k8s_openapi::api::core::v1::ObjectReference;

use crate::events::{self, Event, Recorder};

/// A reference to a pod of the snapshot, as events name their involved object.
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Pod".to_owned()),
        namespace: Some(pod.namespace.clone()),
        name: Some(pod.name.clone()),
        uid: Some(pod.uid.clone()),
        ..ObjectReference::default()
    }
}

/// A reference to NodePool `name` (its `uid` keys the dedupe, as upstream's does).
pub fn nodepool_reference(name: &str, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some(joist_api::nodepool::API_VERSION.to_owned()),
        kind: Some(joist_api::nodepool::KIND.to_owned()),
        name: Some(name.to_owned()),
        uid,
        ..ObjectReference::default()
    }
}

/// `Nominated` for every pod a new NodeClaim named `nodeclaim` was computed for ("Pod should
/// schedule on: nodeclaim/NAME"). `pods` are indices into `snapshot_pods`.
pub fn created_events(snapshot_pods: &[Pod], pods: &[usize], nodeclaim: &str) -> Vec<Event> {
    pods.iter()
        .filter_map(|&index| snapshot_pods.get(index))
        .map(|pod| events::nominated(&pod_reference(pod), nodeclaim, None))
        .collect()
}

/// The events of a solved round apart from the new NodeClaims' nominations: `Nominated` for
/// pods expected on existing or in-flight nodes (naming the NodeClaim and, once registered, the
/// Node), `FailedScheduling` with the solver's upstream message for unschedulable pods and for
/// invalid pods upstream reports, and `NoCompatibleInstanceTypes` for skipped NodePools that
/// warrant it. `nodepool_uid` looks a NodePool's UID up by name.
pub fn round_events(
    snapshot_pods: &[Pod],
    nodes: &[Node],
    plan: &Plan,
    nodepool_uid: impl Fn(&str) -> Option<String>,
) -> Vec<Event> {
    let mut out = Vec::new();
    for nomination in &plan.nominations {
        let Some(pod) = snapshot_pods.get(nomination.pod) else {
            continue;
        };
        let node = nodes.iter().find(|node| node.name == nomination.node);
        if let Some(event) = nomination_event(&pod_reference(pod), &nomination.node, node) {
            out.push(event);
        }
    }
    for failed in &plan.unschedulable {
        if let Some(pod) = snapshot_pods.get(failed.pod) {
            out.push(events::failed_scheduling(
                &pod_reference(pod),
                &failed.explanation.message,
            ));
        }
    }
    for ignored in plan.ignored.iter().filter(|ignored| ignored.emit_event) {
        if let Some(pod) = snapshot_pods.get(ignored.pod) {
            out.push(events::failed_scheduling(
                &pod_reference(pod),
                &ignored.message,
            ));
        }
    }
    for skipped in &plan.skipped_nodepools {
        if skipped.event().is_some() {
            let reference = nodepool_reference(&skipped.nodepool, nodepool_uid(&skipped.nodepool));
            out.push(events::no_compatible_instance_types(
                &reference,
                skipped.min_values_incompatible,
            ));
        }
    }
    out
}

/// `Nominated` for a pod expected on the snapshot node `name`: a Karpenter node names its
/// NodeClaim, and the Node once registered (before that the snapshot node is only the
/// NodeClaim); a node Karpenter does not manage names the Node alone.
fn nomination_event(pod: &ObjectReference, name: &str, node: Option<&Node>) -> Option<Event> {
    match node {
        Some(Node {
            nodeclaim: Some(claim),
            registered,
            ..
        }) => Some(events::nominated(pod, claim, registered.then_some(name))),
        Some(_) => Some(events::nominated_to_node(pod, name)),
        // The solver only nominates snapshot nodes; nothing to name otherwise.
        None => None,
    }
}

/// Publishes `events` in order through `recorder` (dedupe and rate limit apply). A refused
/// event is logged and the rest still go out: events inform, they never fail a round.
pub async fn publish(recorder: Arc<Recorder>, events: Vec<Event>) {
    for event in &events {
        if let Err(error) = recorder.publish(event).await {
            tracing::warn!(controller = "provisioner", error = %error, "publishing event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joist_api::convert::{self, ConvertOptions};
    use joist_core::explain::Explanation;
    use joist_core::scheduling::{Ignored, Nomination, SkippedNodePool, Unschedulable};
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str) -> Pod {
        let object = k8s_openapi::api::core::v1::Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("team".to_owned()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".to_owned(),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: None,
        };
        convert::pod(&object, &ConvertOptions::cluster()).expect("a valid pod")
    }

    fn node(name: &str, nodeclaim: Option<&str>, registered: bool) -> Node {
        Node {
            name: name.to_owned(),
            nodeclaim: nodeclaim.map(str::to_owned),
            registered,
            ..Node::default()
        }
    }

    fn summary(events: &[Event]) -> Vec<(String, &'static str, String)> {
        events
            .iter()
            .map(|e| {
                let name = e.involved.name.clone().unwrap_or_default();
                (name, e.reason, e.message.clone())
            })
            .collect()
    }

    #[test]
    fn new_nodeclaims_nominate_their_pods() {
        let pods = [pod("a"), pod("b"), pod("c")];
        let events = created_events(&pods, &[0, 2], "default-x1");
        assert_eq!(
            summary(&events),
            [
                (
                    "a".to_owned(),
                    "Nominated",
                    "Pod should schedule on: nodeclaim/default-x1".to_owned()
                ),
                (
                    "c".to_owned(),
                    "Nominated",
                    "Pod should schedule on: nodeclaim/default-x1".to_owned()
                ),
            ]
        );
        let involved = &events[0].involved;
        assert_eq!(
            (involved.namespace.as_deref(), involved.uid.as_deref()),
            (Some("team"), Some("uid-a"))
        );
    }

    #[test]
    fn a_round_reports_nominations_failures_and_skipped_nodepools() {
        let pods = [pod("a"), pod("b"), pod("c"), pod("d"), pod("e")];
        let nodes = [
            node("ip-1", Some("default-r1"), true),
            node("default-f2", Some("default-f2"), false),
            node("static-1", None, true),
        ];
        let plan = Plan {
            nominations: vec![
                Nomination {
                    pod: 0,
                    node: "ip-1".to_owned(),
                },
                Nomination {
                    pod: 1,
                    node: "default-f2".to_owned(),
                },
                Nomination {
                    pod: 2,
                    node: "static-1".to_owned(),
                },
            ],
            unschedulable: vec![Unschedulable {
                pod: 3,
                explanation: Explanation::general("no nodepools found"),
            }],
            ignored: vec![
                Ignored {
                    pod: 4,
                    message: "node selector term with matchFields is not supported".to_owned(),
                    emit_event: true,
                },
                Ignored {
                    pod: 0,
                    message: "configured to not run on a Karpenter provisioned node".to_owned(),
                    emit_event: false,
                },
            ],
            skipped_nodepools: vec![
                SkippedNodePool {
                    nodepool: "gpu".to_owned(),
                    reason: "skipping, nodepool requirements filtered out all instance types"
                        .to_owned(),
                    no_compatible_instance_types: true,
                    min_values_incompatible: false,
                },
                SkippedNodePool {
                    nodepool: "broken".to_owned(),
                    reason: "ignoring nodepool, not ready".to_owned(),
                    no_compatible_instance_types: false,
                    min_values_incompatible: false,
                },
            ],
            ..Plan::default()
        };
        let uid = |name: &str| Some(format!("np-{name}"));
        let events = round_events(&pods, &nodes, &plan, uid);
        let expected = [
            (
                "a",
                "Nominated",
                "Pod should schedule on: nodeclaim/default-r1, node/ip-1",
            ),
            (
                "b",
                "Nominated",
                "Pod should schedule on: nodeclaim/default-f2",
            ),
            ("c", "Nominated", "Pod should schedule on: node/static-1"),
            (
                "d",
                "FailedScheduling",
                "Failed to schedule pod, no nodepools found",
            ),
            (
                "e",
                "FailedScheduling",
                "Failed to schedule pod, node selector term with matchFields is not supported",
            ),
            (
                "gpu",
                "NoCompatibleInstanceTypes",
                "NodePool requirements filtered out all compatible available instance types",
            ),
        ]
        .map(|(name, reason, message)| (name.to_owned(), reason, message.to_owned()));
        assert_eq!(summary(&events), expected);
        let pool = &events[5].involved;
        assert_eq!(
            (pool.kind.as_deref(), pool.uid.as_deref()),
            (Some("NodePool"), Some("np-gpu"))
        );
        assert_eq!(events[5].dedupe_key(), "nocompatibleinstancetypes-np-gpu");
    }
}
