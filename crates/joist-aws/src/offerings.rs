//! Offerings (spec aws §3.4): one per (zone, capacity type) for on-demand and spot, plus one per
//! capacity reservation of the type.
//!
//! **Zones.** EC2 maps zone names to AZ IDs per account (your `us-east-1a` may be someone else's
//! `us-east-1c`), and spot prices are published per AZ ID. Without an account to ask, joist uses a
//! fixed, documented default per region, overridable with [`Placement::new`]:
//!
//! | region | zones → AZ IDs |
//! |---|---|
//! | `us-east-1` | `us-east-1a`..`us-east-1f` → `use1-az1`..`use1-az6` |
//! | `us-gov-east-1` | `us-gov-east-1a`..`c` → `usge1-az1`..`az3` |
//! | `us-gov-west-1` | `us-gov-west-1a`..`c` → `usgw1-az1`..`az3` |
//!
//! The catalog has no `DescribeInstanceTypeOfferings` data, so every type is taken to be offered in
//! every zone of the placement, and (lacking SupportedUsageClasses) as both on-demand and spot.
//!
//! **Availability**, as upstream: no price ⇒ unavailable; an on-demand offering is priced from the
//! catalog, a spot offering from [`SpotPricing`] (observed, estimated and flagged, or absent per
//! its policy); AL2023 cannot run `a1.*` types (spec aws §3.5), so their offerings are unavailable.

use joist_core::instancetype::{Offering, PriceSource};
use joist_core::labels::{
    CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_RESERVED, CAPACITY_TYPE_SPOT, ZONE,
};
use joist_core::requirements::{Requirement, Requirements};

use crate::catalog::InstanceTypeRecord;
use crate::labels::{
    CAPACITY_RESERVATION_ID, CAPACITY_RESERVATION_INTERRUPTIBLE, CAPACITY_RESERVATION_TYPE, ZONE_ID,
};
use crate::pricing::{RESERVED_PRICE_DIVISOR, SpotPricing, on_demand_price};
use crate::settings::AmiFamily;

/// The capacity types of base (non-reserved) offerings, in offering order.
pub const BASE_CAPACITY_TYPES: [&str; 2] = [CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT];

/// Errors building a placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferingsError {
    /// The region has no default zone set; pass the zones explicitly.
    #[error(
        "region {region:?} has no default zones; known regions: us-east-1, us-gov-east-1, us-gov-west-1"
    )]
    UnknownRegion {
        /// The region asked for.
        region: String,
    },
    /// A placement needs at least one zone.
    #[error("placement in {region:?} has no zones")]
    NoZones {
        /// The region of the placement.
        region: String,
    },
    /// A zone name is empty or repeated.
    #[error("placement in {region:?}: zone name {zone:?} is empty or repeated")]
    BadZone {
        /// The region of the placement.
        region: String,
        /// The offending zone name.
        zone: String,
    },
}

/// An availability zone: its name and its AZ ID (empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zone {
    /// Zone name, e.g. `us-east-1a`.
    pub name: String,
    /// AZ ID, e.g. `use1-az1`; empty when unknown (then no `zone-id` label is set).
    pub id: String,
}

impl Zone {
    /// A zone with a name and an AZ ID.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        Zone {
            name: name.into(),
            id: id.into(),
        }
    }
}

/// The region and zones offerings are created in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    region: String,
    zones: Vec<Zone>,
}

/// Default zones: (region, AZ-ID prefix, zone letters); the first entry is the default placement.
const DEFAULT_ZONES: [(&str, &str, &str); 3] = [
    ("us-east-1", "use1", "abcdef"),
    ("us-gov-east-1", "usge1", "abc"),
    ("us-gov-west-1", "usgw1", "abc"),
];

// === impl Placement ===

impl Placement {
    /// A placement with explicit zones (e.g. the NodeClass subnet zones and their IDs).
    pub fn new(region: impl Into<String>, zones: Vec<Zone>) -> Result<Self, OfferingsError> {
        let region = region.into();
        if zones.is_empty() {
            return Err(OfferingsError::NoZones { region });
        }
        for (index, zone) in zones.iter().enumerate() {
            if zone.name.is_empty()
                || zones[..index]
                    .iter()
                    .any(|earlier| earlier.name == zone.name)
            {
                return Err(OfferingsError::BadZone {
                    region,
                    zone: zone.name.clone(),
                });
            }
        }
        Ok(Placement { region, zones })
    }

    /// The documented default zones of `region` (see the module docs).
    pub fn default_for_region(region: &str) -> Result<Self, OfferingsError> {
        let Some((_, prefix, letters)) = DEFAULT_ZONES.iter().find(|(name, _, _)| *name == region)
        else {
            return Err(OfferingsError::UnknownRegion {
                region: region.to_string(),
            });
        };
        Placement::new(region, lettered_zones(region, prefix, letters))
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The zones, in placement order.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The zone named `name`, if it is part of the placement.
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|zone| zone.name == name)
    }
}

impl Default for Placement {
    /// us-east-1 with its six default zones.
    fn default() -> Self {
        let (region, prefix, letters) = DEFAULT_ZONES[0];
        Placement {
            region: region.to_string(),
            zones: lettered_zones(region, prefix, letters),
        }
    }
}

/// Zones `<region><letter>` with AZ IDs `<prefix>-az<n>`, n counting from 1 in letter order.
fn lettered_zones(region: &str, prefix: &str, letters: &str) -> Vec<Zone> {
    letters
        .chars()
        .enumerate()
        .map(|(index, letter)| {
            Zone::new(
                format!("{region}{letter}"),
                format!("{prefix}-az{}", index + 1),
            )
        })
        .collect()
}

/// `karpenter.k8s.aws/capacity-reservation-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReservationType {
    /// An On-Demand Capacity Reservation (ODCR).
    Default,
    /// An EC2 Capacity Block for ML.
    CapacityBlock,
}

impl ReservationType {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationType::Default => "default",
            ReservationType::CapacityBlock => "capacity-block",
        }
    }
}

/// State of a reservation as Karpenter tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReservationState {
    /// Usable.
    Active,
    /// A capacity block within 40 minutes of its end: no new launches.
    Expiring,
}

/// One capacity reservation selected by the NodeClass (its status entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CapacityReservation {
    /// Reservation ID (`cr-...`).
    pub id: String,
    /// Instance type the reservation holds.
    pub instance_type: String,
    /// Zone name of the reservation.
    pub zone: String,
    /// Instances the reservation can still take.
    pub available_count: u32,
    /// ODCR or capacity block.
    pub reservation_type: ReservationType,
    /// Active or expiring.
    pub state: ReservationState,
    /// Whether EC2 may interrupt instances in it.
    pub interruptible: bool,
}

/// Whether the AMI family can run `record` at all (spec aws §3.5: AL2023 has no a1 support).
pub fn family_supports(family: AmiFamily, record: &InstanceTypeRecord) -> bool {
    !(family == AmiFamily::Al2023 && record.family == "a1")
}

/// The on-demand and spot offerings of `record`: one per zone and capacity type, in zone order,
/// on-demand before spot.
pub fn base_offerings(
    record: &InstanceTypeRecord,
    placement: &Placement,
    spot: &SpotPricing<'_>,
    family: AmiFamily,
) -> Vec<Offering> {
    let compatible = family_supports(family, record);
    let on_demand = on_demand_price(record, placement.region());
    let mut offerings = Vec::with_capacity(placement.zones().len() * BASE_CAPACITY_TYPES.len());
    for zone in placement.zones() {
        for capacity_type in BASE_CAPACITY_TYPES {
            let price = if capacity_type == CAPACITY_TYPE_SPOT {
                spot.price(record, &zone.id)
                    .map(|p| (p.usd_per_hour, p.source))
            } else {
                on_demand.map(|usd| (usd, PriceSource::Exact))
            };
            let mut requirements = zone_requirements(capacity_type, zone);
            for key in [
                CAPACITY_RESERVATION_ID,
                CAPACITY_RESERVATION_TYPE,
                CAPACITY_RESERVATION_INTERRUPTIBLE,
            ] {
                requirements.add(Requirement::does_not_exist(key));
            }
            offerings.push(Offering {
                requirements,
                price: price.map_or(0.0, |(usd, _)| usd),
                available: compatible && price.is_some(),
                reservation_capacity: None,
                price_source: price.map_or(PriceSource::Exact, |(_, source)| source),
            });
        }
    }
    offerings
}

/// The reserved offerings of `record`: one per reservation of this type, priced at the on-demand
/// price / 10,000,000 (0 when the type has no on-demand price: the capacity is paid for anyway,
/// so the offering stays usable). Available when the reservation has room, its zone is in the
/// placement, it is not expiring and the family can run the type.
pub fn reserved_offerings(
    record: &InstanceTypeRecord,
    placement: &Placement,
    reservations: &[CapacityReservation],
    family: AmiFamily,
) -> Vec<Offering> {
    let compatible = family_supports(family, record);
    let price =
        on_demand_price(record, placement.region()).map_or(0.0, |usd| usd / RESERVED_PRICE_DIVISOR);
    reservations
        .iter()
        .filter(|reservation| reservation.instance_type == record.name)
        .map(|reservation| {
            let zone = placement.zone(&reservation.zone);
            let unknown_zone = Zone::new(reservation.zone.clone(), "");
            let mut requirements =
                zone_requirements(CAPACITY_TYPE_RESERVED, zone.unwrap_or(&unknown_zone));
            requirements.add(Requirement::in_values(
                CAPACITY_RESERVATION_ID,
                [&reservation.id],
            ));
            requirements.add(Requirement::in_values(
                CAPACITY_RESERVATION_TYPE,
                [reservation.reservation_type.as_str()],
            ));
            requirements.add(Requirement::in_values(
                CAPACITY_RESERVATION_INTERRUPTIBLE,
                [if reservation.interruptible {
                    "true"
                } else {
                    "false"
                }],
            ));
            Offering {
                requirements,
                price,
                available: compatible
                    && reservation.available_count != 0
                    && zone.is_some()
                    && reservation.state != ReservationState::Expiring,
                reservation_capacity: Some(reservation.available_count),
                price_source: PriceSource::Exact,
            }
        })
        .collect()
}

/// capacity-type, zone and (when known) zone-id requirements of an offering.
fn zone_requirements(capacity_type: &str, zone: &Zone) -> Requirements {
    let mut requirements = Requirements::new();
    requirements.add(Requirement::in_values(CAPACITY_TYPE, [capacity_type]));
    requirements.add(Requirement::in_values(ZONE, [&zone.name]));
    if !zone.id.is_empty() {
        requirements.add(Requirement::in_values(ZONE_ID, [&zone.id]));
    }
    requirements
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::pricing::{SpotPolicy, SpotSnapshot};

    fn record(name: &str) -> &'static InstanceTypeRecord {
        Catalog::embedded()
            .expect("catalog")
            .get(name)
            .unwrap_or_else(|| panic!("{name} in catalog"))
    }

    fn spot(region: &str) -> SpotPricing<'static> {
        let catalog = Catalog::embedded().expect("catalog");
        SpotPricing::new(
            catalog,
            SpotSnapshot::embedded().expect("snapshot"),
            region,
            SpotPolicy::EstimateMissing,
        )
    }

    #[test]
    fn default_placements_map_zone_names_to_az_ids() {
        let east = Placement::default_for_region("us-east-1").expect("us-east-1");
        assert_eq!(east, Placement::default());
        assert_eq!(east.zones().len(), 6);
        assert_eq!(east.zones()[0], Zone::new("us-east-1a", "use1-az1"));
        assert_eq!(east.zones()[5], Zone::new("us-east-1f", "use1-az6"));
        let gov = Placement::default_for_region("us-gov-west-1").expect("gov");
        assert_eq!(gov.zones()[2], Zone::new("us-gov-west-1c", "usgw1-az3"));
        assert!(matches!(
            Placement::default_for_region("mars-1"),
            Err(OfferingsError::UnknownRegion { .. })
        ));
    }

    #[test]
    fn placements_validate_zones() {
        assert!(matches!(
            Placement::new("r", vec![]),
            Err(OfferingsError::NoZones { .. })
        ));
        let twice = vec![Zone::new("r-a", "x"), Zone::new("r-a", "y")];
        assert!(matches!(
            Placement::new("r", twice),
            Err(OfferingsError::BadZone { .. })
        ));
        let custom =
            Placement::new("eu-west-1", vec![Zone::new("eu-west-1a", "euw1-az3")]).expect("valid");
        assert_eq!(
            custom.zone("eu-west-1a").map(|z| z.id.as_str()),
            Some("euw1-az3")
        );
    }

    #[test]
    fn one_offering_per_zone_and_capacity_type_with_single_valued_requirements() {
        let placement = Placement::default();
        let offerings = base_offerings(
            record("m5.large"),
            &placement,
            &spot("us-east-1"),
            AmiFamily::Al2023,
        );
        assert_eq!(offerings.len(), 12);
        let first = &offerings[0];
        assert_eq!(
            (first.capacity_type(), first.zone()),
            (Some("on-demand"), Some("us-east-1a"))
        );
        assert_eq!(first.single_value(ZONE_ID), Some("use1-az1"));
        assert_eq!(
            (first.price, first.available, first.price_source),
            (0.096, true, PriceSource::Exact)
        );
        let keys: Vec<&str> = first.requirements.keys().collect();
        assert_eq!(keys.len(), 6, "{keys:?}");
        let mut pools: Vec<(&str, &str)> = offerings
            .iter()
            .map(|o| (o.capacity_type().expect("ct"), o.zone().expect("zone")))
            .collect();
        pools.sort_unstable();
        pools.dedup();
        assert_eq!(pools.len(), 12, "exactly one offering per pool");
    }

    #[test]
    fn spot_offerings_use_observed_prices_by_az_id_and_flag_estimates() {
        let placement = Placement::default();
        let offerings = base_offerings(
            record("m5.large"),
            &placement,
            &spot("us-east-1"),
            AmiFamily::Al2023,
        );
        let spot_in = |zone: &str| {
            offerings
                .iter()
                .find(|o| o.capacity_type() == Some("spot") && o.zone() == Some(zone))
                .expect("spot offering")
        };
        assert_eq!(
            (
                spot_in("us-east-1b").price,
                spot_in("us-east-1b").price_source
            ),
            (0.0424, PriceSource::Exact)
        );
        assert_eq!(spot_in("us-east-1a").price_source, PriceSource::Estimated);
        assert!(spot_in("us-east-1a").available);
    }

    #[test]
    fn types_without_an_on_demand_price_have_only_unavailable_offerings() {
        let offerings = base_offerings(
            record("trn2.48xlarge"),
            &Placement::default(),
            &spot("us-east-1"),
            AmiFamily::Al2023,
        );
        assert_eq!(offerings.len(), 12);
        assert!(
            offerings.iter().all(|o| !o.available),
            "no price, no offering"
        );
    }

    #[test]
    fn al2023_cannot_run_a1() {
        let a1 = record("a1.large");
        let on_al2023 = base_offerings(
            a1,
            &Placement::default(),
            &spot("us-east-1"),
            AmiFamily::Al2023,
        );
        assert!(on_al2023.iter().all(|o| !o.available));
        let on_al2 = base_offerings(
            a1,
            &Placement::default(),
            &spot("us-east-1"),
            AmiFamily::Al2,
        );
        assert!(on_al2.iter().any(|o| o.available));
    }

    fn reservation(
        id: &str,
        zone: &str,
        count: u32,
        state: ReservationState,
    ) -> CapacityReservation {
        CapacityReservation {
            id: id.to_string(),
            instance_type: "m5.large".to_string(),
            zone: zone.to_string(),
            available_count: count,
            reservation_type: ReservationType::Default,
            state,
            interruptible: false,
        }
    }

    #[test]
    fn reserved_offerings_are_nearly_free_and_carry_reservation_labels() {
        let reservations = [
            reservation("cr-1", "us-east-1a", 3, ReservationState::Active),
            reservation("cr-2", "us-east-1b", 0, ReservationState::Active),
            reservation("cr-3", "us-east-1c", 2, ReservationState::Expiring),
            reservation("cr-4", "eu-west-1a", 2, ReservationState::Active),
            CapacityReservation {
                instance_type: "m5.xlarge".to_string(),
                ..reservation("cr-5", "us-east-1a", 1, ReservationState::Active)
            },
        ];
        let offerings = reserved_offerings(
            record("m5.large"),
            &Placement::default(),
            &reservations,
            AmiFamily::Al2023,
        );
        assert_eq!(offerings.len(), 4, "only this type's reservations");
        let first = &offerings[0];
        assert_eq!(first.capacity_type(), Some("reserved"));
        assert_eq!(first.single_value(CAPACITY_RESERVATION_ID), Some("cr-1"));
        assert_eq!(
            first.single_value(CAPACITY_RESERVATION_TYPE),
            Some("default")
        );
        assert_eq!(
            first.single_value(CAPACITY_RESERVATION_INTERRUPTIBLE),
            Some("false")
        );
        assert_eq!(first.single_value(ZONE_ID), Some("use1-az1"));
        assert_eq!(first.price, 0.096 / 10_000_000.0);
        assert_eq!(first.reservation_capacity, Some(3));
        let available: Vec<bool> = offerings.iter().map(|o| o.available).collect();
        assert_eq!(
            available,
            [true, false, false, false],
            "count 0, expiring and foreign zone are unavailable"
        );
    }

    #[test]
    fn capacity_block_reservations_are_labelled() {
        let block = CapacityReservation {
            reservation_type: ReservationType::CapacityBlock,
            interruptible: true,
            ..reservation("cr-9", "us-east-1a", 1, ReservationState::Active)
        };
        let offerings = reserved_offerings(
            record("m5.large"),
            &Placement::default(),
            &[block],
            AmiFamily::Al2023,
        );
        assert_eq!(
            offerings[0].single_value(CAPACITY_RESERVATION_TYPE),
            Some("capacity-block")
        );
        assert_eq!(
            offerings[0].single_value(CAPACITY_RESERVATION_INTERRUPTIBLE),
            Some("true")
        );
        assert!(offerings[0].available);
    }
}
