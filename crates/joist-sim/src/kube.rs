//! A small stand-in for kube-scheduler: binds pending pods to initialized nodes they fit.
//!
//! It checks what decides placement in the common case: resource requests against allocatable
//! minus the requests of pods already bound, `NoSchedule`/`NoExecute` taints against the pod's
//! tolerations, `nodeSelector` and required node affinity against the node's labels. A pod goes to
//! the node the provisioner nominated it to when that node fits, else to the first fitting
//! initialized node by name.
//!
//! Not modelled: pod (anti-)affinity, topology spread, host ports, volume binding and CSI limits,
//! DaemonSet pods (their requests are not charged to nodes), scoring, preemption, and preferred
//! node affinity.

use std::collections::BTreeMap;

use joist_core::requirements::{NodeSelectorRequirement, Operator};
use joist_core::resources::ResourceList;
use joist_core::snapshot::{Node, Pod, PodPhase};
use joist_core::taints::Effect;

/// Whether `pod` may run on `node` apart from resources.
pub fn admits(node: &Node, pod: &Pod) -> bool {
    tolerates(node, pod) && matches_node(node, pod)
}

fn tolerates(node: &Node, pod: &Pod) -> bool {
    node.taints
        .iter()
        .filter(|t| t.effect != Effect::PreferNoSchedule)
        .all(|taint| {
            pod.constraints
                .tolerations
                .iter()
                .any(|t| t.tolerates(taint))
        })
}

fn matches_node(node: &Node, pod: &Pod) -> bool {
    let constraints = &pod.constraints;
    let selector_ok = constraints
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let required = &constraints.node_affinity.required;
    selector_ok
        && (required.is_empty()
            || required.iter().any(|term| {
                term.match_fields.is_empty()
                    && term
                        .match_expressions
                        .iter()
                        .all(|e| matches_expression(&node.labels, e))
            }))
}

/// One node-selector expression against labels, as kube-scheduler evaluates it.
fn matches_expression(
    labels: &BTreeMap<String, String>,
    expression: &NodeSelectorRequirement,
) -> bool {
    let value = labels.get(&expression.key);
    let number = |text: &str| text.parse::<i64>().ok();
    let bound = || expression.values.first().and_then(|v| number(v));
    let compare = |f: fn(i64, i64) -> bool| {
        value
            .and_then(|v| number(v))
            .zip(bound())
            .is_some_and(|(v, b)| f(v, b))
    };
    match expression.operator {
        Operator::In => value.is_some_and(|v| expression.values.contains(v)),
        Operator::NotIn => value.is_none_or(|v| !expression.values.contains(v)),
        Operator::Exists => value.is_some(),
        Operator::DoesNotExist => value.is_none(),
        Operator::Gt => compare(|v, b| v > b),
        Operator::Lt => compare(|v, b| v < b),
        Operator::Gte => compare(|v, b| v >= b),
        Operator::Lte => compare(|v, b| v <= b),
    }
}

/// Requests of the pods bound to each node.
pub fn usage(pods: &[Pod]) -> BTreeMap<String, ResourceList> {
    let mut used: BTreeMap<String, ResourceList> = BTreeMap::new();
    for pod in pods.iter().filter(|p| !p.is_terminal()) {
        if let Some(node) = &pod.node_name {
            used.entry(node.clone()).or_default().add(&pod.requests);
        }
    }
    used
}

/// Binds pending pods the way kube-scheduler would in the common case; returns `(pod index, node
/// name)` for each binding, in binding order. `nominated` maps pod keys to the node the
/// provisioner chose: a pod nominated to an initialized node tries that node first, then the
/// others; a pod nominated to a node that is not initialized yet waits for it (the provisioner
/// found no room elsewhere, and scanning every node for each such pod would make large runs
/// quadratic); a pod without a nomination tries every initialized node by name.
pub fn bind_pending(
    pods: &mut [Pod],
    nodes: &[Node],
    nominated: &BTreeMap<String, String>,
) -> Vec<(usize, String)> {
    let by_name: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut order: Vec<(usize, Option<&Node>)> = Vec::new();
    for (index, pod) in pods.iter().enumerate() {
        if pod.node_name.is_some() || pod.is_terminal() {
            continue;
        }
        let target = nominated
            .get(&pod.key())
            .and_then(|name| by_name.get(name.as_str()).copied());
        if target.is_some_and(|n| !n.initialized) {
            continue;
        }
        order.push((index, target));
    }
    if order.is_empty() {
        return Vec::new();
    }
    // kube-scheduler's queue: higher priority first, then older pods.
    order.sort_by(|&(a, _), &(b, _)| {
        let (pa, pb) = (&pods[a], &pods[b]);
        pb.priority
            .cmp(&pa.priority)
            .then(pa.creation_timestamp.cmp(&pb.creation_timestamp))
            .then_with(|| pa.key().cmp(&pb.key()))
    });
    let used = usage(pods);
    // Free resources of the initialized nodes, updated as pods bind.
    let mut free: BTreeMap<&str, ResourceList> = nodes
        .iter()
        .filter(|n| n.initialized)
        .map(|n| {
            let free = match used.get(&n.name) {
                Some(used) => n.allocatable.minus(used),
                None => n.allocatable.clone(),
            };
            (n.name.as_str(), free)
        })
        .collect();
    let mut bound = Vec::new();
    for (index, target) in order {
        let pod = &pods[index];
        let fits = |n: &&Node, free: &BTreeMap<&str, ResourceList>| {
            free.get(n.name.as_str())
                .is_some_and(|room| pod.requests.fits(room).is_ok())
                && admits(n, pod)
        };
        let chosen = target
            .filter(|n| fits(n, &free))
            .or_else(|| nodes.iter().find(|n| fits(n, &free)))
            .map(|n| n.name.clone());
        if let Some(name) = chosen {
            if let Some(room) = free.get_mut(name.as_str()) {
                room.sub(&pod.requests);
            }
            let pod = &mut pods[index];
            pod.node_name = Some(name.clone());
            pod.phase = PodPhase::Running;
            pod.unschedulable = false;
            bound.push((index, name));
        }
    }
    bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use joist_core::resources::{Quantity, names};
    use joist_core::snapshot::NodeSelectorTerm;
    use joist_core::taints::{Taint, Toleration};

    fn resources(cpu: &str) -> ResourceList {
        let mut list = ResourceList::new();
        list.insert(names::CPU, Quantity::parse(cpu).expect("cpu"));
        list
    }

    fn node(name: &str, cpu: &str, zone: &str) -> Node {
        Node {
            name: name.into(),
            allocatable: {
                let mut list = resources(cpu);
                list.insert(names::PODS, Quantity::from_int(110));
                list
            },
            labels: [("zone".to_owned(), zone.to_owned())].into(),
            initialized: true,
            registered: true,
            ..Node::default()
        }
    }

    fn pod(name: &str, cpu: &str) -> Pod {
        joist_core::testing::pod().name(name).cpu(cpu).build()
    }

    #[test]
    fn binds_by_resources_and_prefers_the_nominated_node() {
        let nodes = vec![node("a", "1", "z1"), node("b", "1", "z2")];
        let mut pods = vec![pod("p1", "600m"), pod("p2", "600m"), pod("p3", "600m")];
        let nominated = [("default/p1".to_owned(), "b".to_owned())].into();
        let bound = bind_pending(&mut pods, &nodes, &nominated);
        assert_eq!(bound, vec![(0, "b".to_owned()), (1, "a".to_owned())]);
        assert_eq!(pods[2].node_name, None, "no room left for p3");
    }

    #[test]
    fn taints_selectors_and_affinity_exclude_nodes() {
        let mut tainted = node("a", "4", "z1");
        tainted.taints = vec![Taint::new("gpu", "true", Effect::NoSchedule)];
        let mut p = pod("p", "1");
        assert!(!admits(&tainted, &p));
        p.constraints.tolerations = vec![Toleration::exists("gpu", None)];
        assert!(admits(&tainted, &p));
        p.constraints.node_selector = [("zone".to_owned(), "z2".to_owned())].into();
        assert!(!admits(&tainted, &p));
        let mut q = pod("q", "1");
        q.constraints.node_affinity.required =
            vec![NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
                "zone",
                Operator::NotIn,
                ["z1"],
            )])];
        assert!(!admits(&node("x", "4", "z1"), &q));
        assert!(admits(&node("y", "4", "z3"), &q));
    }

    #[test]
    fn a_pod_nominated_to_a_node_still_starting_waits_for_it() {
        let mut starting = node("s", "4", "z1");
        starting.initialized = false;
        let nodes = vec![starting, node("a", "4", "z1")];
        let mut pods = vec![pod("p1", "1"), pod("p2", "1")];
        let nominated = [("default/p1".to_owned(), "s".to_owned())].into();
        let bound = bind_pending(&mut pods, &nodes, &nominated);
        assert_eq!(
            bound,
            vec![(1, "a".to_owned())],
            "p1 waits for s, p2 takes a"
        );
        assert_eq!(pods[0].node_name, None);
    }
}
