use super::*;
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use proptest::prelude::*;

fn at(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("bad test time {text}: {e}"));
    naive.and_utc()
}

fn next(schedule: &str, after: &str) -> Option<DateTime<Utc>> {
    let parsed = Schedule::parse(schedule).unwrap_or_else(|e| panic!("{schedule:?}: {e}"));
    parsed.next_after(at(after))
}

fn assert_next(schedule: &str, after: &str, expected: &str) {
    assert_eq!(
        next(schedule, after),
        Some(at(expected)),
        "{schedule:?} after {after}"
    );
}

fn parse_error(schedule: &str) -> CronError {
    Schedule::parse(schedule).expect_err(schedule)
}

// === next_after ===

#[test]
fn every_minute_starts_at_the_next_whole_minute() {
    assert_next("* * * * *", "2000-06-15T12:30:30", "2000-06-15T12:31:00");
    assert_next("* * * * *", "2000-06-15T12:30:00", "2000-06-15T12:31:00");
    assert_next(
        "* * * * *",
        "2000-06-15T12:30:59.999",
        "2000-06-15T12:31:00",
    );
    assert_next("* * * * *", "2000-06-15T23:59:00", "2000-06-16T00:00:00");
}

#[test]
fn steps_and_ranges() {
    assert_next("*/15 * * * *", "2024-01-01T10:07:00", "2024-01-01T10:15:00");
    assert_next("*/15 * * * *", "2024-01-01T10:45:00", "2024-01-01T11:00:00");
    assert_next("*/15 * * * *", "2024-01-01T10:59:59", "2024-01-01T11:00:00");
    assert_next(
        "1-5/2 * * * *",
        "2024-01-01T10:03:00",
        "2024-01-01T10:05:00",
    );
    assert_next(
        "1-5/2 * * * *",
        "2024-01-01T10:05:00",
        "2024-01-01T11:01:00",
    );
    // `N/step` runs from N to the field maximum.
    assert_next("5/20 * * * *", "2024-01-01T10:26:00", "2024-01-01T10:45:00");
    assert_next("5/20 * * * *", "2024-01-01T10:45:00", "2024-01-01T11:05:00");
    assert_next(
        "0 9-17/4 * * *",
        "2024-01-01T13:00:00",
        "2024-01-01T17:00:00",
    );
    assert_next(
        "0 9-17/4 * * *",
        "2024-01-01T17:00:00",
        "2024-01-02T09:00:00",
    );
    assert_next(
        "30 6,18 * * *",
        "2024-01-01T07:00:00",
        "2024-01-01T18:30:00",
    );
    assert_next(
        "0,,30 * * * *",
        "2024-01-01T07:10:00",
        "2024-01-01T07:30:00",
    );
    assert_next("+5 * * * *", "2024-01-01T07:10:00", "2024-01-01T08:05:00");
}

#[test]
fn weekday_window_start() {
    // Saturday 10:00 → Monday 09:00.
    assert_next(
        "0 9 * * mon-fri",
        "2024-01-06T10:00:00",
        "2024-01-08T09:00:00",
    );
    // Monday 08:00 → the same day.
    assert_next(
        "0 9 * * mon-fri",
        "2024-01-08T08:00:00",
        "2024-01-08T09:00:00",
    );
    // Friday after the hit → next Monday.
    assert_next(
        "0 9 * * MON-FRI",
        "2024-01-05T09:00:00",
        "2024-01-08T09:00:00",
    );
    assert_next("0 12 * * Sun", "2024-01-01T00:00:00", "2024-01-07T12:00:00");
}

#[test]
fn month_and_year_rollover() {
    assert_next("0 0 1 1 *", "2023-12-31T23:59:59", "2024-01-01T00:00:00");
    assert_next("0 0 1 1 *", "2024-01-01T00:00:00", "2025-01-01T00:00:00");
    assert_next(
        "59 23 31 12 *",
        "2024-12-31T23:59:00",
        "2025-12-31T23:59:00",
    );
    assert_next("0 0 31 * *", "2024-04-15T00:00:00", "2024-05-31T00:00:00");
    assert_next("0 0 * 3 *", "2024-12-15T00:00:00", "2025-03-01T00:00:00");
    assert_next("0 0 * mar *", "2024-03-31T23:00:00", "2025-03-01T00:00:00");
    assert_next(
        "0 12 * jan,JUL *",
        "2024-02-01T00:00:00",
        "2024-07-01T12:00:00",
    );
    assert_next("0 0 * dec *", "2024-12-31T23:59:59", "2025-12-01T00:00:00");
}

#[test]
fn february_29_and_the_five_year_limit() {
    assert_next("0 0 29 2 *", "2021-03-01T00:00:00", "2024-02-29T00:00:00");
    assert_next("0 0 29 2 *", "2024-02-29T00:00:00", "2028-02-29T00:00:00");
    // 2100 is not a leap year: the next Feb 29 after 2099-03-01 is 2104, the last year searched.
    assert_next("0 0 29 2 *", "2099-03-01T00:00:00", "2104-02-29T00:00:00");
    // From 2097 the limit is 2102, so robfig gives up (its zero time).
    assert_eq!(next("0 0 29 2 *", "2097-03-01T00:00:00"), None);
    // Feb 30 never exists.
    assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00"), None);
    assert_eq!(next("0 0 31 4,6,9,11 *", "2024-01-01T00:00:00"), None);
    // A field of bare commas matches nothing.
    assert_eq!(next(", * * * *", "2024-01-01T00:00:00"), None);
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // 2024-01-13 is a Saturday; Fridays are the 5th, 12th, 19th.
    assert_next("0 0 13 * 5", "2024-01-01T00:00:00", "2024-01-05T00:00:00");
    assert_next("0 0 13 * 5", "2024-01-12T00:00:00", "2024-01-13T00:00:00");
    assert_next("0 0 13 * 5", "2024-01-13T00:00:00", "2024-01-19T00:00:00");
    // `*/2` carries no star, so it is "restricted": odd days OR Mondays.
    assert_next("0 0 */2 * 1", "2024-01-01T00:00:00", "2024-01-03T00:00:00");
    assert_next("0 0 */2 * 1", "2024-01-07T12:00:00", "2024-01-08T00:00:00");
    // `1-31` is restricted too, so with a weekday every day matches.
    assert_next("0 0 1-31 * 1", "2024-01-02T12:00:00", "2024-01-03T00:00:00");
}

#[test]
fn day_of_month_and_day_of_week_when_one_has_a_star() {
    assert_next("0 0 * * 1", "2024-01-02T00:00:00", "2024-01-08T00:00:00");
    assert_next("0 0 13 * *", "2024-01-02T00:00:00", "2024-01-13T00:00:00");
    // `?`, `*/1` and a `*` list item all carry the star: Mondays only.
    for day_of_month in ["?", "*/1", "1,*"] {
        let schedule = format!("0 0 {day_of_month} * 1");
        assert_next(&schedule, "2024-01-02T00:00:00", "2024-01-08T00:00:00");
    }
    // A star on the weekday side makes the day of month decide alone.
    assert_next("0 0 13 * ?", "2024-01-02T00:00:00", "2024-01-13T00:00:00");
}

#[test]
fn descriptors() {
    assert_next("@hourly", "2024-01-01T10:00:00", "2024-01-01T11:00:00");
    assert_next("@daily", "2024-01-01T00:00:00", "2024-01-02T00:00:00");
    assert_next("@midnight", "2024-01-01T23:59:59", "2024-01-02T00:00:00");
    assert_next("@weekly", "2024-01-03T00:00:00", "2024-01-07T00:00:00");
    assert_next("@monthly", "2024-01-31T00:00:00", "2024-02-01T00:00:00");
    assert_next("@yearly", "2024-06-01T00:00:00", "2025-01-01T00:00:00");
    assert_next("@annually", "2024-06-01T00:00:00", "2025-01-01T00:00:00");
    assert_next("  @daily  ", "2024-01-01T00:00:00", "2024-01-02T00:00:00");
    assert_next(" 0 9 * * * ", "2024-01-01T00:00:00", "2024-01-01T09:00:00");
}

#[test]
fn star_with_hyphen_is_read_as_star() {
    assert_eq!(Schedule::parse("*-5 * * * *"), Schedule::parse("* * * * *"));
    assert_eq!(Schedule::parse("0 0 * * ?"), Schedule::parse("0 0 * * *"));
}

// === parse errors ===

#[test]
fn field_count_errors() {
    assert_eq!(
        parse_error("* * * *").to_string(),
        "expected exactly 5 fields, found 4: [* * * *]"
    );
    assert_eq!(
        parse_error("").to_string(),
        "expected exactly 5 fields, found 0: []"
    );
    assert_eq!(
        parse_error("0 * * * * *"),
        CronError::FieldCount {
            found: 6,
            fields: vec![
                "0".into(),
                "*".into(),
                "*".into(),
                "*".into(),
                "*".into(),
                "*".into()
            ]
        }
    );
    // A user's own time zone prefix is not understood (upstream already prefixes TZ=UTC).
    assert!(matches!(
        parse_error("TZ=Europe/Berlin 0 * * * *"),
        CronError::FieldCount { found: 6, .. }
    ));
    assert!(matches!(
        parse_error("CRON_TZ=UTC * * * *"),
        CronError::NotANumber {
            field: CronField::Minute,
            ..
        }
    ));
}

#[test]
fn descriptor_errors() {
    assert_eq!(
        parse_error("@wrongly").to_string(),
        "unrecognized descriptor: @wrongly"
    );
    assert!(matches!(
        parse_error("@Daily"),
        CronError::UnrecognizedDescriptor { .. }
    ));
    assert!(matches!(
        parse_error("@dailyX"),
        CronError::UnrecognizedDescriptor { .. }
    ));
    assert!(matches!(
        parse_error("@every 1h"),
        CronError::UnsupportedEvery { .. }
    ));
}

#[test]
fn range_errors_name_field_and_token() {
    let error = parse_error("0 0 * * tue-mon");
    assert_eq!(
        error,
        CronError::StartAfterEnd {
            field: CronField::DayOfWeek,
            token: "tue-mon".into(),
            start: 2,
            end: 1
        }
    );
    // The substring upstream's test asserts on.
    assert!(
        error
            .to_string()
            .contains("beginning of range (2) beyond end of range (1)"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "day-of-week field: beginning of range (2) beyond end of range (1): tue-mon"
    );

    let cases: &[(&str, CronField, &str)] = &[
        (
            "60 * * * *",
            CronField::Minute,
            "end of range (60) above maximum (59): 60",
        ),
        (
            "* 24 * * *",
            CronField::Hour,
            "end of range (24) above maximum (23): 24",
        ),
        (
            "* * 0 * *",
            CronField::DayOfMonth,
            "beginning of range (0) below minimum (1): 0",
        ),
        (
            "* * 32 * *",
            CronField::DayOfMonth,
            "end of range (32) above maximum (31): 32",
        ),
        (
            "* * * 0 *",
            CronField::Month,
            "beginning of range (0) below minimum (1): 0",
        ),
        (
            "* * * 13 *",
            CronField::Month,
            "end of range (13) above maximum (12): 13",
        ),
        (
            "* * * * 7",
            CronField::DayOfWeek,
            "end of range (7) above maximum (6): 7",
        ),
        (
            "70/5 * * * *",
            CronField::Minute,
            "beginning of range (70) beyond end of range (59): 70/5",
        ),
        (
            "*/0 * * * *",
            CronField::Minute,
            "step of range should be a positive number: */0",
        ),
        (
            "1-2-3 * * * *",
            CronField::Minute,
            "too many hyphens: 1-2-3",
        ),
        (
            "*/2/3 * * * *",
            CronField::Minute,
            "too many slashes: */2/3",
        ),
        (
            "*/-2 * * * *",
            CronField::Minute,
            "negative number (-2) not allowed: -2",
        ),
        (
            "a * * * *",
            CronField::Minute,
            "failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax",
        ),
        (
            "-1 * * * *",
            CronField::Minute,
            "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax",
        ),
        (
            "mon * * * *",
            CronField::Minute,
            "failed to parse int from mon: strconv.Atoi: parsing \"mon\": invalid syntax",
        ),
        (
            "* * * jan-foo *",
            CronField::Month,
            "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax",
        ),
        (
            "* * * * monday",
            CronField::DayOfWeek,
            "failed to parse int from monday: strconv.Atoi: parsing \"monday\": invalid syntax",
        ),
        (
            "99999999999999999999 * * * *",
            CronField::Minute,
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
    ];
    for (schedule, field, message) in cases {
        let error = parse_error(schedule);
        assert_eq!(
            error.to_string(),
            format!("{field} field: {message}"),
            "{schedule}"
        );
    }
}

#[test]
fn names_lower_case_like_go() {
    assert_eq!(Schedule::parse("0 0 * * FRI"), Schedule::parse("0 0 * * 5"));
    // Go lower-cases U+0130 to a plain 'i', so "FRİ" names Friday there too.
    assert_eq!(
        Schedule::parse("0 0 * * FR\u{130}"),
        Schedule::parse("0 0 * * 5")
    );
    assert!(Schedule::parse("0 0 * * fr").is_err());
}

// === differential check against a naive search ===

/// The first matching minute after `after`, found by scanning days, then hours and minutes —
/// independent of the robfig-style walk; same five-year limit.
fn naive_next(s: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = after.naive_utc().with_nanosecond(0)? + chrono::TimeDelta::seconds(1);
    let limit = start.year() + 5;
    let star = (s.day_of_month | s.day_of_week) & STAR != 0;
    let mut date = start.date();
    while date.year() <= limit {
        let dom = s.day_of_month & (1 << date.day()) != 0;
        let dow = s.day_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        let day_ok = if star { dom && dow } else { dom || dow };
        if day_ok && s.month & (1 << date.month()) != 0 {
            for hour in 0..24 {
                for minute in 0..60 {
                    let candidate = date.and_hms_opt(hour, minute, 0)?;
                    if candidate >= start
                        && s.hour & (1 << hour) != 0
                        && s.minute & (1 << minute) != 0
                    {
                        return Some(candidate.and_utc());
                    }
                }
            }
        }
        date = date.succ_opt()?;
    }
    None
}

fn item(min: u32, max: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("?".to_owned()),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1u32..8).prop_map(|step| format!("*/{step}")),
        (min..=max, 1u32..8).prop_map(|(start, step)| format!("{start}/{step}")),
        (min..=max, min..=max, 1u32..5).prop_map(|(a, b, step)| format!(
            "{}-{}/{step}",
            a.min(b),
            a.max(b)
        )),
    ]
}

fn field(min: u32, max: u32) -> impl Strategy<Value = String> {
    prop::collection::vec(item(min, max), 1..3).prop_map(|items| items.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_naive_search(
        minute in field(0, 59),
        hour in field(0, 23),
        day_of_month in field(1, 31),
        month in field(1, 12),
        day_of_week in field(0, 6),
        seconds in 631_152_000i64..4_102_444_800, // 1990..2100
    ) {
        let text = format!("{minute} {hour} {day_of_month} {month} {day_of_week}");
        let schedule = Schedule::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let after = DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| TestCaseError::fail("time"))?;
        let expected = naive_next(&schedule, after);
        prop_assert_eq!(schedule.next_after(after), expected, "{} after {}", text, after);
    }
}
