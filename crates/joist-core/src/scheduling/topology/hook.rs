//! [`Topology`] as the solver's [`TopologyHook`], and its construction from the solver's inputs.

use crate::labels::WellKnownLabels;
use crate::requirements::Requirements;
use crate::scheduling::SchedulingSettings;
use crate::scheduling::hooks::{self, TopologyHook};
use crate::scheduling::stats::ZoneDomains;
use crate::snapshot::{NodePool, Pod, PodConstraints, Snapshot};
use crate::taints::Taint;

use super::{DomainUniverse, Topology};

impl<'s> Topology<'s> {
    /// The topology of a solve over `nodepools` (the NodePools the solver uses, each with all its
    /// instance types from the snapshot, as upstream builds its domain groups) for the snapshot
    /// pods at `batch`.
    pub fn for_solve<'n>(
        snapshot: &'s Snapshot,
        settings: &SchedulingSettings,
        nodepools: impl IntoIterator<Item = &'n NodePool>,
        batch: &[usize],
    ) -> Self {
        let pools = nodepools.into_iter().map(|np| {
            let types = snapshot
                .instance_types
                .get(&np.name)
                .map_or(&[][..], |its| &its[..]);
            (np, types)
        });
        let universe = DomainUniverse::from_nodepools(pools, &settings.label_aliases);
        Topology::new(
            snapshot,
            universe,
            batch.iter().map(|&i| &snapshot.pods[i]),
            settings,
        )
    }
}

impl TopologyHook for Topology<'_> {
    fn constrains(&self, pod: &Pod, _constraints: &PodConstraints) -> bool {
        Topology::constrains(self, pod)
    }

    fn counts(&self, pod: &Pod) -> bool {
        Topology::placement_counts(self, pod)
    }

    fn add_requirements(
        &self,
        pod: &Pod,
        _constraints: &PodConstraints,
        strict: &Requirements,
        node_requirements: &Requirements,
        _taints: &[Taint],
        _allow_undefined: Option<&WellKnownLabels>,
    ) -> Result<Requirements, hooks::TopologyError> {
        let domains = self.domain_requirements(pod, strict, node_requirements)?;
        Ok(domains.into_iter().collect())
    }

    fn record(
        &mut self,
        pod: &Pod,
        _constraints: &PodConstraints,
        node_requirements: &Requirements,
        taints: &[Taint],
        allow_undefined: Option<&WellKnownLabels>,
    ) {
        let none = WellKnownLabels::empty();
        Topology::record(
            self,
            pod,
            node_requirements,
            taints,
            allow_undefined.unwrap_or(&none),
        );
    }

    fn register(&mut self, key: &str, domain: &str) {
        Topology::register(self, key, domain);
    }

    fn update(&mut self, pod: &Pod, constraints: &PodConstraints) {
        Topology::update(self, pod, constraints);
    }

    fn zone_domains(&self, pod: &Pod, requirements: &Requirements) -> ZoneDomains {
        Topology::zone_domains(self, pod, requirements)
    }

    fn explain(&self, error: &hooks::TopologyError) -> String {
        match error {
            hooks::TopologyError::Unsatisfiable(e) => Topology::explain(self, e),
            other => other.to_string(),
        }
    }
}
