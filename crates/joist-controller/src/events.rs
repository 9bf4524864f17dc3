//! Kubernetes events as upstream publishes them (spec core §6.2): core/v1 Events from component
//! `karpenter`, typed constructors with upstream's reasons and messages, and upstream's dedupe
//! (one event per `lower(reason)-values` key within the event's window, default 2 min) plus the
//! `Nominated` rate limit (5/s, burst 10). The dedupe takes the time as an argument, so it is
//! tested without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use thiserror::Error;

/// The component name on every event.
pub const COMPONENT: &str = "karpenter";
/// Upstream's dedupe window when an event names none.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(120);
/// Dedupe keys kept before expired ones are swept (bounds memory on busy clusters).
const SWEEP_THRESHOLD: usize = 4096;

/// Normal or Warning, as on core/v1 Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Informational.
    Normal,
    /// Something needs attention.
    Warning,
}

impl EventType {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to publish, with how it is deduplicated.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The object the event is about.
    pub involved: ObjectReference,
    /// Normal or Warning.
    pub event_type: EventType,
    /// Upstream's reason (`Nominated`, `FailedDraining`, ...).
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// What makes two events "the same" for the dedupe, with the reason.
    pub dedupe_values: Vec<String>,
    /// How long a same-key event is suppressed.
    pub dedupe_window: Duration,
    /// Whether the `Nominated` rate limit applies.
    pub rate_limited: bool,
}

impl Event {
    fn new(
        involved: &ObjectReference,
        event_type: EventType,
        reason: &'static str,
        message: String,
    ) -> Self {
        Event {
            involved: involved.clone(),
            event_type,
            reason,
            message,
            dedupe_values: vec![uid(involved)],
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            rate_limited: false,
        }
    }

    fn window(mut self, window: Duration) -> Self {
        self.dedupe_window = window;
        self
    }

    fn dedupe(mut self, values: Vec<String>) -> Self {
        self.dedupe_values = values;
        self
    }

    /// Upstream's dedupe key: `lower(reason)-value-value…`.
    pub fn dedupe_key(&self) -> String {
        let mut key = self.reason.to_lowercase();
        for value in &self.dedupe_values {
            key.push('-');
            key.push_str(value);
        }
        key
    }
}

// === impl constructors ===

fn uid(object: &ObjectReference) -> String {
    object.uid.clone().unwrap_or_default()
}

fn name(object: &ObjectReference) -> &str {
    object.name.as_deref().unwrap_or_default()
}

/// First letter upper-cased, as upstream capitalises rejection reasons.
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `Nominated` on a pod: "Pod should schedule on: nodeclaim/X[, node/Y]" (per pod UID, rate
/// limited).
pub fn nominated(pod: &ObjectReference, nodeclaim: &str, node: Option<&str>) -> Event {
    let mut message = format!("Pod should schedule on: nodeclaim/{nodeclaim}");
    if let Some(node) = node.filter(|node| !node.is_empty()) {
        message.push_str(&format!(", node/{node}"));
    }
    let mut event = Event::new(pod, EventType::Normal, "Nominated", message);
    event.rate_limited = true;
    event
}

/// Warning `FailedScheduling` on a pod: "Failed to schedule pod, `<error>`" (per pod UID, 5 min).
pub fn failed_scheduling(pod: &ObjectReference, error: &str) -> Event {
    let message = format!("Failed to schedule pod, {error}");
    Event::new(pod, EventType::Warning, "FailedScheduling", message)
        .window(Duration::from_secs(300))
}

/// Warning `NoCompatibleInstanceTypes` on a NodePool (1 min).
pub fn no_compatible_instance_types(nodepool: &ObjectReference, min_values: bool) -> Event {
    let mut message =
        "NodePool requirements filtered out all compatible available instance types".to_owned();
    if min_values {
        message.push_str(" due to minValues incompatibility");
    }
    Event::new(
        nodepool,
        EventType::Warning,
        "NoCompatibleInstanceTypes",
        message,
    )
    .window(Duration::from_secs(60))
}

/// `DisruptionBlocked` on a Node or NodeClaim: the candidate's rejection reason, capitalised
/// (per UID, 2 min).
pub fn disruption_blocked(object: &ObjectReference, reason: &str) -> Event {
    Event::new(
        object,
        EventType::Normal,
        "DisruptionBlocked",
        capitalise(reason),
    )
}

/// `DisruptionBlocked` on a NodePool: no budget allows disruption for `reason` (1 min).
pub fn nodepool_disruption_blocked(nodepool: &ObjectReference, reason: &str) -> Event {
    let message =
        format!("No allowed disruptions for disruption reason {reason} due to blocking budget");
    Event::new(nodepool, EventType::Normal, "DisruptionBlocked", message)
        .window(Duration::from_secs(60))
        .dedupe(vec![uid(nodepool), reason.to_owned()])
}

/// `Unconsolidatable` on a Node or NodeClaim with the reason consolidation gave (15 min).
pub fn unconsolidatable(object: &ObjectReference, message: &str) -> Event {
    Event::new(
        object,
        EventType::Normal,
        "Unconsolidatable",
        message.to_owned(),
    )
    .window(Duration::from_secs(900))
}

/// `ConsolidationRejected` on a Node or NodeClaim: the validation's `Consolidation rejected:
/// <command>, reason: <reason> (savings: $x.xx)` (per UID and message).
pub fn consolidation_rejected(object: &ObjectReference, message: &str) -> Event {
    Event::new(
        object,
        EventType::Normal,
        "ConsolidationRejected",
        message.to_owned(),
    )
    .dedupe(vec![uid(object), message.to_owned()])
}

/// `DisruptionLaunching` on a replacement NodeClaim: "Launching NodeClaim: `<Reason>`".
pub fn disruption_launching(nodeclaim: &ObjectReference, reason: &str) -> Event {
    let message = format!("Launching NodeClaim: {}", capitalise(reason));
    Event::new(nodeclaim, EventType::Normal, "DisruptionLaunching", message)
        .dedupe(vec![uid(nodeclaim), reason.to_owned()])
}

/// `DisruptionWaitingReadiness` on a replacement NodeClaim.
pub fn disruption_waiting_readiness(nodeclaim: &ObjectReference) -> Event {
    let message = "Waiting on readiness to continue disruption".to_owned();
    Event::new(
        nodeclaim,
        EventType::Normal,
        "DisruptionWaitingReadiness",
        message,
    )
}

/// `DisruptionTerminating` on a Node or NodeClaim: "Disrupting Node: `<Reason>`" /
/// "Disrupting NodeClaim: `<Reason>`" (the kind comes from the reference).
pub fn disruption_terminating(object: &ObjectReference, reason: &str) -> Event {
    let kind = object.kind.as_deref().unwrap_or("Node");
    let message = format!("Disrupting {kind}: {}", capitalise(reason));
    Event::new(object, EventType::Normal, "DisruptionTerminating", message)
        .dedupe(vec![uid(object), reason.to_owned()])
}

/// Warning `InsufficientCapacityError` on a NodeClaim: "NodeClaim X event: `<err>`".
pub fn insufficient_capacity_error(nodeclaim: &ObjectReference, error: &str) -> Event {
    let message = format!("NodeClaim {} event: {error}", name(nodeclaim));
    Event::new(
        nodeclaim,
        EventType::Warning,
        "InsufficientCapacityError",
        message,
    )
}

/// Warning `TerminationGracePeriodExpiring` on a Node or NodeClaim: "All pods will be deleted
/// by `<RFC3339>`" (per object name).
pub fn termination_grace_period_expiring(object: &ObjectReference, deadline: Timestamp) -> Event {
    let message = format!("All pods will be deleted by {deadline}");
    Event::new(
        object,
        EventType::Warning,
        "TerminationGracePeriodExpiring",
        message,
    )
    .dedupe(vec![name(object).to_owned()])
}

/// Warning `FailedDraining` on a Node: "Failed to drain node, `<err>`" (per node name).
pub fn failed_draining(node: &ObjectReference, error: &str) -> Event {
    let message = format!("Failed to drain node, {error}");
    Event::new(node, EventType::Warning, "FailedDraining", message)
        .dedupe(vec![name(node).to_owned()])
}

// === impl Deduper ===

/// Upstream's dedupe cache and `Nominated` token bucket. Holds no clock: every decision takes
/// `now`.
#[derive(Debug)]
pub struct Deduper {
    /// Dedupe key → the end of its window.
    suppressed_until: HashMap<String, Timestamp>,
    /// Tokens of the nomination rate limit, refilled at [`Self::RATE`] per second.
    tokens: f64,
    /// When the bucket was last refilled.
    refilled_at: Option<Timestamp>,
}

impl Default for Deduper {
    fn default() -> Self {
        Deduper {
            suppressed_until: HashMap::new(),
            tokens: Self::BURST,
            refilled_at: None,
        }
    }
}

impl Deduper {
    /// Nominations per second upstream allows.
    pub const RATE: f64 = 5.0;
    /// The nomination burst.
    pub const BURST: f64 = 10.0;

    /// Whether `event` should be published at `now`; records it when so.
    pub fn admit(&mut self, event: &Event, now: Timestamp) -> bool {
        let key = event.dedupe_key();
        if self
            .suppressed_until
            .get(&key)
            .is_some_and(|until| now < *until)
        {
            return false;
        }
        if self.suppressed_until.len() >= SWEEP_THRESHOLD {
            self.suppressed_until.retain(|_, until| now < *until);
        }
        let until = now
            .checked_add(event.dedupe_window)
            .unwrap_or(Timestamp::MAX);
        self.suppressed_until.insert(key, until);
        !event.rate_limited || self.take_token(now)
    }

    fn take_token(&mut self, now: Timestamp) -> bool {
        if let Some(last) = self.refilled_at {
            let elapsed = now.duration_since(last).as_secs_f64().max(0.0);
            self.tokens = (self.tokens + elapsed * Self::RATE).min(Self::BURST);
        }
        self.refilled_at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

// === impl Recorder ===

/// Why an event could not be written.
#[derive(Debug, Error)]
pub enum EventError {
    /// The API server refused the Event.
    #[error("creating event {reason} for {kind}/{name}: {source}")]
    Create {
        /// The event's reason.
        reason: &'static str,
        /// The involved object's kind.
        kind: String,
        /// The involved object's name.
        name: String,
        /// The client's error.
        source: kube::Error,
    },
}

/// Publishes deduplicated core/v1 Events through one client.
pub struct Recorder {
    client: kube::Client,
    /// The instance name in `reportingInstance` and `source.host`.
    host: String,
    deduper: Mutex<Deduper>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Recorder")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing through `client`, reporting as instance `host`.
    pub fn new(client: kube::Client, host: impl Into<String>) -> Self {
        Recorder {
            client,
            host: host.into(),
            deduper: Mutex::new(Deduper::default()),
        }
    }

    /// Publishes `event` at the current time; see [`Recorder::publish_at`].
    ///
    /// # Errors
    /// [`EventError::Create`].
    pub async fn publish(&self, event: &Event) -> Result<bool, EventError> {
        self.publish_at(event, Timestamp::now()).await
    }

    /// Publishes `event` unless the dedupe or the rate limit suppresses it at `now`; returns
    /// whether an Event was created.
    ///
    /// # Errors
    /// [`EventError::Create`] when the API server refuses it.
    pub async fn publish_at(&self, event: &Event, now: Timestamp) -> Result<bool, EventError> {
        // A poisoned lock only means another publisher panicked mid-update; the cache is
        // still a valid map, so keep using it.
        let admitted = self
            .deduper
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .admit(event, now);
        if !admitted {
            return Ok(false);
        }
        let core = core_event(event, &self.host, now);
        let namespace = core.metadata.namespace.clone().unwrap_or_default();
        let api = Api::<CoreEvent>::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &core)
            .await
            .map_err(|source| EventError::Create {
                reason: event.reason,
                kind: event.involved.kind.clone().unwrap_or_default(),
                name: name(&event.involved).to_owned(),
                source,
            })?;
        Ok(true)
    }
}

/// The core/v1 Event as client-go's recorder writes it: named `<object>.<hex nanos>`, in
/// the object's namespace (`default` for cluster-scoped objects), count 1.
pub fn core_event(event: &Event, host: &str, now: Timestamp) -> CoreEvent {
    let namespace = event.involved.namespace.clone().filter(|ns| !ns.is_empty());
    let nanos = now.as_nanosecond();
    CoreEvent {
        metadata: ObjectMeta {
            name: Some(format!("{}.{nanos:x}", name(&event.involved))),
            namespace: Some(namespace.unwrap_or_else(|| "default".to_owned())),
            ..ObjectMeta::default()
        },
        involved_object: event.involved.clone(),
        reason: Some(event.reason.to_owned()),
        message: Some(event.message.clone()),
        type_: Some(event.event_type.as_str().to_owned()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_owned()),
            host: Some(host.to_owned()),
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some(COMPONENT.to_owned()),
        reporting_instance: Some(host.to_owned()),
        ..CoreEvent::default()
    }
}

// === provisioner additions ===

/// `Nominated` on a pod expected on a node Karpenter does not manage (no NodeClaim): "Pod
/// should schedule on: node/Y" (per pod UID, rate limited), as upstream builds the message from
/// whichever of NodeClaim and Node exist.
pub fn nominated_to_node(pod: &ObjectReference, node: &str) -> Event {
    let message = format!("Pod should schedule on: node/{node}");
    let mut event = Event::new(pod, EventType::Normal, "Nominated", message);
    event.rate_limited = true;
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_000 + millis).expect("valid")
    }

    fn object(kind: &str, name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            kind: Some(kind.to_owned()),
            name: Some(name.to_owned()),
            uid: Some(uid.to_owned()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn messages_and_types_are_upstreams() {
        let pod = object("Pod", "web", "p1");
        let node = object("Node", "n1", "u1");
        let claim = object("NodeClaim", "default-abc", "c1");
        let cases = [
            (
                nominated(&pod, "default-abc", Some("n1")),
                "Normal",
                "Nominated",
                "Pod should schedule on: nodeclaim/default-abc, node/n1",
            ),
            (
                nominated(&pod, "default-abc", None),
                "Normal",
                "Nominated",
                "Pod should schedule on: nodeclaim/default-abc",
            ),
            (
                failed_scheduling(&pod, "no instance type satisfied resources"),
                "Warning",
                "FailedScheduling",
                "Failed to schedule pod, no instance type satisfied resources",
            ),
            (
                no_compatible_instance_types(&object("NodePool", "np", "n"), true),
                "Warning",
                "NoCompatibleInstanceTypes",
                "NodePool requirements filtered out all compatible available instance types due to minValues incompatibility",
            ),
            (
                disruption_blocked(&node, "node is nominated for a pending pod"),
                "Normal",
                "DisruptionBlocked",
                "Node is nominated for a pending pod",
            ),
            (
                nodepool_disruption_blocked(&object("NodePool", "np", "n"), "Drifted"),
                "Normal",
                "DisruptionBlocked",
                "No allowed disruptions for disruption reason Drifted due to blocking budget",
            ),
            (
                unconsolidatable(&node, "Can't replace with a cheaper node"),
                "Normal",
                "Unconsolidatable",
                "Can't replace with a cheaper node",
            ),
            (
                consolidation_rejected(
                    &node,
                    "Consolidation rejected: delete: nodepools=[default]: [n1], reason: churn (savings: $0.10)",
                ),
                "Normal",
                "ConsolidationRejected",
                "Consolidation rejected: delete: nodepools=[default]: [n1], reason: churn (savings: $0.10)",
            ),
            (
                disruption_launching(&claim, "underutilized"),
                "Normal",
                "DisruptionLaunching",
                "Launching NodeClaim: Underutilized",
            ),
            (
                disruption_waiting_readiness(&claim),
                "Normal",
                "DisruptionWaitingReadiness",
                "Waiting on readiness to continue disruption",
            ),
            (
                disruption_terminating(&node, "drifted"),
                "Normal",
                "DisruptionTerminating",
                "Disrupting Node: Drifted",
            ),
            (
                disruption_terminating(&claim, "empty"),
                "Normal",
                "DisruptionTerminating",
                "Disrupting NodeClaim: Empty",
            ),
            (
                insufficient_capacity_error(&claim, "all offerings are unavailable"),
                "Warning",
                "InsufficientCapacityError",
                "NodeClaim default-abc event: all offerings are unavailable",
            ),
            (
                termination_grace_period_expiring(&node, at(0)),
                "Warning",
                "TerminationGracePeriodExpiring",
                "All pods will be deleted by 2023-11-14T22:13:20Z",
            ),
            (
                failed_draining(&node, "3 pods are waiting to be evicted"),
                "Warning",
                "FailedDraining",
                "Failed to drain node, 3 pods are waiting to be evicted",
            ),
        ];
        for (event, event_type, reason, message) in cases {
            assert_eq!(
                (
                    event.event_type.as_str(),
                    event.reason,
                    event.message.as_str()
                ),
                (event_type, reason, message)
            );
        }
    }

    #[test]
    fn a_duplicate_is_suppressed_for_its_window_only() {
        let pod = object("Pod", "web", "p1");
        let mut deduper = Deduper::default();
        let event = failed_scheduling(&pod, "x");
        assert_eq!(event.dedupe_key(), "failedscheduling-p1");
        assert!(deduper.admit(&event, at(0)));
        assert!(!deduper.admit(&failed_scheduling(&pod, "other error"), at(299_999)));
        assert!(deduper.admit(&event, at(300_000)), "5 min window over");
        // Another pod, or another reason on the same pod, is another key.
        assert!(deduper.admit(&failed_scheduling(&object("Pod", "b", "p2"), "x"), at(1)));
        assert!(deduper.admit(&nominated(&pod, "c", None), at(1)));
        // The default window is 2 minutes; NodePool budget events key on the reason too.
        let np = object("NodePool", "np", "n");
        assert!(deduper.admit(&nodepool_disruption_blocked(&np, "Drifted"), at(0)));
        assert!(deduper.admit(&nodepool_disruption_blocked(&np, "Empty"), at(0)));
        assert!(!deduper.admit(&nodepool_disruption_blocked(&np, "Empty"), at(59_999)));
        assert!(deduper.admit(&nodepool_disruption_blocked(&np, "Empty"), at(60_000)));
        let claim = object("NodeClaim", "c", "c1");
        assert!(deduper.admit(&disruption_waiting_readiness(&claim), at(0)));
        assert!(!deduper.admit(&disruption_waiting_readiness(&claim), at(119_999)));
        assert!(deduper.admit(&disruption_waiting_readiness(&claim), at(120_000)));
    }

    #[test]
    fn nominations_are_rate_limited_to_five_per_second_with_a_burst_of_ten() {
        let mut deduper = Deduper::default();
        let admitted = (0..20)
            .filter(|i| {
                deduper.admit(
                    &nominated(&object("Pod", "p", &format!("u{i}")), "c", None),
                    at(0),
                )
            })
            .count();
        assert_eq!(admitted, 10);
        // 1 s later the bucket holds 5 tokens.
        let later = (20..40)
            .filter(|i| {
                deduper.admit(
                    &nominated(&object("Pod", "p", &format!("u{i}")), "c", None),
                    at(1000),
                )
            })
            .count();
        assert_eq!(later, 5);
    }

    #[test]
    fn core_events_name_the_component_and_default_namespace() {
        let node_event = core_event(
            &failed_draining(&object("Node", "n1", "u1"), "x"),
            "host-a",
            at(0),
        );
        assert_eq!(node_event.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(
            node_event.metadata.name.as_deref(),
            Some("n1.17979cfe362a0000")
        );
        let source = node_event.source.expect("source");
        assert_eq!(
            (source.component.as_deref(), source.host.as_deref()),
            (Some("karpenter"), Some("host-a"))
        );
        assert_eq!(node_event.type_.as_deref(), Some("Warning"));
        let mut pod = object("Pod", "web", "p1");
        pod.namespace = Some("team".to_owned());
        let pod_event = core_event(&nominated(&pod, "c", None), "host-a", at(0));
        assert_eq!(pod_event.metadata.namespace.as_deref(), Some("team"));
    }
}
