use super::*;

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

// === parse_go_duration ===

#[test]
fn parses_what_go_parses() {
    // Expected values are Go's time.ParseDuration results (Go's own test table).
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("0s", 0),
        ("5s", 5 * SECOND),
        ("30s", 30 * SECOND),
        ("1478s", 1478 * SECOND),
        ("+5s", 5 * SECOND),
        ("5.0s", 5 * SECOND),
        ("5.6s", 5 * SECOND + 600_000_000),
        ("5.s", 5 * SECOND),
        (".5s", SECOND / 2),
        ("1.004s", SECOND + 4_000_000),
        ("1.0040s", SECOND + 4_000_000),
        ("100.00100s", 100 * SECOND + 1_000_000),
        ("10ns", 10),
        ("11us", 11_000),
        ("12\u{00b5}s", 12_000),
        ("12\u{03bc}s", 12_000),
        ("13ms", 13_000_000),
        ("300ms", 300_000_000),
        ("15m", 15 * MINUTE),
        ("16h", 16 * HOUR),
        ("720h", 720 * HOUR),
        ("1.5h", 90 * MINUTE),
        ("3h30m", 3 * HOUR + 30 * MINUTE),
        ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500_000_000),
        (
            "1h2m3s4ms5us6ns",
            HOUR + 2 * MINUTE + 3 * SECOND + 4_000_000 + 5_000 + 6,
        ),
        (
            "39h9m14.425s",
            39 * HOUR + 9 * MINUTE + 14 * SECOND + 425_000_000,
        ),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 20 * MINUTE),
        ("9007199254740993ns", (1 << 53) + 1),
        ("9223372036854775807ns", i64::MAX as u64),
        ("9223372036854775.807us", i64::MAX as u64),
        ("9223372036s854ms775us807ns", i64::MAX as u64),
        ("0.100000000000000000000h", 6 * MINUTE),
        (
            "0.830103483285477580700h",
            49 * MINUTE + 48 * SECOND + 372_539_827,
        ),
    ];
    for (text, nanos) in cases {
        assert_eq!(parse_go_duration(text), Ok(ns(*nanos)), "{text}");
    }
}

#[test]
fn rejects_what_go_rejects() {
    for text in [
        "",
        "3",
        "-",
        "s",
        ".",
        "-.",
        ".s",
        "+.s",
        "1h30",
        "\u{85}\u{85}",
        "1d",
        "5 s",
        " 5s",
    ] {
        assert!(
            parse_go_duration(text).is_err(),
            "{text:?} should be rejected"
        );
    }
    // Overflow past Go's int64 nanoseconds.
    for text in [
        "9223372036854775808ns",
        "9223372036854775.808us",
        "9223372036854ms775us808ns",
        "2562048h",
    ] {
        assert_eq!(
            parse_go_duration(text),
            Err(DurationError::Invalid {
                input: text.to_owned()
            }),
            "{text}"
        );
    }
}

#[test]
fn error_messages_follow_go() {
    assert_eq!(
        parse_go_duration("3").unwrap_err().to_string(),
        "time: missing unit in duration \"3\""
    );
    assert_eq!(
        parse_go_duration("1d").unwrap_err().to_string(),
        "time: unknown unit \"d\" in duration \"1d\""
    );
    assert_eq!(
        parse_go_duration("x").unwrap_err().to_string(),
        "time: invalid duration \"x\""
    );
}

#[test]
fn negative_durations_are_rejected_but_negative_zero_is_zero() {
    for text in ["-5s", "-2m3.4s", "-1ns", "-9223372036854775808ns"] {
        assert_eq!(
            parse_go_duration(text),
            Err(DurationError::Negative {
                input: text.to_owned()
            }),
            "{text}"
        );
    }
    assert_eq!(parse_go_duration("-0s"), Ok(Duration::ZERO));
    // Beyond Go's negative range the text is invalid, not merely negative.
    assert!(matches!(
        parse_go_duration("-9223372036854775809ns"),
        Err(DurationError::Invalid { .. })
    ));
}

// === format_go_duration ===

#[test]
fn formats_like_go() {
    let cases: &[(u64, &str)] = &[
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1\u{00b5}s"),
        (2_200_000, "2.2ms"),
        (300_000_000, "300ms"),
        (1_500_000_000, "1.5s"),
        (3_300_000_000, "3.3s"),
        (5 * MINUTE, "5m0s"),
        (4 * MINUTE + 5 * SECOND, "4m5s"),
        (4 * MINUTE + 5_001_000_000, "4m5.001s"),
        (5 * HOUR + 6 * MINUTE + 7_001_000_000, "5h6m7.001s"),
        (8 * MINUTE + 1, "8m0.000000001s"),
        (HOUR, "1h0m0s"),
        (720 * HOUR, "720h0m0s"),
        (i64::MAX as u64, "2562047h47m16.854775807s"),
    ];
    for (nanos, text) in cases {
        assert_eq!(format_go_duration(ns(*nanos)), *text, "{nanos}");
    }
}

#[test]
fn format_then_parse_round_trips() {
    for nanos in [
        0,
        1,
        999,
        1_000,
        1_234_567,
        SECOND,
        61 * SECOND + 5,
        25 * HOUR + 1,
        i64::MAX as u64,
    ] {
        let text = format_go_duration(ns(nanos));
        assert_eq!(parse_go_duration(&text), Ok(ns(nanos)), "{text}");
    }
}

// === NillableDuration ===

#[test]
fn nillable_never_and_durations() {
    let never = NillableDuration::parse("Never").unwrap();
    assert!(never.is_never());
    assert_eq!(never.duration(), None);
    assert_eq!(never.to_string(), "Never");

    let parsed = NillableDuration::parse("1h").unwrap();
    assert_eq!(parsed.duration(), Some(ns(HOUR)));
    assert_eq!(parsed.raw(), Some("1h"));
    assert_eq!(parsed.to_string(), "1h", "raw text is kept verbatim");

    let built = NillableDuration::from_duration(ns(HOUR));
    assert_eq!(built.to_string(), "1h0m0s", "built values print like Go");
    assert_eq!(built, parsed, "equality compares the span, not the text");
    assert_ne!(built, NillableDuration::never());

    assert!(
        NillableDuration::parse("never").is_err(),
        "Never is case-sensitive"
    );
    assert!(NillableDuration::parse("-1h").is_err());
}

#[test]
fn nillable_serde_round_trips_verbatim() {
    for text in [
        "\"720h\"",
        "\"60m\"",
        "\"0s\"",
        "\"1h30m\"",
        "\"Never\"",
        "\"1.5h\"",
    ] {
        let value: NillableDuration = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
    }
    let never: NillableDuration = serde_json::from_str("\"Never\"").unwrap();
    assert!(never.is_never());
    assert_eq!(
        serde_json::to_string(&NillableDuration::from_duration(ns(30 * SECOND))).unwrap(),
        "\"30s\""
    );
}

#[test]
fn nillable_serde_rejects_non_strings_and_bad_durations() {
    assert!(serde_json::from_str::<NillableDuration>("5").is_err());
    assert!(serde_json::from_str::<NillableDuration>("null").is_err());
    let err = serde_json::from_str::<NillableDuration>("\"5x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown unit \"x\""), "{err}");
}

// === patterns ===

#[test]
fn expire_after_pattern() {
    for ok in ["Never", "720h", "0s", "1h30m", "30s", "1h1h", "10m5s"] {
        assert!(matches_expire_after_pattern(ok), "{ok}");
    }
    for bad in [
        "", "never", "NEVER", "Never ", "1.5h", "5", "h", "1d", "-1h", "1h ", "1ms", "Never1h",
    ] {
        assert!(!matches_expire_after_pattern(bad), "{bad}");
    }
}

#[test]
fn tgp_pattern() {
    for ok in ["0s", "30s", "1h", "24h0m0s", "5m", "1m1s"] {
        assert!(matches_tgp_pattern(ok), "{ok}");
    }
    for bad in [
        "", "Never", "1.5s", "s", "1", "1h2", "+1h", "1us", "1 h", "1H",
    ] {
        assert!(!matches_tgp_pattern(bad), "{bad}");
    }
}

#[test]
fn budget_duration_pattern() {
    for ok in [
        "10m", "1h", "1h30m", "1h0m0s", "5m0s", "1h0s", "0h", "0m", "100h", "8h",
    ] {
        assert!(matches_budget_duration_pattern(ok), "{ok}");
    }
    for bad in [
        "", "0s", "10s", "1h30s", "1m30m", "1h30m10s", "5h00s", "h", "m", "1d", "30m 0s", "1h1h",
        "1.5h",
    ] {
        assert!(!matches_budget_duration_pattern(bad), "{bad}");
    }
}

#[test]
fn budget_nodes_pattern() {
    for ok in ["0", "10", "1000", "0%", "5%", "00%", "99%", "100%"] {
        assert!(matches_budget_nodes_pattern(ok), "{ok}");
    }
    for bad in [
        "", "%", "101%", "000%", "200%", "1000a%", "-1", "10 %", "1.5", "5%%", "a",
    ] {
        assert!(!matches_budget_nodes_pattern(bad), "{bad}");
    }
}

#[test]
fn budget_schedule_pattern() {
    for ok in [
        "@daily",
        "@annually",
        "@hourly",
        "@dailyX", // first alternative is only anchored at the start
        "0 9 * * mon-fri",
        "* * * * *",
        "*  *  *  *  *",
        "0 0 1 1 * extra", // more than five fields still matches; the cron parser rejects it
        "a\tb\nc d e",
    ] {
        assert!(matches_budget_schedule_pattern(ok), "{ok:?}");
    }
    for bad in [
        "",
        "@every 1h",
        "@Daily",
        "* * * *",
        "daily",
        " * * * *",
        "a\n\n\n\nb",
    ] {
        assert!(!matches_budget_schedule_pattern(bad), "{bad:?}");
    }
}
