//! What the simulated account can launch: instance types per EC2NodeClass (zones from its
//! subnets, reserved offerings from the reservations it selects), the unavailable-offerings cache
//! (spec aws §3.8: 3 minutes per `(capacity type, type, zone)`), reservation counts and expiring
//! capacity blocks (§3.9).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use joist_aws::catalog::Catalog;
use joist_aws::instancetype::{Settings, build_instance_types};
use joist_aws::labels::CAPACITY_RESERVATION_ID;
use joist_aws::offerings::{
    CapacityReservation, Placement, ReservationState, ReservationType, Zone,
};
use joist_core::instancetype::InstanceType;
use joist_core::labels::CAPACITY_TYPE_RESERVED;

use super::SimError;
use crate::provider::Provider;
use crate::scenario::{NodeClassInfo, Reservation, ReservationKind, Scenario};

/// How long an offering that hit insufficient capacity stays unavailable (upstream's TTL).
pub(crate) const UNAVAILABLE_TTL: Duration = Duration::from_secs(3 * 60);
/// Capacity blocks are marked expiring, and their nodes drained, this long before their end.
pub(crate) const BLOCK_EXPIRY_LEAD: Duration = Duration::from_secs(40 * 60);
/// EC2 reclaims capacity-block instances this long before the block's end.
pub(crate) const BLOCK_RECLAIM_LEAD: Duration = Duration::from_secs(30 * 60);

/// `(capacity type, instance type, zone)`: an unavailable-offerings cache key.
pub(crate) type OfferingKey = (String, String, String);

/// The account's capacity state.
pub(crate) struct Capacity {
    region: String,
    reserved_gate: bool,
    reservations: Vec<Reservation>,
    /// Instance types of each NodeClass as built (reservations at their full count).
    base: BTreeMap<String, Arc<[InstanceType]>>,
    /// The same with the cache and reservation use applied; rebuilt when `dirty`.
    current: BTreeMap<String, Provider>,
    dirty: bool,
    /// Unavailable offerings and when each becomes available again.
    unavailable: BTreeMap<OfferingKey, Duration>,
    /// Instances launched into each reservation.
    used: BTreeMap<String, u32>,
    /// Reservations marked unavailable (interruption) or expiring (capacity block).
    closed: BTreeSet<String>,
}

impl Capacity {
    /// Builds the instance types of every EC2NodeClass of the scenario.
    pub(crate) fn new(scenario: &Scenario) -> Result<Self, SimError> {
        let mut capacity = Self {
            region: scenario.region.clone(),
            reserved_gate: scenario.feature_gates.reserved_capacity,
            reservations: scenario.reservations.clone(),
            base: BTreeMap::new(),
            current: BTreeMap::new(),
            dirty: true,
            unavailable: BTreeMap::new(),
            used: BTreeMap::new(),
            closed: BTreeSet::new(),
        };
        for (name, class) in &scenario.node_classes {
            capacity.set_class(name, class)?;
        }
        Ok(capacity)
    }

    /// Builds (or rebuilds, after an `apply`) the instance types of one NodeClass.
    pub(crate) fn set_class(&mut self, name: &str, class: &NodeClassInfo) -> Result<(), SimError> {
        let error = |reason: String| SimError::Region {
            region: self.region.clone(),
            reason: format!("EC2NodeClass {name}: {reason}"),
        };
        let placement = if class.zones.is_empty() {
            Placement::default_for_region(&self.region)
        } else {
            let zones = class
                .zones
                .iter()
                .map(|(zone, id)| Zone::new(zone.clone(), id.clone()))
                .collect();
            Placement::new(self.region.clone(), zones)
        }
        .map_err(|e| error(e.to_string()))?;
        let reservations = if self.reserved_gate {
            self.reservations
                .iter()
                .filter(|r| class.selects(r))
                .map(to_aws)
                .collect()
        } else {
            Vec::new()
        };
        let settings = Settings {
            placement,
            reservations,
            ..Settings::default()
        };
        let catalog = Catalog::embedded().map_err(|e| error(e.to_string()))?;
        let types = build_instance_types(catalog, &settings).map_err(|e| error(e.to_string()))?;
        self.base.insert(name.to_owned(), Arc::from(types));
        self.dirty = true;
        Ok(())
    }

    /// Forgets a deleted NodeClass.
    pub(crate) fn remove_class(&mut self, name: &str) {
        self.base.remove(name);
        self.current.remove(name);
    }

    /// The instance types of `class` as they can be launched now (`None`: no such class).
    pub(crate) fn instance_types(&mut self, class: &str) -> Option<Arc<[InstanceType]>> {
        self.provider(class).map(|p| Arc::clone(p.instance_types()))
    }

    /// The provider selling `class`'s instance types as they can be launched now.
    pub(crate) fn provider(&mut self, class: &str) -> Option<Provider> {
        if self.dirty {
            self.rebuild();
        }
        self.current.get(class).cloned()
    }

    /// Whether the current instance types are stale.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn rebuild(&mut self) {
        self.dirty = false;
        self.current.clear();
        for (class, base) in &self.base {
            let mut types: Vec<InstanceType> = base.to_vec();
            for instance_type in &mut types {
                for offering in &mut instance_type.offerings {
                    let capacity_type = offering.capacity_type().unwrap_or_default().to_owned();
                    let zone = offering.zone().unwrap_or_default().to_owned();
                    let key = (capacity_type, instance_type.name.clone(), zone);
                    if self.unavailable.contains_key(&key) {
                        offering.available = false;
                    }
                    if key.0 == CAPACITY_TYPE_RESERVED
                        && let Some(id) = offering.single_value(CAPACITY_RESERVATION_ID)
                    {
                        let left = self.remaining(id);
                        offering.reservation_capacity = Some(left);
                        offering.available &= left > 0;
                    }
                }
            }
            self.current
                .insert(class.clone(), Provider::new(Arc::from(types)));
        }
    }

    /// Instances reservation `id` can still take.
    fn remaining(&self, id: &str) -> u32 {
        if self.closed.contains(id) {
            return 0;
        }
        let total = self
            .reservations
            .iter()
            .find(|r| r.id == id)
            .map_or(0, |r| r.count);
        total.saturating_sub(self.used.get(id).copied().unwrap_or(0))
    }

    /// Marks an offering unavailable until `until`.
    pub(crate) fn mark_unavailable(&mut self, key: OfferingKey, until: Duration) {
        self.unavailable.insert(key, until);
        self.dirty = true;
    }

    /// Drops the cache entries that expired by `now`; returns whether any did.
    pub(crate) fn expire_unavailable(&mut self, now: Duration) -> bool {
        let before = self.unavailable.len();
        self.unavailable.retain(|_, until| *until > now);
        let changed = self.unavailable.len() != before;
        self.dirty |= changed;
        changed
    }

    /// An instance was launched into reservation `id`.
    pub(crate) fn reserve(&mut self, id: &str) {
        *self.used.entry(id.to_owned()).or_default() += 1;
        self.dirty = true;
    }

    /// An instance of reservation `id` terminated.
    pub(crate) fn release(&mut self, id: &str) {
        if let Some(used) = self.used.get_mut(id) {
            *used = used.saturating_sub(1);
            self.dirty = true;
        }
    }

    /// Reservation `id` takes no more launches (interruption or expiring capacity block).
    pub(crate) fn close(&mut self, id: &str) {
        self.closed.insert(id.to_owned());
        self.dirty = true;
    }

    /// `(end − 40 min, index)` of every capacity block of `scenario`: when it starts expiring.
    pub(crate) fn block_expiries(scenario: &Scenario) -> Vec<(Duration, usize)> {
        scenario
            .reservations
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == ReservationKind::CapacityBlock)
            .filter_map(|(index, r)| {
                r.end
                    .map(|end| (end.saturating_sub(BLOCK_EXPIRY_LEAD), index))
            })
            .collect()
    }
}

/// A scenario reservation as the AWS model's NodeClass status entry.
fn to_aws(reservation: &Reservation) -> CapacityReservation {
    CapacityReservation {
        id: reservation.id.clone(),
        instance_type: reservation.instance_type.clone(),
        zone: reservation.zone.clone(),
        available_count: reservation.count,
        reservation_type: match reservation.kind {
            ReservationKind::Default => ReservationType::Default,
            ReservationKind::CapacityBlock => ReservationType::CapacityBlock,
        },
        state: ReservationState::Active,
        interruptible: reservation.interruptible,
    }
}
