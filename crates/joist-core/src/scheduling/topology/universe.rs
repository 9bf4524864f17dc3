//! [`DomainUniverse`]: every topology domain the NodePools of a solve can produce, and which
//! NodePools produce each (spec core §2.9, "Domain universe").

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::instancetype::InstanceType;
use crate::labels::{LabelAliases, NODEPOOL};
use crate::requirements::{Operator, Requirement, Requirements};
use crate::snapshot::NodePool;
use crate::taints::Taint;

/// The domains NodePools can produce, per topology key, with the NodePools producing each.
///
/// Built once per solve from the NodePools the solver uses and their instance types. For each
/// NodePool, a key's domains are the values of (template requirements ∩ template labels ∩ the
/// instance type's requirements) for every instance type, plus the values of the template's own
/// `In` requirements (so a custom label written only in the template is a domain too).
///
/// Each domain remembers its producing NodePools (their requirements and taints) so that a spread
/// constraint with `nodeTaintsPolicy: Honor` only sees domains of NodePools the pod tolerates, and
/// one with `nodeAffinityPolicy: Honor` (the default) only domains of NodePools compatible with
/// the pod's node selector and required node affinity (upstream HEAD's `topologyNodePool`).
///
/// Deliberate difference from upstream: only concrete (`In`) requirements contribute values. A
/// complement (`NotIn`, `Exists`) lists *excluded* values, which upstream inserts as domains.
#[derive(Debug, Clone, Default)]
pub struct DomainUniverse {
    /// One entry per NodePool added, in insertion order.
    pools: Vec<DomainSource>,
    /// Topology key → domain → indices into `pools` (ascending, unique).
    keys: BTreeMap<Arc<str>, BTreeMap<Arc<str>, Vec<u32>>>,
}

/// What decides whether a NodePool's nodes take part in a pod's topology.
#[derive(Debug, Clone)]
pub(crate) struct DomainSource {
    /// Template requirements ∩ template labels ∩ `karpenter.sh/nodepool In [name]`. Instance-type
    /// requirements are left out on purpose: keys only instance types define count as undefined,
    /// which the well-known-label allowance treats as compatible.
    pub(crate) requirements: Requirements,
    /// `spec.template.spec.taints`.
    pub(crate) taints: Vec<Taint>,
}

impl DomainUniverse {
    /// An empty universe (no NodePool: only existing nodes provide domains).
    pub fn new() -> Self {
        Self::default()
    }

    /// The universe of `nodepools`, each with the instance types the solver will consider for it.
    pub fn from_nodepools<'a>(
        nodepools: impl IntoIterator<Item = (&'a NodePool, &'a [InstanceType])>,
        aliases: &LabelAliases,
    ) -> Self {
        let mut universe = Self::new();
        for (nodepool, instance_types) in nodepools {
            universe.add_nodepool(nodepool, instance_types, aliases);
        }
        universe
    }

    /// Adds the domains of one NodePool (upstream `buildDomainGroups` for one pool).
    pub fn add_nodepool(
        &mut self,
        nodepool: &NodePool,
        instance_types: &[InstanceType],
        aliases: &LabelAliases,
    ) {
        let pool = u32::try_from(self.pools.len()).unwrap_or(u32::MAX);
        let mut template = nodepool.requirements.clone();
        template.add_all(&Requirements::from_labels(&nodepool.labels, aliases));
        for instance_type in instance_types {
            for offered in &instance_type.requirements {
                let domains = match template.find(offered.key()) {
                    Some(narrowed) => narrowed.intersection(offered),
                    None => offered.clone(),
                };
                self.insert_concrete(&domains, pool);
            }
        }
        for requirement in &template {
            self.insert_concrete(requirement, pool);
        }
        let mut requirements = template;
        requirements.add(Requirement::in_values(NODEPOOL, [nodepool.name.as_str()]));
        self.pools.push(DomainSource {
            requirements,
            taints: nodepool.taints.clone(),
        });
    }

    /// The domains known for `key`, in name order.
    pub fn domains(&self, key: &str) -> impl Iterator<Item = &str> {
        self.keys
            .get(key)
            .into_iter()
            .flat_map(|domains| domains.keys().map(|d| &**d))
    }

    /// The NodePools added so far, indexed as the producer lists of [`Self::producers`].
    pub(crate) fn pools(&self) -> &[DomainSource] {
        &self.pools
    }

    /// Each domain of `key` with the indices of the NodePools producing it, in name order.
    pub(crate) fn producers(&self, key: &str) -> impl Iterator<Item = (&Arc<str>, &[u32])> {
        self.keys
            .get(key)
            .into_iter()
            .flat_map(|domains| domains.iter().map(|(d, p)| (d, p.as_slice())))
    }

    /// Records every value of an `In` requirement as a domain produced by `pool`.
    fn insert_concrete(&mut self, requirement: &Requirement, pool: u32) {
        if requirement.operator() != Operator::In {
            return;
        }
        let domains = self
            .keys
            .entry(Arc::clone(requirement.shared_key()))
            .or_default();
        for value in requirement.shared_values() {
            let producers = domains.entry(Arc::clone(value)).or_default();
            // Inserts for one pool are contiguous, so checking the last producer de-duplicates.
            if producers.last() != Some(&pool) {
                producers.push(pool);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{CAPACITY_TYPE, ZONE};
    use crate::resources::ResourceList;
    use crate::taints::Effect;

    fn zones_type(name: &str, zones: &[&str]) -> InstanceType {
        let requirements: Requirements = [
            Requirement::in_values(ZONE, zones.iter().copied()),
            Requirement::in_values(CAPACITY_TYPE, ["on-demand", "spot"]),
        ]
        .into_iter()
        .collect();
        InstanceType::new(
            name,
            requirements,
            Vec::new(),
            ResourceList::default(),
            Default::default(),
        )
    }

    fn pool(name: &str) -> NodePool {
        NodePool {
            name: name.into(),
            ..NodePool::default()
        }
    }

    #[test]
    fn instance_type_domains_are_narrowed_by_the_template() {
        let mut np = pool("a");
        np.requirements
            .add(Requirement::in_values(ZONE, ["z1", "z2", "z4"]));
        let types = [zones_type("t1", &["z1", "z2", "z3"])];
        let universe = DomainUniverse::from_nodepools([(&np, &types[..])], &LabelAliases::core());
        // z3 is outside the template; z4 comes from the template's own In values.
        assert_eq!(
            universe.domains(ZONE).collect::<Vec<_>>(),
            ["z1", "z2", "z4"]
        );
        assert_eq!(
            universe.domains(CAPACITY_TYPE).collect::<Vec<_>>(),
            ["on-demand", "spot"]
        );
    }

    #[test]
    fn template_labels_are_domains_and_complements_add_none() {
        let mut np = pool("a");
        np.labels.insert(ZONE.into(), "z2".into());
        np.requirements.add(Requirement::not_in("team", ["x"]));
        let types = [zones_type("t1", &["z1", "z2"])];
        let universe = DomainUniverse::from_nodepools([(&np, &types[..])], &LabelAliases::core());
        assert_eq!(universe.domains(ZONE).collect::<Vec<_>>(), ["z2"]);
        assert_eq!(universe.domains("team").count(), 0);
    }

    #[test]
    fn each_domain_lists_its_producing_pools_once() {
        let mut tainted = pool("b");
        tainted
            .taints
            .push(Taint::new("dedicated", "gpu", Effect::NoSchedule));
        let types = [zones_type("t1", &["z1"]), zones_type("t2", &["z1", "z2"])];
        let universe = DomainUniverse::from_nodepools(
            [(&pool("a"), &types[..1]), (&tainted, &types[..])],
            &LabelAliases::core(),
        );
        let producers: Vec<(String, Vec<u32>)> = universe
            .producers(ZONE)
            .map(|(d, p)| (d.to_string(), p.to_vec()))
            .collect();
        assert_eq!(
            producers,
            [("z1".to_owned(), vec![0, 1]), ("z2".to_owned(), vec![1])]
        );
        assert_eq!(universe.pools()[1].taints.len(), 1);
        assert!(universe.pools()[1].requirements.has(NODEPOOL));
    }
}
