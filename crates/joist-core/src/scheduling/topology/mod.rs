//! Topology spread, pod affinity and pod anti-affinity (spec core §2.9; upstream `Topology`).
//!
//! [`Topology`] is built once per solve from the snapshot, the [`DomainUniverse`] of the
//! NodePools in play and the batch of pods being scheduled. For every candidate node or NodeClaim
//! the solver asks [`Topology::add_requirements`] which domain(s) of each topology key the pod may
//! use there, and after a placement calls [`Topology::record`] so later pods see the new counts.
//! New NodeClaims [`register`](Topology::register) their placeholder hostname.
//!
//! Constraints are kept in *topology groups* keyed by (kind, key, namespaces, selector, maxSkew,
//! node filter), so a Deployment's replicas share one set of counts. Counts live in vectors
//! indexed by interned domain ids: checking a candidate is a hash lookup and an index per group,
//! never a scan of pods or nodes, and the hostname case (one domain per node) stays O(1).
//!
//! Where upstream leaves a choice to Go map order, joist decides deterministically: among equally
//! good spread domains the lowest domain name wins, and a self-affine pod bootstraps into the
//! first allowed domain by name. Other deliberate differences are named where they live
//! ([`DomainUniverse`], [`Topology::record`]).

mod build;
mod domains;
mod filter;
mod group;
mod hook;
mod selector;
mod universe;
mod zones;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::labels::{HOSTNAME, LabelAliases, WellKnownLabels};
use crate::requirements::{Operator, Requirement, Requirements};
use crate::scheduling::PreferencePolicy;
use crate::snapshot::{Pod, Snapshot};
use crate::taints::Taint;

use domains::DomainIndex;
use group::TopologyGroup;

pub use universe::DomainUniverse;

/// The three kinds of topology constraint, printed as upstream names them in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopologyKind {
    /// A topology spread constraint.
    Spread,
    /// A pod affinity term (required, or preferred while preferences are respected).
    PodAffinity,
    /// A pod anti-affinity term, or an existing pod's required anti-affinity seen inversely.
    PodAntiAffinity,
}

impl fmt::Display for TopologyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopologyKind::Spread => "topology spread",
            TopologyKind::PodAffinity => "pod affinity",
            TopologyKind::PodAntiAffinity => "pod anti-affinity",
        })
    }
}

/// Which group an error is about: one a pod owns, or an inverse anti-affinity group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupRef {
    /// A group of the pods' own constraints.
    Own(usize),
    /// A group of other pods' required anti-affinity that selects the pod.
    Inverse(usize),
}

/// Why topology refuses a pod on a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// No domain satisfies one of the pod's constraints on this node (boxed: refusals are
    /// frequent and the error travels in `Result`s on the solver's hot path).
    #[error("{0}")]
    Unsatisfiable(Box<Unsatisfiable>),
}

/// The details of an [`TopologyError::Unsatisfiable`]. Its text is upstream's without the
/// `counts = ...` part, which depends on the topology's state: [`Topology::explain`] renders the
/// full upstream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfiable {
    /// The constraint's kind.
    pub kind: TopologyKind,
    /// Its topology key.
    pub key: Arc<str>,
    /// The group whose counts refused the pod.
    pub group: GroupRef,
    /// The domains the pod's strict requirements allow (`None`: unconstrained).
    pub pod_domains: Option<Requirement>,
    /// The domains the node allows (`None`: unconstrained).
    pub node_domains: Option<Requirement>,
}

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(
            self.kind,
            &self.key,
            None,
            self.pod_domains.as_ref(),
            self.node_domains.as_ref(),
        ))
    }
}

/// Upstream's message: `unsatisfiable topology constraint for <kind>, key=<key> (counts = ...,
/// podDomains = ..., nodeDomains = ...` (sic: no closing parenthesis).
fn render(
    kind: TopologyKind,
    key: &str,
    counts: Option<&str>,
    pod: Option<&Requirement>,
    node: Option<&Requirement>,
) -> String {
    let domains =
        |r: Option<&Requirement>| r.map_or_else(|| format!("{key} Exists"), |r| r.to_string());
    let counts = counts
        .map(|c| format!("counts = {c}, "))
        .unwrap_or_default();
    format!(
        "unsatisfiable topology constraint for {kind}, key={key} ({counts}podDomains = {}, nodeDomains = {}",
        domains(pod),
        domains(node)
    )
}

/// The groups one batch pod takes part in.
#[derive(Debug, Clone, Default)]
struct PodGroups {
    /// Groups of the pod's own constraints, each with whether the group counts the pod itself.
    owned: Vec<(usize, bool)>,
    /// Inverse groups of the pod's required anti-affinity (recorded where the pod lands).
    inverse_owned: Vec<usize>,
    /// Inverse groups selecting the pod, among the first `inverse_checked`.
    inverse_selecting: Vec<usize>,
    /// How many inverse groups `inverse_selecting` covers (groups are only ever appended).
    inverse_checked: usize,
    /// Regular groups selecting the pod, among the first `selecting_checked`.
    selecting: Vec<usize>,
    /// How many regular groups `selecting` covers.
    selecting_checked: usize,
}

/// The topology state of one solve: groups, counts, owners (spec core §2.9).
///
/// Borrows the snapshot so groups created after construction (a relaxed pod's new node filter)
/// can count the cluster's pods like the first ones.
#[derive(Debug)]
pub struct Topology<'s> {
    /// The cluster being scheduled into.
    snapshot: &'s Snapshot,
    /// Whether preferred terms and `ScheduleAnyway` spreads are constraints at all.
    policy: PreferencePolicy,
    /// Normalises node-selector keys of node filters.
    aliases: LabelAliases,
    /// Keys a NodePool may leave undefined (domain eligibility of NodePools).
    well_known: WellKnownLabels,
    /// Domains the NodePools can produce.
    universe: DomainUniverse,
    /// Interned domains per topology key.
    keys: Vec<DomainIndex>,
    /// Topology key → index into `keys`.
    key_ids: HashMap<Arc<str>, usize>,
    /// The groups of batch pods' constraints, in creation order.
    groups: Vec<TopologyGroup>,
    /// Identity → index into `groups`.
    group_ids: HashMap<build::GroupKey, usize>,
    /// Required anti-affinity of existing and batch pods, seen from the pods they select.
    inverse: Vec<TopologyGroup>,
    /// Identity → index into `inverse`.
    inverse_ids: HashMap<build::GroupKey, usize>,
    /// Groups per key index (domain registration touches only these).
    by_key: Vec<Vec<GroupRef>>,
    /// Batch pods by uid.
    pods: HashMap<String, PodGroups>,
    /// Registered nodes by name (index into the snapshot's nodes).
    nodes: HashMap<&'s str, usize>,
    /// Existing pods that count towards topology: (pod index, node index).
    counted: Vec<(usize, usize)>,
    /// Label requirements of registered nodes, built on first use.
    node_requirements: Vec<Option<Requirements>>,
}

// === impl Topology: queries ===

impl Topology<'_> {
    /// The node's requirements narrowed to the domains the pod may use there (upstream
    /// `AddRequirements`), or why no domain is left.
    ///
    /// `pod_requirements` are the pod's **strict** requirements (preferred node affinity never
    /// narrows domains), `node_requirements` those of the candidate node or NodeClaim (a
    /// NodeClaim's include its placeholder hostname). Node taints do not matter here: only the
    /// pod's own groups and inverse anti-affinity apply, and neither filters nodes.
    pub fn add_requirements(
        &self,
        pod: &Pod,
        pod_requirements: &Requirements,
        node_requirements: &Requirements,
    ) -> Result<Requirements, TopologyError> {
        let mut narrowed = node_requirements.clone();
        for requirement in self.domain_requirements(pod, pod_requirements, node_requirements)? {
            narrowed.add(requirement);
        }
        Ok(narrowed)
    }

    /// The per-key domain requirements [`add_requirements`](Self::add_requirements) adds, one
    /// per constraint, without copying the node's requirements. Empty when no topology applies.
    pub fn domain_requirements(
        &self,
        pod: &Pod,
        pod_requirements: &Requirements,
        node_requirements: &Requirements,
    ) -> Result<Vec<Requirement>, TopologyError> {
        let entry = self.pods.get(pod.uid.as_str());
        let owned = entry.map_or(&[][..], |e| &e.owned[..]);
        let mut out = Vec::new();
        for &(id, selected) in owned {
            out.push(self.evaluate(
                GroupRef::Own(id),
                selected,
                pod_requirements,
                node_requirements,
            )?);
        }
        let (known, checked) = entry.map_or((&[][..], 0), |e| {
            (&e.inverse_selecting[..], e.inverse_checked)
        });
        let late = (checked..self.inverse.len())
            .filter(|&id| self.inverse[id].selects(&pod.namespace, &pod.labels));
        for id in known.iter().copied().chain(late) {
            out.push(self.evaluate(
                GroupRef::Inverse(id),
                false,
                pod_requirements,
                node_requirements,
            )?);
        }
        Ok(out)
    }

    /// Whether the pod's placement matters to topology: [`constrains`](Self::constrains) it, or
    /// some group (of any kind) counts pods like it, so moving it would change counts.
    pub fn placement_counts(&self, pod: &Pod) -> bool {
        self.constrains(pod)
            || self
                .groups
                .iter()
                .chain(&self.inverse)
                .any(|g| g.selects(&pod.namespace, &pod.labels))
    }

    /// Whether any topology constraint applies to the pod (its own, or another pod's required
    /// anti-affinity selecting it); when not, [`add_requirements`](Self::add_requirements) never
    /// narrows anything.
    pub fn constrains(&self, pod: &Pod) -> bool {
        match self.pods.get(pod.uid.as_str()) {
            Some(e) => {
                !e.owned.is_empty()
                    || !e.inverse_selecting.is_empty()
                    || self.inverse[e.inverse_checked..]
                        .iter()
                        .any(|g| g.selects(&pod.namespace, &pod.labels))
            }
            None => self
                .inverse
                .iter()
                .any(|g| g.selects(&pod.namespace, &pod.labels)),
        }
    }

    /// Upstream's full error message, with the group's counts as they are now (upstream renders
    /// its message lazily too, so the counts are those at the time of printing).
    pub fn explain(&self, error: &TopologyError) -> String {
        let TopologyError::Unsatisfiable(details) = error;
        let counts = self
            .group(details.group)
            .map(|g| g.describe_counts(&self.keys[g.key]));
        render(
            details.kind,
            &details.key,
            Some(counts.as_deref().unwrap_or("")),
            details.pod_domains.as_ref(),
            details.node_domains.as_ref(),
        )
    }

    /// The counts of the groups of `kind` on `key`, per domain name, summed over groups (tests and
    /// explanations; in name order).
    pub fn counts(&self, kind: TopologyKind, key: &str) -> Vec<(String, u32)> {
        let mut totals = std::collections::BTreeMap::<String, u32>::new();
        for group in self.groups.iter().filter(|g| g.kind == kind) {
            let index = &self.keys[group.key];
            if &**index.key() != key {
                continue;
            }
            for (id, count) in group.domains() {
                *totals.entry(index.name(id).to_owned()).or_default() += count;
            }
        }
        totals.into_iter().collect()
    }

    fn group(&self, group: GroupRef) -> Option<&TopologyGroup> {
        match group {
            GroupRef::Own(id) => self.groups.get(id),
            GroupRef::Inverse(id) => self.inverse.get(id),
        }
    }

    /// One group's answer for a pod on a node.
    fn evaluate(
        &self,
        group_ref: GroupRef,
        selected: bool,
        pod_requirements: &Requirements,
        node_requirements: &Requirements,
    ) -> Result<Requirement, TopologyError> {
        let group = match group_ref {
            GroupRef::Own(id) => &self.groups[id],
            GroupRef::Inverse(id) => &self.inverse[id],
        };
        let index = &self.keys[group.key];
        let pod_domains = pod_requirements.find(index.key());
        let node_domains = node_requirements.find(index.key());
        group
            .next_domains(index, selected, pod_domains, node_domains)
            .ok_or_else(|| {
                TopologyError::Unsatisfiable(Box::new(Unsatisfiable {
                    kind: group.kind,
                    key: Arc::clone(index.key()),
                    group: group_ref,
                    pod_domains: pod_domains.cloned(),
                    node_domains: node_domains.cloned(),
                }))
            })
    }
}

// === impl Topology: updates ===

impl Topology<'_> {
    /// Counts a placement of `pod` on a node with `node_requirements` and `node_taints` (upstream
    /// `Record`). `allow_undefined` is the well-known label set for a NodeClaim, empty for a node.
    ///
    /// Spread and affinity groups count the pod only once the node is pinned to one domain of
    /// their key. Anti-affinity groups (and the pod's own inverse groups) count it in every
    /// domain the node still allows: a zone-flexible NodeClaim blocks all its zones. Where the
    /// node leaves the key unconstrained this means every domain of the group; upstream records
    /// nothing then, which lets a later anti-affine pod share a zone the NodeClaim may launch in.
    pub fn record(
        &mut self,
        pod: &Pod,
        node_requirements: &Requirements,
        node_taints: &[Taint],
        allow_undefined: &WellKnownLabels,
    ) {
        for id in self.selecting_groups(pod) {
            let group = &self.groups[id];
            if !group
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(node_taints, node_requirements, allow_undefined))
            {
                continue;
            }
            let key = group.key;
            let pin_only = group.kind != TopologyKind::PodAntiAffinity;
            for domain in self.landing_domains(key, id, false, node_requirements, pin_only) {
                self.groups[id].record(domain);
            }
        }
        let inverse_owned = self
            .pods
            .get(pod.uid.as_str())
            .map(|e| e.inverse_owned.clone())
            .unwrap_or_default();
        for id in inverse_owned {
            let key = self.inverse[id].key;
            for domain in self.landing_domains(key, id, true, node_requirements, false) {
                self.inverse[id].record(domain);
            }
        }
    }

    /// Makes `domain` of `key` known to every group of that key (upstream `Register`); new
    /// NodeClaims register their placeholder hostname this way.
    pub fn register(&mut self, key: &str, domain: &str) {
        let Some(&k) = self.key_ids.get(key) else {
            return;
        };
        let id = self.keys[k].intern(domain);
        for &group in &self.by_key[k] {
            match group {
                GroupRef::Own(g) => self.groups[g].register(id),
                GroupRef::Inverse(g) => self.inverse[g].register(id),
            }
        }
    }

    /// Forgets `domain` of `key` in every group of that key (upstream `Unregister`), e.g. the
    /// placeholder hostname of a NodeClaim that was not kept.
    pub fn unregister(&mut self, key: &str, domain: &str) {
        let Some(&k) = self.key_ids.get(key) else {
            return;
        };
        let Some(id) = self.keys[k].id(domain) else {
            return;
        };
        for &group in &self.by_key[k] {
            match group {
                GroupRef::Own(g) => self.groups[g].unregister(id),
                GroupRef::Inverse(g) => self.inverse[g].unregister(id),
            }
        }
    }

    /// The regular groups that count `pod` (namespace and selector), refreshing the pod's cache
    /// with groups created since it was last computed.
    fn selecting_groups(&mut self, pod: &Pod) -> Vec<usize> {
        let total = self.groups.len();
        let groups = &self.groups;
        let scan = |from: usize| {
            (from..total).filter(move |&id| groups[id].selects(&pod.namespace, &pod.labels))
        };
        match self.pods.get_mut(pod.uid.as_str()) {
            Some(entry) => {
                entry.selecting.extend(scan(entry.selecting_checked));
                entry.selecting_checked = total;
                entry.selecting.clone()
            }
            None => scan(0).collect(),
        }
    }

    /// The domain ids a placement counts in for one group: the node's single domain of the key
    /// (`pin_only`), or every group domain the node allows.
    fn landing_domains(
        &mut self,
        key: usize,
        group: usize,
        inverse: bool,
        node_requirements: &Requirements,
        pin_only: bool,
    ) -> Vec<domains::DomainId> {
        let index = &mut self.keys[key];
        let node_domains = node_requirements.find(index.key());
        match node_domains {
            Some(r) if r.operator() == Operator::In => {
                if pin_only && r.len() != 1 {
                    return Vec::new();
                }
                r.values().map(|v| index.intern(v)).collect()
            }
            _ if pin_only => Vec::new(),
            _ => {
                let group = if inverse {
                    &self.inverse[group]
                } else {
                    &self.groups[group]
                };
                group
                    .domains()
                    .map(|(id, _)| id)
                    .filter(|&id| node_domains.is_none_or(|r| r.has(index.name(id))))
                    .collect()
            }
        }
    }
}

/// Whether `key` is the hostname key (a new node is always a new, empty domain).
fn is_hostname(key: &str) -> bool {
    key == HOSTNAME
}
