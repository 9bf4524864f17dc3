//! Reserved capacity (spec core §2.15): in-progress NodeClaims hold one unit of every
//! reservation their instance types could launch into, so a round never plans more NodeClaims
//! onto a reservation than it has room for.

use std::collections::{BTreeMap, BTreeSet};

use super::settings::{ReservedOfferingMode, SchedulingSettings};
use super::template::Template;
use crate::instancetype::Offering;
use crate::labels::CAPACITY_TYPE_RESERVED;
use crate::requirements::Requirements;
use crate::snapshot::Snapshot;

/// Upstream's message when compatible reserved offerings exist but all are taken.
pub(crate) const NONE_RESERVABLE: &str = "one or more instance types with compatible reserved \
                                          offerings are available, but could not be reserved";
/// Upstream's message when a pod would make a NodeClaim give up all its reservations.
pub(crate) const WOULD_DROP: &str = "satisfying updated nodeclaim constraints would remove all \
                                     compatible reserved offering options";

/// Reservation bookkeeping of a solve (upstream `ReservationManager`).
#[derive(Debug, Default)]
pub(crate) struct Reservations {
    /// Reservation ID → (capacity, units held).
    capacity: BTreeMap<String, (u32, u32)>,
    /// Hostname placeholder → reservation IDs it holds.
    holders: BTreeMap<String, BTreeSet<String>>,
}

impl Reservations {
    /// Capacities from every NodePool's offerings: the minimum `reservationCapacity` seen per ID.
    pub(crate) fn new(snapshot: &Snapshot, settings: &SchedulingSettings) -> Self {
        let mut capacity: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let offerings = snapshot
            .instance_types
            .values()
            .flat_map(|its| its.iter())
            .flat_map(|it| it.offerings.iter());
        for offering in offerings {
            let (Some(id), Some(count)) = (
                reservation_id(offering, settings),
                offering.reservation_capacity,
            ) else {
                continue;
            };
            let entry = capacity.entry(id.to_owned()).or_insert((count, 0));
            entry.0 = entry.0.min(count);
        }
        Self {
            capacity,
            holders: BTreeMap::new(),
        }
    }

    /// Whether `hostname` holds or could take a unit of reservation `id`.
    fn can_reserve(&self, hostname: &str, id: &str) -> bool {
        if self
            .holders
            .get(hostname)
            .is_some_and(|ids| ids.contains(id))
        {
            return true;
        }
        self.capacity
            .get(id)
            .is_some_and(|&(capacity, held)| held < capacity)
    }

    /// Makes `hostname` hold exactly `ids`, releasing the others it held.
    pub(crate) fn hold(&mut self, hostname: &str, ids: &BTreeSet<String>) {
        let held = self.holders.entry(hostname.to_owned()).or_default();
        for released in held.difference(ids) {
            if let Some(entry) = self.capacity.get_mut(released) {
                entry.1 = entry.1.saturating_sub(1);
            }
        }
        for taken in ids.difference(held) {
            if let Some(entry) = self.capacity.get_mut(taken) {
                entry.1 += 1;
            }
        }
        *held = ids.clone();
    }

    /// The reservations a NodeClaim with `options` and `requirements` would hold (upstream
    /// `offeringsToReserve`), or the strict-mode error when it must not take the pod.
    pub(crate) fn to_hold(
        &self,
        hostname: &str,
        previously: &BTreeSet<String>,
        template: &Template<'_>,
        options: &[u32],
        requirements: &Requirements,
        settings: &SchedulingSettings,
    ) -> Result<BTreeSet<String>, &'static str> {
        if !settings.reserved_capacity || !template.has_reserved {
            return Ok(BTreeSet::new());
        }
        let mut compatible = false;
        let mut ids = BTreeSet::new();
        let offerings = options
            .iter()
            .flat_map(|&o| template.options[o as usize].it.offerings.iter());
        for offering in offerings.filter(|o| {
            o.available
                && o.capacity_type() == Some(CAPACITY_TYPE_RESERVED)
                && requirements.is_compatible(&o.requirements, &settings.well_known_labels)
        }) {
            compatible = true;
            if let Some(id) = reservation_id(offering, settings)
                && self.can_reserve(hostname, id)
            {
                ids.insert(id.to_owned());
            }
        }
        if settings.reserved_offering_mode == ReservedOfferingMode::Strict {
            if compatible && ids.is_empty() {
                return Err(NONE_RESERVABLE);
            }
            if !previously.is_empty() && ids.is_empty() {
                return Err(WOULD_DROP);
            }
        }
        Ok(ids)
    }
}

/// The offering's reservation ID (the provider's reservation-ID label).
fn reservation_id<'o>(offering: &'o Offering, settings: &SchedulingSettings) -> Option<&'o str> {
    offering.single_value(settings.reservation_id_label.as_deref()?)
}
