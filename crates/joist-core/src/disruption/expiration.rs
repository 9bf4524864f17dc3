//! Expiration (spec core §4.13, upstream `nodeclaim.expiration`): a NodeClaim whose
//! `spec.expireAfter` has elapsed since its creation is deleted, forcefully: no budget, no
//! PDB or `do-not-disrupt` pre-check, no replacement launched first (its pods are rescheduled by
//! ordinary provisioning once the node is tainted). Static NodePools expire like any other.

use chrono::{DateTime, TimeDelta, Utc};

use crate::duration::NillableDuration;

/// The facts of one NodeClaim that expiration reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpirationFacts {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.creationTimestamp`.
    pub created: DateTime<Utc>,
    /// `spec.expireAfter` of the NodeClaim (copied from the template at launch, so later
    /// NodePool edits do not move it); `Never` never expires.
    pub expire_after: NillableDuration,
    /// Whether the NodeClaim already has a deletion timestamp (it is not deleted twice).
    pub deleting: bool,
}

/// When a NodeClaim expires: `created + expireAfter`; `None` for `Never` (or a span too large
/// for the calendar, which never comes).
pub fn expires_at(
    created: DateTime<Utc>,
    expire_after: &NillableDuration,
) -> Option<DateTime<Utc>> {
    let span = TimeDelta::from_std(expire_after.duration()?).ok()?;
    created.checked_add_signed(span)
}

/// What expiration decides at one instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpirationDecision {
    /// NodeClaims to delete now (reason `expired`), in input order.
    pub expired: Vec<String>,
    /// The earliest expiry still ahead, for the driver's requeue; `None` when nothing will
    /// expire.
    pub next_expiry: Option<DateTime<Utc>>,
}

/// Which NodeClaims expire at `now` (`now ≥ created + expireAfter`), and when the next one will.
/// Deleting NodeClaims and `Never` are skipped.
pub fn expire(nodeclaims: &[ExpirationFacts], now: DateTime<Utc>) -> ExpirationDecision {
    let mut decision = ExpirationDecision::default();
    for nodeclaim in nodeclaims.iter().filter(|nc| !nc.deleting) {
        let Some(at) = expires_at(nodeclaim.created, &nodeclaim.expire_after) else {
            continue;
        };
        if now >= at {
            decision.expired.push(nodeclaim.name.clone());
        } else {
            decision.next_expiry = Some(decision.next_expiry.map_or(at, |next| next.min(at)));
        }
    }
    decision
}
