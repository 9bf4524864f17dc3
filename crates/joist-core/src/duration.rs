//! Go-compatible durations and the duration/budget string patterns of the NodePool API.
//!
//! Karpenter's users write durations the way Go's `time.ParseDuration` reads them (`"720h"`,
//! `"1.5h"`, `"300ms"`, `"1h30m"`) and see them printed the way Go's `Duration.String()` prints
//! them (`"720h0m0s"`). joist must read and print exactly the same strings, so this module
//! implements both directions by hand, plus [`NillableDuration`] (upstream's type for
//! `expireAfter` and `consolidateAfter`: a duration or `"Never"`) and the CRD `pattern` checks
//! (spec core §1.1) that the API validation mirrors. The pattern checks are hand-written matchers
//! equivalent to the Go (RE2) regular expressions the API server evaluates; no regex engine is
//! involved.
//!
//! Negative durations: Go accepts `"-5m"`, but every place joist reads a duration (NodePool,
//! NodeClaim fields, budget windows, pod annotations) needs a non-negative span, and the CRD
//! patterns never admit a sign. [`parse_go_duration`] therefore rejects a negative value with
//! [`DurationError::Negative`] (a distinct variant, so callers that must treat "valid but not
//! positive" differently from "malformed" can). A negative zero (`"-0"`, `"-0s"`) is zero and
//! accepted, exactly as Go yields `0` for it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The literal that [`NillableDuration`] uses for "no duration" (upstream `v1.Never`).
pub const NEVER: &str = "Never";

/// Go's largest duration: `time.Duration` is an `int64` count of nanoseconds.
const GO_MAX_NANOS: u64 = i64::MAX as u64;

/// Why a duration string was rejected. Messages follow Go's `time.ParseDuration` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text is not a Go duration (bad character, no digits, empty, or it overflows
    /// Go's `int64` nanoseconds).
    #[error("time: invalid duration {input:?}")]
    Invalid {
        /// The whole text that was parsed.
        input: String,
    },
    /// A number was not followed by a unit (`"10"`, `"1h30"`).
    #[error("time: missing unit in duration {input:?}")]
    MissingUnit {
        /// The whole text that was parsed.
        input: String,
    },
    /// A number was followed by something other than `ns us µs μs ms s m h`.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unrecognised unit.
        unit: String,
        /// The whole text that was parsed.
        input: String,
    },
    /// A well-formed Go duration below zero, where joist needs a non-negative one.
    #[error("duration {input:?} must not be negative")]
    Negative {
        /// The whole text that was parsed.
        input: String,
    },
}

// === parsing ===

/// Parses a non-negative duration with Go's `time.ParseDuration` grammar:
/// `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`,
/// `m`, `h`; the bare string `"0"` is zero. Fractions are converted with Go's float arithmetic,
/// so `"1.5h"` and `"0.1ns"` give the same nanoseconds as in Go; values above Go's maximum
/// (`2562047h47m16.854775807s`) are rejected as Go rejects them.
///
/// # Errors
/// [`DurationError`] naming the text; [`DurationError::Negative`] for a negative value.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid {
        input: input.to_owned(),
    };
    let (negative, body) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, remainder) = parse_component(rest, input)?;
        rest = remainder;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    if negative {
        return if total == 0 {
            Ok(Duration::ZERO)
        } else {
            Err(DurationError::Negative {
                input: input.to_owned(),
            })
        };
    }
    if total > GO_MAX_NANOS {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total))
}

/// Parses one `number unit` component at the start of `s`; returns its nanoseconds and the rest.
fn parse_component<'a>(s: &'a str, input: &str) -> Result<(u64, &'a str), DurationError> {
    let invalid = || DurationError::Invalid {
        input: input.to_owned(),
    };
    let first = s.as_bytes()[0];
    if !(first == b'.' || first.is_ascii_digit()) {
        return Err(invalid());
    }
    let (whole, after_int) = leading_int(s).ok_or_else(invalid)?;
    let had_int = after_int.len() != s.len();
    let (mut fraction, mut scale, mut rest) = (0u64, 1f64, after_int);
    let mut had_fraction = false;
    if let Some(after_dot) = rest.strip_prefix('.') {
        (fraction, scale, rest) = leading_fraction(after_dot);
        had_fraction = rest.len() != after_dot.len();
    }
    if !had_int && !had_fraction {
        return Err(invalid());
    }
    // The unit runs to the next digit or '.', both ASCII, so the split is on a char boundary.
    let unit_len = rest
        .bytes()
        .position(|c| c == b'.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    if unit_len == 0 {
        return Err(DurationError::MissingUnit {
            input: input.to_owned(),
        });
    }
    let (unit, rest) = rest.split_at(unit_len);
    let unit_nanos = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
        unit: unit.to_owned(),
        input: input.to_owned(),
    })?;
    if whole > (1 << 63) / unit_nanos {
        return Err(invalid());
    }
    let mut nanos = whole * unit_nanos;
    if fraction > 0 {
        // Go converts the fraction through float64 ("to be nanosecond accurate for fractions of
        // hours") and truncates; the `as` cast mirrors that truncation.
        let fraction_nanos = (fraction as f64 * (unit_nanos as f64 / scale)) as u64;
        nanos = nanos
            .checked_add(fraction_nanos)
            .filter(|n| *n <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    Ok((nanos, rest))
}

/// Nanoseconds per Go duration unit.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

/// Consumes leading ASCII digits as an integer; `None` when it exceeds 2^63 (Go's overflow rule).
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    for c in s[..digits].bytes() {
        if value > (1 << 63) / 10 {
            return None;
        }
        value = value * 10 + u64::from(c - b'0');
        if value > 1 << 63 {
            return None;
        }
    }
    Some((value, &s[digits..]))
}

/// Consumes leading ASCII digits as a fraction `value / scale`; like Go it stops gaining
/// precision (but keeps consuming digits) once the value would overflow.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut value, mut scale, mut overflow) = (0u64, 1f64, false);
    for c in s[..digits].bytes() {
        if overflow {
            continue;
        }
        if value > (i64::MAX as u64) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(c - b'0');
        if next > 1 << 63 {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &s[digits..])
}

// === formatting ===

/// Formats a duration like Go's `Duration.String()`: `"0s"`, `"300ms"`, `"1.5µs"`, `"1.5s"`,
/// `"5m0s"`, `"720h0m0s"` — hours are the largest unit and trailing fractional zeros are dropped.
/// Durations beyond Go's range (which Go cannot hold) are printed with the same rules.
pub fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, precision) = match nanos {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("\u{00b5}s", 3),
            _ => ("ms", 6),
        };
        let (whole, fraction) = split_fraction(nanos, precision);
        return format!("{whole}{fraction}{unit}");
    }
    let (whole_seconds, fraction) = split_fraction(nanos, 9);
    let seconds = whole_seconds % 60;
    let minutes = whole_seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{seconds}{fraction}s"),
        (0, m) => format!("{m}m{seconds}{fraction}s"),
        (h, m) => format!("{h}h{m}m{seconds}{fraction}s"),
    }
}

/// Splits `value` into `value / 10^precision` and its fraction as `".ddd"` without trailing
/// zeros (empty when the fraction is zero), as Go's `fmtFrac` does.
fn split_fraction(value: u128, precision: u32) -> (u128, String) {
    let divisor = 10u128.pow(precision);
    let fraction = value % divisor;
    if fraction == 0 {
        return (value / divisor, String::new());
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    (
        value / divisor,
        format!(".{}", digits.trim_end_matches('0')),
    )
}

// === NillableDuration ===

/// A duration that may be `"Never"`: upstream `NillableDuration`, used by NodePool
/// `template.spec.expireAfter` and `disruption.consolidateAfter`. `Never` means "no duration"
/// (the NodeClaim never expires / the pool never consolidates).
///
/// It keeps the text it was parsed from because upstream re-marshals that raw text verbatim
/// (so GitOps tools such as Flux and Argo CD see no drift): `"1h"` stays `"1h"` instead of
/// becoming `"1h0m0s"`. Serde form: a string; `"Never"` ⇔ never.
///
/// Equality and hashing compare the duration only (upstream's hash ignores the raw text), so
/// `"60m"` equals `"1h"`.
#[derive(Debug, Clone)]
pub struct NillableDuration {
    /// The span, or `None` for `Never`.
    duration: Option<Duration>,
    /// The text the span was parsed from, re-emitted verbatim when present.
    raw: Option<String>,
}

impl NillableDuration {
    /// `Never`: no duration.
    pub const fn never() -> Self {
        Self {
            duration: None,
            raw: None,
        }
    }

    /// A duration built in code; it serialises in Go's `Duration.String()` form.
    pub const fn from_duration(duration: Duration) -> Self {
        Self {
            duration: Some(duration),
            raw: None,
        }
    }

    /// Parses `"Never"` or a non-negative Go duration, keeping the text for round-tripping.
    ///
    /// # Errors
    /// [`DurationError`] when the text is neither `"Never"` nor a non-negative Go duration.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        if text == NEVER {
            return Ok(Self::never());
        }
        let duration = parse_go_duration(text)?;
        Ok(Self {
            duration: Some(duration),
            raw: Some(text.to_owned()),
        })
    }

    /// The span, or `None` for `Never`.
    pub const fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Whether this is `Never`.
    pub const fn is_never(&self) -> bool {
        self.duration.is_none()
    }

    /// The text the value was parsed from, if it was parsed (not for `Never` or built values).
    pub fn raw(&self) -> Option<&str> {
        self.raw.as_deref()
    }

    /// The serialised text: the raw text if any, else Go's format of the span, else `"Never"`.
    pub fn as_text(&self) -> Cow<'_, str> {
        match (&self.raw, self.duration) {
            (Some(raw), _) => Cow::Borrowed(raw),
            (None, Some(duration)) => Cow::Owned(format_go_duration(duration)),
            (None, None) => Cow::Borrowed(NEVER),
        }
    }
}

impl PartialEq for NillableDuration {
    fn eq(&self, other: &Self) -> bool {
        self.duration == other.duration
    }
}

impl Eq for NillableDuration {}

impl std::hash::Hash for NillableDuration {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.duration.hash(state);
    }
}

impl fmt::Display for NillableDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl FromStr for NillableDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for NillableDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for NillableDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NillableDurationVisitor)
    }
}

/// Reads a [`NillableDuration`] from a string (upstream rejects any other JSON type).
struct NillableDurationVisitor;

impl Visitor<'_> for NillableDurationVisitor {
    type Value = NillableDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go duration string such as \"720h\", or \"Never\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        NillableDuration::parse(text).map_err(E::custom)
    }
}

// === CRD pattern matchers ===
// Each mirrors one OpenAPI `pattern` of the NodePool CRD (spec core §1.1). The API server
// evaluates them with Go's RE2, where `$` is end of text, `.` is any character but `\n` and `\s`
// is `[\t\n\f\r ]`.

/// `^(([0-9]+(s|m|h))+|Never)$` — `expireAfter` and `consolidateAfter`.
pub fn matches_expire_after_pattern(text: &str) -> bool {
    text == NEVER || matches_tgp_pattern(text)
}

/// `^([0-9]+(s|m|h))+$` — `terminationGracePeriod`: one or more `digits unit` groups.
pub fn matches_tgp_pattern(text: &str) -> bool {
    let mut rest = text.as_bytes();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || !matches!(rest.get(digits), Some(b's' | b'm' | b'h')) {
            return false;
        }
        rest = &rest[digits + 1..];
    }
    true
}

/// `^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$` — budget `duration`: hours or minutes or hours
/// then minutes, optionally followed by the `0s` that Go's `Duration.String()` appends.
pub fn matches_budget_duration_pattern(text: &str) -> bool {
    // The core always ends in 'h' or 'm', so a trailing "0s" can only be the optional suffix.
    let core = text.strip_suffix("0s").unwrap_or(text).as_bytes();
    let Some((_, after)) = split_digits(core) else {
        return false;
    };
    match after {
        [b'm'] | [b'h'] => true,
        [b'h', minutes @ ..] => matches!(split_digits(minutes), Some((_, [b'm']))),
        _ => false,
    }
}

/// Splits off a non-empty run of leading ASCII digits; `None` when there is none.
fn split_digits(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let digits = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
    (digits > 0).then(|| bytes.split_at(digits))
}

/// `^((100|[0-9]{1,2})%|[0-9]+)$` — budget `nodes`: an integer, or a percentage of at most
/// three characters before `%` where three means exactly `100`.
pub fn matches_budget_nodes_pattern(text: &str) -> bool {
    let bytes = text.as_bytes();
    let all_digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    match bytes.split_last() {
        Some((b'%', percent)) => percent == b"100" || (percent.len() <= 2 && all_digits(percent)),
        _ => all_digits(bytes),
    }
}

/// `^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$`
/// — budget `schedule`. Replicates the regex's precedence quirk: the first alternative is only
/// anchored at the start (so `"@dailyX"` passes) and the second only at the end (it needs some
/// suffix made of five non-empty segments separated by single whitespace characters). Whether the
/// schedule really parses is decided later by the cron parser.
pub fn matches_budget_schedule_pattern(text: &str) -> bool {
    const DESCRIPTORS: [&str; 7] = [
        "annually", "yearly", "monthly", "weekly", "daily", "midnight", "hourly",
    ];
    if let Some(after_at) = text.strip_prefix('@')
        && DESCRIPTORS.iter().any(|d| after_at.starts_with(d))
    {
        return true;
    }
    matches_five_segment_suffix(text)
}

/// Simulates the automaton of `(.+)\s(.+)\s(.+)\s(.+)\s(.+)$` started at every position.
/// `in_segment[k]`: inside segment k+1 having consumed at least one character;
/// `after_separator[k]`: just consumed the separator that follows segment k+1.
fn matches_five_segment_suffix(text: &str) -> bool {
    let mut in_segment = [false; 5];
    let mut after_separator = [false; 4];
    for c in text.chars() {
        let any = c != '\n';
        let space = matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ');
        let mut next_segment = [false; 5];
        let mut next_separator = [false; 4];
        next_segment[0] = any; // a match may start at any character
        for k in 1..5 {
            next_segment[k] = any && (in_segment[k] || after_separator[k - 1]);
        }
        for k in 0..4 {
            next_separator[k] = space && in_segment[k];
        }
        in_segment = next_segment;
        after_separator = next_separator;
    }
    in_segment[4]
}

#[cfg(test)]
mod tests;
