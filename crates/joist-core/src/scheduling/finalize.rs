//! Turning a simulated NodeClaim into a [`NewNodeClaim`] (spec core §2.16).

use super::claims::Claim;
use super::dense::{Dense, ResourceIndex};
use super::minvalues;
use super::plan::NewNodeClaim;
use super::settings::{MinValuesPolicy, SchedulingSettings};
use super::template::Template;
use crate::instancetype::InstanceType;
use crate::labels::{
    CAPACITY_TYPE, HOSTNAME, INITIALIZED, INSTANCE_TYPE, NODECLAIM_MIN_VALUES_RELAXED, REGISTERED,
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
    rng: &mut SeededRng,
) -> Result<NewNodeClaim, String> {
    let mut requirements = claim.requirements.clone();
    for helper in [HOSTNAME, REGISTERED, INITIALIZED] {
        requirements.remove(helper);
    }
    let ordered = by_price(claim, template, &requirements, settings);
    let truncated: Vec<&InstanceType> = ordered
        .into_iter()
        .take(settings.max_instance_types)
        .collect();
    if requirements.has_min_values()
        && settings.min_values_policy == MinValuesPolicy::Strict
        && let Err(unmet) = minvalues::check(truncated.iter().copied(), &requirements)
    {
        return Err(format!(
            "pod didn’t schedule because NodePool couldn’t meet minValues requirements, \
             validating minValues, {} (NodePool={})",
            minvalues::unmet_message(&unmet),
            template.nodepool.name
        ));
    }
    let min_values = requirements.find(INSTANCE_TYPE).and_then(Requirement::min_values);
    requirements.add(
        Requirement::in_values(INSTANCE_TYPE, truncated.iter().map(|it| it.name.as_str()))
            .with_min_values(min_values),
    );
    let capacity_types: Vec<&str> = truncated
        .iter()
        .flat_map(|it| it.offerings.iter())
        .filter(|o| o.available && requirements.is_compatible(&o.requirements, &settings.well_known_labels))
        .filter_map(|o| o.capacity_type())
        .collect();
    if !capacity_types.is_empty() {
        requirements.add(Requirement::in_values(CAPACITY_TYPE, capacity_types));
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
        instance_types: truncated.iter().map(|it| it.name.clone()).collect(),
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

/// The options ordered by their cheapest available offering compatible with `requirements`
/// (upstream `OrderByPrice`; equal prices keep template order).
fn by_price<'s>(
    claim: &Claim,
    template: &Template<'s>,
    requirements: &Requirements,
    settings: &SchedulingSettings,
) -> Vec<&'s InstanceType> {
    let mut priced: Vec<(f64, &'s InstanceType)> = claim
        .options
        .iter()
        .map(|&o| {
            let it = template.options[o as usize].it;
            let price = it
                .offerings
                .iter()
                .filter(|of| {
                    of.available
                        && requirements.is_compatible(&of.requirements, &settings.well_known_labels)
                })
                .map(|of| of.price)
                .fold(f64::MAX, f64::min);
            (price, it)
        })
        .collect();
    priced.sort_by(|a, b| a.0.total_cmp(&b.0));
    priced.into_iter().map(|(_, it)| it).collect()
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
