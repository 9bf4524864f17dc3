//! The zones a pod's own zonal constraints allow before the solve places anything (upstream
//! `GetTopologyZoneConstraints`), for the pending-pods-by-effective-zone metric.

use std::collections::BTreeSet;

use crate::labels::ZONE;
use crate::requirements::{Requirement, Requirements};
use crate::scheduling::stats::ZoneDomains;
use crate::snapshot::Pod;

use super::domains::DomainIndex;
use super::group::TopologyGroup;
use super::{Topology, TopologyKind};

impl Topology<'_> {
    /// The zones every zonal group the pod owns allows on a node that does not constrain the
    /// zone, as the counts stand now. `pod_requirements` are the pod's requirements under the
    /// preference policy (upstream passes those, not the strict ones). Inverse anti-affinity is
    /// not consulted, as upstream.
    pub fn zone_domains(&self, pod: &Pod, pod_requirements: &Requirements) -> ZoneDomains {
        let Some(entry) = self.pods.get(pod.uid.as_str()) else {
            return ZoneDomains::Unconstrained;
        };
        let mut allowed: Option<BTreeSet<String>> = None;
        for &(id, selected) in &entry.owned {
            let group = &self.groups[id];
            let index = &self.keys[group.key];
            if &**index.key() != ZONE {
                continue;
            }
            let valid = group.valid_zones(index, selected, pod_requirements.find(ZONE));
            if valid.is_empty() {
                return ZoneDomains::Unsatisfiable;
            }
            match &mut allowed {
                Some(zones) => zones.retain(|zone| valid.contains(zone)),
                None => allowed = Some(valid),
            }
        }
        allowed.map_or(ZoneDomains::Unconstrained, ZoneDomains::Zones)
    }
}

impl TopologyGroup {
    /// The domains upstream's `Get` reports as valid for a pod on a node that leaves the key
    /// open: for a spread, every domain within `maxSkew` of the global minimum (the pod's
    /// domains only shape the minimum); for affinities, the domains the pod may use.
    fn valid_zones(
        &self,
        index: &DomainIndex,
        selected: bool,
        pod: Option<&Requirement>,
    ) -> BTreeSet<String> {
        if self.kind != TopologyKind::Spread {
            return self
                .next_domains(index, selected, pod, None)
                .map(|r| r.values().map(str::to_owned).collect())
                .unwrap_or_default();
        }
        let own = i64::from(selected);
        let min = self.min_count(index, pod);
        self.domains()
            .filter(|&(_, count)| i64::from(count) + own - min <= i64::from(self.max_skew))
            .map(|(id, _)| index.name(id).to_owned())
            .collect()
    }
}
