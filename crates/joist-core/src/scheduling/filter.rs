//! Instance-type filtering for a NodeClaim (spec core §2.6 step 6) and upstream's
//! `InstanceTypeFilterError` texts.

use super::settings::SchedulingSettings;
use super::template::{Template, has_compatible_offering};
use crate::explain::InstanceTypeCounts;
use crate::requirements::Requirements;
use crate::resources::ResourceList;
use crate::snapshot::HostPort;

/// What to filter: a NodeClaim's candidate options under given requirements and total requests.
pub(crate) struct FilterInput<'a> {
    /// Candidate option indices into the template's options.
    pub(crate) options: &'a [u32],
    /// The NodeClaim's requirements with the pod added.
    pub(crate) requirements: &'a Requirements,
    /// The NodeClaim's requests with the pod added (no DaemonSet overhead).
    pub(crate) total: &'a [i128],
    /// What is already known about the candidates' requirements and offerings.
    pub(crate) known: Known<'a>,
    /// The pod's host ports.
    pub(crate) pod_ports: &'a [HostPort],
    /// Host ports of the pods already on the NodeClaim.
    pub(crate) claim_ports: &'a [HostPort],
}

/// What is known, before filtering, about whether candidates meet the requirements and have a
/// compatible offering. Knowing it reduces the common case to a resource check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Known<'a> {
    /// Every candidate does (the requirements did not change since the candidates were kept).
    AllOk,
    /// Per template option (the pod class's cached fit with the same requirements).
    Mask(&'a [bool]),
    /// Nothing is known (topology or the pod narrowed the requirements).
    Unknown,
}

/// Per-criterion outcome flags of a failed filter (upstream `InstanceTypeFilterError`).
#[derive(Debug, Clone, Default)]
pub(crate) struct FilterFailure {
    /// Some instance type met the requirements.
    pub(crate) requirements_met: bool,
    /// Some instance type had enough resources (with a compatible offering in that group).
    pub(crate) fits: bool,
    /// Some instance type had a compatible offering.
    pub(crate) has_offering: bool,
    /// Some instance type met requirements and fit but had no offering.
    pub(crate) requirements_and_fits: bool,
    /// Some instance type met requirements and had an offering but did not fit.
    pub(crate) requirements_and_offering: bool,
    /// Some instance type fit and had an offering but did not meet requirements.
    pub(crate) fits_and_offering: bool,
    /// Counts per criterion.
    pub(crate) counts: InstanceTypeCounts,
    /// Min and max DaemonSet overhead over the groups considered (`None` without DaemonSets).
    pub(crate) daemon_range: Option<(ResourceList, ResourceList)>,
}

/// Filters `input.options`, returning the survivors in order, or the failure flags.
pub(crate) fn filter(
    template: &Template<'_>,
    input: &FilterInput<'_>,
    settings: &SchedulingSettings,
) -> Result<Vec<u32>, FilterFailure> {
    let blocked = blocked_groups(template, input);
    let mut kept = Vec::with_capacity(input.options.len());
    let ok = |o: u32| match input.known {
        Known::AllOk => Some(true),
        Known::Mask(mask) => Some(mask[o as usize]),
        Known::Unknown => None,
    };
    if !matches!(input.known, Known::Unknown) {
        for &o in input.options {
            let option = &template.options[o as usize];
            if ok(o) == Some(true) && !blocked[option.group] && resources_fit(option, input.total) {
                kept.push(o);
            }
        }
        if !kept.is_empty() {
            return Ok(kept);
        }
    }
    let mut failure = FilterFailure::default();
    for &o in input.options {
        let option = &template.options[o as usize];
        if blocked[option.group] {
            continue;
        }
        track_daemons(&mut failure, &template.groups[option.group]);
        let compatible = option.it.requirements.can_intersect(input.requirements);
        let offering = has_compatible_offering(option.it, input.requirements, settings);
        let fits = offering && resources_fit(option, input.total);
        failure.counts.considered += 1;
        failure.counts.requirements += usize::from(!compatible);
        failure.counts.offerings += usize::from(!offering);
        failure.counts.resources += usize::from(!fits);
        failure.requirements_met |= compatible;
        failure.fits |= fits;
        failure.has_offering |= offering;
        failure.requirements_and_fits |= compatible && fits && !offering;
        failure.requirements_and_offering |= compatible && offering && !fits;
        failure.fits_and_offering |= fits && offering && !compatible;
        if compatible && fits && offering {
            kept.push(o);
        }
    }
    if kept.is_empty() { Err(failure) } else { Ok(kept) }
}

/// Whether the requests fit the option's allocatable after its DaemonSet overhead.
pub(crate) fn resources_fit(option: &super::template::TemplateOption<'_>, total: &[i128]) -> bool {
    option.allocatable_ok && total.iter().zip(&*option.headroom).all(|(&t, &h)| t <= h)
}

/// Groups whose DaemonSet host ports (or the NodeClaim's pods' ports) conflict with the pod's.
fn blocked_groups(template: &Template<'_>, input: &FilterInput<'_>) -> Vec<bool> {
    if input.pod_ports.is_empty() {
        return vec![false; template.groups.len()];
    }
    let conflicts = |ports: &[HostPort]| {
        input
            .pod_ports
            .iter()
            .any(|p| ports.iter().any(|q| p.conflicts_with(q)))
    };
    let claim_conflict = conflicts(input.claim_ports);
    template
        .groups
        .iter()
        .map(|g| claim_conflict || conflicts(&g.host_ports))
        .collect()
}

fn track_daemons(failure: &mut FilterFailure, group: &super::template::DaemonGroup) {
    if !group.has_daemons {
        return;
    }
    match &mut failure.daemon_range {
        None => {
            failure.daemon_range = Some((group.overhead_list.clone(), group.overhead_list.clone()));
        }
        Some((min, max)) => {
            min_per_key(min, &group.overhead_list);
            max.max_per_key(&group.overhead_list);
        }
    }
}

/// Upstream `MinResources`: per key, the smaller amount; a key only one side has keeps its amount.
pub(crate) fn min_per_key(target: &mut ResourceList, other: &ResourceList) {
    for (name, quantity) in other.iter() {
        match target.get(name) {
            Some(current) if current <= quantity => {}
            _ => {
                target.insert(name, quantity);
            }
        }
    }
}

impl FilterFailure {
    /// Upstream's message, e.g. `no instance type has enough resources, requirements=...,
    /// resources=...`.
    pub(crate) fn message(
        &self,
        requirements: &Requirements,
        pod_requests: &ResourceList,
    ) -> String {
        let suffix = format!(
            "requirements={requirements}, resources={}",
            resources_string(pod_requests, self.daemon_range.as_ref())
        );
        let head = match (self.requirements_met, self.fits, self.has_offering) {
            (false, false, false) => "no instance type met the scheduling requirements or had enough resources or had a required offering",
            (false, false, true) => "no instance type met the scheduling requirements or had enough resources",
            (false, true, false) => "no instance type met the scheduling requirements or had a required offering",
            (true, false, false) => "no instance type had enough resources or had a required offering",
            (false, true, true) => "no instance type met all requirements",
            (true, false, true) => {
                let cpu = pod_requests.get_or_zero(crate::resources::names::CPU);
                let typo = if cpu >= crate::resources::Quantity::from_int(1_000_000) {
                    " (CPU request >= 1 Million, m vs M typo?)"
                } else {
                    ""
                };
                return format!("no instance type has enough resources, {suffix}{typo}");
            }
            (true, true, false) => "no instance type has the required offering",
            (true, true, true) if self.requirements_and_fits => "no instance type which met the scheduling requirements and had enough resources, had a required offering",
            (true, true, true) if self.fits_and_offering => "no instance type which had enough resources and the required offering met the scheduling requirements",
            (true, true, true) if self.requirements_and_offering => "no instance type which met the scheduling requirements and the required offering had the required resources",
            (true, true, true) => "no instance type met the requirements/resources/offering tuple",
        };
        format!("{head}, {suffix}")
    }
}

/// Pod requests merged with the min/max DaemonSet overhead, `min=…, max=…` when they differ.
fn resources_string(
    pod_requests: &ResourceList,
    daemons: Option<&(ResourceList, ResourceList)>,
) -> String {
    let Some((min, max)) = daemons else {
        return pod_requests.to_string();
    };
    let low = min.plus(pod_requests).to_string();
    let high = max.plus(pod_requests).to_string();
    if low == high { low } else { format!("min={low}, max={high}") }
}
