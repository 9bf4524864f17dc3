use super::*;
use chrono::{FixedOffset, NaiveDateTime, TimeZone};

use DisruptionReason::{Drifted, Empty, Underutilized};

fn at(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
        .and_utc()
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Upstream's test clock: the middle of 2000 (a Thursday).
fn upstream_now() -> DateTime<Utc> {
    at("2000-06-15T12:30:30")
}

/// The budget list of upstream's nodepool_budgets_test.go.
fn upstream_budgets() -> Vec<Budget> {
    vec![
        Budget::new("10").with_window("* * * * *", hours(1)),
        Budget::new("100").with_window("* * * * *", hours(1)),
        Budget::new("100%").with_window("* * * * *", hours(1)),
        Budget::new("15")
            .with_window("* * * * *", hours(1))
            .with_reasons([Drifted, Underutilized]),
        Budget::new("5")
            .with_window("* * * * *", hours(1))
            .with_reasons([Drifted]),
        Budget::new("0")
            .with_window("@weekly", hours(1))
            .with_reasons([Underutilized, Drifted, Empty]),
    ]
}

fn by_reason(
    budgets: &[Budget],
    num_nodes: usize,
    now: DateTime<Utc>,
) -> BTreeMap<DisruptionReason, i32> {
    allowed_disruptions_by_reason(budgets, num_nodes, now).expect("valid budgets")
}

fn same_for_all(value: i32) -> BTreeMap<DisruptionReason, i32> {
    DisruptionReason::ALL
        .into_iter()
        .map(|reason| (reason, value))
        .collect()
}

// === DisruptionReason ===

#[test]
fn reasons_use_upstream_strings() {
    assert_eq!(
        serde_json::to_string(&DisruptionReason::ALL).unwrap(),
        r#"["Underutilized","Empty","Drifted"]"#
    );
    assert_eq!(
        serde_json::from_str::<DisruptionReason>("\"Drifted\"").unwrap(),
        Drifted
    );
    assert!(serde_json::from_str::<DisruptionReason>("\"drifted\"").is_err());
    assert_eq!("Empty".parse::<DisruptionReason>(), Ok(Empty));
    assert_eq!(
        "Expired".parse::<DisruptionReason>(),
        Err(BudgetError::UnknownReason {
            value: "Expired".to_owned()
        })
    );
    assert_eq!(Underutilized.to_string(), "Underutilized");
}

// === upstream GetAllowedDisruptionsByReason ===

#[test]
fn zero_for_all_reasons_when_a_zero_budget_for_all_reasons_is_active() {
    let mut budgets = upstream_budgets();
    budgets[5] = budgets[5].clone().with_window("* * * * *", hours(1));
    assert_eq!(by_reason(&budgets, 100, upstream_now()), same_for_all(0));
}

#[test]
fn max_int32_for_all_reasons_when_no_budget_is_active() {
    let budgets: Vec<Budget> = upstream_budgets()
        .into_iter()
        .map(|b| b.with_window("@yearly", hours(1)))
        .collect();
    assert_eq!(
        by_reason(&budgets, 100, upstream_now()),
        same_for_all(i32::MAX)
    );
}

#[test]
fn inactive_reason_budgets_are_ignored() {
    let mut budgets = upstream_budgets();
    budgets[3].schedule = Some("@yearly".to_owned());
    budgets[4].schedule = Some("@yearly".to_owned());
    assert_eq!(by_reason(&budgets, 100, upstream_now()), same_for_all(10));
}

#[test]
fn a_budget_without_reasons_applies_to_all() {
    let budgets = &upstream_budgets()[..1];
    assert_eq!(by_reason(budgets, 100, upstream_now()), same_for_all(10));
}

#[test]
fn minimum_budget_per_reason() {
    let mut budgets = upstream_budgets();
    budgets.push(
        Budget::new("4")
            .with_window("* * * * *", hours(1))
            .with_reasons([Empty]),
    );
    let allowed = by_reason(&budgets, 100, upstream_now());
    assert_eq!(allowed[&Empty], 4);
    assert_eq!(allowed[&Drifted], 5);
    // The reason-less "10" is lower than the Underutilized-specific "15".
    assert_eq!(allowed[&Underutilized], 10);
    assert_eq!(
        allowed_disruptions(&budgets, Drifted, 100, upstream_now()),
        Ok(5)
    );
}

#[test]
fn no_budgets_allow_everything() {
    assert_eq!(by_reason(&[], 10, upstream_now()), same_for_all(i32::MAX));
}

#[test]
fn an_explicit_empty_reason_list_limits_nothing() {
    let budgets = [Budget::new("0").with_reasons([]), Budget::new("3")];
    assert_eq!(by_reason(&budgets, 10, upstream_now()), same_for_all(3));
}

// === upstream GetAllowedDisruptions ===

#[test]
fn invalid_schedule_is_an_error() {
    let budget = Budget::new("10").with_window("@wrongly", hours(1));
    let error = budget.allowed(100, upstream_now()).unwrap_err();
    assert!(
        matches!(&error, BudgetError::InvalidSchedule { schedule, .. } if schedule == "@wrongly")
    );
    assert_eq!(
        error.to_string(),
        "invariant violated, invalid cron \"@wrongly\", unrecognized descriptor: @wrongly"
    );
}

#[test]
fn invalid_nodes_is_an_error() {
    let budget = Budget::new("1000a%").with_window("* * * * *", hours(1));
    assert_eq!(
        budget.allowed(100, upstream_now()).unwrap_err().to_string(),
        "invalid value for IntOrString: invalid value \"1000a%\": strconv.Atoi: parsing \"1000a\": invalid syntax"
    );
    assert_eq!(
        Budget::new("ten").allowed(100, upstream_now()),
        Err(BudgetError::NodesNotAPercentage {
            nodes: "ten".to_owned()
        })
    );
    assert!(Budget::new("").allowed(100, upstream_now()).is_err());
}

#[test]
fn inactive_budget_allows_max_int32() {
    let budget = Budget::new("10").with_window("@yearly", hours(1));
    assert_eq!(budget.allowed(100, upstream_now()), Ok(i32::MAX));
}

#[test]
fn active_budget_allows_its_value() {
    let budgets = upstream_budgets();
    assert_eq!(budgets[0].allowed(100, upstream_now()), Ok(10));
    assert_eq!(budgets[2].allowed(100, upstream_now()), Ok(100));
}

// === percentages (§1.6, §9.2 items 69, 77) ===

#[test]
fn percentages_round_up() {
    let now = upstream_now();
    let cases: &[(&str, usize, i32)] = &[
        ("5%", 10, 1),
        ("50%", 3, 2),
        ("30%", 10, 3),
        ("10%", 10, 1),
        ("10%", 11, 2),
        ("10%", 1, 1),
        ("1%", 1000, 10),
        ("0%", 10, 0),
        ("100%", 10, 10),
        ("100%", 0, 0),
        ("10%", 0, 0),
        ("00%", 7, 0),
    ];
    for (nodes, num_nodes, expected) in cases {
        assert_eq!(
            Budget::new(*nodes).allowed(*num_nodes, now),
            Ok(*expected),
            "{nodes} of {num_nodes}"
        );
    }
}

#[test]
fn absolute_numbers_ignore_the_pool_size() {
    let now = upstream_now();
    assert_eq!(Budget::new("3").allowed(10, now), Ok(3));
    assert_eq!(Budget::new("3").allowed(1, now), Ok(3));
    assert_eq!(Budget::new("0").allowed(10, now), Ok(0));
    assert_eq!(
        Budget::new("+3").allowed(10, now),
        Ok(3),
        "Atoi accepts a sign"
    );
}

#[test]
fn integers_truncate_to_int32_like_intstr() {
    let now = upstream_now();
    assert_eq!(Budget::new("4294967306").allowed(10, now), Ok(10));
    let negative = Budget::new("3000000000").allowed(10, now).unwrap();
    assert!(negative < 0);
    assert_eq!(remaining_disruptions(negative, 0), 0);
    // Beyond 64 bits the text is no integer and not a percentage.
    assert!(matches!(
        Budget::new("99999999999999999999").allowed(10, now),
        Err(BudgetError::NodesNotAPercentage { .. })
    ));
}

#[test]
fn default_budget_is_ten_percent_always_active() {
    let budget = Budget::default();
    assert_eq!(budget.nodes, "10%");
    assert_eq!(budget.is_active(upstream_now()), Ok(true));
    assert_eq!(budget.allowed(25, upstream_now()), Ok(3));
}

// === upstream IsActive ===

#[test]
fn schedules_are_evaluated_in_utc() {
    // Upstream: the start of June 2000 one hour ahead of UTC, i.e. 2000-05-30T23:00:00Z.
    let zone = FixedOffset::east_opt(3600).unwrap();
    let local = zone.with_ymd_and_hms(2000, 5, 31, 0, 0, 0).unwrap();
    let budget = Budget::new("10").with_window("@daily", minutes(30));
    assert_eq!(budget.is_active(local.with_timezone(&Utc)), Ok(false));
    // Half an hour later in UTC the window is open.
    assert_eq!(budget.is_active(at("2000-05-31T00:15:00")), Ok(true));
}

#[test]
fn no_schedule_and_no_duration_is_always_active() {
    assert_eq!(Budget::new("10").is_active(upstream_now()), Ok(true));
}

#[test]
fn every_minute_with_an_hour_is_active() {
    assert_eq!(upstream_budgets()[0].is_active(upstream_now()), Ok(true));
}

#[test]
fn yearly_is_inactive_in_june() {
    assert_eq!(
        Budget::new("10")
            .with_window("@yearly", hours(1))
            .is_active(upstream_now()),
        Ok(false)
    );
}

#[test]
fn active_when_the_hit_is_inside_the_duration() {
    let budget = Budget::new("10").with_window("@yearly", hours(24));
    assert_eq!(budget.is_active(at("1000-01-01T12:00:00")), Ok(true));
}

#[test]
fn active_when_the_duration_is_longer_than_the_recurrence() {
    let budget = Budget::new("10").with_window("@daily", hours(48));
    assert_eq!(budget.is_active(at("2024-01-07T00:00:00")), Ok(true));
}

#[test]
fn inactive_when_the_hit_is_after_the_duration() {
    let budget = Budget::new("10").with_window("30 6 * * SUN", hours(6));
    assert_eq!(budget.is_active(at("2024-01-07T00:00:00")), Ok(false));
}

#[test]
fn cron_errors_explain_themselves() {
    let budget = Budget::new("10").with_window("0 0 * * tue-mon", hours(6));
    let error = budget.is_active(at("2024-01-07T00:00:00")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("beginning of range (2) beyond end of range (1)"),
        "{error}"
    );
}

// === windows ===

#[test]
fn weekday_business_hours_window() {
    let budget = Budget::new("0").with_window("0 9 * * mon-fri", hours(8));
    let cases: &[(&str, bool)] = &[
        ("2024-01-08T10:00:00", true),  // Monday, inside
        ("2024-01-08T09:00:00", true),  // the hit itself opens the window
        ("2024-01-08T16:59:59", true),  // last second
        ("2024-01-08T17:00:00", false), // window is [09:00, 17:00)
        ("2024-01-08T08:59:59", false),
        ("2024-01-06T10:00:00", false), // Saturday
        ("2024-01-07T12:00:00", false), // Sunday
        ("2024-01-12T12:00:00", true),  // Friday
    ];
    for (now, active) in cases {
        assert_eq!(budget.is_active(at(now)), Ok(*active), "{now}");
    }
    // While active it blocks; otherwise it does not limit.
    assert_eq!(budget.allowed(10, at("2024-01-08T10:00:00")), Ok(0));
    assert_eq!(budget.allowed(10, at("2024-01-06T10:00:00")), Ok(i32::MAX));
}

#[test]
fn maintenance_window_combines_with_an_always_on_budget() {
    let budgets = [
        Budget::new("10%"),
        Budget::new("0")
            .with_window("0 0 * * *", hours(22))
            .with_reasons([Underutilized, Drifted]),
    ];
    let busy = by_reason(&budgets, 20, at("2024-03-04T12:00:00"));
    assert_eq!(
        busy,
        BTreeMap::from([(Underutilized, 0), (Empty, 2), (Drifted, 0)])
    );
    let quiet = by_reason(&budgets, 20, at("2024-03-04T23:00:00"));
    assert_eq!(quiet, same_for_all(2));
}

#[test]
fn upstream_presence_corner_cases() {
    let now = at("2024-01-08T10:00:00");
    // Schedule without duration: a zero-length window, never active.
    let no_duration = Budget {
        schedule: Some("* * * * *".to_owned()),
        ..Budget::new("0")
    };
    assert_eq!(no_duration.is_active(now), Ok(false));
    // Duration without schedule: parsed as an empty schedule, which is an error.
    let no_schedule = Budget {
        duration: Some(hours(1)),
        ..Budget::new("0")
    };
    assert!(matches!(
        no_schedule.is_active(now),
        Err(BudgetError::InvalidSchedule {
            source: CronError::FieldCount { found: 0, .. },
            ..
        })
    ));
    // A schedule that never fires: robfig's zero time is "not after now", so always active.
    let never_fires = Budget::new("0").with_window("0 0 30 2 *", hours(1));
    assert_eq!(never_fires.is_active(now), Ok(true));
}

#[test]
fn durations_beyond_the_calendar_are_errors() {
    let budget = Budget::new("1").with_window("@daily", Duration::MAX);
    assert!(matches!(
        budget.is_active(upstream_now()),
        Err(BudgetError::DurationOutOfRange { .. })
    ));
}

// === fail closed ===

#[test]
fn any_budget_error_zeroes_every_reason() {
    let budgets = [
        Budget::new("10"),
        Budget::new("5")
            .with_window("@wrongly", hours(1))
            .with_reasons([Drifted]),
    ];
    assert!(allowed_disruptions_by_reason(&budgets, 100, upstream_now()).is_err());
    // Even a reason the broken budget does not limit reports the error.
    assert!(allowed_disruptions(&budgets, Empty, 100, upstream_now()).is_err());
    let closed = allowed_disruptions_fail_closed(&budgets, 100, upstream_now());
    assert_eq!(closed.allowed, same_for_all(0));
    assert_eq!(closed.errors.len(), 1);
}

#[test]
fn fail_closed_collects_every_error() {
    let budgets = [
        Budget::new("1000a%"),
        Budget::new("1").with_window("61 * * * *", hours(1)),
        Budget::new("1"),
    ];
    let closed = allowed_disruptions_fail_closed(&budgets, 10, upstream_now());
    assert_eq!(closed.allowed, same_for_all(0));
    assert!(matches!(
        closed.errors[0],
        BudgetError::InvalidNodesPercentage { .. }
    ));
    assert!(matches!(
        closed.errors[1],
        BudgetError::InvalidSchedule { .. }
    ));
    assert_eq!(closed.errors.len(), 2);
}

#[test]
fn fail_closed_without_errors_is_the_plain_minimum() {
    let budgets = upstream_budgets();
    let closed = allowed_disruptions_fail_closed(&budgets, 100, upstream_now());
    assert!(closed.errors.is_empty());
    assert_eq!(closed.allowed, by_reason(&budgets, 100, upstream_now()));
}

// === per-pool allowance (§1.6, §9.2 items 65, 69, 70, 77) ===

fn pool(
    budgets: &[Budget],
    reason: DisruptionReason,
    num_nodes: usize,
    disrupting: usize,
) -> PoolAllowance {
    pool_allowance(
        budgets,
        reason,
        BudgetNodeCounts {
            num_nodes,
            disrupting,
        },
        upstream_now(),
    )
}

#[test]
fn disrupting_nodes_consume_the_budget() {
    // 3 of N with one command in flight leaves 2.
    let allowance = pool(&[Budget::new("3")], Drifted, 10, 1);
    assert_eq!((allowance.allowed, allowance.remaining), (3, 2));
    // 30% of 10 empty nodes ⇒ 3 at once.
    assert_eq!(pool(&[Budget::new("30%")], Empty, 10, 0).remaining, 3);
    // 50% per pool of 3 ⇒ 2.
    assert_eq!(pool(&[Budget::new("50%")], Empty, 3, 0).remaining, 2);
    assert_eq!(pool(&[Budget::new("100%")], Empty, 10, 0).remaining, 10);
    assert_eq!(pool(&[Budget::new("0%")], Empty, 10, 0).remaining, 0);
}

#[test]
fn remaining_is_never_negative() {
    let allowance = pool(&[Budget::new("1")], Underutilized, 10, 3);
    assert_eq!((allowance.allowed, allowance.remaining), (1, 0));
    assert_eq!(remaining_disruptions(i32::MAX, usize::MAX), 0);
    assert_eq!(remaining_disruptions(i32::MAX, 0), i32::MAX as usize);
    assert_eq!(remaining_disruptions(i32::MIN, 0), 0);
    assert_eq!(remaining_disruptions(5, 2), 3);
}

#[test]
fn blocked_event_needs_nodes_and_a_zero_allowance() {
    assert!(pool(&[Budget::new("0")], Empty, 5, 0).is_blocked());
    assert!(
        !pool(&[Budget::new("0")], Empty, 0, 0).is_blocked(),
        "an empty pool is not reported"
    );
    // Allowed 1 but one node already disrupting: remaining 0, yet not "blocked by budget".
    let consumed = pool(&[Budget::new("1")], Empty, 5, 1);
    assert_eq!(consumed.remaining, 0);
    assert!(!consumed.is_blocked());
}

#[test]
fn pool_allowance_fails_closed_and_reports_errors() {
    let allowance = pool(&[Budget::new("10"), Budget::new("x%")], Drifted, 10, 0);
    assert_eq!((allowance.allowed, allowance.remaining), (0, 0));
    assert_eq!(allowance.errors.len(), 1);
    assert!(allowance.is_blocked());
}
