//! Building the topology: groups from pod constraints, counts from the cluster's pods, inverse
//! anti-affinity from existing pods (upstream `NewTopology`, `Update`, `countDomains`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::labels::WellKnownLabels;
use crate::requirements::Requirements;
use crate::scheduling::{PreferencePolicy, SchedulingSettings};
use crate::snapshot::{
    LabelSelector, Pod, PodAffinityTerm, PodConstraints, Snapshot, WhenUnsatisfiable,
};
use crate::taints::Toleration;

use super::domains::DomainIndex;
use super::filter::{NodeFilter, tolerated};
use super::group::TopologyGroup;
use super::selector::PodSelector;
use super::universe::DomainUniverse;
use super::{GroupRef, Topology, TopologyKind, is_hostname};

/// A group's identity: constraints with equal identities share counts and owners. `minDomains`
/// is not part of it (as upstream): the first constraint's value is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct GroupKey {
    kind: TopologyKind,
    key: Arc<str>,
    namespaces: Arc<[String]>,
    selector: PodSelector,
    max_skew: i32,
    filter: Option<NodeFilter>,
}

/// A group to find or create, with what creation needs beyond the identity.
struct GroupSpec<'a> {
    id: GroupKey,
    min_domains: Option<i32>,
    /// The creating pod's tolerations: NodePool domains whose taints they do not tolerate are
    /// left out of affinity groups (upstream's zero-value filter checks taints).
    tolerations: &'a [Toleration],
}

// === impl Topology: construction ===

impl<'s> Topology<'s> {
    /// The topology of one solve (upstream `NewTopology`): `batch` are the pods being scheduled
    /// (their current placements, if any, are not counted); `universe` the domains of the
    /// NodePools in play. Existing pods count when bound to a registered node, not terminal and
    /// not terminating; existing pods' required anti-affinity is tracked inversely.
    pub fn new<'b>(
        snapshot: &'s Snapshot,
        universe: DomainUniverse,
        batch: impl IntoIterator<Item = &'b Pod>,
        settings: &SchedulingSettings,
    ) -> Self {
        let batch: Vec<&Pod> = batch.into_iter().collect();
        let batch_uids: HashSet<&str> = batch.iter().map(|p| p.uid.as_str()).collect();
        let nodes: HashMap<&'s str, usize> = snapshot
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.registered)
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut topology = Topology {
            snapshot,
            policy: settings.preference_policy,
            aliases: settings.label_aliases.clone(),
            well_known: settings.well_known_labels.clone(),
            universe,
            keys: Vec::new(),
            key_ids: HashMap::new(),
            groups: Vec::new(),
            group_ids: HashMap::new(),
            inverse: Vec::new(),
            inverse_ids: HashMap::new(),
            by_key: Vec::new(),
            pods: HashMap::new(),
            node_requirements: vec![None; snapshot.nodes.len()],
            nodes,
            counted: Vec::new(),
        };
        topology.find_counted_pods(&batch_uids);
        topology.track_existing_anti_affinity(&batch_uids);
        for pod in &batch {
            topology.update(pod, &pod.constraints);
        }
        topology.index_inverse_selection(&batch);
        topology
    }

    /// (Re)registers the groups of `pod` with `constraints` (upstream `Update`): call it after
    /// relaxing a preference so dropped terms stop constraining the pod.
    pub fn update(&mut self, pod: &Pod, constraints: &PodConstraints) {
        let respect = self.policy == PreferencePolicy::Respect;
        let mut owned = Vec::new();
        for tsc in &constraints.topology_spread {
            if !respect && tsc.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway {
                continue;
            }
            let extra = tsc
                .match_label_keys
                .iter()
                .filter_map(|k| pod.labels.get_key_value(k))
                .map(|(k, v)| (k.as_str(), v.as_str()));
            let id = GroupKey {
                kind: TopologyKind::Spread,
                key: Arc::from(tsc.topology_key.as_str()),
                namespaces: Arc::from([pod.namespace.clone()]),
                selector: PodSelector::new(tsc.label_selector.as_ref(), extra),
                max_skew: tsc.max_skew,
                filter: Some(NodeFilter::new(
                    constraints,
                    tsc.node_taints_policy,
                    tsc.node_affinity_policy,
                    &self.aliases,
                )),
            };
            let spec = GroupSpec {
                id,
                min_domains: tsc.min_domains,
                tolerations: &constraints.tolerations,
            };
            owned.push(self.find_or_create(spec, false));
        }
        let affinities = [
            (TopologyKind::PodAffinity, &constraints.pod_affinity),
            (
                TopologyKind::PodAntiAffinity,
                &constraints.pod_anti_affinity,
            ),
        ];
        for (kind, affinity) in affinities {
            let preferred = affinity
                .preferred
                .iter()
                .filter(|_| respect)
                .map(|w| &w.term);
            for term in affinity.required.iter().chain(preferred) {
                let spec = self.affinity_spec(kind, pod, term, &constraints.tolerations);
                owned.push(self.find_or_create(spec, false));
            }
        }
        owned.dedup();
        let owned = owned
            .into_iter()
            .map(|id| (id, self.groups[id].selects(&pod.namespace, &pod.labels)))
            .collect();
        let mut inverse_owned = Vec::new();
        for term in &constraints.pod_anti_affinity.required {
            let spec = self.affinity_spec(
                TopologyKind::PodAntiAffinity,
                pod,
                term,
                &constraints.tolerations,
            );
            inverse_owned.push(self.find_or_create(spec, true));
        }
        let entry = self.pods.entry(pod.uid.clone()).or_default();
        entry.owned = owned;
        for id in inverse_owned {
            if !entry.inverse_owned.contains(&id) {
                entry.inverse_owned.push(id);
            }
        }
    }

    /// The group spec of a pod (anti-)affinity term of `pod`.
    fn affinity_spec<'t>(
        &self,
        kind: TopologyKind,
        pod: &Pod,
        term: &PodAffinityTerm,
        tolerations: &'t [Toleration],
    ) -> GroupSpec<'t> {
        GroupSpec {
            id: GroupKey {
                kind,
                key: Arc::from(term.topology_key.as_str()),
                namespaces: self.namespaces(&pod.namespace, term),
                selector: PodSelector::new(term.label_selector.as_ref(), []),
                max_skew: i32::MAX,
                filter: None,
            },
            min_domains: None,
            tolerations,
        }
    }

    /// The namespaces an affinity term looks in (upstream `buildNamespaceList`): the pod's own
    /// when neither `namespaces` nor a selector is given; else the listed ones plus those whose
    /// labels the selector matches (an empty selector matches every known namespace).
    fn namespaces(&self, own: &str, term: &PodAffinityTerm) -> Arc<[String]> {
        let mut names: Vec<String> = match &term.namespace_selector {
            None if term.namespaces.is_empty() => vec![own.to_owned()],
            None => term.namespaces.clone(),
            Some(selector) => self
                .snapshot
                .namespaces
                .iter()
                .filter(|(_, labels)| selector_matches(selector, labels))
                .map(|(name, _)| name.clone())
                .chain(term.namespaces.iter().cloned())
                .collect(),
        };
        names.sort_unstable();
        names.dedup();
        names.into()
    }

    /// Existing pods that count: bound to a registered node, not terminal, not terminating,
    /// not in the batch.
    fn find_counted_pods(&mut self, batch: &HashSet<&str>) {
        for (i, pod) in self.snapshot.pods.iter().enumerate() {
            if pod.is_terminal() || pod.is_terminating() || batch.contains(pod.uid.as_str()) {
                continue;
            }
            if let Some(&node) = pod.node_name.as_deref().and_then(|n| self.nodes.get(n)) {
                self.counted.push((i, node));
            }
        }
    }

    /// Inverse groups for the required anti-affinity of existing pods, recorded in the domain of
    /// their node (upstream `updateInverseAffinities`). Terminating pods still occupy their node,
    /// so they are tracked too.
    fn track_existing_anti_affinity(&mut self, batch: &HashSet<&str>) {
        let snapshot = self.snapshot;
        for pod in &snapshot.pods {
            if pod.constraints.pod_anti_affinity.required.is_empty()
                || pod.is_terminal()
                || batch.contains(pod.uid.as_str())
            {
                continue;
            }
            let Some(&node) = pod.node_name.as_deref().and_then(|n| self.nodes.get(n)) else {
                continue;
            };
            for term in &pod.constraints.pod_anti_affinity.required {
                let spec = self.affinity_spec(
                    TopologyKind::PodAntiAffinity,
                    pod,
                    term,
                    &pod.constraints.tolerations,
                );
                let id = self.find_or_create(spec, true);
                let key = self.inverse[id].key;
                if let Some(domain) = node_domain(snapshot, node, self.keys[key].key()) {
                    let domain = self.keys[key].intern(domain);
                    self.inverse[id].record(domain);
                }
            }
        }
    }

    /// Which inverse groups select each batch pod (fixed once every batch pod is registered).
    fn index_inverse_selection(&mut self, batch: &[&Pod]) {
        let total = self.inverse.len();
        for pod in batch {
            let selecting: Vec<usize> = (0..total)
                .filter(|&id| self.inverse[id].selects(&pod.namespace, &pod.labels))
                .collect();
            if let Some(entry) = self.pods.get_mut(pod.uid.as_str()) {
                entry.inverse_selecting = selecting;
                entry.inverse_checked = total;
            }
        }
    }
}

// === impl Topology: groups ===

impl Topology<'_> {
    /// The index of the group with `spec`'s identity, creating (and counting) it if new.
    fn find_or_create(&mut self, spec: GroupSpec<'_>, inverse: bool) -> usize {
        let existing = if inverse {
            &self.inverse_ids
        } else {
            &self.group_ids
        };
        if let Some(&id) = existing.get(&spec.id) {
            return id;
        }
        let key = self.key_index(&spec.id.key);
        let mut group = TopologyGroup::new(
            spec.id.kind,
            key,
            is_hostname(&spec.id.key),
            Arc::clone(&spec.id.namespaces),
            spec.id.selector.clone(),
            spec.id.max_skew,
            spec.min_domains,
            spec.id.filter.clone(),
        );
        self.add_universe_domains(&mut group, spec.tolerations);
        if !inverse {
            self.add_node_domains(&mut group);
            self.count_existing_pods(&mut group);
        }
        let (list, ids) = if inverse {
            (&mut self.inverse, &mut self.inverse_ids)
        } else {
            (&mut self.groups, &mut self.group_ids)
        };
        let id = list.len();
        list.push(group);
        ids.insert(spec.id, id);
        self.by_key[key].push(if inverse {
            GroupRef::Inverse(id)
        } else {
            GroupRef::Own(id)
        });
        id
    }

    /// The index of `key`'s domain index, creating it if new.
    fn key_index(&mut self, key: &Arc<str>) -> usize {
        if let Some(&k) = self.key_ids.get(key) {
            return k;
        }
        let k = self.keys.len();
        self.keys.push(DomainIndex::new(Arc::clone(key)));
        self.by_key.push(Vec::new());
        self.key_ids.insert(Arc::clone(key), k);
        k
    }

    /// Adds the universe's domains of the group's key that some eligible NodePool produces.
    fn add_universe_domains(&mut self, group: &mut TopologyGroup, tolerations: &[Toleration]) {
        let well_known: &WellKnownLabels = &self.well_known;
        let eligible: Vec<bool> = self
            .universe
            .pools()
            .iter()
            .map(|pool| match &group.filter {
                Some(filter) => filter.admits_pool(pool, well_known),
                None => tolerated(&pool.taints, tolerations),
            })
            .collect();
        let index = &mut self.keys[group.key];
        for (domain, producers) in self.universe.producers(&Arc::clone(index.key())) {
            if producers.iter().any(|&p| eligible[p as usize]) {
                group.register(index.intern(domain));
            }
        }
    }

    /// Adds the domains of registered nodes that carry the key and pass the group's filter, so a
    /// domain without selected pods still counts as empty (upstream `countDomains`).
    fn add_node_domains(&mut self, group: &mut TopologyGroup) {
        let snapshot = self.snapshot;
        let none = WellKnownLabels::empty();
        for (i, node) in snapshot.nodes.iter().enumerate() {
            if !node.registered {
                continue;
            }
            let key = Arc::clone(self.keys[group.key].key());
            let Some(domain) = node.labels.get(&*key) else {
                continue;
            };
            if let Some(filter) = &group.filter {
                let requirements = self.node_labels(i);
                if !filter.matches(&node.taints, requirements, &none) {
                    continue;
                }
            }
            group.register(self.keys[group.key].intern(domain));
        }
    }

    /// Records every counted existing pod the group selects in its node's domain (hostname falls
    /// back to the node name); pods on nodes outside the filter or without the label are skipped.
    fn count_existing_pods(&mut self, group: &mut TopologyGroup) {
        let snapshot = self.snapshot;
        let none = WellKnownLabels::empty();
        for c in 0..self.counted.len() {
            let (pod, node) = self.counted[c];
            let pod = &snapshot.pods[pod];
            if !group.selects(&pod.namespace, &pod.labels) {
                continue;
            }
            let key = Arc::clone(self.keys[group.key].key());
            let Some(domain) = node_domain(snapshot, node, &key) else {
                continue;
            };
            if let Some(filter) = &group.filter {
                let taints = &snapshot.nodes[node].taints;
                if !filter.matches(taints, self.node_labels(node), &none) {
                    continue;
                }
            }
            group.record(self.keys[group.key].intern(domain));
        }
    }

    /// The label requirements of snapshot node `i`, built once.
    fn node_labels(&mut self, i: usize) -> &Requirements {
        let snapshot = self.snapshot;
        let aliases = &self.aliases;
        self.node_requirements[i]
            .get_or_insert_with(|| Requirements::from_labels(&snapshot.nodes[i].labels, aliases))
    }
}

/// A node's domain for `key`: its label, or for hostname its name when the label is missing
/// (the kubelet may not have labelled a new node yet).
fn node_domain<'a>(snapshot: &'a Snapshot, node: usize, key: &str) -> Option<&'a str> {
    let node = &snapshot.nodes[node];
    match node.labels.get(key) {
        Some(value) => Some(value),
        None if is_hostname(key) => Some(node.name.as_str()),
        None => None,
    }
}

/// Whether a namespace's labels match a namespace selector (`Some`: never nil here).
fn selector_matches(
    selector: &LabelSelector,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector.matches(labels)
}
