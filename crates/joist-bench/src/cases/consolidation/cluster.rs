//! The consolidation benchmark's cluster: a seeded, under-utilised EKS-like cluster on the
//! embedded AWS catalog, and applying disruption commands to it.
//!
//! Three NodePools share the us-east-1 catalog (3 zones):
//!
//! | NodePool | capacity type | instance categories | initial node types |
//! |---|---|---|---|
//! | `general` | on-demand | c, m, r | m5/m6i/c5 large–4xlarge |
//! | `spot` | spot | c, m, r | m5/m6i/c5 large–4xlarge |
//! | `memory` | on-demand | r, x | r5/r6i large–4xlarge |
//!
//! Each node gets a utilisation drawn uniformly in 15–60 % of its allocatable CPU, split over
//! 4–12 pods (8 on average) whose memory follows the node's memory at the same utilisation
//! (±50 %). Pods belong to Deployments of their pool (`app=<pool>-w<i>`, about 6 replicas each)
//! and select their pool with `karpenter.sh/nodepool`; every third Deployment has a PDB with
//! `maxUnavailable: 1`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::DateTime;
use joist_aws::labels::INSTANCE_CATEGORY;
use joist_core::disruption::{
    Command, ConsolidationSettings, DisruptionInput, NodeDisruptionState, PdbStatus,
    PoolDisruption, Simulator,
};
use joist_core::instancetype::InstanceType;
use joist_core::labels::{
    CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, HOSTNAME, INSTANCE_TYPE, NODEPOOL,
    ZONE,
};
use joist_core::requirements::{Operator, Requirement, Requirements};
use joist_core::resources::{Quantity, ResourceList, names};
use joist_core::rng::SeededRng;
use joist_core::snapshot::{
    IntOrString, LabelSelector, Node, NodeClassRef, NodePool, OwnerReference, Pod, PodConstraints,
    PodDisruptionBudget, PodPhase, Snapshot,
};

use super::BenchError;
use crate::cases::aws;

/// The seed of the cluster.
pub const SEED: u64 = 7;
/// Average replicas per Deployment.
const REPLICAS: usize = 6;

/// One NodePool of the cluster.
struct PoolSpec {
    name: &'static str,
    capacity_type: &'static str,
    categories: &'static [&'static str],
    node_types: &'static [&'static str],
}

const GENERAL_TYPES: &[&str] = &[
    "m5.large",
    "m5.xlarge",
    "m5.2xlarge",
    "m5.4xlarge",
    "m6i.xlarge",
    "m6i.2xlarge",
    "c5.xlarge",
    "c5.2xlarge",
];

const POOLS: [PoolSpec; 3] = [
    PoolSpec {
        name: "general",
        capacity_type: CAPACITY_TYPE_ON_DEMAND,
        categories: &["c", "m", "r"],
        node_types: GENERAL_TYPES,
    },
    PoolSpec {
        name: "spot",
        capacity_type: CAPACITY_TYPE_SPOT,
        categories: &["c", "m", "r"],
        node_types: GENERAL_TYPES,
    },
    PoolSpec {
        name: "memory",
        capacity_type: CAPACITY_TYPE_ON_DEMAND,
        categories: &["r", "x"],
        node_types: &[
            "r5.large",
            "r5.xlarge",
            "r5.2xlarge",
            "r5.4xlarge",
            "r6i.xlarge",
        ],
    },
];

/// The cluster and the disruption facts a driver would supply.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Pods, nodes, NodePools, instance types, PDBs.
    pub snapshot: Snapshot,
    /// Every node Ready and Consolidatable (`consolidateAfter: 0s`).
    pub nodes: BTreeMap<String, NodeDisruptionState>,
    /// CRD-default disruption settings per pool.
    pub pools: BTreeMap<String, PoolDisruption>,
    /// No PDB status: PDBs fall back to their spec (`maxUnavailable: 1` allows one).
    pub pdb_status: BTreeMap<(String, String), PdbStatus>,
    /// Unused (no duration `do-not-disrupt`).
    pub pod_start_times: BTreeMap<String, chrono::DateTime<chrono::Utc>>,
    /// Unused (every pod Ready).
    pub unready_pods: BTreeSet<String>,
    /// Replacement nodes launched so far (for unique names).
    launched: usize,
}

impl Cluster {
    /// The disruption input over the current state.
    pub fn input(&self) -> DisruptionInput<'_> {
        DisruptionInput {
            snapshot: &self.snapshot,
            nodes: &self.nodes,
            pools: &self.pools,
            pdb_status: &self.pdb_status,
            pod_start_times: &self.pod_start_times,
            unready_pods: &self.unready_pods,
        }
    }

    /// Σ over nodes of their offering's price.
    pub fn cost(&self) -> f64 {
        self.snapshot
            .nodes
            .iter()
            .map(|n| node_price(&self.snapshot, n))
            .sum()
    }

    /// [`Self::cost`] per NodePool.
    pub fn cost_by_pool(&self) -> BTreeMap<String, f64> {
        let mut by_pool = BTreeMap::new();
        for node in &self.snapshot.nodes {
            let pool = node.nodepool.clone().unwrap_or_default();
            *by_pool.entry(pool).or_default() += node_price(&self.snapshot, node);
        }
        by_pool
    }

    /// Node count per (NodePool, instance type, capacity type), for `--trace`.
    pub fn type_counts(&self) -> BTreeMap<(String, String, String), usize> {
        let mut counts = BTreeMap::new();
        for node in &self.snapshot.nodes {
            let label = |key: &str| node.labels.get(key).cloned().unwrap_or_default();
            let key = (
                node.nodepool.clone().unwrap_or_default(),
                label(INSTANCE_TYPE),
                label(CAPACITY_TYPE),
            );
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    /// Applies a command as the driver would once it succeeded: replacements launch (cheapest
    /// option, cheapest compatible offering), pods move where the simulation put them, the
    /// candidates go.
    pub fn apply(
        &mut self,
        command: &Command,
        settings: &ConsolidationSettings,
        rng: &mut SeededRng,
    ) -> Result<(), BenchError> {
        let names: Vec<&str> = command.candidates.iter().map(|c| c.node.as_str()).collect();
        // The decision's simulator (same packing), so pods go where the decision put them.
        let result = Simulator::for_consolidation(self.input(), settings)
            .simulate(&names, rng)
            .map_err(|e| BenchError::Apply(e.to_string()))?;
        let mut destination: BTreeMap<usize, String> = result
            .placements
            .into_iter()
            .map(|p| (p.pod, p.node))
            .collect();
        for replacement in &command.replacements {
            let node = self.launch(replacement)?;
            for &pod in &replacement.nodeclaim.pods {
                destination.insert(pod, node.clone());
            }
        }
        let gone: BTreeSet<&str> = names.iter().copied().collect();
        for (index, pod) in self.snapshot.pods.iter_mut().enumerate() {
            if let Some(node) = destination.remove(&index) {
                pod.node_name = Some(node);
            } else if pod.node_name.as_deref().is_some_and(|n| gone.contains(n)) {
                return Err(BenchError::Apply(format!(
                    "pod {} of a disrupted node has no destination",
                    pod.key()
                )));
            }
        }
        self.snapshot
            .nodes
            .retain(|n| !gone.contains(n.name.as_str()));
        for name in gone {
            self.nodes.remove(name);
        }
        Ok(())
    }

    /// Adds a node for a replacement and returns its name.
    fn launch(
        &mut self,
        replacement: &joist_core::disruption::Replacement,
    ) -> Result<String, BenchError> {
        let pool = replacement.nodeclaim.nodepool.clone();
        let requirements = &replacement.nodeclaim.requirements;
        let chosen = replacement
            .options
            .first()
            .and_then(|o| {
                self.snapshot
                    .instance_types
                    .get(&pool)?
                    .iter()
                    .find(|it| it.name == o.name)
            })
            .cloned()
            .ok_or_else(|| BenchError::Apply("replacement without options".into()))?;
        let offering = chosen
            .offerings
            .iter()
            .filter(|o| o.is_available_for(requirements))
            .min_by(|a, b| a.price.total_cmp(&b.price))
            .ok_or_else(|| BenchError::Apply(format!("no offering for {}", chosen.name)))?;
        let (zone, capacity_type) = (
            offering.zone().unwrap_or_default().to_owned(),
            offering.capacity_type().unwrap_or_default().to_owned(),
        );
        self.launched += 1;
        let name = format!("replacement-{:05}", self.launched);
        let node = make_node(&name, &pool, &chosen, &zone, &capacity_type);
        self.snapshot.nodes.push(node);
        self.nodes.insert(name.clone(), ready());
        Ok(name)
    }
}

fn ready() -> NodeDisruptionState {
    NodeDisruptionState {
        ready: true,
        consolidatable: true,
        ..NodeDisruptionState::default()
    }
}

/// The price of the offering a node runs on (0 when unknown).
pub fn node_price(snapshot: &Snapshot, node: &Node) -> f64 {
    let label = |key: &str| node.labels.get(key).map(String::as_str);
    let Some(types) = node
        .nodepool
        .as_ref()
        .and_then(|p| snapshot.instance_types.get(p))
    else {
        return 0.0;
    };
    types
        .iter()
        .find(|it| Some(it.name.as_str()) == label(INSTANCE_TYPE))
        .and_then(|it| {
            it.offerings
                .iter()
                .find(|o| o.zone() == label(ZONE) && o.capacity_type() == label(CAPACITY_TYPE))
        })
        .map_or(0.0, |o| o.price)
}

/// A registered, initialized node of `pool` running `it` in `zone`: the instance type's
/// single-valued labels, the NodePool, node class and hostname labels, and its capacity.
fn make_node(name: &str, pool: &str, it: &InstanceType, zone: &str, capacity_type: &str) -> Node {
    let mut labels: BTreeMap<String, String> = it
        .requirements
        .iter()
        .filter(|r| r.operator() == Operator::In && r.values().len() == 1)
        .filter_map(|r| {
            r.values()
                .next()
                .map(|v| (r.key().to_owned(), v.to_owned()))
        })
        .collect();
    for (key, value) in [
        (NODEPOOL, pool),
        (INSTANCE_TYPE, it.name.as_str()),
        (ZONE, zone),
        (CAPACITY_TYPE, capacity_type),
        (HOSTNAME, name),
        ("karpenter.k8s.aws/ec2nodeclass", "default"),
    ] {
        labels.insert(key.to_owned(), value.to_owned());
    }
    Node {
        name: name.to_owned(),
        nodeclaim: Some(name.to_owned()),
        provider_id: Some(format!("aws:///{zone}/i-{name}")),
        labels,
        capacity: it.capacity().clone(),
        allocatable: it.allocatable().clone(),
        nodepool: Some(pool.to_owned()),
        initialized: true,
        registered: true,
        ..Node::default()
    }
}

fn nodepool(spec: &PoolSpec) -> NodePool {
    let mut requirements = Requirements::new();
    requirements.add(Requirement::in_values(CAPACITY_TYPE, [spec.capacity_type]));
    requirements.add(Requirement::in_values(
        INSTANCE_CATEGORY,
        spec.categories.iter().copied(),
    ));
    NodePool {
        name: spec.name.to_owned(),
        requirements,
        node_class_ref: NodeClassRef::new("karpenter.k8s.aws", "EC2NodeClass", "default"),
        ready: true,
        ..NodePool::default()
    }
}

/// Builds the cluster with `node_count` nodes.
pub fn generate(node_count: usize) -> Result<Cluster, BenchError> {
    let shared: Arc<[InstanceType]> = Arc::from(aws::instance_types()?);
    let by_name: BTreeMap<&str, &InstanceType> =
        shared.iter().map(|it| (it.name.as_str(), it)).collect();
    let zones: Vec<String> = {
        let set: BTreeSet<&str> = shared
            .iter()
            .flat_map(|it| it.offerings.iter().filter_map(|o| o.zone()))
            .collect();
        set.into_iter().map(str::to_owned).collect()
    };
    let mut rng = SeededRng::new(SEED);
    let mut snapshot = Snapshot {
        now: DateTime::UNIX_EPOCH,
        nodepools: POOLS.iter().map(nodepool).collect(),
        instance_types: POOLS
            .iter()
            .map(|p| (p.name.to_owned(), Arc::clone(&shared)))
            .collect(),
        ..Snapshot::default()
    };
    let workloads = (node_count * 8 / REPLICAS / POOLS.len()).max(1);
    for index in 0..node_count {
        let spec = &POOLS[index % POOLS.len()];
        let type_name = spec.node_types[rng.below(spec.node_types.len() as u64) as usize];
        let it = by_name.get(type_name).ok_or_else(|| {
            BenchError::Apply(format!("instance type {type_name} is not in the catalog"))
        })?;
        let zone = &zones[rng.below(zones.len() as u64) as usize];
        let name = format!("node-{index:05}");
        snapshot
            .nodes
            .push(make_node(&name, spec.name, it, zone, spec.capacity_type));
        fill(
            &mut snapshot.pods,
            &name,
            spec.name,
            it,
            workloads,
            &mut rng,
        );
    }
    for pool in &POOLS {
        for w in (0..workloads).step_by(3) {
            snapshot.pdbs.push(PodDisruptionBudget {
                namespace: "default".into(),
                name: format!("{}-w{w}", pool.name),
                selector: Some(LabelSelector::from_labels([(
                    "app",
                    format!("{}-w{w}", pool.name).as_str(),
                )])),
                min_available: None,
                max_unavailable: Some(IntOrString::Int(1)),
            });
        }
    }
    let nodes = snapshot
        .nodes
        .iter()
        .map(|n| (n.name.clone(), ready()))
        .collect();
    Ok(Cluster {
        snapshot,
        nodes,
        pools: BTreeMap::new(),
        pdb_status: BTreeMap::new(),
        pod_start_times: BTreeMap::new(),
        unready_pods: BTreeSet::new(),
        launched: 0,
    })
}

/// Puts 4–12 pods on `node` using 15–60 % of its allocatable CPU.
fn fill(
    pods: &mut Vec<Pod>,
    node: &str,
    pool: &str,
    it: &InstanceType,
    workloads: usize,
    rng: &mut SeededRng,
) {
    let allocatable = it.allocatable();
    let cpu_millis = (allocatable.get_or_zero(names::CPU).as_f64() * 1000.0) as i64;
    let memory_mib = (allocatable.get_or_zero(names::MEMORY).as_f64() / 1_048_576.0) as i64;
    let utilisation_percent = rng.range_inclusive(15, 60);
    let count = rng.range_inclusive(4, 12);
    let pod_cpu = (cpu_millis * utilisation_percent / 100 / count / 10 * 10).max(10);
    for _ in 0..count {
        let memory_percent = rng.range_inclusive(50, 150);
        let pod_memory =
            (memory_mib * utilisation_percent / 100 / count * memory_percent / 100).max(16);
        let workload = format!("{pool}-w{}", rng.below(workloads as u64));
        let mut requests = ResourceList::new();
        requests.insert(names::CPU, Quantity::from_milli(pod_cpu));
        requests.insert(names::MEMORY, Quantity::from_mebibytes(pod_memory));
        requests.insert(names::PODS, Quantity::from_int(1));
        let name = format!("{node}-p{}", pods.len());
        let mut constraints = PodConstraints::default();
        constraints
            .node_selector
            .insert(NODEPOOL.to_owned(), pool.to_owned());
        pods.push(Pod {
            uid: name.clone(),
            namespace: "default".into(),
            name,
            labels: [("app".to_owned(), workload.clone())].into(),
            annotations: BTreeMap::new(),
            owner: Some(OwnerReference::new("apps/v1", "ReplicaSet", workload)),
            creation_timestamp: DateTime::UNIX_EPOCH,
            deletion_timestamp: None,
            priority: 0,
            node_name: Some(node.to_owned()),
            nominated_node_name: None,
            phase: PodPhase::Running,
            unschedulable: false,
            requests,
            constraints,
            host_ports: Vec::new(),
            volumes: Vec::new(),
            has_resource_claims: false,
        });
    }
}

/// The same pods, all pending, on no nodes: what packing them from scratch would cost.
pub fn as_pending(snapshot: &Snapshot) -> Snapshot {
    let mut pending = snapshot.clone();
    pending.nodes.clear();
    for pod in &mut pending.pods {
        pod.node_name = None;
        pod.unschedulable = true;
        pod.phase = PodPhase::Pending;
    }
    pending
}
