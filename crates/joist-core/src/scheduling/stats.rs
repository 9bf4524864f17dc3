//! [`SchedulingStats`]: the numbers behind the provisioner's scheduling metrics (spec core §2.17,
//! §9.2 item 62), as plain data.
//!
//! The core reads no clock and emits nothing, so it hands the driver what only the solve knows:
//! how many pods entered the queue, how many failed or were ignored, and where each pending pod
//! could go at all (its *effective zone*). The driver measures the durations itself and sets the
//! gauges and histograms.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::Plan;
use super::solver::Solver;
use crate::labels::ZONE;
use crate::requirements::{Operator, Requirement, Requirements};
use crate::snapshot::PodPhase;

/// The `zone` label value of a pending pod that may land in several zones.
pub const FLEXIBLE_ZONE: &str = "flexible";

/// The `zone` label value of a pending pod whose zonal constraints leave no zone.
pub const NO_ZONE: &str = "none";

/// What one solve tells the driver for its scheduling metrics (spec core §2.17). Durations
/// (`karpenter_scheduler_scheduling_duration_seconds`, `karpenter_scheduler_unfinished_work_seconds`,
/// `karpenter_pods_scheduling_decision_duration_seconds`) are the driver's to measure: the core
/// reads no clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulingStats {
    /// Pods that entered the solve queue (the batch after validation): the first value upstream
    /// sets on `karpenter_scheduler_queue_depth`.
    pub queue_depth: usize,
    /// Pods that failed to schedule, without those deferred for reserved capacity (a deferral is
    /// not a failure): `karpenter_scheduler_unschedulable_pods_count`.
    pub unschedulable: usize,
    /// Pods left out because they failed validation: `karpenter_scheduler_ignored_pods_count`.
    pub ignored: usize,
    /// Batch pods in phase `Pending`, counted per effective zone (a zone name, [`FLEXIBLE_ZONE`]
    /// or [`NO_ZONE`]), as the topology stood before the solve placed anything:
    /// `karpenter_scheduler_pending_pods_by_effective_zone_count`. Sorted by zone, so the
    /// driver's output does not depend on hash order.
    pub pending_by_effective_zone: BTreeMap<String, usize>,
}

/// The zones a pod's own zonal topology constraints (spread, affinity, anti-affinity on
/// `topology.kubernetes.io/zone`) allow (upstream `GetTopologyZoneConstraints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneDomains {
    /// The pod owns no zonal constraint.
    Unconstrained,
    /// The zones every zonal constraint of the pod allows. Empty when the constraints allow
    /// zones but no common one; upstream then treats topology as not constraining the zone.
    Zones(BTreeSet<String>),
    /// Some zonal constraint allows no zone at all.
    Unsatisfiable,
}

/// A pod's effective zone: where its zonal signals together let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EffectiveZone<'a> {
    /// Several zones, or the pod does not constrain zones.
    Flexible,
    /// Exactly one zone.
    Zone(&'a str),
    /// No zone.
    Nowhere,
}

impl<'a> EffectiveZone<'a> {
    /// The metric's `zone` label value.
    pub(crate) fn label(self) -> &'a str {
        match self {
            EffectiveZone::Flexible => FLEXIBLE_ZONE,
            EffectiveZone::Zone(zone) => zone,
            EffectiveZone::Nowhere => NO_ZONE,
        }
    }
}

/// The effective zone (upstream `computeEffectiveZoneFromPod`): the zones allowed by the pod's
/// strict zone requirement, the union of its volumes' zones and its zonal topology domains at
/// once. The candidates are the pod's `In` zones, else the volumes' zones, else the topology's;
/// a pod constrained by none of the three is flexible.
pub(crate) fn effective_zone<'a>(
    strict_zone: Option<&'a Requirement>,
    volume_alternatives: &'a [Requirements],
    topology: &'a ZoneDomains,
) -> EffectiveZone<'a> {
    let topology_zones = match topology {
        ZoneDomains::Unsatisfiable => return EffectiveZone::Nowhere,
        // Upstream only consults the topology's zones when there are some.
        ZoneDomains::Zones(zones) if !zones.is_empty() => Some(zones),
        _ => None,
    };
    let volume_zones = volume_zones(volume_alternatives);
    let allowed = |zone: &str| {
        strict_zone.is_none_or(|r| r.has(zone))
            && volume_zones.as_ref().is_none_or(|z| z.contains(zone))
            && topology_zones.is_none_or(|z| z.contains(zone))
    };
    match (strict_zone, &volume_zones, topology_zones) {
        (Some(r), _, _) if r.operator() == Operator::In => single_zone(r.values(), allowed),
        (_, Some(zones), _) => single_zone(zones.iter().copied(), allowed),
        (_, None, Some(zones)) => single_zone(zones.iter().map(String::as_str), allowed),
        (_, None, None) => EffectiveZone::Flexible,
    }
}

/// The one candidate zone that is `allowed`, [`EffectiveZone::Flexible`] for several,
/// [`EffectiveZone::Nowhere`] for none.
fn single_zone<'a>(
    candidates: impl Iterator<Item = &'a str>,
    allowed: impl Fn(&str) -> bool,
) -> EffectiveZone<'a> {
    let mut matched = None;
    for zone in candidates.filter(|zone| allowed(zone)) {
        if matched.is_some() {
            return EffectiveZone::Flexible;
        }
        matched = Some(zone);
    }
    matched.map_or(EffectiveZone::Nowhere, EffectiveZone::Zone)
}

/// The union of the volumes' zones (upstream `volumeZoneReq`), or `None` when some alternative
/// does not pin the zone to a list (then the volumes do not constrain the zone).
fn volume_zones(alternatives: &[Requirements]) -> Option<BTreeSet<&str>> {
    if alternatives.is_empty() {
        return None;
    }
    let mut zones = BTreeSet::new();
    for alternative in alternatives {
        let zone = alternative
            .find(ZONE)
            .filter(|r| r.operator() == Operator::In)?;
        zones.extend(zone.values());
    }
    Some(zones)
}

/// Counts the solver's `Pending`-phase pods by effective zone, before the solve places any.
/// Called once per solve: per pod it reads the class's cached requirements, the resolved
/// volumes and (only for pods with topology constraints) the topology's zone domains.
pub(crate) fn pending_by_effective_zone(solver: &Solver<'_>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::<String, usize>::new();
    for state in &solver.pods {
        let pod = &solver.snapshot.pods[state.index];
        if pod.phase != PodPhase::Pending {
            continue;
        }
        let class = solver.classes.get(state.class);
        // Upstream asks topology with the pod's requirements under the preference policy.
        let requirements = class.requirements.as_ref().unwrap_or(&class.strict);
        let topology = if class.constraints.has_topology() {
            solver.topology.zone_domains(pod, requirements)
        } else {
            ZoneDomains::Unconstrained
        };
        let volumes = state
            .volumes
            .as_ref()
            .map_or(&[][..], |v| &v.alternatives[..]);
        let zone = effective_zone(class.strict.find(ZONE), volumes, &topology).label();
        match counts.get_mut(zone) {
            Some(count) => *count += 1,
            None => {
                counts.insert(zone.to_owned(), 1);
            }
        }
    }
    counts
}

/// Fills `plan.stats` once the plan's failures and ignored pods are final.
pub(crate) fn finish(
    plan: &mut Plan,
    queue_depth: usize,
    pending_by_effective_zone: BTreeMap<String, usize>,
) {
    plan.stats = SchedulingStats {
        queue_depth,
        unschedulable: plan.unschedulable.len(),
        ignored: plan.ignored.len(),
        pending_by_effective_zone,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone_in(zones: &[&str]) -> Requirement {
        Requirement::in_values(ZONE, zones.iter().copied())
    }

    fn volume(zones: &[&str]) -> Requirements {
        std::iter::once(zone_in(zones)).collect()
    }

    fn domains(zones: &[&str]) -> ZoneDomains {
        ZoneDomains::Zones(zones.iter().map(|z| (*z).to_owned()).collect())
    }

    #[test]
    fn unconstrained_pods_are_flexible() {
        let zone = effective_zone(None, &[], &ZoneDomains::Unconstrained);
        assert_eq!(zone, EffectiveZone::Flexible);
    }

    #[test]
    fn duplicate_volume_zones_count_once() {
        let volumes = [volume(&["b"]), volume(&["b"])];
        let zone = effective_zone(None, &volumes, &ZoneDomains::Unconstrained);
        assert_eq!(zone, EffectiveZone::Zone("b"));
    }

    #[test]
    fn a_volume_alternative_without_a_zone_list_leaves_zones_open() {
        let volumes = [volume(&["b"]), Requirements::new()];
        let zone = effective_zone(None, &volumes, &ZoneDomains::Unconstrained);
        assert_eq!(zone, EffectiveZone::Flexible);
    }

    #[test]
    fn not_in_narrows_the_volume_candidates() {
        let not_a = Requirement::not_in(ZONE, ["a"]);
        let volumes = [volume(&["a", "b"])];
        let zone = effective_zone(Some(&not_a), &volumes, &ZoneDomains::Unconstrained);
        assert_eq!(zone, EffectiveZone::Zone("b"));
    }

    #[test]
    fn topology_domains_intersect_the_pod_zones() {
        let pod = zone_in(&["a", "b", "c"]);
        let (overlapping, disjoint) = (domains(&["c", "d"]), domains(&["d"]));
        assert_eq!(
            effective_zone(Some(&pod), &[], &overlapping),
            EffectiveZone::Zone("c")
        );
        assert_eq!(
            effective_zone(Some(&pod), &[], &disjoint),
            EffectiveZone::Nowhere
        );
    }

    #[test]
    fn empty_topology_intersections_do_not_constrain() {
        let disjoint = domains(&[]);
        assert_eq!(
            effective_zone(None, &[], &disjoint),
            EffectiveZone::Flexible
        );
    }

    #[test]
    fn unsatisfiable_topology_is_nowhere_even_without_zone_lists() {
        let zone = effective_zone(None, &[], &ZoneDomains::Unsatisfiable);
        assert_eq!(zone.label(), NO_ZONE);
    }
}
