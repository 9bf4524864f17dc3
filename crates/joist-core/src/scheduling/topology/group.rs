//! [`TopologyGroup`]: per-domain counts of the pods one constraint selects, and the choice of
//! domains for a pod (upstream `TopologyGroup`, spec core §2.9).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::requirements::{Operator, Requirement};

use super::TopologyKind;
use super::domains::{DomainId, DomainIndex};
use super::filter::NodeFilter;
use super::selector::PodSelector;

/// Marks a domain id that is not part of the group.
const ABSENT: u32 = u32::MAX;

/// How many domains upstream prints in an error's `counts = ...`.
const PRINTED_DOMAINS: usize = 25;

/// One topology: a constraint's key, selector and parameters, with the number of selected pods
/// per domain. Pods whose constraints are equal share one group (a Deployment's replicas), so
/// counts are kept once, not per pod.
#[derive(Debug, Clone)]
pub(crate) struct TopologyGroup {
    /// Spread, affinity or anti-affinity.
    pub(crate) kind: TopologyKind,
    /// Index of the key's [`DomainIndex`] in the topology.
    pub(crate) key: usize,
    /// Whether the key is `kubernetes.io/hostname` (a new node is always a fresh, empty domain).
    pub(crate) is_hostname: bool,
    /// Namespaces whose pods are counted, sorted.
    pub(crate) namespaces: Arc<[String]>,
    /// Which pods are counted.
    pub(crate) selector: PodSelector,
    /// `maxSkew` (`i32::MAX` for affinities).
    pub(crate) max_skew: i32,
    /// `minDomains` (spread only).
    pub(crate) min_domains: Option<i32>,
    /// Which nodes count (spread only).
    pub(crate) filter: Option<NodeFilter>,
    /// Count per domain id; [`ABSENT`] for domains outside the group.
    counts: Vec<u32>,
    /// Number of domains in the group.
    members: usize,
    /// Number of domains in the group with a non-zero count.
    populated: usize,
}

/// The domains a group allows, collected without allocating in the common single-domain case.
#[derive(Default)]
struct Found {
    first: Option<DomainId>,
    more: Vec<DomainId>,
}

impl Found {
    fn push(&mut self, id: DomainId) {
        if self.first.is_none() {
            self.first = Some(id);
        } else {
            self.more.push(id);
        }
    }

    fn into_requirement(self, index: &DomainIndex) -> Option<Requirement> {
        let first = self.first?;
        if self.more.is_empty() {
            return Some(index.singleton(first).clone());
        }
        let names = std::iter::once(first)
            .chain(self.more)
            .map(|id| index.name(id).to_owned());
        Some(Requirement::in_values(Arc::clone(index.key()), names))
    }
}

/// Whether a domain requirement (`None`: the key is unconstrained) allows `domain`.
fn admits(domains: Option<&Requirement>, domain: &str) -> bool {
    domains.is_none_or(|r| r.has(domain))
}

/// The requirement when it is a concrete `In` list.
fn concrete(domains: Option<&Requirement>) -> Option<&Requirement> {
    domains.filter(|r| r.operator() == Operator::In)
}

/// The value of a single-valued `In` requirement (a node's own hostname).
fn single(domains: Option<&Requirement>) -> Option<&str> {
    concrete(domains)
        .filter(|r| r.len() == 1)
        .and_then(|r| r.values().next())
}

// === impl TopologyGroup: bookkeeping ===

impl TopologyGroup {
    /// A group without domains yet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind: TopologyKind,
        key: usize,
        is_hostname: bool,
        namespaces: Arc<[String]>,
        selector: PodSelector,
        max_skew: i32,
        min_domains: Option<i32>,
        filter: Option<NodeFilter>,
    ) -> Self {
        Self {
            kind,
            key,
            is_hostname,
            namespaces,
            selector,
            max_skew,
            min_domains,
            filter,
            counts: Vec::new(),
            members: 0,
            populated: 0,
        }
    }

    /// Whether a pod in `namespace` with `labels` is counted by the group.
    pub(crate) fn selects(
        &self,
        namespace: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        self.namespaces
            .binary_search_by(|n| n.as_str().cmp(namespace))
            .is_ok()
            && self.selector.matches(labels)
    }

    /// The count of `id`, or `None` if the domain is not part of the group.
    pub(crate) fn count(&self, id: DomainId) -> Option<u32> {
        self.counts
            .get(id as usize)
            .copied()
            .filter(|&c| c != ABSENT)
    }

    /// The group's domains with their counts, in id order.
    pub(crate) fn domains(&self) -> impl Iterator<Item = (DomainId, u32)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != ABSENT)
            .map(|(id, c)| (id as DomainId, *c))
    }

    /// Makes `id` part of the group (count 0) if it is not yet (upstream `Register`).
    pub(crate) fn register(&mut self, id: DomainId) {
        let slot = self.slot(id);
        if *slot == ABSENT {
            *slot = 0;
            self.members += 1;
        }
    }

    /// Removes `id` from the group (upstream `Unregister`).
    pub(crate) fn unregister(&mut self, id: DomainId) {
        if let Some(slot) = self.counts.get_mut(id as usize)
            && *slot != ABSENT
        {
            if *slot > 0 {
                self.populated -= 1;
            }
            *slot = ABSENT;
            self.members -= 1;
        }
    }

    /// Counts one more selected pod in `id`, adding the domain if needed (upstream `Record`).
    pub(crate) fn record(&mut self, id: DomainId) {
        self.register(id);
        let slot = self.slot(id);
        *slot += 1;
        if *slot == 1 {
            self.populated += 1;
        }
    }

    fn slot(&mut self, id: DomainId) -> &mut u32 {
        let index = id as usize;
        if index >= self.counts.len() {
            self.counts.resize(index + 1, ABSENT);
        }
        &mut self.counts[index]
    }

    /// Upstream's `pretty.Map(domains, 25)`: `name: count` pairs in name order, the first 25,
    /// then ` and N other(s)`.
    pub(crate) fn describe_counts(&self, index: &DomainIndex) -> String {
        let mut entries: Vec<(&str, u32)> =
            self.domains().map(|(id, c)| (index.name(id), c)).collect();
        entries.sort_unstable();
        let mut out = String::new();
        for (i, (name, count)) in entries.iter().take(PRINTED_DOMAINS).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{name}: {count}");
        }
        if entries.len() > PRINTED_DOMAINS {
            let _ = write!(out, " and {} other(s)", entries.len() - PRINTED_DOMAINS);
        }
        out
    }
}

// === impl TopologyGroup: choosing domains ===

impl TopologyGroup {
    /// The domains a pod may use on a node (upstream `Get`): `pod` are the domains its strict
    /// requirements allow, `node` those of the candidate node (`None`: unconstrained). `None`
    /// means no domain is allowed. `selected` says whether the group counts the pod itself.
    pub(crate) fn next_domains(
        &self,
        index: &DomainIndex,
        selected: bool,
        pod: Option<&Requirement>,
        node: Option<&Requirement>,
    ) -> Option<Requirement> {
        match self.kind {
            TopologyKind::Spread => self.next_spread(index, selected, pod, node),
            TopologyKind::PodAffinity => self.next_affinity(index, selected, pod, node),
            TopologyKind::PodAntiAffinity => self.next_anti_affinity(index, pod, node),
        }
    }

    /// Spread: the eligible domain (`count + self − globalMin ≤ maxSkew`) with the lowest count.
    /// Ties go to the lowest domain name (upstream: map order), so results are reproducible.
    fn next_spread(
        &self,
        index: &DomainIndex,
        selected: bool,
        pod: Option<&Requirement>,
        node: Option<&Requirement>,
    ) -> Option<Requirement> {
        let own = i64::from(selected);
        let max_skew = i64::from(self.max_skew);
        if self.is_hostname
            && let Some(host) = single(node)
        {
            // A new hostname is always a fresh domain, so the global minimum is 0.
            let count = index.id(host).and_then(|id| self.count(id)).unwrap_or(0);
            return (i64::from(count) + own <= max_skew)
                .then(|| node.cloned())
                .flatten();
        }
        let min = self.min_count(index, pod);
        let mut best: Option<(i64, DomainId)> = None;
        let mut consider = |id: DomainId, count: u32| {
            let count = i64::from(count) + own;
            let better = best
                .is_none_or(|(c, b)| count < c || (count == c && index.name(id) < index.name(b)));
            if count - min <= max_skew && better {
                best = Some((count, id));
            }
        };
        if let Some(listed) = concrete(node) {
            for domain in listed.values() {
                if let Some((id, count)) =
                    index.id(domain).and_then(|id| Some((id, self.count(id)?)))
                {
                    consider(id, count);
                }
            }
        } else {
            for (id, count) in self.domains() {
                if admits(node, index.name(id)) {
                    consider(id, count);
                }
            }
        }
        best.map(|(_, id)| index.singleton(id).clone())
    }

    /// The global minimum: the lowest count over the domains the pod's strict requirements
    /// allow, 0 when fewer than `minDomains` such domains exist, always 0 for hostname.
    pub(super) fn min_count(&self, index: &DomainIndex, pod: Option<&Requirement>) -> i64 {
        if self.is_hostname {
            return 0;
        }
        let (mut eligible, mut min) = (0_i64, i64::from(i32::MAX));
        for (id, count) in self.domains() {
            if admits(pod, index.name(id)) {
                eligible += 1;
                min = min.min(i64::from(count));
            }
        }
        if self.min_domains.is_some_and(|m| eligible < i64::from(m)) {
            return 0;
        }
        min
    }

    /// Affinity: the domains (allowed by pod and node) that hold a selected pod; a pod selecting
    /// itself may bootstrap into one empty domain when no allowed domain holds one.
    fn next_affinity(
        &self,
        index: &DomainIndex,
        selected: bool,
        pod: Option<&Requirement>,
        node: Option<&Requirement>,
    ) -> Option<Requirement> {
        let may_bootstrap = || selected && !self.any_populated(index, pod);
        if self.is_hostname
            && let Some(host) = single(node)
        {
            let populated = index
                .id(host)
                .and_then(|id| self.count(id))
                .is_some_and(|c| c > 0);
            let allowed = admits(pod, host) && (populated || may_bootstrap());
            return allowed.then(|| node.cloned()).flatten();
        }
        let mut found = Found::default();
        if let Some(listed) = concrete(node) {
            for domain in listed.values() {
                let populated = index
                    .id(domain)
                    .filter(|&id| self.count(id).is_some_and(|c| c > 0));
                if let Some(id) = populated.filter(|_| admits(pod, domain)) {
                    found.push(id);
                }
            }
        } else {
            for (id, count) in self.domains() {
                let name = index.name(id);
                if count > 0 && admits(pod, name) && admits(node, name) {
                    found.push(id);
                }
            }
        }
        if found.first.is_some() {
            return found.into_requirement(index);
        }
        if !may_bootstrap() {
            return None;
        }
        // Prefer a domain the node already allows (an in-flight node keeps its domain), else the
        // first domain the pod allows; one domain only, so the node is pinned and counted.
        let first = |also_node: bool| {
            self.domains()
                .map(|(id, _)| id)
                .filter(|&id| {
                    admits(pod, index.name(id)) && (!also_node || admits(node, index.name(id)))
                })
                .min_by(|&a, &b| index.name(a).cmp(index.name(b)))
        };
        first(true)
            .or_else(|| first(false))
            .map(|id| index.singleton(id).clone())
    }

    /// Whether some domain the pod allows holds a selected pod (upstream
    /// `anyCompatiblePodDomain`); O(1) when the pod does not constrain the key.
    fn any_populated(&self, index: &DomainIndex, pod: Option<&Requirement>) -> bool {
        if self.populated == 0 {
            return false;
        }
        pod.is_none()
            || self
                .domains()
                .any(|(id, count)| count > 0 && admits(pod, index.name(id)))
    }

    /// Anti-affinity: the domains (allowed by pod and node) holding no selected pod.
    fn next_anti_affinity(
        &self,
        index: &DomainIndex,
        pod: Option<&Requirement>,
        node: Option<&Requirement>,
    ) -> Option<Requirement> {
        if self.is_hostname
            && let Some(host) = single(node)
        {
            // An unknown hostname is a new node: empty by definition.
            let empty = index
                .id(host)
                .and_then(|id| self.count(id))
                .is_none_or(|c| c == 0);
            return empty.then(|| node.cloned()).flatten();
        }
        let empty_domains = self.members - self.populated;
        let mut found = Found::default();
        match concrete(node) {
            Some(listed) if (listed.len() as usize) < empty_domains => {
                for domain in listed.values() {
                    let empty = index.id(domain).filter(|&id| self.count(id) == Some(0));
                    if let Some(id) = empty.filter(|_| admits(pod, domain)) {
                        found.push(id);
                    }
                }
            }
            _ => {
                for (id, count) in self.domains() {
                    let name = index.name(id);
                    if count == 0 && admits(pod, name) && admits(node, name) {
                        found.push(id);
                    }
                }
            }
        }
        found.into_requirement(index)
    }
}
