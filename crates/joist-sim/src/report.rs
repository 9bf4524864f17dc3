//! The simulation report: the end state (nodes, their pods and prices, pending pods with the
//! solver's reasons) and the timeline, as JSON (`--output json`) or a readable table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use joist_core::duration::format_go_duration;
use joist_core::resources::{ResourceList, names};
use joist_core::snapshot::Pod;
use serde::Serialize;

use crate::engine::SimNode;

/// The GPU resource shown in the utilisation columns.
const GPU: &str = "nvidia.com/gpu";
use crate::kube;

/// Formats a virtual time as a Go duration (`10m1s`).
pub fn format_time(at: Duration) -> String {
    format_go_duration(at)
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Virtual time from the start, as a Go duration.
    pub at: String,
    /// What happened (`scale`, `provisioning`, `nodeclaim-created`, `node-initialized` ...).
    pub kind: String,
    /// Details for a reader.
    pub detail: String,
    /// The same time in milliseconds, so consumers can order events without parsing `at`.
    pub at_ms: u128,
}

impl Event {
    /// An event at `at`.
    pub fn new(at: Duration, kind: &str, detail: String) -> Self {
        Self {
            at: format_time(at),
            kind: kind.to_owned(),
            detail,
            at_ms: at.as_millis(),
        }
    }
}

/// One node at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeReport {
    /// Node name.
    pub name: String,
    /// Its NodePool.
    pub nodepool: String,
    /// Instance type.
    pub instance_type: String,
    /// Capacity type of the launched offering.
    pub capacity_type: String,
    /// Zone.
    pub zone: String,
    /// Price per hour of the offering.
    pub price_per_hour: f64,
    /// Bound pods, `ns/name`, sorted.
    pub pods: Vec<String>,
    /// Requested CPU of the bound pods over allocatable CPU (0..1).
    pub cpu_utilisation: f64,
    /// Requested memory of the bound pods over allocatable memory (0..1).
    pub memory_utilisation: f64,
    /// Requested `nvidia.com/gpu` over allocatable GPUs (0..1; 0 without GPUs).
    pub gpu_utilisation: f64,
    /// Allocatable `nvidia.com/gpu` (0 without GPUs).
    pub gpus: f64,
    /// The capacity reservation the node runs in, if any.
    pub reservation_id: Option<String>,
    /// Whether the node is being deleted at the end.
    pub deleting: bool,
    /// Whether the node is initialized at the end.
    pub initialized: bool,
}

/// A pod still pending at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingReport {
    /// `ns/name`.
    pub pod: String,
    /// The solver's explanation, or what the pod waits for.
    pub reason: String,
}

/// Whole-run figures beside the end state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Dollars spent over the run (each node's price times its lifetime).
    pub total_cost: f64,
    /// The largest number of nodes at once.
    pub peak_nodes: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Sum of the nodes' prices per hour.
    pub cost_per_hour: f64,
    /// Dollars spent over the whole run.
    pub total_cost: f64,
    /// The largest number of nodes at once.
    pub peak_nodes: usize,
    /// Virtual time the run ended.
    pub ended_at: String,
    /// Nodes by name.
    pub nodes: Vec<NodeReport>,
    /// Pending pods by key.
    pub pending: Vec<PendingReport>,
    /// The timeline, in time order.
    pub events: Vec<Event>,
}

fn ratio(used: &ResourceList, allocatable: &ResourceList, name: &str) -> f64 {
    let total = allocatable.get_or_zero(name).as_f64();
    if total > 0.0 {
        used.get_or_zero(name).as_f64() / total
    } else {
        0.0
    }
}

/// One node's line of the report.
fn node_report(node: &SimNode, pods: Vec<String>, used: &ResourceList) -> NodeReport {
    NodeReport {
        name: node.name.clone(),
        nodepool: node.nodepool.clone(),
        instance_type: node.instance_type.clone(),
        capacity_type: node.capacity_type.clone(),
        zone: node.zone.clone(),
        price_per_hour: node.price,
        pods,
        cpu_utilisation: ratio(used, &node.allocatable, names::CPU),
        memory_utilisation: ratio(used, &node.allocatable, names::MEMORY),
        gpu_utilisation: ratio(used, &node.allocatable, GPU),
        gpus: node.allocatable.get_or_zero(GPU).as_f64(),
        reservation_id: node.reservation_id.clone(),
        deleting: node.deletion.is_some(),
        initialized: node.initialized,
    }
}

impl Report {
    /// Builds the report of the end state.
    pub fn build(
        end: Duration,
        nodes: &[&SimNode],
        pods: &[Pod],
        reasons: &BTreeMap<String, String>,
        nominated: &BTreeMap<String, String>,
        events: Vec<Event>,
        totals: Totals,
    ) -> Self {
        let used = kube::usage(pods);
        let empty = ResourceList::new();
        let mut by_node: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for pod in pods.iter().filter(|p| !p.is_terminal()) {
            if let Some(node) = &pod.node_name {
                by_node.entry(node.as_str()).or_default().push(pod.key());
            }
        }
        let mut node_reports: Vec<NodeReport> = nodes
            .iter()
            .map(|node| {
                let mut bound = by_node.remove(node.name.as_str()).unwrap_or_default();
                bound.sort();
                node_report(node, bound, used.get(&node.name).unwrap_or(&empty))
            })
            .collect();
        node_reports.sort_by(|a, b| a.name.cmp(&b.name));
        let mut pending: Vec<PendingReport> = pods
            .iter()
            .filter(|p| p.node_name.is_none() && !p.is_terminal())
            .map(|p| {
                let key = p.key();
                let reason = reasons
                    .get(&key)
                    .cloned()
                    .or_else(|| {
                        nominated
                            .get(&key)
                            .map(|n| format!("nominated to {n}, waiting for it to initialize"))
                    })
                    .unwrap_or_else(|| "waiting for the provisioner".to_owned());
                PendingReport { pod: key, reason }
            })
            .collect();
        pending.sort_by(|a, b| a.pod.cmp(&b.pod));
        Self {
            cost_per_hour: node_reports.iter().map(|n| n.price_per_hour).sum(),
            total_cost: totals.total_cost,
            peak_nodes: totals.peak_nodes,
            ended_at: format_time(end),
            nodes: node_reports,
            pending,
            events,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and finite numbers cannot fail; prices come from the
        // catalog and utilisations are guarded against division by zero.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as a readable table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<24} {:<14} {:<18} {:<10} {:<12} {:>5} {:>6} {:>6} {:>6} {:>9}",
            "NODE", "NODEPOOL", "TYPE", "CAPACITY", "ZONE", "PODS", "CPU%", "MEM%", "GPU%", "$/H"
        );
        for n in &self.nodes {
            let _ = writeln!(
                out,
                "{:<24} {:<14} {:<18} {:<10} {:<12} {:>5} {:>5.0}% {:>5.0}% {:>6} {:>9.4}",
                n.name,
                n.nodepool,
                n.instance_type,
                n.capacity_type,
                n.zone,
                n.pods.len(),
                n.cpu_utilisation * 100.0,
                n.memory_utilisation * 100.0,
                if n.gpus > 0.0 {
                    format!("{:.0}%", n.gpu_utilisation * 100.0)
                } else {
                    "-".to_owned()
                },
                n.price_per_hour
            );
        }
        let bound: usize = self.nodes.iter().map(|n| n.pods.len()).sum();
        let _ = writeln!(
            out,
            "\n{} nodes, {bound} pods bound, {} pending, ${:.4}/h at {} (peak {} nodes, ${:.2} spent)",
            self.nodes.len(),
            self.pending.len(),
            self.cost_per_hour,
            self.ended_at,
            self.peak_nodes,
            self.total_cost
        );
        if !self.pending.is_empty() {
            let _ = writeln!(out, "\nPENDING");
            for p in &self.pending {
                let _ = writeln!(out, "  {}: {}", p.pod, p.reason);
            }
        }
        let _ = writeln!(out, "\nTIMELINE");
        for e in &self.events {
            let _ = writeln!(out, "  {:>8}  {:<18} {}", e.at, e.kind, e.detail);
        }
        out
    }
}
