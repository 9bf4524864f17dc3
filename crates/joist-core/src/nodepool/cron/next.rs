//! The search for a schedule's next activation, following robfig/cron v3's `SpecSchedule.Next`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

use super::{STAR, Schedule};

impl Schedule {
    /// The first activation strictly after `after` (at whole-minute resolution, seconds 0), or
    /// `None` if there is none up to the end of the fifth year after `after` — robfig returns
    /// Go's zero time there, and callers that compare it with "now" must treat `None` as
    /// "in the past" to agree with upstream (see `Budget::is_active`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.can_ever_fire() {
            // robfig would walk five years and give up; the answer is the same.
            return None;
        }
        // Start at the next whole second, as robfig does.
        let start = after
            .naive_utc()
            .with_nanosecond(0)?
            .checked_add_signed(chrono::TimeDelta::seconds(1))?;
        let year_limit = start.year().checked_add(5)?;
        let mut cursor = Cursor::from(start);
        // The cursor only moves forward, so the year limit ends the search.
        while cursor.date.year() <= year_limit {
            match self.advance(cursor)? {
                Advance::Matched(at) => return Some(at.to_naive()?.and_utc()),
                Advance::Carried(next) => cursor = next,
            }
        }
        None
    }

    /// One pass of robfig's checks, month down to second. Each field that does not match moves
    /// the cursor to the field's next matching value (zeroing the smaller units); when none is
    /// left in the larger unit the cursor carries into it and the pass ends, so every field is
    /// checked again — exactly where robfig's `goto WRAP` restarts.
    fn advance(&self, mut cursor: Cursor) -> Option<Advance> {
        if !has(self.month, cursor.date.month()) {
            let year = cursor.date.year();
            let Some(month) = next_value(self.month, cursor.date.month() + 1, 12) else {
                let next_year = NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?;
                return Some(Advance::Carried(Cursor::midnight(next_year)));
            };
            cursor = Cursor::midnight(NaiveDate::from_ymd_opt(year, month, 1)?);
        }
        if !self.day_matches(cursor.date) {
            // Within the month the next pass only re-checks a matching month; into a new month
            // it is robfig's wrap.
            return Some(Advance::Carried(Cursor::midnight(cursor.date.succ_opt()?)));
        }
        if !has(self.hour, cursor.hour) {
            let Some(hour) = next_value(self.hour, cursor.hour + 1, 23) else {
                return Some(Advance::Carried(Cursor::midnight(cursor.date.succ_opt()?)));
            };
            cursor = Cursor {
                hour,
                minute: 0,
                second: 0,
                ..cursor
            };
        }
        if !has(self.minute, cursor.minute) {
            let Some(minute) = next_value(self.minute, cursor.minute + 1, 59) else {
                return Some(Advance::Carried(cursor.next_hour()?));
            };
            cursor = Cursor {
                minute,
                second: 0,
                ..cursor
            };
        }
        if cursor.second != 0 {
            return Some(Advance::Carried(cursor.next_minute()?));
        }
        Some(Advance::Matched(cursor))
    }

    /// robfig's `dayMatches`: AND when either day field contains a star, OR otherwise.
    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = has(self.day_of_month, date.day());
        let dow = has(self.day_of_week, date.weekday().num_days_from_sunday());
        if (self.day_of_month | self.day_of_week) & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// False when some field can never match (only possible with a list of bare commas).
    fn can_ever_fire(&self) -> bool {
        let values = |bits: u64| bits & !STAR != 0;
        let days = if (self.day_of_month | self.day_of_week) & STAR != 0 {
            values(self.day_of_month) && values(self.day_of_week)
        } else {
            values(self.day_of_month) || values(self.day_of_week)
        };
        values(self.minute) && values(self.hour) && values(self.month) && days
    }
}

/// Whether value `v` is in the bit set.
fn has(bits: u64, value: u32) -> bool {
    value < 63 && bits & (1 << value) != 0
}

/// The smallest value in `from..=max` present in the bit set.
fn next_value(bits: u64, from: u32, max: u32) -> Option<u32> {
    (from..=max).find(|value| has(bits, *value))
}

/// The outcome of one pass of [`Schedule::advance`].
#[derive(Debug, Clone, Copy)]
enum Advance {
    /// Every field matches at this position.
    Matched(Cursor),
    /// A field carried into a larger unit; search again from here.
    Carried(Cursor),
}

/// A UTC wall-clock position, kept as parts because the search moves one part at a time.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The day.
    date: NaiveDate,
    /// Hour 0–23.
    hour: u32,
    /// Minute 0–59.
    minute: u32,
    /// Second 0–59.
    second: u32,
}

impl Cursor {
    /// The start of `date`.
    const fn midnight(date: NaiveDate) -> Self {
        Self {
            date,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    /// The start of the following hour (rolling into the next day).
    fn next_hour(self) -> Option<Self> {
        if self.hour == 23 {
            return Some(Self::midnight(self.date.succ_opt()?));
        }
        Some(Self {
            hour: self.hour + 1,
            minute: 0,
            second: 0,
            ..self
        })
    }

    /// The start of the following minute (rolling into the next hour).
    fn next_minute(self) -> Option<Self> {
        if self.minute == 59 {
            return self.next_hour();
        }
        Some(Self {
            minute: self.minute + 1,
            second: 0,
            ..self
        })
    }

    /// Back to a date-time.
    fn to_naive(self) -> Option<NaiveDateTime> {
        self.date.and_hms_opt(self.hour, self.minute, self.second)
    }
}

impl From<NaiveDateTime> for Cursor {
    fn from(at: NaiveDateTime) -> Self {
        Self {
            date: at.date(),
            hour: at.hour(),
            minute: at.minute(),
            second: at.second(),
        }
    }
}
