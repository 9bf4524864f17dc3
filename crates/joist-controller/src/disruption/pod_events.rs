//! The in-memory stand-in for upstream's `nodeclaim.podevents` (spec core §3.2): the last time a
//! non-DaemonSet pod was bound to a node, became terminal, or started terminating, per node.
//! `Consolidatable` (§4.3) measures `consolidateAfter` from it.
//!
//! Upstream writes the time to `status.lastPodEventTime`; joist keeps it in memory, so after a
//! restart every node whose pods the first list shows counts as having had an event at that
//! moment (consolidation waits one more `consolidateAfter`, never less).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;

/// Pod events by node, shared between the pod watch (writer) and the disruption loop (reader).
#[derive(Debug, Clone, Default)]
pub struct PodEvents {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// What each pod looked like when last seen, by uid: an event is a change of it.
    marks: HashMap<String, Mark>,
    /// The last event per node name.
    last: BTreeMap<String, DateTime<Utc>>,
}

/// The facts of a pod whose change is a pod event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    node: String,
    terminal: bool,
    terminating: bool,
}

impl PodEvents {
    /// Records `pod` as seen at `now`: a new binding, or a pod turning terminal or terminating,
    /// is an event on its node. DaemonSet pods and unbound pods are no events.
    pub fn observe(&self, pod: &Pod, now: DateTime<Utc>) {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            return;
        };
        let Some(mark) = mark_of(pod) else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.marks.get(uid) == Some(&mark) {
            return;
        }
        state.last.insert(mark.node.clone(), now);
        state.marks.insert(uid.to_owned(), mark);
    }

    /// The last pod event on `node`, if any was seen.
    pub fn last_event(&self, node: &str) -> Option<DateTime<Utc>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last.get(node).copied()
    }

    /// Forgets pods not in `live_pods` and nodes not in `live_nodes` (deleted objects never
    /// produce another event, so their entries would only grow the maps).
    pub fn retain(&self, live_pods: &HashSet<&str>, live_nodes: &HashSet<&str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .marks
            .retain(|uid, _| live_pods.contains(uid.as_str()));
        state
            .last
            .retain(|node, _| live_nodes.contains(node.as_str()));
    }
}

fn mark_of(pod: &Pod) -> Option<Mark> {
    let daemonset = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    let node = pod
        .spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty());
    let node = node.filter(|_| !daemonset)?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    Some(Mark {
        node: node.to_owned(),
        terminal: matches!(phase, Some("Succeeded" | "Failed")),
        terminating: pod.metadata.deletion_timestamp.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    fn pod(uid: &str, node: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.uid = Some(uid.to_owned());
        pod.spec = Some(PodSpec {
            node_name: node.map(str::to_owned),
            ..PodSpec::default()
        });
        pod
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("in range")
    }

    #[test]
    fn binding_and_termination_are_events_but_status_updates_are_not() {
        let events = PodEvents::default();
        events.observe(&pod("a", None), at(1));
        assert_eq!(events.last_event("n1"), None);
        events.observe(&pod("a", Some("n1")), at(2));
        assert_eq!(events.last_event("n1"), Some(at(2)));
        let mut running = pod("a", Some("n1"));
        running.status = Some(PodStatus {
            phase: Some("Running".to_owned()),
            ..PodStatus::default()
        });
        events.observe(&running, at(3));
        assert_eq!(events.last_event("n1"), Some(at(2)));
        let mut deleting = running;
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        events.observe(&deleting, at(4));
        assert_eq!(events.last_event("n1"), Some(at(4)));
    }

    #[test]
    fn daemonset_pods_make_no_events_and_retain_forgets_gone_nodes() {
        let events = PodEvents::default();
        let mut daemon = pod("d", Some("n1"));
        daemon.metadata.owner_references = Some(vec![OwnerReference {
            kind: "DaemonSet".to_owned(),
            ..OwnerReference::default()
        }]);
        events.observe(&daemon, at(1));
        assert_eq!(events.last_event("n1"), None);
        events.observe(&pod("a", Some("n1")), at(2));
        events.retain(&HashSet::new(), &HashSet::new());
        assert_eq!(events.last_event("n1"), None);
    }
}
