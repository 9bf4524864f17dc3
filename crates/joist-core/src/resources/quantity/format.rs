//! The canonical text of a quantity, as apimachinery's `CanonicalizeBytes` produces it: no
//! fractional digits, no lost precision, and the largest suffix (or exponent) that allows both.

use std::fmt::{self, Display, Formatter, Write};

use super::{NANOS_PER_UNIT, Quantity, QuantityFormat};

/// Binary suffixes by power of 1024.
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

impl Display for Quantity {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        match self.format {
            QuantityFormat::BinarySi if prints_as_binary(self.nanos) => {
                write_binary(f, self.nanos / NANOS_PER_UNIT)
            }
            QuantityFormat::DecimalExponent => write_decimal(f, self.nanos, true),
            // Binary values below 1024 or with a fractional part print in decimal SI, as upstream,
            // so that nothing is rounded.
            QuantityFormat::BinarySi | QuantityFormat::DecimalSi => {
                write_decimal(f, self.nanos, false)
            }
        }
    }
}

/// Whether a binary-format value prints with a binary suffix: it must be a whole number of
/// units whose magnitude is at least 1024.
fn prints_as_binary(nanos: i128) -> bool {
    nanos % NANOS_PER_UNIT == 0 && nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT as u128
}

/// Writes `units` as a mantissa times the largest power of 1024 that divides it (up to `Ei`).
fn write_binary(f: &mut Formatter<'_>, mut units: i128) -> fmt::Result {
    let mut power = 0;
    while power + 1 < BINARY_SUFFIXES.len() && units % 1024 == 0 {
        units /= 1024;
        power += 1;
    }
    write!(f, "{units}{}", BINARY_SUFFIXES[power])
}

/// Writes `nanos` as an integer mantissa times 10^exponent, where the exponent is a multiple of
/// three and as large as possible without a fractional mantissa.
fn write_decimal(f: &mut Formatter<'_>, nanos: i128, exponent_notation: bool) -> fmt::Result {
    let mut mantissa = nanos;
    let mut exponent: i32 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    // Round the exponent down to a multiple of three; the mantissa cannot overflow because it
    // only takes back factors of ten removed just above.
    let excess = exponent.rem_euclid(3);
    mantissa *= 10_i128.pow(excess as u32);
    exponent -= excess;
    write!(f, "{mantissa}")?;
    if exponent_notation {
        return write_exponent(f, exponent);
    }
    match exponent {
        -9 => f.write_char('n'),
        -6 => f.write_char('u'),
        -3 => f.write_char('m'),
        0 => Ok(()),
        3 => f.write_char('k'),
        6 => f.write_char('M'),
        9 => f.write_char('G'),
        12 => f.write_char('T'),
        15 => f.write_char('P'),
        18 => f.write_char('E'),
        // There is no SI suffix beyond E (10¹⁸); upstream falls back to exponent notation.
        _ => write_exponent(f, exponent),
    }
}

fn write_exponent(f: &mut Formatter<'_>, exponent: i32) -> fmt::Result {
    if exponent == 0 {
        Ok(())
    } else {
        write!(f, "e{exponent}")
    }
}
