//! Provider-neutral instance types (spec core §1.7): what a cloud provider offers the scheduler.
//!
//! An [`InstanceType`] is a shape (capacity, overhead, label requirements) plus the places and
//! purchase options it can be bought in ([`Offering`]s). The scheduler reasons over the
//! requirements, [`InstanceType::allocatable`] and offering prices; it never talks to the cloud.
//!
//! Not modelled yet: per-offering capacity/overhead overrides (NodeOverlay "allocatable groups")
//! and dynamic (DRA) resources; every offering shares the type's capacity and overhead.

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
        }
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
