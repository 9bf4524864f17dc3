//! Expiration (§4.13; §9.2 item 103).

use chrono::TimeDelta;

use super::*;

fn claim(name: &str, age_hours: i64, expire_after: &str) -> ExpirationFacts {
    ExpirationFacts {
        name: name.into(),
        created: now() - TimeDelta::hours(age_hours),
        expire_after: NillableDuration::parse(expire_after).unwrap(),
        deleting: false,
    }
}

#[test]
fn item_103_expired_nodeclaims_are_deleted_and_never_is_kept() {
    let claims = [
        claim("old", 721, "720h"),
        claim("exact", 720, "720h"),
        claim("young", 1, "720h"),
        claim("never", 10_000, "Never"),
    ];
    let decision = expire(&claims, now());
    assert_eq!(decision.expired, vec!["old", "exact"]);
}

#[test]
fn item_103_requeue_at_the_next_expiry() {
    let claims = [
        claim("a", 1, "2h"),
        claim("b", 1, "90m"),
        claim("c", 0, "Never"),
    ];
    let decision = expire(&claims, now());
    assert!(decision.expired.is_empty());
    assert_eq!(decision.next_expiry, Some(now() + TimeDelta::minutes(30)));
    assert_eq!(expire(&[claim("c", 0, "Never")], now()).next_expiry, None);
}

#[test]
fn item_103_not_deleted_twice() {
    let mut deleting = claim("gone", 800, "720h");
    deleting.deleting = true;
    assert!(expire(&[deleting], now()).expired.is_empty());
}

#[test]
fn expiry_is_measured_from_creation_with_the_nodeclaims_own_expire_after() {
    let created = now();
    let at = expires_at(created, &NillableDuration::parse("1h30m").unwrap());
    assert_eq!(at, Some(created + TimeDelta::minutes(90)));
    assert_eq!(expires_at(created, &NillableDuration::never()), None);
}
