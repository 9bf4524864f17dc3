//! Cron schedules of NodePool disruption budgets, with robfig/cron v3 semantics.
//!
//! Karpenter evaluates a budget's `schedule` with `cron.ParseStandard("TZ=UTC " + schedule)` and
//! `Schedule.Next` from github.com/robfig/cron/v3 (spec core §1.1, §1.6). [`Schedule::parse`] and
//! [`Schedule::next_after`] reproduce that pair, so the same strings are accepted and rejected
//! and the same times come out:
//!
//! * Five whitespace-separated fields — minute (0–59), hour (0–23), day of month (1–31), month
//!   (1–12 or `JAN`–`DEC`), day of week (0–6 or `SUN`–`SAT`; `7` is *not* Sunday) — each a comma
//!   list of `*`, `?`, `N`, `N-M`, with an optional `/step`; names are case-insensitive. `?` means
//!   `*` in every field, `N/step` means `N-max/step`, and empty list items (`1,,2`) are skipped.
//! * The descriptors `@annually @yearly @monthly @weekly @daily @midnight @hourly`, matched
//!   exactly (case-sensitive) after trimming surrounding whitespace.
//! * Always UTC. Because upstream prefixes `TZ=UTC `, a user's own `TZ=`/`CRON_TZ=` prefix is not
//!   understood as a zone: it becomes an extra (invalid) field, as upstream.
//! * `@every` is rejected: robfig accepts it, but the CRD pattern on `schedule` admits no string
//!   that `@every` could parse, so no valid NodePool can carry one.
//! * Day rule: when both day of month and day of week are restricted (neither list contains a
//!   `*`/`?` item without a step > 1), a day matches if **either** matches; otherwise both must.
//! * `next_after` searches up to the end of the fifth year after the start, like robfig, and
//!   returns `None` where robfig returns Go's zero time.
//!
//! Quirks kept on purpose (they are what upstream accepts): `*-5` and `*-1-2` read as `*`,
//! numbers may carry a `+` sign (`+5`), and a field made only of commas matches nothing.

use std::fmt;

/// Marks a field whose list contained an unstepped `*` or `?` (robfig's `starBit`); it decides
/// whether the day-of-month/day-of-week pair is combined with AND or OR.
const STAR: u64 = 1 << 63;

/// One of the five fields of a standard cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CronField {
    /// Minute of the hour, 0–59.
    Minute,
    /// Hour of the day, 0–23.
    Hour,
    /// Day of the month, 1–31.
    DayOfMonth,
    /// Month of the year, 1–12 or `JAN`–`DEC`.
    Month,
    /// Day of the week, 0–6 (Sunday = 0) or `SUN`–`SAT`.
    DayOfWeek,
}

impl CronField {
    /// Fields in the order they appear in an expression.
    const ORDER: [Self; 5] = [
        Self::Minute,
        Self::Hour,
        Self::DayOfMonth,
        Self::Month,
        Self::DayOfWeek,
    ];

    /// Lowest and highest value of the field.
    const fn bounds(self) -> (u64, u64) {
        match self {
            Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 6),
        }
    }

    /// Names the field accepts instead of numbers (lower case), with their values.
    const fn names(self) -> &'static [(&'static str, u64)] {
        const MONTHS: [(&str, u64); 12] = [
            ("jan", 1),
            ("feb", 2),
            ("mar", 3),
            ("apr", 4),
            ("may", 5),
            ("jun", 6),
            ("jul", 7),
            ("aug", 8),
            ("sep", 9),
            ("oct", 10),
            ("nov", 11),
            ("dec", 12),
        ];
        const DAYS: [(&str, u64); 7] = [
            ("sun", 0),
            ("mon", 1),
            ("tue", 2),
            ("wed", 3),
            ("thu", 4),
            ("fri", 5),
            ("sat", 6),
        ];
        match self {
            Self::Month => &MONTHS,
            Self::DayOfWeek => &DAYS,
            Self::Minute | Self::Hour | Self::DayOfMonth => &[],
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day-of-month",
            Self::Month => "month",
            Self::DayOfWeek => "day-of-week",
        })
    }
}

/// Why a schedule was rejected. Field errors name the field and the offending list item
/// (`token`); the rest of each message is robfig's wording, so upstream's substrings match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression does not have exactly five fields.
    #[error("expected exactly 5 fields, found {found}: [{}]", .fields.join(" "))]
    FieldCount {
        /// How many fields there were.
        found: usize,
        /// The fields as split on whitespace.
        fields: Vec<String>,
    },
    /// An `@` descriptor that robfig does not know (`@wrongly`, `@Daily`).
    #[error("unrecognized descriptor: {descriptor}")]
    UnrecognizedDescriptor {
        /// The descriptor as written.
        descriptor: String,
    },
    /// `@every <duration>`: valid for robfig but never admitted on a NodePool (see module docs).
    #[error(
        "unsupported descriptor: {descriptor}: budget schedules accept only @annually, @yearly, @monthly, @weekly, @daily, @midnight, @hourly or five fields"
    )]
    UnsupportedEvery {
        /// The descriptor as written.
        descriptor: String,
    },
    /// A list item with more than one `-`.
    #[error("{field} field: too many hyphens: {token}")]
    TooManyHyphens {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
    },
    /// A list item with more than one `/`.
    #[error("{field} field: too many slashes: {token}")]
    TooManySlashes {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
    },
    /// A part of an item that is neither a number nor a name of the field.
    #[error("{field} field: failed to parse int from {text}: strconv.Atoi: parsing {text:?}: {}", if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    NotANumber {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
        /// The part that failed to parse.
        text: String,
        /// Whether it was a number too large for 64 bits rather than malformed.
        out_of_range: bool,
    },
    /// A negative number; only a step can be one (`*/-2`), since a leading `-` elsewhere
    /// separates a range.
    #[error("{field} field: negative number ({value}) not allowed: {text}")]
    Negative {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
        /// The parsed value.
        value: i64,
        /// The part that held it.
        text: String,
    },
    /// A range starting below the field's minimum (`0` as a day of month).
    #[error("{field} field: beginning of range ({start}) below minimum ({min}): {token}")]
    BelowMinimum {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
        /// The range start.
        start: u64,
        /// The field's minimum.
        min: u64,
    },
    /// A range ending above the field's maximum (`60` as a minute, `7` as a day of week).
    #[error("{field} field: end of range ({end}) above maximum ({max}): {token}")]
    AboveMaximum {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
        /// The range end.
        end: u64,
        /// The field's maximum.
        max: u64,
    },
    /// A range whose start is after its end (`tue-mon`).
    #[error("{field} field: beginning of range ({start}) beyond end of range ({end}): {token}")]
    StartAfterEnd {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
        /// The range start.
        start: u64,
        /// The range end.
        end: u64,
    },
    /// A `/0` step.
    #[error("{field} field: step of range should be a positive number: {token}")]
    ZeroStep {
        /// The field holding the item.
        field: CronField,
        /// The list item.
        token: String,
    },
}

/// A parsed UTC cron schedule: the set of matching values of each field as a bit set (bit `v`
/// set ⇔ value `v` matches), plus a star marker bit where the field was written with `*`/`?`.
/// Seconds are always 0, as with robfig's standard parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Matching minutes.
    minute: u64,
    /// Matching hours.
    hour: u64,
    /// Matching days of the month.
    day_of_month: u64,
    /// Matching months.
    month: u64,
    /// Matching days of the week (Sunday = 0).
    day_of_week: u64,
}

// === impl Schedule: parsing ===

impl Schedule {
    /// Parses a budget `schedule` as Karpenter does (`ParseStandard("TZ=UTC " + schedule)`); see
    /// the module documentation for the accepted grammar.
    ///
    /// # Errors
    /// [`CronError`] naming the field and item at fault, or the descriptor / field count.
    pub fn parse(schedule: &str) -> Result<Self, CronError> {
        let spec = schedule.trim();
        if spec.starts_with('@') {
            return Self::descriptor(spec);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(CronError::FieldCount {
                found: fields.len(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            });
        };
        let texts = [minute, hour, day_of_month, month, day_of_week];
        let mut bits = [0u64; 5];
        for ((slot, text), field) in bits.iter_mut().zip(texts).zip(CronField::ORDER) {
            *slot = parse_field(text, field)?;
        }
        let [minute, hour, day_of_month, month, day_of_week] = bits;
        Ok(Self {
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
        })
    }

    /// The predefined schedules; robfig matches the descriptor text exactly.
    fn descriptor(spec: &str) -> Result<Self, CronError> {
        let all = |field: CronField| {
            let (min, max) = field.bounds();
            range_bits(min, max, 1) | STAR
        };
        let daily = Self {
            minute: 1,
            hour: 1,
            day_of_month: all(CronField::DayOfMonth),
            month: all(CronField::Month),
            day_of_week: all(CronField::DayOfWeek),
        };
        match spec {
            "@yearly" | "@annually" => Ok(Self {
                day_of_month: 1 << 1,
                month: 1 << 1,
                ..daily
            }),
            "@monthly" => Ok(Self {
                day_of_month: 1 << 1,
                ..daily
            }),
            "@weekly" => Ok(Self {
                day_of_week: 1,
                ..daily
            }),
            "@daily" | "@midnight" => Ok(daily),
            "@hourly" => Ok(Self {
                hour: all(CronField::Hour),
                ..daily
            }),
            _ if spec.starts_with("@every ") => Err(CronError::UnsupportedEvery {
                descriptor: spec.to_owned(),
            }),
            _ => Err(CronError::UnrecognizedDescriptor {
                descriptor: spec.to_owned(),
            }),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = CronError;

    fn from_str(schedule: &str) -> Result<Self, Self::Err> {
        Self::parse(schedule)
    }
}

/// Parses one field: a comma list whose empty items are skipped (Go's `FieldsFunc`).
fn parse_field(text: &str, field: CronField) -> Result<u64, CronError> {
    let mut bits = 0;
    for item in text.split(',').filter(|item| !item.is_empty()) {
        bits |= parse_item(item, field)?;
    }
    Ok(bits)
}

/// Parses `*`, `?`, `N` or `N-M`, with an optional `/step`, in robfig's order of checks so the
/// same input yields the same error.
fn parse_item(item: &str, field: CronField) -> Result<u64, CronError> {
    let (min, max) = field.bounds();
    let mut slash_parts = item.split('/');
    let range = slash_parts.next().unwrap_or_default();
    let step_text = slash_parts.next();
    let too_many_slashes = slash_parts.next().is_some();

    let mut hyphen_parts = range.split('-');
    let low = hyphen_parts.next().unwrap_or_default();
    let high = hyphen_parts.next();
    let single_value = high.is_none();
    let (start, mut end, mut star) = if low == "*" || low == "?" {
        // robfig never looks past the star, so `*-5` is simply `*`.
        (min, max, true)
    } else {
        let start = parse_value(low, item, field)?;
        let end = match (high, hyphen_parts.next()) {
            (None, _) => start,
            (Some(high), None) => parse_value(high, item, field)?,
            (Some(_), Some(_)) => {
                return Err(CronError::TooManyHyphens {
                    field,
                    token: item.to_owned(),
                });
            }
        };
        (start, end, false)
    };
    if too_many_slashes {
        return Err(CronError::TooManySlashes {
            field,
            token: item.to_owned(),
        });
    }
    let step = match step_text {
        None => 1,
        Some(step_text) => {
            let step = parse_number(step_text, item, field)?;
            if single_value {
                end = max;
            }
            star &= step <= 1;
            step
        }
    };
    check_range(start, end, step, item, field)?;
    Ok(range_bits(start, end, step) | if star { STAR } else { 0 })
}

/// The bounds and step checks, in robfig's order.
fn check_range(
    start: u64,
    end: u64,
    step: u64,
    item: &str,
    field: CronField,
) -> Result<(), CronError> {
    let (min, max) = field.bounds();
    let token = || item.to_owned();
    if start < min {
        return Err(CronError::BelowMinimum {
            field,
            token: token(),
            start,
            min,
        });
    }
    if end > max {
        return Err(CronError::AboveMaximum {
            field,
            token: token(),
            end,
            max,
        });
    }
    if start > end {
        return Err(CronError::StartAfterEnd {
            field,
            token: token(),
            start,
            end,
        });
    }
    if step == 0 {
        return Err(CronError::ZeroStep {
            field,
            token: token(),
        });
    }
    Ok(())
}

/// A field value: one of the field's names (case-insensitive) or a number.
fn parse_value(text: &str, item: &str, field: CronField) -> Result<u64, CronError> {
    if let Some((_, value)) = field
        .names()
        .iter()
        .find(|(name, _)| go_lowercase_equals(text, name))
    {
        return Ok(*value);
    }
    parse_number(text, item, field)
}

/// A non-negative number with Go's `strconv.Atoi` syntax (optional sign, decimal digits), which
/// is also the syntax of Rust's `i64::from_str`.
fn parse_number(text: &str, item: &str, field: CronField) -> Result<u64, CronError> {
    match text.parse::<i64>() {
        Ok(value) => u64::try_from(value).map_err(|_| CronError::Negative {
            field,
            token: item.to_owned(),
            value,
            text: text.to_owned(),
        }),
        Err(error) => Err(CronError::NotANumber {
            field,
            token: item.to_owned(),
            text: text.to_owned(),
            out_of_range: matches!(
                error.kind(),
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
            ),
        }),
    }
}

/// Whether `text` lower-cased the way Go's `strings.ToLower` does (one rune to one rune) equals
/// the ASCII `name`. Go maps `İ` (U+0130) to a plain `i`, where Rust's full mapping adds a
/// combining dot; that is the only character whose mappings differ.
fn go_lowercase_equals(text: &str, name: &str) -> bool {
    let mut lowered = text.chars().map(|c| {
        if c == '\u{130}' {
            'i'
        } else {
            c.to_lowercase().next().unwrap_or(c)
        }
    });
    name.chars()
        .all(|expected| lowered.next() == Some(expected))
        && lowered.next().is_none()
}

/// Bits `start, start+step, … ≤ end`. Callers guarantee `start ≤ end ≤ 59` and `step ≥ 1`.
fn range_bits(start: u64, end: u64, step: u64) -> u64 {
    let mut bits = 0;
    let mut value = start;
    while value <= end {
        bits |= 1 << value;
        match value.checked_add(step) {
            Some(next) => value = next,
            None => break,
        }
    }
    bits
}

mod next;

#[cfg(test)]
mod tests;
