//! Provider-neutral instance types (spec core §1.7): what a cloud provider offers the scheduler.
//!
//! An [`InstanceType`] is a shape (capacity, overhead, label requirements) plus the places and
//! purchase options it can be bought in ([`Offering`]s). The scheduler reasons over the
//! requirements, [`InstanceType::allocatable`] and offering prices; it never talks to the cloud.
//!
//! Some offerings may replace parts of the type's capacity or overhead ([`OfferingOverride`],
//! upstream `Offering.CapacityOverride` / `OverheadOverride`, e.g. NodeOverlay capacity). The
//! offerings that share an override form an *allocatable group*; the scheduler treats each
//! group as its own variant of the type ([`InstanceType::scheduling_variants`]), so a request
//! fits only where some group's allocatable holds it and that group has a usable offering.
//!
//! Not modelled yet: dynamic (DRA) resources.

use crate::labels::{CAPACITY_TYPE, ZONE};
use crate::requirements::{Operator, Requirements};
use crate::resources::{Quantity, ResourceList, names};

/// Where an offering's price comes from, so reports can tell real prices from derived ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum PriceSource {
    /// A published or observed price (list price, observed spot price, reservation pricing rule).
    #[default]
    Exact,
    /// A price the provider derived because no real one was available (e.g. a spot estimate).
    Estimated,
}

/// What the node reserves for itself; subtracted from capacity to give allocatable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Overhead {
    /// Resources reserved for Kubernetes daemons (kubelet, container runtime).
    pub kube_reserved: ResourceList,
    /// Resources reserved for OS daemons.
    pub system_reserved: ResourceList,
    /// Resources kept free so the kubelet evicts before the node runs out (hard eviction).
    pub eviction_threshold: ResourceList,
}

impl Overhead {
    /// kube-reserved + system-reserved + eviction threshold, key by key.
    pub fn total(&self) -> ResourceList {
        let mut total = self.kube_reserved.clone();
        total.add(&self.system_reserved);
        total.add(&self.eviction_threshold);
        total
    }
}

/// One way to buy an instance type: a zone and capacity type (and, for reserved capacity, a
/// reservation), with its price and whether it can be launched now.
#[derive(Debug, Clone, PartialEq)]
pub struct Offering {
    /// Single-valued requirements describing the offering; always `karpenter.sh/capacity-type`
    /// and `topology.kubernetes.io/zone`, plus provider keys (zone ID, reservation ID ...).
    pub requirements: Requirements,
    /// Price per hour in the provider's currency (USD for AWS). Meaningless when not available.
    pub price: f64,
    /// Whether the offering can be launched (priced, not recently out of capacity, compatible).
    pub available: bool,
    /// For reserved offerings: how many more instances the reservation can hold.
    pub reservation_capacity: Option<u32>,
    /// Whether [`Self::price`] is exact or estimated.
    pub price_source: PriceSource,
}

impl Offering {
    /// The offering's capacity type (`on-demand`, `spot`, `reserved`), if single-valued.
    pub fn capacity_type(&self) -> Option<&str> {
        self.single_value(CAPACITY_TYPE)
    }

    /// The offering's zone, if single-valued.
    pub fn zone(&self) -> Option<&str> {
        self.single_value(ZONE)
    }

    /// The single `In` value of `key` in the offering's requirements.
    pub fn single_value(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.find(key)?;
        if requirement.operator() != Operator::In || requirement.values().len() != 1 {
            return None;
        }
        requirement.values().next()
    }

    /// Whether the offering can serve `requirements`: available and no key the two share has
    /// disjoint values. Offering keys are well-known labels, so this is upstream's
    /// `reqs.IsCompatible(offering.Requirements, AllowUndefinedWellKnownLabels)`.
    pub fn is_available_for(&self, requirements: &Requirements) -> bool {
        self.available && requirements.can_intersect(&self.requirements)
    }
}

/// What some offerings of an instance type change about its resources. Keys given replace the
/// type's (or are added); keys not given keep the type's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferingOverride {
    /// Capacity entries that replace or extend the type's capacity.
    pub capacity: ResourceList,
    /// Overhead entries that replace or extend the type's, per part (kube-reserved,
    /// system-reserved, eviction threshold); `None` keeps the type's overhead.
    pub overhead: Option<Overhead>,
}

impl OfferingOverride {
    /// The capacity and overhead of an offering with this override on `it`.
    fn apply(&self, it: &InstanceType) -> (ResourceList, Overhead) {
        let mut capacity = it.capacity.clone();
        assign(&mut capacity, &self.capacity);
        let mut overhead = it.overhead.clone();
        if let Some(replacement) = &self.overhead {
            assign(&mut overhead.kube_reserved, &replacement.kube_reserved);
            assign(&mut overhead.system_reserved, &replacement.system_reserved);
            assign(
                &mut overhead.eviction_threshold,
                &replacement.eviction_threshold,
            );
        }
        (capacity, overhead)
    }
}

/// Upstream `lo.Assign`: every entry of `with` replaces or extends `target`.
fn assign(target: &mut ResourceList, with: &ResourceList) {
    for (name, quantity) in with.iter() {
        target.insert(name, quantity);
    }
}

/// Why an instance type cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceTypeError {
    /// An override names an offering the type does not have.
    #[error(
        "instance type {instance_type}: offering override for offering {index}, which does not exist ({offerings} offerings)"
    )]
    UnknownOffering {
        /// The instance type.
        instance_type: String,
        /// The offering index given.
        index: usize,
        /// How many offerings the type has.
        offerings: usize,
    },
}

/// A purchasable machine shape, as the scheduler sees it.
///
/// Capacity and overhead are fixed at construction so [`allocatable`](Self::allocatable) can be
/// computed once: the scheduler reads it for every fit check.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    /// The instance type name (e.g. `m5.large`).
    pub name: String,
    /// Label requirements of every node of this type; defines every well-known label (a label
    /// the type has no value for is `DoesNotExist`).
    pub requirements: Requirements,
    /// Every (zone, capacity type[, reservation]) the type can be bought in, available or not.
    pub offerings: Vec<Offering>,
    /// What a node of this type reports as capacity (`pods` is the max-pods limit).
    capacity: ResourceList,
    /// What the node reserves for itself.
    overhead: Overhead,
    /// capacity − overhead − hugepages, computed once.
    allocatable: ResourceList,
    /// Per-offering overrides, parallel to `offerings` (empty when there are none).
    overrides: Vec<Option<OfferingOverride>>,
    /// The allocatable groups as variants of this type, the un-overridden base first (each with
    /// only its own offerings); empty when no offering has an override.
    groups: Vec<InstanceType>,
}

impl InstanceType {
    /// Builds an instance type and computes its allocatable.
    pub fn new(
        name: impl Into<String>,
        requirements: Requirements,
        offerings: Vec<Offering>,
        capacity: ResourceList,
        overhead: Overhead,
    ) -> Self {
        let allocatable = compute_allocatable(&capacity, &overhead);
        InstanceType {
            name: name.into(),
            requirements,
            offerings,
            capacity,
            overhead,
            allocatable,
            overrides: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Returns the type with `overrides` (offering index, override) applied to its offerings as
    /// they are now, and its allocatable groups built: the base group (offerings without an
    /// override, possibly none) first, then one group per distinct override in offering order.
    pub fn with_offering_overrides(
        mut self,
        overrides: Vec<(usize, OfferingOverride)>,
    ) -> Result<Self, InstanceTypeError> {
        let mut per_offering: Vec<Option<OfferingOverride>> = vec![None; self.offerings.len()];
        for (index, override_) in overrides {
            let slot =
                per_offering
                    .get_mut(index)
                    .ok_or_else(|| InstanceTypeError::UnknownOffering {
                        instance_type: self.name.clone(),
                        index,
                        offerings: self.offerings.len(),
                    })?;
            *slot = Some(override_);
        }
        self.groups = Vec::new();
        self.overrides = per_offering;
        if self.overrides.iter().any(Option::is_some) {
            self.groups = self.build_groups();
        }
        Ok(self)
    }

    /// The override of offering `index`, if it has one.
    pub fn offering_override(&self, index: usize) -> Option<&OfferingOverride> {
        self.overrides.get(index).and_then(Option::as_ref)
    }

    /// What the scheduler packs against: the type itself, or, when some offering has an
    /// override, one variant per allocatable group (same name and requirements, the group's
    /// capacity, overhead and offerings only), the base group first.
    pub fn scheduling_variants(&self) -> &[InstanceType] {
        if self.groups.is_empty() {
            std::slice::from_ref(self)
        } else {
            &self.groups
        }
    }

    fn build_groups(&self) -> Vec<InstanceType> {
        let mut keys: Vec<Option<&OfferingOverride>> = vec![None];
        let mut members: Vec<Vec<Offering>> = vec![Vec::new()];
        for (offering, override_) in self.offerings.iter().zip(&self.overrides) {
            let key = override_.as_ref();
            let group = match keys.iter().position(|k| *k == key) {
                Some(group) => group,
                None => {
                    keys.push(key);
                    members.push(Vec::new());
                    keys.len() - 1
                }
            };
            members[group].push(offering.clone());
        }
        keys.into_iter()
            .zip(members)
            .map(|(key, offerings)| {
                let (capacity, overhead) = match key {
                    None => (self.capacity.clone(), self.overhead.clone()),
                    Some(override_) => override_.apply(self),
                };
                InstanceType::new(
                    self.name.clone(),
                    self.requirements.clone(),
                    offerings,
                    capacity,
                    overhead,
                )
            })
            .collect()
    }

    /// What a node of this type reports as capacity.
    pub fn capacity(&self) -> &ResourceList {
        &self.capacity
    }

    /// What the node reserves for itself.
    pub fn overhead(&self) -> &Overhead {
        &self.overhead
    }

    /// What pods can use: capacity − (kube-reserved + system-reserved + eviction threshold) for
    /// each capacity resource, with every `hugepages-*` capacity also taken out of memory
    /// (clamped at zero).
    pub fn allocatable(&self) -> &ResourceList {
        &self.allocatable
    }

    /// The OrderByPrice key: the cheapest price among available offerings compatible with
    /// `requirements`, or `f64::MAX` when there is none.
    pub fn cheapest_compatible_price(&self, requirements: &Requirements) -> f64 {
        self.offerings
            .iter()
            .filter(|offering| offering.is_available_for(requirements))
            .map(|offering| offering.price)
            .fold(f64::MAX, f64::min)
    }
}

/// Allocatable for `capacity` and `overhead`: only capacity resources are listed (an overhead
/// entry for a resource the type lacks is ignored, as in upstream's `resources.Subtract`).
fn compute_allocatable(capacity: &ResourceList, overhead: &Overhead) -> ResourceList {
    let total = overhead.total();
    let mut allocatable = ResourceList::new();
    for (name, quantity) in capacity.iter() {
        allocatable.insert(name, quantity - total.get_or_zero(name));
    }
    let hugepages: Quantity = capacity
        .iter()
        .filter(|(name, _)| name.starts_with(names::HUGEPAGES_PREFIX))
        .map(|(_, quantity)| quantity)
        .sum();
    if !hugepages.is_zero()
        && let Some(memory) = allocatable.get(names::MEMORY)
    {
        let remaining = memory - hugepages;
        let clamped = if remaining.is_negative() {
            Quantity::ZERO.with_format(memory.format())
        } else {
            remaining
        };
        allocatable.insert(names::MEMORY, clamped);
    }
    allocatable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Requirement;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        let mut out = ResourceList::new();
        for (name, value) in entries {
            out.insert(*name, Quantity::parse(value).expect("quantity"));
        }
        out
    }

    fn offering(capacity_type: &str, zone: &str, price: f64, available: bool) -> Offering {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(CAPACITY_TYPE, [capacity_type]));
        requirements.add(Requirement::in_values(ZONE, [zone]));
        Offering {
            requirements,
            price,
            available,
            reservation_capacity: None,
            price_source: PriceSource::Exact,
        }
    }

    fn instance_type(offerings: Vec<Offering>) -> InstanceType {
        let capacity = list(&[
            ("cpu", "4"),
            ("memory", "16Gi"),
            ("pods", "58"),
            ("hugepages-2Mi", "0"),
        ]);
        let overhead = Overhead {
            kube_reserved: list(&[
                ("cpu", "80m"),
                ("memory", "893Mi"),
                ("ephemeral-storage", "1Gi"),
            ]),
            system_reserved: list(&[("cpu", "20m")]),
            eviction_threshold: list(&[("memory", "100Mi")]),
        };
        InstanceType::new(
            "m5.xlarge",
            Requirements::new(),
            offerings,
            capacity,
            overhead,
        )
    }

    #[test]
    fn allocatable_subtracts_every_overhead_from_capacity_resources_only() {
        let it = instance_type(vec![]);
        let allocatable = it.allocatable();
        assert_eq!(
            allocatable.get("cpu"),
            Some(Quantity::parse("3900m").expect("q"))
        );
        assert_eq!(
            allocatable.get("memory"),
            Some(Quantity::parse("15391Mi").expect("q"))
        );
        assert_eq!(allocatable.get("pods"), Some(Quantity::from_int(58)));
        assert!(
            !allocatable.contains("ephemeral-storage"),
            "overhead-only keys are not listed"
        );
    }

    #[test]
    fn hugepages_come_out_of_memory_and_clamp_at_zero() {
        let overhead = Overhead::default();
        let capacity = list(&[
            ("memory", "4Gi"),
            ("hugepages-2Mi", "1Gi"),
            ("hugepages-1Gi", "2Gi"),
        ]);
        let it = InstanceType::new("x", Requirements::new(), vec![], capacity, overhead.clone());
        assert_eq!(
            it.allocatable().get("memory"),
            Some(Quantity::parse("1Gi").expect("q"))
        );
        let capacity = list(&[("memory", "1Gi"), ("hugepages-1Gi", "2Gi")]);
        let it = InstanceType::new("x", Requirements::new(), vec![], capacity, overhead);
        assert_eq!(it.allocatable().get("memory"), Some(Quantity::ZERO));
    }

    #[test]
    fn offering_accessors_read_single_values() {
        let o = offering("spot", "us-east-1a", 0.1, true);
        assert_eq!(
            (o.capacity_type(), o.zone()),
            (Some("spot"), Some("us-east-1a"))
        );
        let mut multi = o;
        multi.requirements = Requirements::new();
        multi
            .requirements
            .add(Requirement::in_values(ZONE, ["a", "b"]));
        assert_eq!((multi.capacity_type(), multi.zone()), (None, None));
    }

    #[test]
    fn cheapest_compatible_price_ignores_unavailable_and_incompatible_offerings() {
        let it = instance_type(vec![
            offering("spot", "us-east-1a", 0.03, false),
            offering("spot", "us-east-1b", 0.04, true),
            offering("on-demand", "us-east-1a", 0.19, true),
        ]);
        assert_eq!(it.cheapest_compatible_price(&Requirements::new()), 0.04);
        let mut on_demand = Requirements::new();
        on_demand.add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
        assert_eq!(it.cheapest_compatible_price(&on_demand), 0.19);
        let mut zone_c = Requirements::new();
        zone_c.add(Requirement::in_values(ZONE, ["us-east-1c"]));
        assert_eq!(it.cheapest_compatible_price(&zone_c), f64::MAX);
    }

    #[test]
    fn offering_overrides_form_allocatable_groups_base_first() {
        let extra = OfferingOverride {
            capacity: list(&[("memory", "32Gi"), ("example.com/gpu", "1")]),
            overhead: Some(Overhead {
                kube_reserved: list(&[("cpu", "1")]),
                ..Overhead::default()
            }),
        };
        let it = instance_type(vec![
            offering("spot", "a", 0.1, true),
            offering("spot", "b", 0.1, true),
            offering("on-demand", "a", 0.2, true),
        ])
        .with_offering_overrides(vec![(0, extra.clone()), (2, extra.clone())])
        .expect("valid indices");
        let groups = it.scheduling_variants();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].offerings, [it.offerings[1].clone()]);
        assert_eq!(groups[0].allocatable(), it.allocatable());
        assert_eq!(
            groups[1].offerings,
            [it.offerings[0].clone(), it.offerings[2].clone()]
        );
        let overridden = groups[1].allocatable();
        // Capacity keys are replaced (16Gi -> 32Gi, not added) or added; overhead keys replaced.
        assert_eq!(
            overridden.get("memory"),
            Some(Quantity::parse("31775Mi").expect("q"))
        );
        assert_eq!(
            overridden.get("example.com/gpu"),
            Some(Quantity::from_int(1))
        );
        assert_eq!(
            overridden.get("cpu"),
            Some(Quantity::parse("2980m").expect("q"))
        );
        assert_eq!(it.offering_override(1), None);
        assert_eq!(it.offering_override(2), Some(&extra));
    }

    #[test]
    fn types_without_overrides_are_their_own_only_variant() {
        let it = instance_type(vec![offering("spot", "a", 0.1, true)]);
        assert_eq!(it.scheduling_variants(), std::slice::from_ref(&it));
        let err = it
            .with_offering_overrides(vec![(3, OfferingOverride::default())])
            .expect_err("index out of range");
        assert_eq!(
            err.to_string(),
            "instance type m5.xlarge: offering override for offering 3, which does not exist (1 offerings)"
        );
    }

    #[test]
    fn overhead_total_sums_the_three_parts() {
        let it = instance_type(vec![]);
        let total = it.overhead().total();
        assert_eq!(total.get("cpu"), Some(Quantity::parse("100m").expect("q")));
        assert_eq!(
            total.get("memory"),
            Some(Quantity::parse("993Mi").expect("q"))
        );
    }
}
