//! Parsing quantity text, following apimachinery's `ParseQuantity` step by step: a permissive scan
//! into sign, integer digits, fraction digits and suffix; suffix interpretation; then exact
//! arithmetic on the decimal digits, rounding away from zero at nano precision.

use super::{Quantity, QuantityError, QuantityFormat};

/// Largest magnitude a binary-SI quantity may have after parsing: Kubernetes silently caps binary
/// quantities at 2⁶³−1 units (`8Ei` parses as 9223372036854775807).
const BINARY_CAP_NANOS: u128 = (i64::MAX as u128) * 1_000_000_000;

/// The pieces of a quantity string, as upstream's scanner splits them.
#[derive(Debug)]
struct Scanned<'a> {
    negative: bool,
    /// Whether the number part has any digit at all (`.` and `-` have none).
    has_digits: bool,
    /// Integer digits with leading zeros removed (may be empty).
    integer: &'a [u8],
    /// Digits after the decimal point (may be empty).
    fraction: &'a [u8],
    /// Everything after the number.
    suffix: &'a [u8],
}

/// How a suffix scales the number.
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// Multiply by 10^exponent.
    Decimal(i32),
    /// Multiply by 2^exponent.
    Binary(u32),
}

pub(super) fn parse(text: &str) -> Result<Quantity, QuantityError> {
    if text.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    let scanned = scan(text.as_bytes())?;
    let (scale, mut format) = interpret_suffix(scanned.suffix)?;
    // Upstream hands numbers it cannot compute in int64 to a big-decimal parser, which rejects a
    // number without digits; small scales take a fast path that reads such a number as zero.
    let needs_big_decimal = matches!(scale, Scale::Decimal(exponent) if exponent < -9)
        || matches!(scale, Scale::Binary(exponent) if exponent >= 50);
    if !scanned.has_digits && needs_big_decimal {
        return Err(QuantityError::Numeric);
    }

    let mut digits: Vec<u8> = scanned
        .integer
        .iter()
        .chain(scanned.fraction)
        .map(|d| d - b'0')
        .collect();
    let mut point = scanned.integer.len() as i64;
    match scale {
        Scale::Decimal(exponent) => point += i64::from(exponent),
        Scale::Binary(exponent) => point += multiply_by_power_of_two(&mut digits, exponent),
    }
    let binary = format == QuantityFormat::BinarySi;
    let mut magnitude = match nanos_rounded_up(&digits, point) {
        Some(magnitude) => magnitude,
        // Binary quantities are capped below, so being too large for u128 is just "very large".
        None if binary => BINARY_CAP_NANOS,
        None => return Err(QuantityError::OutOfRange),
    };
    if binary {
        magnitude = magnitude.min(BINARY_CAP_NANOS);
        // A binary quantity strictly between 0 and 1 would print rounded; Kubernetes switches it
        // to decimal SI instead.
        if magnitude > 0 && magnitude < 1_000_000_000 {
            format = QuantityFormat::DecimalSi;
        }
    }
    let magnitude = i128::try_from(magnitude).map_err(|_| QuantityError::OutOfRange)?;
    let nanos = if scanned.negative {
        -magnitude
    } else {
        magnitude
    };
    Ok(Quantity::from_nanos(nanos, format))
}

/// Splits `text` into sign, digits and suffix the way upstream's `parseQuantityString` does. It is
/// deliberately as permissive as upstream: `.`, `-`, `1.` and `.5` are all numbers.
fn scan(text: &[u8]) -> Result<Scanned<'_>, QuantityError> {
    let end = text.len();
    let mut pos = 0;
    let negative = text.first() == Some(&b'-');
    if matches!(text.first(), Some(b'-' | b'+')) {
        pos += 1;
    }
    while pos < end && text[pos] == b'0' {
        pos += 1;
    }
    let integer_start = pos;
    pos = skip_digits(text, pos);
    let integer = &text[integer_start..pos];
    let mut fraction: &[u8] = &[];
    if pos < end && text[pos] == b'.' {
        let fraction_start = pos + 1;
        pos = skip_digits(text, fraction_start);
        fraction = &text[fraction_start..pos];
    }
    let has_digits = text[..pos].iter().any(u8::is_ascii_digit);
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&text[pos]) {
        pos += 1;
    }
    if pos < end && matches!(text[pos], b'-' | b'+') {
        pos += 1;
    }
    pos = skip_digits(text, pos);
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Scanned {
        negative,
        has_digits,
        integer,
        fraction,
        suffix: &text[suffix_start..],
    })
}

fn skip_digits(text: &[u8], mut pos: usize) -> usize {
    while pos < text.len() && text[pos].is_ascii_digit() {
        pos += 1;
    }
    pos
}

/// Maps a suffix to its scale and the format it implies, like upstream's suffixer.
fn interpret_suffix(suffix: &[u8]) -> Result<(Scale, QuantityFormat), QuantityError> {
    use QuantityFormat::{BinarySi, DecimalExponent, DecimalSi};
    let decimal = |exponent| Ok((Scale::Decimal(exponent), DecimalSi));
    let binary = |exponent| Ok((Scale::Binary(exponent), BinarySi));
    match suffix {
        b"" => decimal(0),
        b"n" => decimal(-9),
        b"u" => decimal(-6),
        b"m" => decimal(-3),
        b"k" => decimal(3),
        b"M" => decimal(6),
        b"G" => decimal(9),
        b"T" => decimal(12),
        b"P" => decimal(15),
        b"E" => decimal(18),
        b"Ki" => binary(10),
        b"Mi" => binary(20),
        b"Gi" => binary(30),
        b"Ti" => binary(40),
        b"Pi" => binary(50),
        b"Ei" => binary(60),
        [b'e' | b'E', exponent @ ..] if !exponent.is_empty() => {
            let exponent = parse_go_int64(exponent).ok_or(QuantityError::Suffix)?;
            // Upstream narrows the exponent to int32 without a range check; do the same so that
            // the same text means the same value.
            Ok((Scale::Decimal(exponent as i32), DecimalExponent))
        }
        _ => Err(QuantityError::Suffix),
    }
}

/// Parses an optionally signed base-10 integer that fits in `i64`, as Go's `strconv.ParseInt`.
fn parse_go_int64(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse::<i64>().ok()
}

/// Multiplies the big-endian decimal `digits` by 2^`exponent` in place and returns how many
/// digits the integer part grew by.
fn multiply_by_power_of_two(digits: &mut Vec<u8>, mut exponent: u32) -> i64 {
    let before = digits.len();
    while exponent > 0 {
        let step = exponent.min(30);
        exponent -= step;
        let factor = 1u64 << step;
        let mut carry = 0u64;
        let mut product = Vec::with_capacity(digits.len() + 10);
        for &digit in digits.iter().rev() {
            let value = u64::from(digit) * factor + carry;
            product.push((value % 10) as u8);
            carry = value / 10;
        }
        while carry > 0 {
            product.push((carry % 10) as u8);
            carry /= 10;
        }
        product.reverse();
        *digits = product;
    }
    (digits.len() - before) as i64
}

/// The magnitude of the decimal number `digits` (big-endian, `point` digits before the decimal
/// point, which may be negative or beyond the end) in nano-units, rounded up when finer digits
/// are non-zero. `None` when it does not fit in `u128`.
fn nanos_rounded_up(digits: &[u8], point: i64) -> Option<u128> {
    let leading_zeros = digits.iter().take_while(|&&d| d == 0).count();
    let trailing_zeros = digits[leading_zeros..]
        .iter()
        .rev()
        .take_while(|&&d| d == 0)
        .count();
    let significant = &digits[leading_zeros..digits.len() - trailing_zeros];
    if significant.is_empty() {
        return Some(0);
    }
    // Number of significant digits that land at or above the nano position.
    let nano_point = point - leading_zeros as i64 + 9;
    if nano_point <= 0 {
        return Some(1);
    }
    if nano_point > 39 {
        return None;
    }
    let whole = (nano_point as usize).min(significant.len());
    let mut nanos: u128 = 0;
    for &digit in &significant[..whole] {
        nanos = nanos.checked_mul(10)?.checked_add(u128::from(digit))?;
    }
    for _ in whole..nano_point as usize {
        nanos = nanos.checked_mul(10)?;
    }
    // Trailing zeros were stripped, so any digit left over is non-zero: round away from zero.
    if whole < significant.len() {
        nanos = nanos.checked_add(1)?;
    }
    Some(nanos)
}
