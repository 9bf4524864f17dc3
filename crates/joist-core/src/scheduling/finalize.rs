//! Turning a simulated NodeClaim into a [`NewNodeClaim`] (spec core §2.16).

use super::claims::Claim;
use super::dense::{Dense, ResourceIndex};
use super::masks::{OfferingCache, Priced};
use super::minvalues;
use super::plan::NewNodeClaim;
use super::settings::{MinValuesPolicy, SchedulingSettings};
use super::template::Template;
use crate::labels::{
    CAPACITY_TYPE, CAPACITY_TYPE_RESERVED, HOSTNAME, INITIALIZED, INSTANCE_TYPE,
    NODECLAIM_MIN_VALUES_RELAXED, REGISTERED,
};
use crate::requirements::{Requirement, Requirements};
use crate::resources::ResourceList;
use crate::rng::SeededRng;

/// Finalises `claim`, or returns upstream's error for its pods when truncation to the maximum
/// instance-type count breaks minValues (Strict).
pub(crate) fn finalize(
    claim: &Claim,
    template: &Template<'_>,
    index: &ResourceIndex,
    settings: &SchedulingSettings,
    offerings: &mut OfferingCache,
    rng: &mut SeededRng,
) -> Result<NewNodeClaim, String> {
    let mut requirements = base_requirements(claim, settings);
    let priced = offerings.summaries(claim.template, template, &requirements, settings);
    let ordered = truncate(claim, template, &priced, &requirements, settings)?;
    let listing = offerings.listing(template, &priced, &ordered);
    // Keeps the instance-type requirement's minValues.
    let min_values = requirements
        .find(INSTANCE_TYPE)
        .and_then(Requirement::min_values);
    requirements.add(listing.instance_types.with_min_values(min_values));
    if let Some(capacity_types) = listing.capacity_types.clone() {
        requirements.add(capacity_types);
    }
    let mut labels = template.labels.clone();
    labels.extend(requirements.labels(rng, &settings.well_known_labels));
    let mut annotations = template.annotations.clone();
    annotations.insert(
        NODECLAIM_MIN_VALUES_RELAXED.into(),
        claim.min_values_relaxed.to_string(),
    );
    let nodepool = template.nodepool;
    Ok(NewNodeClaim {
        nodepool: nodepool.name.clone(),
        labels,
        annotations,
        requirements,
        instance_types: listing.names,
        requests: requests(claim, template, index),
        taints: nodepool.taints.clone(),
        startup_taints: nodepool.startup_taints.clone(),
        node_class_ref: nodepool.node_class_ref.clone(),
        expire_after: nodepool.expire_after.clone(),
        termination_grace_period: nodepool.termination_grace_period.clone(),
        min_values_relaxed: claim.min_values_relaxed,
        hostname_placeholder: claim.hostname.clone(),
        pods: claim.pods.clone(),
    })
}

/// The claim's requirements without the solve-only helpers (hostname placeholder, registered,
/// initialized), pinned to its reservations when it holds any.
fn base_requirements(claim: &Claim, settings: &SchedulingSettings) -> Requirements {
    let mut requirements = claim.requirements.clone();
    for helper in [HOSTNAME, REGISTERED, INITIALIZED] {
        requirements.remove(helper);
    }
    if !claim.reservations.is_empty()
        && let Some(label) = settings.reservation_id_label.as_deref()
    {
        // Pinning to `reserved` lets drift notice when the provider demotes the node.
        requirements.remove(CAPACITY_TYPE);
        requirements.add(Requirement::in_values(
            CAPACITY_TYPE,
            [CAPACITY_TYPE_RESERVED],
        ));
        requirements.add(Requirement::in_values(label, claim.reservations.iter()));
    }
    requirements
}

/// The claim's options by price, at most `max_instance_types` (upstream `TruncateInstanceTypes`),
/// or upstream's error when the truncated list breaks minValues under Strict.
fn truncate(
    claim: &Claim,
    template: &Template<'_>,
    priced: &Priced,
    requirements: &Requirements,
    settings: &SchedulingSettings,
) -> Result<Vec<u32>, String> {
    let mut member = vec![false; template.options.len()];
    for &o in &claim.options {
        member[o as usize] = true;
    }
    let ordered: Vec<u32> = priced
        .by_price
        .iter()
        .copied()
        .filter(|&o| member[o as usize])
        .take(settings.max_instance_types)
        .collect();
    if requirements.has_min_values() && settings.min_values_policy == MinValuesPolicy::Strict {
        let its = ordered.iter().map(|&o| template.options[o as usize].it);
        if let Err(unmet) = minvalues::check(its, requirements) {
            return Err(format!(
                "pod didn’t schedule because NodePool couldn’t meet minValues requirements, \
                 validating minValues, {} (NodePool={})",
                minvalues::unmet_message(&unmet),
                template.nodepool.name
            ));
        }
    }
    Ok(ordered)
}

/// The pods' requests plus the minimum DaemonSet overhead over the groups that still have an
/// option (upstream `addDaemonRequests`: per resource, the smallest amount among the groups that
/// request it; groups without DaemonSets are passed over).
fn requests(claim: &Claim, template: &Template<'_>, index: &ResourceIndex) -> ResourceList {
    let mut minimum: Option<(Dense, Vec<bool>)> = None;
    let mut seen = vec![false; template.groups.len()];
    for &o in &claim.options {
        let group = template.options[o as usize].group;
        if std::mem::replace(&mut seen[group], true) || !template.groups[group].has_daemons {
            continue;
        }
        let g = &template.groups[group];
        match &mut minimum {
            None => minimum = Some((g.overhead.clone(), g.present.clone())),
            Some((amounts, present)) => {
                for slot in 0..amounts.len() {
                    if g.present[slot] && (!present[slot] || g.overhead[slot] < amounts[slot]) {
                        amounts[slot] = g.overhead[slot];
                        present[slot] = true;
                    }
                }
            }
        }
    }
    let mut total = claim.requests.clone();
    if let Some((amounts, _)) = minimum {
        super::dense::add(&mut total, &amounts);
    }
    index.list(&total)
}
