//! Values the API server accepts but Karpenter v1.14.1 cannot decode into its Go types; one such
//! value makes the controller unable to read the object at all, so joist reports them.
//!
//! * `ebs.volumeSize` is a `resource.Quantity` in Go. Only the quirky bare `Ti`/`T` pass the CRD
//!   pattern without being quantities; the message is Go's `ParseQuantity` error.
//! * `kubelet.evictionSoftGracePeriod` values are `metav1.Duration`s, read with Go's
//!   `time.ParseDuration` (negative values decode fine); the message is Go's error.
//!
//! The checks are local: `joist_core::resources::Quantity::parse` and
//! `joist_core::duration::parse_go_duration` had not landed on main when this was written, and
//! the core duration parser rejects negative durations, which Go decodes.

use super::super::schema_check::go_quote;
use super::super::types::EC2NodeClassSpec;
use crate::validation::{FieldError, FieldPath};

/// Go's `resource.ErrFormatWrong` message.
const QUANTITY_FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Decode problems of `spec` at `path`.
pub(super) fn check_spec(spec: &EC2NodeClassSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mappings = spec.block_device_mappings.as_deref().unwrap_or_default();
    for (i, mapping) in mappings.iter().enumerate() {
        let Some(size) = mapping.ebs.as_ref().and_then(|ebs| ebs.volume_size.as_deref()) else {
            continue;
        };
        // Past the CRD pattern a size is digits plus a unit, or the unit alone.
        if !size.starts_with(|c: char| c.is_ascii_digit()) {
            let size_path = path.child("blockDeviceMappings").index(i).child("ebs").child("volumeSize");
            errors.push(FieldError::new(&size_path, format!("Invalid value: {}: {QUANTITY_FORMAT_WRONG}", go_quote(size))));
        }
    }
    let grace_periods = spec.kubelet.as_ref().and_then(|k| k.eviction_soft_grace_period.as_ref());
    for (signal, period) in grace_periods.into_iter().flatten() {
        if let Err(message) = parse_go_duration(period) {
            let period_path = path.child("kubelet").child("evictionSoftGracePeriod").key(signal);
            errors.push(FieldError::new(&period_path, format!("Invalid value: {}: {message}", go_quote(period))));
        }
    }
    errors
}

/// Nanoseconds per Go duration unit.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Checks `text` with Go's `time.ParseDuration` grammar (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`,
/// or `0`), returning Go's error message on failure. The value itself is not needed here.
fn parse_go_duration(text: &str) -> Result<(), String> {
    let invalid = || format!("time: invalid duration {}", go_quote(text));
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if body == "0" {
        return Ok(());
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after_int) = rest.split_at(int_len);
        let (frac, after_number) = match after_int.strip_prefix('.') {
            Some(after_dot) => after_dot.split_at(after_dot.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after_int),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = after_number.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(text)));
        }
        let Some(nanos) = unit_nanos(unit) else {
            return Err(format!("time: unknown unit {} in duration {}", go_quote(unit), go_quote(text)));
        };
        let number: f64 = format!("{}.{}", if int.is_empty() { "0" } else { int }, if frac.is_empty() { "0" } else { frac })
            .parse()
            .map_err(|_| invalid())?;
        total_nanos += number * nanos as f64;
        rest = after_unit;
    }
    // Go rejects anything beyond int64 nanoseconds (about 292 years).
    if total_nanos > 9.223_372_036_854_775e18 {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_grammar() {
        for ok in ["0", "1m", "90s", "1h30m", "1.5h", ".5s", "5.s", "-5m", "+1s", "300ms", "1µs", "24h"] {
            assert_eq!(parse_go_duration(ok), Ok(()), "{ok}");
        }
        assert_eq!(parse_go_duration("abc"), Err(r#"time: invalid duration "abc""#.to_owned()));
        assert_eq!(parse_go_duration(""), Err(r#"time: invalid duration """#.to_owned()));
        assert_eq!(parse_go_duration("10"), Err(r#"time: missing unit in duration "10""#.to_owned()));
        assert_eq!(parse_go_duration("1x"), Err(r#"time: unknown unit "x" in duration "1x""#.to_owned()));
        assert_eq!(parse_go_duration("1h30"), Err(r#"time: missing unit in duration "1h30""#.to_owned()));
        assert_eq!(parse_go_duration("3000000h"), Err(r#"time: invalid duration "3000000h""#.to_owned()));
    }
}
