//! Topology tests: builders and a miniature placement loop that drives [`Topology`] the way the
//! solver does (existing nodes, then in-flight NodeClaims least loaded first, then a new
//! NodeClaim with a placeholder hostname), so the outcomes of spec core §9.2 can be checked on
//! the topology alone.

mod affinity;
mod solve;
mod spread;

use std::collections::BTreeMap;

use super::*;
use crate::instancetype::InstanceType;
use crate::labels::{CAPACITY_TYPE, ZONE};
use crate::resources::ResourceList;
use crate::scheduling::SchedulingSettings;
use crate::snapshot::{
    LabelSelector, Node, NodeInclusionPolicy, NodePool, PodAffinityTerm, PodConstraints, PodPhase,
    TopologySpreadConstraint, WeightedPodAffinityTerm, WhenUnsatisfiable,
};

pub(super) const ZONES: [&str; 3] = ["test-zone-1", "test-zone-2", "test-zone-3"];

// === builders ===

/// A pending pod `name` (uid = name) in `default` with `app=<app>`.
pub(super) fn pod(name: &str, app: &str) -> Pod {
    Pod {
        uid: name.into(),
        namespace: "default".into(),
        name: name.into(),
        labels: [("app".to_owned(), app.to_owned())].into(),
        annotations: BTreeMap::new(),
        owner: None,
        creation_timestamp: Default::default(),
        deletion_timestamp: None,
        priority: 0,
        node_name: None,
        nominated_node_name: None,
        phase: PodPhase::Pending,
        unschedulable: true,
        requests: ResourceList::default(),
        constraints: PodConstraints::default(),
        host_ports: Vec::new(),
        volumes: Vec::new(),
        has_resource_claims: false,
    }
}

/// `count` pods `<prefix>-<i>` with `app=<app>` and `constraints`.
pub(super) fn pods(
    prefix: &str,
    app: &str,
    count: usize,
    constraints: &PodConstraints,
) -> Vec<Pod> {
    (0..count)
        .map(|i| {
            let mut p = pod(&format!("{prefix}-{i:03}"), app);
            p.constraints = constraints.clone();
            p
        })
        .collect()
}

/// A running pod bound to `node`.
pub(super) fn bound(name: &str, app: &str, node: &str) -> Pod {
    let mut p = pod(name, app);
    p.node_name = Some(node.into());
    p.phase = PodPhase::Running;
    p.unschedulable = false;
    p
}

/// A registered node with `labels` (hostname = name).
pub(super) fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    let mut labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.insert(HOSTNAME.into(), name.into());
    Node {
        name: name.into(),
        labels,
        registered: true,
        initialized: true,
        ..Node::default()
    }
}

/// A spread constraint on `key` selecting `app=<app>`.
pub(super) fn spread(key: &str, max_skew: i32, app: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: key.into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        label_selector: Some(LabelSelector::from_labels([("app", app)])),
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

/// A pod (anti-)affinity term on `key` selecting `app=<app>`.
pub(super) fn term(key: &str, app: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector::from_labels([("app", app)])),
        topology_key: key.into(),
        ..PodAffinityTerm::default()
    }
}

/// A weighted version of [`term`].
pub(super) fn weighted(weight: i32, key: &str, app: &str) -> WeightedPodAffinityTerm {
    WeightedPodAffinityTerm {
        weight,
        term: term(key, app),
    }
}

/// Constraints with one spread constraint.
pub(super) fn spreading(tsc: TopologySpreadConstraint) -> PodConstraints {
    PodConstraints {
        topology_spread: vec![tsc],
        ..PodConstraints::default()
    }
}

/// A NodePool `name` whose instance type offers `zones` (on-demand and spot).
pub(super) fn nodepool(name: &str, zones: &[&str]) -> (NodePool, Vec<InstanceType>) {
    let requirements: Requirements = [
        Requirement::in_values(ZONE, zones.iter().copied()),
        Requirement::in_values(CAPACITY_TYPE, ["on-demand", "spot"]),
    ]
    .into_iter()
    .collect();
    let it = InstanceType::new(
        "default-instance-type",
        requirements,
        Vec::new(),
        ResourceList::default(),
        Default::default(),
    );
    let pool = NodePool {
        name: name.into(),
        ready: true,
        ..NodePool::default()
    };
    (pool, vec![it])
}

// === the placement loop ===

/// One simulated node: an existing node or a NodeClaim opened by the loop.
pub(super) struct SimNode {
    pub(super) requirements: Requirements,
    pub(super) taints: Vec<Taint>,
    pub(super) pods: usize,
    pub(super) nodeclaim: bool,
}

/// Drives a topology like the solver: `capacity` pods fit on a node.
pub(super) struct Sim<'s> {
    pub(super) topology: Topology<'s>,
    pools: Vec<(NodePool, Vec<InstanceType>)>,
    pub(super) nodes: Vec<SimNode>,
    capacity: usize,
    settings: SchedulingSettings,
}

impl<'s> Sim<'s> {
    /// A loop over `snapshot` (existing nodes become candidates) scheduling `batch`.
    pub(super) fn new(snapshot: &'s Snapshot, batch: &[Pod], capacity: usize) -> Self {
        Self::with_settings(snapshot, batch, capacity, SchedulingSettings::default())
    }

    pub(super) fn with_settings(
        snapshot: &'s Snapshot,
        batch: &[Pod],
        capacity: usize,
        settings: SchedulingSettings,
    ) -> Self {
        let pools: Vec<(NodePool, Vec<InstanceType>)> = snapshot
            .nodepools
            .iter()
            .map(|np| (np.clone(), snapshot.instance_types[&np.name].to_vec()))
            .collect();
        let universe = DomainUniverse::from_nodepools(
            pools.iter().map(|(np, its)| (np, &its[..])),
            &settings.label_aliases,
        );
        let topology = Topology::new(snapshot, universe, batch, &settings);
        let nodes = snapshot
            .nodes
            .iter()
            .map(|n| SimNode {
                requirements: Requirements::from_labels(&n.labels, &settings.label_aliases),
                taints: n.taints.clone(),
                pods: snapshot
                    .pods
                    .iter()
                    .filter(|p| p.node_name.as_deref() == Some(&n.name))
                    .count(),
                nodeclaim: false,
            })
            .collect();
        Self {
            topology,
            pools,
            nodes,
            capacity,
            settings,
        }
    }

    /// Places every pod in order, retrying failed ones until a full pass makes no progress
    /// (the solver's queue rule); returns the pods that could not be placed.
    pub(super) fn place_all(&mut self, batch: &[Pod]) -> Vec<String> {
        let mut queue: Vec<&Pod> = batch.iter().collect();
        loop {
            let before = queue.len();
            queue.retain(|p| self.place(p).is_err());
            if queue.is_empty() || queue.len() == before {
                return queue.iter().map(|p| p.name.clone()).collect();
            }
        }
    }

    /// Places one pod, returning the node index or the last topology error (`None`: refused for
    /// another reason, e.g. capacity, taints or requirements).
    pub(super) fn place(&mut self, pod: &Pod) -> Result<usize, Option<TopologyError>> {
        let wk = self.settings.well_known_labels.clone();
        let strict = pod
            .constraints
            .strict_requirements(&self.settings.label_aliases)
            .unwrap();
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        // existing nodes first (in order), then NodeClaims least loaded first
        order.sort_by_key(|&i| {
            (
                self.nodes[i].nodeclaim,
                if self.nodes[i].nodeclaim {
                    self.nodes[i].pods
                } else {
                    0
                },
            )
        });
        let mut last = None;
        for i in order {
            let node = &self.nodes[i];
            let allow = if node.nodeclaim {
                wk.clone()
            } else {
                WellKnownLabels::empty()
            };
            if node.pods >= self.capacity
                || !filter::tolerated(&node.taints, &pod.constraints.tolerations)
                || !node.requirements.is_compatible(&strict, &allow)
            {
                continue;
            }
            let candidate = node.requirements.intersection(&strict);
            match self.topology.add_requirements(pod, &strict, &candidate) {
                Ok(narrowed) => return Ok(self.commit(pod, i, narrowed, &allow)),
                Err(e) => last = Some(e),
            }
        }
        for p in 0..self.pools.len() {
            match self.open(pod, p, &strict, &wk) {
                Ok(i) => return Ok(i),
                Err(e) => last = e.or(last),
            }
        }
        Err(last)
    }

    fn open(
        &mut self,
        pod: &Pod,
        pool: usize,
        strict: &Requirements,
        wk: &WellKnownLabels,
    ) -> Result<usize, Option<TopologyError>> {
        let (np, its) = &self.pools[pool];
        if !filter::tolerated(&np.taints, &pod.constraints.tolerations) {
            return Err(None);
        }
        let mut requirements = np.requirements.clone();
        requirements.add_all(&Requirements::from_labels(
            &np.labels,
            &self.settings.label_aliases,
        ));
        requirements.add_all(&its[0].requirements);
        requirements.add(Requirement::in_values(
            crate::labels::NODEPOOL,
            [np.name.as_str()],
        ));
        let hostname = format!("hostname-placeholder-{:04}", self.nodes.len());
        requirements.add(Requirement::in_values(HOSTNAME, [hostname.as_str()]));
        if !requirements.is_compatible(strict, wk) {
            return Err(None);
        }
        let candidate = requirements.intersection(strict);
        self.topology.register(HOSTNAME, &hostname);
        match self.topology.add_requirements(pod, strict, &candidate) {
            Ok(narrowed) => {
                self.nodes.push(SimNode {
                    requirements: narrowed.clone(),
                    taints: np.taints.clone(),
                    pods: 0,
                    nodeclaim: true,
                });
                let i = self.nodes.len() - 1;
                Ok(self.commit(pod, i, narrowed, wk))
            }
            Err(e) => {
                self.topology.unregister(HOSTNAME, &hostname);
                Err(Some(e))
            }
        }
    }

    fn commit(
        &mut self,
        pod: &Pod,
        i: usize,
        narrowed: Requirements,
        allow: &WellKnownLabels,
    ) -> usize {
        let node = &mut self.nodes[i];
        node.requirements = narrowed;
        node.pods += 1;
        self.topology
            .record(pod, &node.requirements, &node.taints, allow);
        i
    }

    /// Placed pods per value of `key` over the loop's NodeClaims (multi-valued: first value),
    /// sorted ascending, like upstream's `ExpectSkew`.
    pub(super) fn skew(&self, key: &str) -> Vec<usize> {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for n in self.nodes.iter().filter(|n| n.nodeclaim) {
            let domain = n
                .requirements
                .find(key)
                .and_then(|r| r.values().next().map(str::to_owned))
                .unwrap_or_default();
            *per.entry(domain).or_default() += n.pods;
        }
        let mut counts: Vec<usize> = per.into_values().collect();
        counts.sort_unstable();
        counts
    }

    /// Pods per value of `key`, by value (NodeClaims only).
    pub(super) fn per_domain(&self, key: &str) -> BTreeMap<String, usize> {
        let mut per = BTreeMap::new();
        for n in self.nodes.iter().filter(|n| n.nodeclaim) {
            let domain = n
                .requirements
                .find(key)
                .and_then(|r| r.values().next().map(str::to_owned))
                .unwrap_or_default();
            *per.entry(domain).or_default() += n.pods;
        }
        per
    }

    /// Number of NodeClaims opened.
    pub(super) fn nodeclaims(&self) -> usize {
        self.nodes.iter().filter(|n| n.nodeclaim).count()
    }
}

/// A snapshot with `pools` (name, zones) and `existing` nodes and pods.
pub(super) fn snapshot(
    pools: &[(NodePool, Vec<InstanceType>)],
    nodes: Vec<Node>,
    pods: Vec<Pod>,
) -> Snapshot {
    Snapshot {
        nodepools: pools.iter().map(|(np, _)| np.clone()).collect(),
        instance_types: pools
            .iter()
            .map(|(np, its)| (np.name.clone(), its.clone().into()))
            .collect(),
        nodes,
        pods,
        ..Snapshot::default()
    }
}

/// One NodePool over the three test zones.
pub(super) fn three_zones() -> Vec<(NodePool, Vec<InstanceType>)> {
    vec![nodepool("default", &ZONES)]
}

#[test]
fn hostname_placeholders_register_in_every_hostname_group() {
    let pools = three_zones();
    let snap = snapshot(&pools, Vec::new(), Vec::new());
    let batch = pods("p", "web", 1, &spreading(spread(HOSTNAME, 1, "web")));
    let mut sim = Sim::new(&snap, &batch, 10);
    sim.topology.register(HOSTNAME, "hostname-placeholder-9999");
    assert_eq!(
        sim.topology.counts(TopologyKind::Spread, HOSTNAME),
        [("hostname-placeholder-9999".to_owned(), 0)]
    );
    sim.topology
        .unregister(HOSTNAME, "hostname-placeholder-9999");
    assert!(
        sim.topology
            .counts(TopologyKind::Spread, HOSTNAME)
            .is_empty()
    );
    sim.topology.register("unknown-key", "x");
    assert!(
        sim.topology
            .counts(TopologyKind::Spread, "unknown-key")
            .is_empty()
    );
}
