//! The Prometheus metrics the controller emits first (spec core §6.1), under upstream's names,
//! types and label names, rendered in the Prometheus text format (0.0.4) and served on the
//! metrics port. The encoder is small enough to own: counters, gauges and histograms with
//! label sets, nothing more. Labels print sorted by name, as client_golang prints them.

mod family;

use std::sync::Arc;
use std::time::Duration;

use joist_core::scheduling::SchedulingStats;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use family::Descriptor;
pub use family::{CounterVec, GaugeVec, HistogramVec};

/// Upstream's default duration buckets: controller-runtime's, then 120–600 s for singleton
/// controllers without a timeout.
pub const DURATION_BUCKETS: [f64; 45] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0, 120.0, 150.0, 300.0, 450.0, 600.0,
];

// === impl Metrics ===

const NODECLAIMS_CREATED: Descriptor = Descriptor {
    name: "karpenter_nodeclaims_created_total",
    help: "NodeClaims created, by reason, nodepool and whether minValues was relaxed.",
    labels: &["reason", "nodepool", "min_values_relaxed"],
};

const NODECLAIMS_TERMINATED: Descriptor = Descriptor {
    name: "karpenter_nodeclaims_terminated_total",
    help: "NodeClaims whose finalizer was removed, by nodepool, capacity type and zone.",
    labels: &["nodepool", "capacity_type", "zone"],
};

const NODES_CREATED: Descriptor = Descriptor {
    name: "karpenter_nodes_created_total",
    help: "Nodes registered for NodeClaims, by nodepool and zone.",
    labels: &["nodepool", "zone"],
};

const NODES_TERMINATED: Descriptor = Descriptor {
    name: "karpenter_nodes_terminated_total",
    help: "Nodes whose termination finalizer was removed, by nodepool and zone.",
    labels: &["nodepool", "zone"],
};

const NODES_DRAINED: Descriptor = Descriptor {
    name: "karpenter_nodes_drained_total",
    help: "Nodes fully drained, by nodepool.",
    labels: &["nodepool"],
};

const PODS_EVICTION_REQUESTS: Descriptor = Descriptor {
    name: "karpenter_pods_eviction_requests_total",
    help: "Eviction API calls, by response code.",
    labels: &["code"],
};

const PODS_DRAINED: Descriptor = Descriptor {
    name: "karpenter_pods_drained_total",
    help: "Pods drained from terminating nodes, by disruption reason.",
    labels: &["reason"],
};

const SCHEDULING_DURATION: Descriptor = Descriptor {
    name: "karpenter_scheduler_scheduling_duration_seconds",
    help: "Seconds a scheduling simulation took, by controller.",
    labels: &["controller"],
};

const QUEUE_DEPTH: Descriptor = Descriptor {
    name: "karpenter_scheduler_queue_depth",
    help: "Pods in the scheduling queue of a round, by controller and round.",
    labels: &["controller", "scheduling_id"],
};

const UNSCHEDULABLE_PODS: Descriptor = Descriptor {
    name: "karpenter_scheduler_unschedulable_pods_count",
    help: "Pods the last round could not schedule, by controller.",
    labels: &["controller"],
};

const IGNORED_PODS: Descriptor = Descriptor {
    name: "karpenter_scheduler_ignored_pods_count",
    help: "Pods left out of scheduling because they failed validation.",
    labels: &[],
};

const PENDING_PODS_BY_ZONE: Descriptor = Descriptor {
    name: "karpenter_scheduler_pending_pods_by_effective_zone_count",
    help: "Pending pods of the last round by the zone their constraints allow, by controller.",
    labels: &["controller", "zone"],
};

const NODEPOOLS_USAGE: Descriptor = Descriptor {
    name: "karpenter_nodepools_usage",
    help: "Resources provisioned for a nodepool, by resource type and nodepool.",
    labels: &["resource_type", "nodepool"],
};

const NODEPOOLS_LIMIT: Descriptor = Descriptor {
    name: "karpenter_nodepools_limit",
    help: "Resource limits of a nodepool, by resource type and nodepool.",
    labels: &["resource_type", "nodepool"],
};

/// The labels of `karpenter_nodeclaims_disrupted_total` and
/// `karpenter_pods_disruption_initiated_total`.
const DISRUPTED_LABELS: &[&str] = &[
    "reason",
    "nodepool",
    "capacity_type",
    "consolidation_policy",
    "termination_mode",
];

const NODECLAIMS_DISRUPTED: Descriptor = Descriptor {
    name: "karpenter_nodeclaims_disrupted_total",
    help: "NodeClaims disrupted, by reason, nodepool, capacity type, consolidation policy and termination mode.",
    labels: DISRUPTED_LABELS,
};

const PODS_DISRUPTION_INITIATED: Descriptor = Descriptor {
    name: "karpenter_pods_disruption_initiated_total",
    help: "Reschedulable pods on NodeClaims a disruption deleted, with the NodeClaim's labels.",
    labels: DISRUPTED_LABELS,
};

const DECISIONS: Descriptor = Descriptor {
    name: "karpenter_voluntary_disruption_decisions_total",
    help: "Disruption commands started, by decision, reason and consolidation type.",
    labels: &["decision", "reason", "consolidation_type"],
};

const DECISIONS_BY_NODEPOOL: Descriptor = Descriptor {
    name: "karpenter_voluntary_disruption_decisions_by_nodepool_total",
    help: "Disruption commands started, per nodepool of their candidates.",
    labels: &["nodepool", "decision", "reason", "consolidation_type"],
};

const ELIGIBLE_NODES: Descriptor = Descriptor {
    name: "karpenter_voluntary_disruption_eligible_nodes",
    help: "Candidates the last run of a disruption method listed, by reason.",
    labels: &["reason"],
};

const FAILED_VALIDATIONS: Descriptor = Descriptor {
    name: "karpenter_voluntary_disruption_failed_validations_total",
    help: "Consolidation commands rejected by the validation after the delay, by consolidation type.",
    labels: &["consolidation_type"],
};

const QUEUE_FAILURES: Descriptor = Descriptor {
    name: "karpenter_voluntary_disruption_queue_failures_total",
    help: "Commands abandoned after their candidates were tainted (replacements failed or timed out).",
    labels: &["decision", "reason", "consolidation_type"],
};

const ALLOWED_DISRUPTIONS: Descriptor = Descriptor {
    name: "karpenter_nodepools_allowed_disruptions",
    help: "Nodes a nodepool's budgets allow to disrupt now, by nodepool and (capitalised) reason.",
    labels: &["nodepool", "reason"],
};

/// Every metric the controller exports, shared (behind an `Arc`) by the controllers that
/// update them and the `/metrics` server.
#[derive(Debug)]
pub struct Metrics {
    /// `karpenter_nodeclaims_created_total{reason,nodepool,min_values_relaxed}`.
    pub nodeclaims_created: CounterVec,
    /// `karpenter_nodeclaims_terminated_total{nodepool,capacity_type,zone}`.
    pub nodeclaims_terminated: CounterVec,
    /// `karpenter_nodes_created_total{nodepool,zone}` (at registration).
    pub nodes_created: CounterVec,
    /// `karpenter_nodes_terminated_total{nodepool,zone}` (Node finalizer removed).
    pub nodes_terminated: CounterVec,
    /// `karpenter_nodeclaims_disrupted_total{reason,nodepool,capacity_type,consolidation_policy,termination_mode}`.
    pub nodeclaims_disrupted: CounterVec,
    /// `karpenter_pods_disruption_initiated_total` (same labels).
    pub pods_disruption_initiated: CounterVec,
    /// `karpenter_voluntary_disruption_decisions_total{decision,reason,consolidation_type}`.
    pub disruption_decisions: CounterVec,
    /// `karpenter_voluntary_disruption_decisions_by_nodepool_total{nodepool,decision,reason,consolidation_type}`.
    pub disruption_decisions_by_nodepool: CounterVec,
    /// `karpenter_voluntary_disruption_failed_validations_total{consolidation_type}`.
    pub failed_validations: CounterVec,
    /// `karpenter_voluntary_disruption_queue_failures_total{decision,reason,consolidation_type}`.
    pub queue_failures: CounterVec,
    /// `karpenter_voluntary_disruption_eligible_nodes{reason}`.
    pub eligible_nodes: GaugeVec,
    /// `karpenter_nodepools_allowed_disruptions{nodepool,reason}`.
    pub allowed_disruptions: GaugeVec,
    /// `karpenter_nodes_drained_total{nodepool}`.
    pub nodes_drained: CounterVec,
    /// `karpenter_pods_eviction_requests_total{code}`.
    pub pods_eviction_requests: CounterVec,
    /// `karpenter_pods_drained_total{reason}`.
    pub pods_drained: CounterVec,
    /// `karpenter_scheduler_scheduling_duration_seconds{controller}`.
    pub scheduling_duration: HistogramVec,
    /// `karpenter_scheduler_queue_depth{controller,scheduling_id}`.
    pub queue_depth: GaugeVec,
    /// `karpenter_scheduler_unschedulable_pods_count{controller}`.
    pub unschedulable_pods: GaugeVec,
    /// `karpenter_scheduler_ignored_pods_count`.
    pub ignored_pods: GaugeVec,
    /// `karpenter_scheduler_pending_pods_by_effective_zone_count{controller,zone}`.
    pub pending_pods_by_zone: GaugeVec,
    /// `karpenter_nodepools_usage{resource_type,nodepool}`.
    pub nodepools_usage: GaugeVec,
    /// `karpenter_nodepools_limit{resource_type,nodepool}`.
    pub nodepools_limit: GaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            nodeclaims_created: CounterVec::new(NODECLAIMS_CREATED),
            nodeclaims_terminated: CounterVec::new(NODECLAIMS_TERMINATED),
            nodes_created: CounterVec::new(NODES_CREATED),
            nodes_terminated: CounterVec::new(NODES_TERMINATED),
            nodes_drained: CounterVec::new(NODES_DRAINED),
            nodeclaims_disrupted: CounterVec::new(NODECLAIMS_DISRUPTED),
            pods_disruption_initiated: CounterVec::new(PODS_DISRUPTION_INITIATED),
            disruption_decisions: CounterVec::new(DECISIONS),
            disruption_decisions_by_nodepool: CounterVec::new(DECISIONS_BY_NODEPOOL),
            failed_validations: CounterVec::new(FAILED_VALIDATIONS),
            queue_failures: CounterVec::new(QUEUE_FAILURES),
            eligible_nodes: GaugeVec::new(ELIGIBLE_NODES),
            allowed_disruptions: GaugeVec::new(ALLOWED_DISRUPTIONS),
            pods_eviction_requests: CounterVec::new(PODS_EVICTION_REQUESTS),
            pods_drained: CounterVec::new(PODS_DRAINED),
            scheduling_duration: HistogramVec::new(SCHEDULING_DURATION, &DURATION_BUCKETS),
            queue_depth: GaugeVec::new(QUEUE_DEPTH),
            unschedulable_pods: GaugeVec::new(UNSCHEDULABLE_PODS),
            ignored_pods: GaugeVec::new(IGNORED_PODS),
            pending_pods_by_zone: GaugeVec::new(PENDING_PODS_BY_ZONE),
            nodepools_usage: GaugeVec::new(NODEPOOLS_USAGE),
            nodepools_limit: GaugeVec::new(NODEPOOLS_LIMIT),
        }
    }
}

impl Metrics {
    /// Records one scheduling round of `controller` (`provisioner`, `disruption`): its
    /// duration, queue depth, unschedulable and ignored counts, and pending pods per
    /// effective zone (replacing the previous round's zones).
    pub fn record_scheduling(
        &self,
        controller: &str,
        scheduling_id: &str,
        stats: &SchedulingStats,
        took: Duration,
    ) {
        self.scheduling_duration
            .observe(&[controller], took.as_secs_f64());
        self.queue_depth
            .set(&[controller, scheduling_id], stats.queue_depth as f64);
        self.unschedulable_pods
            .set(&[controller], stats.unschedulable as f64);
        self.ignored_pods.set(&[], stats.ignored as f64);
        self.pending_pods_by_zone.clear_where_first(controller);
        for (zone, count) in &stats.pending_by_effective_zone {
            self.pending_pods_by_zone
                .set(&[controller, zone], *count as f64);
        }
    }

    /// The exposition text of every family, in a fixed order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for counter in [
            &self.nodeclaims_created,
            &self.nodeclaims_terminated,
            &self.nodes_created,
            &self.nodes_terminated,
            &self.nodes_drained,
            &self.pods_eviction_requests,
            &self.pods_drained,
            &self.nodeclaims_disrupted,
            &self.pods_disruption_initiated,
            &self.disruption_decisions,
            &self.disruption_decisions_by_nodepool,
            &self.failed_validations,
            &self.queue_failures,
        ] {
            counter.encode(&mut out);
        }
        self.scheduling_duration.encode(&mut out);
        for gauge in [
            &self.queue_depth,
            &self.unschedulable_pods,
            &self.ignored_pods,
            &self.pending_pods_by_zone,
            &self.nodepools_usage,
            &self.nodepools_limit,
            &self.eligible_nodes,
            &self.allowed_disruptions,
        ] {
            gauge.encode(&mut out);
        }
        out
    }
}

// === impl serve ===

/// Serves `GET /metrics` on `listener` until the task is dropped: a minimal HTTP/1.1 responder
/// (one path does not need an HTTP framework).
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let mut buffer = [0_u8; 1024];
            let Ok(read) = stream.read(&mut buffer).await else {
                return;
            };
            let request = String::from_utf8_lossy(&buffer[..read]);
            let path = request.split_whitespace().nth(1).unwrap_or_default();
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render()),
                _ => ("404 Not Found", "not found\n".to_owned()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            // A client that hung up needs no answer.
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn stats() -> SchedulingStats {
        SchedulingStats {
            queue_depth: 7,
            unschedulable: 2,
            ignored: 1,
            pending_by_effective_zone: BTreeMap::from([
                ("test-zone-a".to_owned(), 4),
                ("flexible".to_owned(), 3),
            ]),
        }
    }

    #[test]
    fn renders_upstream_names_types_and_sorted_labels() {
        let metrics = Metrics::default();
        metrics
            .nodeclaims_created
            .inc(&["provisioned", "default", "false"]);
        metrics
            .nodeclaims_created
            .inc(&["provisioned", "default", "false"]);
        metrics
            .nodeclaims_terminated
            .inc(&["default", "spot", "test-zone-a"]);
        metrics.nodes_created.inc(&["default", "test-zone-a"]);
        metrics.nodes_terminated.inc(&["default", "test-zone-b"]);
        metrics.nodepools_usage.set(&["cpu", "default"], 12.5);
        metrics.nodepools_limit.set(&["memory", "default"], 1024.0);
        metrics.record_scheduling("provisioner", "abc", &stats(), Duration::from_millis(30));
        let text = metrics.render();
        for line in [
            "# TYPE karpenter_nodeclaims_created_total counter",
            "karpenter_nodeclaims_created_total{min_values_relaxed=\"false\",nodepool=\"default\",reason=\"provisioned\"} 2",
            "# TYPE karpenter_nodeclaims_terminated_total counter",
            "karpenter_nodeclaims_terminated_total{capacity_type=\"spot\",nodepool=\"default\",zone=\"test-zone-a\"} 1",
            "karpenter_nodes_created_total{nodepool=\"default\",zone=\"test-zone-a\"} 1",
            "karpenter_nodes_terminated_total{nodepool=\"default\",zone=\"test-zone-b\"} 1",
            "# TYPE karpenter_scheduler_scheduling_duration_seconds histogram",
            "karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"0.025\"} 0",
            "karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"0.05\"} 1",
            "karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"600\"} 1",
            "karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"+Inf\"} 1",
            "karpenter_scheduler_scheduling_duration_seconds_sum{controller=\"provisioner\"} 0.03",
            "karpenter_scheduler_scheduling_duration_seconds_count{controller=\"provisioner\"} 1",
            "# TYPE karpenter_scheduler_queue_depth gauge",
            "karpenter_scheduler_queue_depth{controller=\"provisioner\",scheduling_id=\"abc\"} 7",
            "karpenter_scheduler_unschedulable_pods_count{controller=\"provisioner\"} 2",
            "karpenter_scheduler_ignored_pods_count 1",
            "karpenter_scheduler_pending_pods_by_effective_zone_count{controller=\"provisioner\",zone=\"flexible\"} 3",
            "karpenter_scheduler_pending_pods_by_effective_zone_count{controller=\"provisioner\",zone=\"test-zone-a\"} 4",
            "# TYPE karpenter_nodepools_usage gauge",
            "karpenter_nodepools_usage{nodepool=\"default\",resource_type=\"cpu\"} 12.5",
            "karpenter_nodepools_limit{nodepool=\"default\",resource_type=\"memory\"} 1024",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn a_new_round_replaces_the_previous_rounds_zones() {
        let metrics = Metrics::default();
        metrics.record_scheduling("provisioner", "a", &stats(), Duration::from_secs(1));
        let next = SchedulingStats {
            pending_by_effective_zone: BTreeMap::from([("test-zone-b".to_owned(), 1)]),
            ..stats()
        };
        metrics.record_scheduling("provisioner", "b", &next, Duration::from_secs(700));
        assert_eq!(
            metrics
                .pending_pods_by_zone
                .get(&["provisioner", "test-zone-a"]),
            None
        );
        assert_eq!(
            metrics
                .pending_pods_by_zone
                .get(&["provisioner", "test-zone-b"]),
            Some(1.0)
        );
        assert_eq!(metrics.scheduling_duration.count(&["provisioner"]), 2);
        let text = metrics.render();
        // 700 s is above every bucket: only +Inf counts it.
        assert!(text.contains("karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"600\"} 1\n"), "{text}");
        assert!(text.contains("karpenter_scheduler_scheduling_duration_seconds_bucket{controller=\"provisioner\",le=\"+Inf\"} 2\n"), "{text}");
    }

    #[test]
    fn disruption_counters_render_with_upstream_labels() {
        let metrics = Metrics::default();
        metrics
            .nodeclaims_disrupted
            .inc(&["drifted", "default", "on-demand", "", "graceful"]);
        metrics
            .pods_disruption_initiated
            .inc_by(&["empty", "default", "spot", "when_empty", "graceful"], 3.0);
        metrics
            .disruption_decisions
            .inc(&["replace", "drifted", ""]);
        metrics.eligible_nodes.set(&["drifted"], 2.0);
        let text = metrics.render();
        for line in [
            "karpenter_nodeclaims_disrupted_total{capacity_type=\"on-demand\",consolidation_policy=\"\",nodepool=\"default\",reason=\"drifted\",termination_mode=\"graceful\"} 1",
            "karpenter_pods_disruption_initiated_total{capacity_type=\"spot\",consolidation_policy=\"when_empty\",nodepool=\"default\",reason=\"empty\",termination_mode=\"graceful\"} 3",
            "karpenter_voluntary_disruption_decisions_total{consolidation_type=\"\",decision=\"replace\",reason=\"drifted\"} 1",
            "karpenter_voluntary_disruption_eligible_nodes{reason=\"drifted\"} 2",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::default();
        metrics.pods_drained.inc(&["a\"b\\c\nd"]);
        assert!(
            metrics
                .render()
                .contains("karpenter_pods_drained_total{reason=\"a\\\"b\\\\c\\nd\"} 1")
        );
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let metrics = Arc::new(Metrics::default());
        metrics.nodes_created.inc(&["default", "test-zone-a"]);
        let server = tokio::spawn(serve(listener, Arc::clone(&metrics)));
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        server.abort();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(
            response.contains("content-type: text/plain; version=0.0.4"),
            "{response}"
        );
        assert!(
            response.contains(
                "karpenter_nodes_created_total{nodepool=\"default\",zone=\"test-zone-a\"} 1\n"
            ),
            "{response}"
        );
    }
}
