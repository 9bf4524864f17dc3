//! Cached per-requirements verdicts on a template's instance types.
//!
//! Whether an instance type meets a NodeClaim's requirements and has a compatible offering
//! depends only on the requirements, which repeat across pods and NodeClaims: a zonal spread
//! constraint pins each NodeClaim to one of a few zones, so most NodeClaims share one of a few
//! requirement sets. The verdicts are computed once per (template, requirements) instead of once
//! per pod and NodeClaim. The NodeClaim's hostname placeholder is left out of the key: instance
//! types and offerings never constrain `kubernetes.io/hostname` (checked per template).

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use super::settings::SchedulingSettings;
use super::template::{Template, has_compatible_offering};
use crate::labels::{CAPACITY_TYPE, HOSTNAME, INSTANCE_TYPE};
use crate::requirements::{Requirement, Requirements};

/// (template, requirements without hostname) → per template option: requirements intersect and a
/// compatible available offering exists.
#[derive(Debug, Default)]
pub(crate) struct MaskCache {
    /// The cached verdicts.
    masks: HashMap<(usize, Requirements), Rc<[bool]>>,
}

/// Per template option, what finalisation needs from its offerings under some requirements.
#[derive(Debug, Clone)]
pub(crate) struct OfferingSummary {
    /// The cheapest compatible available offering's price (`f64::MAX` when there is none).
    pub(crate) price: f64,
    /// Capacity types of the compatible available offerings, in offering order.
    pub(crate) capacity_types: Vec<String>,
}

/// A template's options priced under some requirements.
#[derive(Debug)]
pub(crate) struct Priced {
    /// Per template option.
    pub(crate) summaries: Vec<OfferingSummary>,
    /// Template option indices by price, cheapest first (ties keep provider order).
    pub(crate) by_price: Vec<u32>,
    /// Identifies these summaries within their cache (keys [`OfferingCache::listing`]).
    id: usize,
}

/// The requirements a finalised NodeClaim lists for its instance-type options.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// `node.kubernetes.io/instance-type In [names]`, alphabetical, without minValues.
    pub(crate) instance_types: Requirement,
    /// `karpenter.sh/capacity-type In [...]` of the options' compatible offerings, if any.
    pub(crate) capacity_types: Option<Requirement>,
    /// The options' names in price order.
    pub(crate) names: Arc<[Arc<str>]>,
}

/// (template, finalised requirements) → [`Priced`], so NodeClaims with the same requirements
/// price and order their options once.
#[derive(Debug, Default)]
pub(crate) struct OfferingCache {
    /// The cached summaries.
    summaries: HashMap<(usize, Requirements), Rc<Priced>>,
    /// (summaries id, options in price order) → their listing: NodeClaims that end with the
    /// same options share one (its values are shared, so a copy costs no string copies).
    listings: HashMap<usize, HashMap<Vec<u32>, Listing>>,
}

impl OfferingCache {
    /// The summaries of template `t`'s options under `requirements` (which must not contain the
    /// hostname placeholder: finalisation removes it first).
    pub(crate) fn summaries(
        &mut self,
        t: usize,
        template: &Template<'_>,
        requirements: &Requirements,
        settings: &SchedulingSettings,
    ) -> Rc<Priced> {
        let id = self.summaries.len();
        let entry = self
            .summaries
            .entry((t, requirements.clone()))
            .or_insert_with(|| {
                let summaries: Vec<OfferingSummary> = template
                    .options
                    .iter()
                    .map(|o| summarize(o.it, requirements, settings))
                    .collect();
                let mut by_price: Vec<u32> = (0..summaries.len() as u32).collect();
                by_price.sort_by(|&a, &b| {
                    summaries[a as usize]
                        .price
                        .total_cmp(&summaries[b as usize].price)
                });
                Rc::new(Priced {
                    summaries,
                    by_price,
                    id,
                })
            });
        Rc::clone(entry)
    }

    /// The listing of template options `ordered` (indices into `template.options`, as truncated
    /// by price) priced by `priced`.
    pub(crate) fn listing(
        &mut self,
        template: &Template<'_>,
        priced: &Priced,
        ordered: &[u32],
    ) -> Listing {
        let listings = self.listings.entry(priced.id).or_default();
        if let Some(listing) = listings.get(ordered) {
            return listing.clone();
        }
        let mut kept = vec![false; template.options.len()];
        for &o in ordered {
            kept[o as usize] = true;
        }
        let names = template
            .alphabetical
            .iter()
            .filter(|&&o| kept[o as usize])
            .map(|&o| &template.options[o as usize].name);
        // Inserted one by one: collecting would sort every offering's entry (hundreds) first.
        let mut capacity_types: BTreeSet<&str> = BTreeSet::new();
        for &o in ordered {
            for ct in &priced.summaries[o as usize].capacity_types {
                capacity_types.insert(ct);
            }
        }
        let listing = Listing {
            instance_types: Requirement::in_values(INSTANCE_TYPE, names),
            capacity_types: (!capacity_types.is_empty())
                .then(|| Requirement::in_values(CAPACITY_TYPE, capacity_types)),
            names: price_ordered_names(template, ordered),
        };
        listings.insert(ordered.to_vec(), listing.clone());
        listing
    }
}

/// The options' names in price order, each once: variants of a type with offering overrides
/// share its name, and the cheapest one stands for it.
fn price_ordered_names(template: &Template<'_>, ordered: &[u32]) -> Arc<[Arc<str>]> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    ordered
        .iter()
        .map(|&o| &template.options[o as usize].name)
        .filter(|name| seen.insert(name))
        .map(Arc::clone)
        .collect()
}

fn summarize(
    it: &crate::instancetype::InstanceType,
    requirements: &Requirements,
    settings: &SchedulingSettings,
) -> OfferingSummary {
    let mut summary = OfferingSummary {
        price: f64::MAX,
        capacity_types: Vec::new(),
    };
    for offering in it.offerings.iter().filter(|o| {
        o.available && requirements.is_compatible(&o.requirements, &settings.well_known_labels)
    }) {
        summary.price = summary.price.min(offering.price);
        if let Some(ct) = offering.capacity_type() {
            summary.capacity_types.push(ct.to_owned());
        }
    }
    summary
}

impl MaskCache {
    /// The verdicts for `requirements` on template `t`, or `None` when the template's instance
    /// types constrain the hostname (then nothing is cached).
    pub(crate) fn mask(
        &mut self,
        t: usize,
        template: &Template<'_>,
        requirements: &Requirements,
        settings: &SchedulingSettings,
    ) -> Option<Rc<[bool]>> {
        if template.hostname_sensitive {
            return None;
        }
        let mut key = requirements.clone();
        key.remove(HOSTNAME);
        let mask = self.masks.entry((t, key)).or_insert_with(|| {
            template
                .options
                .iter()
                .map(|o| {
                    o.it.requirements.can_intersect(requirements)
                        && has_compatible_offering(o.it, requirements, settings)
                })
                .collect()
        });
        Some(Rc::clone(mask))
    }
}
