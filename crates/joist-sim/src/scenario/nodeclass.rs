//! What the simulator takes from an EC2NodeClass: the zones of its subnets, its capacity
//! reservation selector terms, and its AMI selection (what drift compares).

use std::collections::BTreeMap;

use joist_api::ec2nodeclass::EC2NodeClass;

use super::Reservation;

/// One `capacityReservationSelectorTerms` entry: an `id` or tags (and-ed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReservationTerm {
    /// `id`.
    pub id: Option<String>,
    /// `tags`.
    pub tags: BTreeMap<String, String>,
}

impl ReservationTerm {
    /// Whether the term selects `reservation` (an `id` term by ID, a tag term by every tag; `*`
    /// matches any value, as upstream's tag filters).
    pub fn selects(&self, reservation: &Reservation) -> bool {
        if let Some(id) = &self.id {
            return *id == reservation.id;
        }
        !self.tags.is_empty()
            && self.tags.iter().all(|(k, v)| {
                reservation
                    .tags
                    .get(k)
                    .is_some_and(|have| v == "*" || have == v)
            })
    }
}

/// An EC2NodeClass as the simulator uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeClassInfo {
    /// `(zone, zone ID)` of `status.subnets`, in first-seen order; empty means the region's
    /// default zones (selector terms by tag cannot be resolved without an account).
    pub zones: Vec<(String, String)>,
    /// `spec.capacityReservationSelectorTerms`.
    pub reservation_terms: Vec<ReservationTerm>,
    /// `spec.amiSelectorTerms` and `spec.amiFamily` as canonical JSON: a change drifts the
    /// NodeClass's nodes.
    pub ami_selection: String,
}

impl NodeClassInfo {
    /// Reads the parts of `class` the simulator uses.
    pub fn from_api(class: &EC2NodeClass) -> Self {
        let mut zones: Vec<(String, String)> = Vec::new();
        let subnets = class.status.as_ref().and_then(|s| s.subnets.as_deref());
        for subnet in subnets.unwrap_or_default() {
            if !zones.iter().any(|(zone, _)| *zone == subnet.zone) {
                zones.push((
                    subnet.zone.clone(),
                    subnet.zone_id.clone().unwrap_or_default(),
                ));
            }
        }
        let terms = class.spec.capacity_reservation_selector_terms.as_deref();
        let reservation_terms = terms
            .unwrap_or_default()
            .iter()
            .map(|term| ReservationTerm {
                id: term.id.clone(),
                tags: term.tags.clone().unwrap_or_default(),
            })
            .collect();
        let ami = (&class.spec.ami_selector_terms, &class.spec.ami_family);
        Self {
            zones,
            reservation_terms,
            // Plain data with string keys serialises; an empty selection compares equal anyway.
            ami_selection: serde_json::to_string(&ami).unwrap_or_default(),
        }
    }

    /// Whether the class selects `reservation`.
    pub fn selects(&self, reservation: &Reservation) -> bool {
        self.reservation_terms
            .iter()
            .any(|t| t.selects(reservation))
    }
}
