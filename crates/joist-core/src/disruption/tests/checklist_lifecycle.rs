//! §9.2 checklist, the loop around the methods and the NodeClaim lifecycle (items 64, 88, 102,
//! 103, 107): stale taints, the orchestration queue, `Consolidatable`, expiration, budget math.

use std::time::Duration;

use chrono::TimeDelta;

use super::consolidation::{app, machine, multi, od_types, settings, single};
use super::*;
use crate::labels::DISRUPTED_TAINT_KEY;

// === stale disrupted taints (§9.2 item 64) ===

#[test]
fn item_64_stale_disrupted_taints_are_found_at_loop_start() {
    let taint = &format!("{DISRUPTED_TAINT_KEY}:NoSchedule");
    let builder = empty_nodes("a", 1)
        .node(managed("crashed", "a").taint(taint))
        .node(managed("in-flight", "a").taint(taint))
        .node(managed("deleting", "a").taint(taint).marked_for_deletion());
    let mut f = Fixture::new(builder);
    f.node_state("in-flight").queued = true;
    // `crashed` lost its command (driver restart or a failed command): untaint it. A queued
    // node keeps its taint, and so does a node already being deleted.
    assert_eq!(stale_disrupted_taints(&f.input()), vec!["crashed"]);
    // A failing command leaves the queue: its candidate is untainted on the next pass.
    f.node_state("in-flight").queued = false;
    assert_eq!(
        stale_disrupted_taints(&f.input()),
        vec!["crashed", "in-flight"]
    );
}

// === orchestration queue (§9.2 item 88) ===

fn replacement(name: &str, in_api: bool, in_state: bool, initialized: bool) -> ReplacementStatus {
    ReplacementStatus {
        nodeclaim: name.into(),
        in_api,
        in_state,
        initialized,
    }
}

#[test]
fn item_88_retry_duration_is_80ms_per_command_between_10_minutes_and_an_hour() {
    assert_eq!(queue_timeout(0), Duration::from_secs(600));
    assert_eq!(queue_timeout(100), Duration::from_secs(600));
    assert_eq!(queue_timeout(10_000), Duration::from_secs(800));
    assert_eq!(queue_timeout(45_000), Duration::from_secs(3600));
    assert_eq!(queue_timeout(80_000), Duration::from_secs(3600));
    assert_eq!(queue_timeout(usize::MAX), Duration::from_secs(3600));
}

#[test]
fn item_88_candidates_wait_for_every_replacement_to_initialize() {
    let created = now();
    let later = now() + TimeDelta::minutes(2);
    let one = [replacement("r1", true, true, false)];
    assert_eq!(
        queue_step(created, later, 1, &one),
        QueueStep::Wait(vec!["r1".into()]),
        "no error before the timeout; candidates stay tainted"
    );
    let half = [
        replacement("r1", true, true, true),
        replacement("r2", true, true, false),
    ];
    assert_eq!(
        queue_step(created, later, 1, &half),
        QueueStep::Wait(vec!["r2".into()])
    );
    let all = [
        replacement("r1", true, true, true),
        replacement("r2", true, true, true),
    ];
    assert_eq!(queue_step(created, later, 1, &all), QueueStep::Terminate);
    assert_eq!(
        queue_step(created, created, 1, &[]),
        QueueStep::Terminate,
        "no waiting without replacements"
    );
}

#[test]
fn item_88_a_replacement_missing_from_the_api_but_in_state_is_tolerated() {
    let created = now();
    let later = now() + TimeDelta::seconds(30);
    let lagging = [replacement("r1", false, true, false)];
    assert_eq!(
        queue_step(created, later, 1, &lagging),
        QueueStep::Wait(vec!["r1".into()])
    );
    let gone = [replacement("r1", false, false, false)];
    assert_eq!(
        queue_step(created, later, 1, &gone),
        QueueStep::Fail(QueueFailure::ReplacementGone {
            nodeclaim: "r1".into()
        })
    );
}

#[test]
fn item_88_timeout_fails_the_command_so_its_candidates_are_untainted() {
    let created = now();
    let waiting = [replacement("r1", true, true, false)];
    let at = |minutes: i64| queue_step(created, now() + TimeDelta::minutes(minutes), 1, &waiting);
    assert!(matches!(at(10), QueueStep::Wait(_)));
    assert_eq!(
        at(11),
        QueueStep::Fail(QueueFailure::TimedOut {
            waited: Duration::from_secs(660)
        })
    );
    // With 45,000 queued commands the same command still has an hour.
    assert!(matches!(
        queue_step(created, now() + TimeDelta::minutes(11), 45_000, &waiting),
        QueueStep::Wait(_)
    ));
}

#[test]
fn item_88_two_commands_finish_in_the_order_their_replacements_initialize() {
    let created = now();
    let later = now() + TimeDelta::minutes(1);
    let first = |ready: bool| [replacement("r1", true, true, ready)];
    let second = |ready: bool| [replacement("r2", true, true, ready)];
    // Nothing initialized: both wait.
    assert!(matches!(
        queue_step(created, later, 2, &first(false)),
        QueueStep::Wait(_)
    ));
    assert!(matches!(
        queue_step(created, later, 2, &second(false)),
        QueueStep::Wait(_)
    ));
    // The first replacement initializes: only the first command finishes.
    assert_eq!(
        queue_step(created, later, 2, &first(true)),
        QueueStep::Terminate
    );
    assert!(matches!(
        queue_step(created, later, 1, &second(false)),
        QueueStep::Wait(_)
    ));
    assert_eq!(
        queue_step(created, later, 1, &second(true)),
        QueueStep::Terminate
    );
}

// === Consolidatable (§9.2 item 102) ===

#[test]
fn item_102_consolidatable_after_consolidate_after_since_initialization_or_pod_event() {
    let thirty = NillableDuration::parse("30s").unwrap();
    let ago = |seconds: i64| Some(now() - TimeDelta::seconds(seconds));
    assert!(!is_consolidatable(&thirty, ago(20), None, now()));
    assert!(is_consolidatable(&thirty, ago(30), None, now()));
    // A recent pod event restarts the window; an old one does not.
    assert!(!is_consolidatable(&thirty, ago(3600), ago(10), now()));
    assert!(is_consolidatable(&thirty, ago(3600), ago(31), now()));
    // Not initialized, or `Never`: never consolidatable.
    assert!(!is_consolidatable(&thirty, None, ago(3600), now()));
    assert!(!is_consolidatable(
        &NillableDuration::never(),
        ago(3600),
        None,
        now()
    ));
    // `0s`: right after initialization.
    let zero = NillableDuration::parse("0s").unwrap();
    assert!(is_consolidatable(&zero, Some(now()), None, now()));
}

#[test]
fn item_102_static_nodeclaims_are_never_consolidated() {
    let builder = snapshot()
        .nodepool(nodepool("s").replicas(3))
        .instance_types(od_types())
        .node(machine("s0", "s", "large", "on-demand", 8))
        .node(machine("s1", "s", "large", "on-demand", 8))
        .node(machine("s2", "s", "large", "on-demand", 8))
        .pod(app("p0", "s1", "1"))
        .pod(app("p1", "s2", "1"));
    let f = Fixture::new(builder).budgets("s", unlimited());
    // Even with the flag set (the driver computed it from consolidateAfter), the empty node,
    // the deletable node and the replaceable node all stay.
    assert!(f.nodes.values().all(|s| s.consolidatable));
    assert!(f.deleted().is_empty());
    let upstream = settings(SearchMode::Upstream);
    assert!(multi(&f, &upstream).command.is_none());
    assert!(single(&f, &upstream).command.is_none());
}

// === expiration (§9.2 item 103) ===

#[test]
fn item_103_the_nodeclaims_expire_after_governs_not_the_nodepools() {
    let facts = |name: &str, age_hours: i64, expire_after: &str| ExpirationFacts {
        name: name.into(),
        created: now() - TimeDelta::hours(age_hours),
        expire_after: NillableDuration::parse(expire_after).unwrap(),
        deleting: false,
    };
    // The NodePool now says 720h, but these NodeClaims were launched with 24h and Never.
    let claims = [
        facts("launched-short", 25, "24h"),
        facts("launched-never", 10_000, "Never"),
        facts("fresh", 1, "24h"),
    ];
    let decision = expire(&claims, now());
    assert_eq!(decision.expired, vec!["launched-short"]);
    assert_eq!(decision.next_expiry, Some(now() + TimeDelta::hours(23)));
}

// === budget math through the engine (§9.2 item 107) ===

#[test]
fn item_107_the_minimum_active_budget_for_the_reason_applies() {
    let drift_only_zero = Budget::new("0").with_reasons([DisruptionReason::Drifted]);
    let f = Fixture::new(empty_nodes("a", 10)).budgets(
        "a",
        vec![drift_only_zero, Budget::new("30%"), Budget::new("5")],
    );
    let allowed = |reason| pool_allowances(&f.input(), reason)["a"].allowed;
    assert_eq!(allowed(DisruptionReason::Drifted), 0);
    assert_eq!(allowed(DisruptionReason::Empty), 3, "min(30% of 10, 5)");
    assert_eq!(f.deleted().len(), 3);
}

#[test]
fn item_107_inactive_budgets_allow_max_int32_and_windows_are_utc() {
    // 10:00 UTC on a Monday: a midnight window of 8 h is over, one of 12 h is still open.
    let closed_window = Budget::new("0").with_window("0 0 * * *", Duration::from_secs(8 * 3600));
    let f = Fixture::new(empty_nodes("a", 4)).budgets("a", vec![closed_window]);
    let allowance = &pool_allowances(&f.input(), DisruptionReason::Empty)["a"];
    assert_eq!(allowance.allowed, i32::MAX);
    assert_eq!(f.deleted().len(), 4);
    let open_window = Budget::new("0").with_window("0 0 * * *", Duration::from_secs(12 * 3600));
    let f = Fixture::new(empty_nodes("a", 4)).budgets("a", vec![open_window]);
    assert!(f.deleted().is_empty());
    // A duration longer than the recurrence keeps the budget active all the time.
    let overlapping = Budget::new("0").with_window("@hourly", Duration::from_secs(2 * 3600));
    let f = Fixture::new(empty_nodes("a", 4)).budgets("a", vec![overlapping]);
    assert_eq!(
        pool_allowances(&f.input(), DisruptionReason::Empty)["a"].allowed,
        0
    );
}

#[test]
fn item_107_an_invalid_budget_for_another_reason_zeroes_every_reason() {
    let broken = Budget::new("ten").with_reasons([DisruptionReason::Drifted]);
    let f = Fixture::new(empty_nodes("a", 4)).budgets("a", vec![broken, Budget::new("100%")]);
    let allowance = &pool_allowances(&f.input(), DisruptionReason::Empty)["a"];
    assert_eq!(allowance.allowed, 0);
    assert_eq!(allowance.errors.len(), 1);
    assert!(f.deleted().is_empty());
}
