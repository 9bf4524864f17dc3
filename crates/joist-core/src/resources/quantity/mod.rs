//! [`Quantity`]: a Kubernetes resource quantity (`500m`, `1.5Gi`, `12e6`) with apimachinery's semantics.
//!
//! The value is held exactly as an `i128` count of nano-units (10⁻⁹), which is the finest precision
//! Kubernetes keeps: parsing rounds anything finer away from zero, so `0.9n` is `1n`. Alongside the
//! value we keep the [`QuantityFormat`] the input was written in, because Kubernetes prints a quantity
//! back in the family it was written in (`1024Ki` → `1Mi`, `1000M` → `1G`, `1e3` → `1e3`).
//!
//! Differences from apimachinery, all deliberate:
//! * magnitudes are limited to what fits in `i128` nano-units (about 1.7·10²⁹ units); a larger value is
//!   a [`QuantityError::OutOfRange`] where Kubernetes would still accept it (no real resource comes close);
//! * [`Display`](std::fmt::Display) always prints the canonical form. Kubernetes' `String()` echoes
//!   some inputs verbatim (`+1`, `01`, `1.500k`, `1.441`), a known upstream bug (kubernetes#138165)
//!   that upstream's own golden tests mark for fixing; joist prints what the fix prints;
//! * a decimal value beyond the largest SI suffix prints with an exponent (`1000E` → `1e21`), as
//!   upstream's master branch does; released apimachinery (v0.37) drops the exponent and prints `1`;
//! * [`Quantity::value`] and [`Quantity::milli_value`] round away from zero for negative values too,
//!   as upstream documents; upstream's actual result for negatives depends on its internal
//!   representation (sometimes towards zero, sometimes overflowing). Non-negative values agree;
//! * arithmetic never wraps: [`Quantity::checked_add`] reports overflow and the operators saturate.
//!
//! Parsing and printing were checked against apimachinery v0.37.2 on ~37,000 generated inputs: the
//! canonical text, format, errors and (non-negative) accessors agree except for the points above.

mod format;
mod parse;
mod serde_impl;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// Nano-units in one unit.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Nano-units in one milli-unit.
const NANOS_PER_MILLI: i128 = 1_000_000;

/// The notation a quantity is printed in; remembered from the input so it round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuantityFormat {
    /// Powers of ten with SI suffixes `n u m "" k M G T P E` (e.g. `12M` = 12·10⁶). The default.
    #[default]
    DecimalSi,
    /// Powers of 1024 with suffixes `Ki Mi Gi Ti Pi Ei` (e.g. `12Mi` = 12·2²⁰).
    BinarySi,
    /// Scientific notation with an `e`/`E` exponent (e.g. `12e6`).
    DecimalExponent,
}

/// Why a string is not a quantity. The messages are apimachinery's, so users see the errors they know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text does not have the shape `<signed number><suffix>` (empty, stray characters, spaces).
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    /// The suffix is not one of the known SI, binary or exponent suffixes (e.g. `1i`, `1K`, `1e`).
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The number has no digits (`.`, `-`) and a suffix that makes upstream parse it as a big
    /// decimal (`Pi`, `Ei`, exponents below -9), where it is rejected; with other suffixes such a
    /// number reads as zero, as upstream.
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The value is too large for joist's exact representation (|value| ≥ about 1.7·10²⁹); Kubernetes
    /// would accept it, but no real resource amount is anywhere near that size.
    #[error("quantity is too large: joist supports magnitudes below 1.7e29")]
    OutOfRange,
}

/// An exact Kubernetes resource quantity.
///
/// Equality, ordering and hashing compare values only: `1Gi == 1024Mi` and `1 == 1000m`, whatever
/// their formats. The format only decides how the value is printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    /// The exact value in units of 10⁻⁹.
    nanos: i128,
    /// The notation to print the value in.
    format: QuantityFormat,
}

// === impl Quantity: construction and access ===

impl Quantity {
    /// Zero, printed `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: QuantityFormat::DecimalSi,
    };

    /// A quantity of exactly `nanos`·10⁻⁹ units printed in `format`.
    pub const fn from_nanos(nanos: i128, format: QuantityFormat) -> Quantity {
        Quantity { nanos, format }
    }

    /// `value` whole units in decimal SI notation (`from_int(2000)` prints `2k`).
    pub const fn from_int(value: i64) -> Quantity {
        Quantity {
            nanos: value as i128 * NANOS_PER_UNIT,
            format: QuantityFormat::DecimalSi,
        }
    }

    /// `value` thousandths in decimal SI notation (`from_milli(1500)` prints `1500m`).
    pub const fn from_milli(value: i64) -> Quantity {
        Quantity {
            nanos: value as i128 * NANOS_PER_MILLI,
            format: QuantityFormat::DecimalSi,
        }
    }

    /// `bytes` whole units in binary SI notation (`from_bytes_binary(1536)` prints `1536`,
    /// `from_bytes_binary(2048)` prints `2Ki`).
    pub const fn from_bytes_binary(bytes: i64) -> Quantity {
        Quantity {
            nanos: bytes as i128 * NANOS_PER_UNIT,
            format: QuantityFormat::BinarySi,
        }
    }

    /// `mebibytes`·2²⁰ units in binary SI notation (`from_mebibytes(1024)` prints `1Gi`).
    pub const fn from_mebibytes(mebibytes: i64) -> Quantity {
        Quantity {
            nanos: mebibytes as i128 * (1 << 20) * NANOS_PER_UNIT,
            format: QuantityFormat::BinarySi,
        }
    }

    /// Parses Kubernetes quantity notation exactly as apimachinery's `ParseQuantity` does.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        parse::parse(text)
    }

    /// The exact value in nano-units (10⁻⁹).
    pub const fn nanos(self) -> i128 {
        self.nanos
    }

    /// The notation the quantity prints in.
    pub const fn format(self) -> QuantityFormat {
        self.format
    }

    /// The same value printed in `format`.
    #[must_use]
    pub const fn with_format(self, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: self.nanos,
            format,
        }
    }

    /// The value in thousandths, rounded away from zero like Kubernetes' `MilliValue()`.
    pub const fn milli_value(self) -> i128 {
        div_away_from_zero(self.nanos, NANOS_PER_MILLI)
    }

    /// The value in whole units, rounded away from zero like Kubernetes' `Value()` (so `100m` is 1).
    pub const fn value(self) -> i128 {
        div_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The value as a float, for ratios and scoring; not exact beyond 2⁵³ nano-units.
    pub fn as_f64(self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    /// Whether the value is zero.
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }
}

/// `value / divisor` rounded away from zero; `divisor` is positive.
const fn div_away_from_zero(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor == 0 {
        quotient
    } else if value > 0 {
        quotient + 1
    } else {
        quotient - 1
    }
}

// === impl Quantity: arithmetic ===

impl Quantity {
    /// The format of `self op other`: Kubernetes keeps the left operand's format unless it is zero,
    /// in which case the result takes the right operand's (so `0 + 1Gi` prints `1Gi`).
    const fn result_format(self, other: Quantity) -> QuantityFormat {
        if self.nanos == 0 {
            other.format
        } else {
            self.format
        }
    }

    /// `self + other`, or `None` if the sum leaves the representable range.
    pub const fn checked_add(self, other: Quantity) -> Option<Quantity> {
        match self.nanos.checked_add(other.nanos) {
            Some(nanos) => Some(Quantity {
                nanos,
                format: self.result_format(other),
            }),
            None => None,
        }
    }

    /// `self - other`, or `None` if the difference leaves the representable range.
    pub const fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        match self.nanos.checked_sub(other.nanos) {
            Some(nanos) => Some(Quantity {
                nanos,
                format: self.result_format(other),
            }),
            None => None,
        }
    }

    /// `self · factor`, or `None` on overflow. The format is kept.
    pub const fn checked_mul_int(self, factor: i64) -> Option<Quantity> {
        match self.nanos.checked_mul(factor as i128) {
            Some(nanos) => Some(Quantity {
                nanos,
                format: self.format,
            }),
            None => None,
        }
    }

    /// `self · factor`, saturating at the representable range (±1.7·10²⁹ units, far beyond any
    /// real resource, so saturation never happens in practice). The format is kept.
    #[must_use]
    pub const fn mul_int(self, factor: i64) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_mul(factor as i128),
            format: self.format,
        }
    }

    /// The larger of the two values (the left one when equal, keeping its format).
    #[must_use]
    pub fn max_value(self, other: Quantity) -> Quantity {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }
}

/// Saturating addition. Sums of real resource amounts stay many orders of magnitude below the
/// ±1.7·10²⁹-unit range, so saturation is a guard, not a behaviour; use
/// [`Quantity::checked_add`] where overflow must be reported.
impl Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.result_format(other),
        }
    }
}

/// Saturating subtraction; see the note on [`Add`].
impl Sub for Quantity {
    type Output = Quantity;

    fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.result_format(other),
        }
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        *self = *self + other;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, other: Quantity) {
        *self = *self - other;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_neg(),
            format: self.format,
        }
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Quantity> for Quantity {
    fn sum<I: Iterator<Item = &'a Quantity>>(iter: I) -> Quantity {
        iter.copied().sum()
    }
}

// === impl Quantity: comparison by value ===

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Quantity, QuantityError> {
        parse::parse(text)
    }
}
