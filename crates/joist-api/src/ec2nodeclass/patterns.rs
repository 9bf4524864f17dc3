//! The `pattern`s of the EC2NodeClass CRD and hand-written matchers with the exact meaning the
//! API server gives them (Go RE2 semantics, unanchored unless the pattern says `^…$`).
//!
//! There are only a handful of patterns, so each gets a small matcher instead of a regex engine;
//! [`matcher`] maps a pattern string of the CRD to its matcher, and a test proves every pattern
//! the CRD uses has one. Upstream's quirks are kept on purpose: `volumeSize` also accepts a bare
//! `Ti`/`T` and rejects e.g. `18Ti` (its alternatives are `[1-9]`, empty, `[1-5][0-7]`, `58`), and
//! eviction thresholds accept the empty string.

/// `spec.subnetSelectorTerms[].id` (unanchored).
pub const SUBNET_ID: &str = "subnet-[0-9a-z]+";
/// `spec.securityGroupSelectorTerms[].id` (unanchored).
pub const SECURITY_GROUP_ID: &str = "sg-[0-9a-z]+";
/// `spec.amiSelectorTerms[].id` (unanchored).
pub const AMI_ID: &str = "ami-[0-9a-z]+";
/// `spec.capacityReservationSelectorTerms[].id` and status reservation IDs.
pub const CAPACITY_RESERVATION_ID: &str = "^cr-[0-9a-z]+$";
/// Account IDs (`ownerID`).
pub const OWNER_ID: &str = "^[0-9]{12}$";
/// `spec.placementGroupSelector.id`.
pub const PLACEMENT_GROUP_ID: &str = "^pg-[0-9a-z]+$";
/// `spec.blockDeviceMappings[].ebs.volumeSize`: 1..59000Gi, 1..64000G, 1..58Ti, 1..64T.
pub const VOLUME_SIZE: &str = "^((?:[1-9][0-9]{0,3}|[1-4][0-9]{4}|[5][0-8][0-9]{3}|59000)Gi|(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|[6][0-3][0-9]{3}|64000)G|([1-9]||[1-5][0-7]|58)Ti|([1-9]||[1-5][0-9]|6[0-3]|64)T)$";
/// Kubernetes resource quantity (`kubeReserved`/`systemReserved` values).
pub const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// Eviction threshold: a percentage 0..100 (up to two decimals), empty, or a quantity.
pub const EVICTION_THRESHOLD: &str = r"^((\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)%||(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?)$";
/// `status.conditions[].reason` (metav1.Condition).
pub const CONDITION_REASON: &str = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
/// `status.conditions[].type` (metav1.Condition).
pub const CONDITION_TYPE: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

/// The matcher for one of this module's patterns; `None` for any other pattern string.
pub fn matcher(pattern: &str) -> Option<fn(&str) -> bool> {
    let found: fn(&str) -> bool = match pattern {
        SUBNET_ID => |v| contains_prefixed_id(v, "subnet-"),
        SECURITY_GROUP_ID => |v| contains_prefixed_id(v, "sg-"),
        AMI_ID => |v| contains_prefixed_id(v, "ami-"),
        CAPACITY_RESERVATION_ID => |v| is_prefixed_id(v, "cr-"),
        OWNER_ID => |v| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()),
        PLACEMENT_GROUP_ID => |v| is_prefixed_id(v, "pg-"),
        VOLUME_SIZE => is_volume_size,
        QUANTITY => is_quantity,
        EVICTION_THRESHOLD => is_eviction_threshold,
        CONDITION_REASON => is_condition_reason,
        CONDITION_TYPE => is_condition_type,
        _ => return None,
    };
    Some(found)
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_lowercase()
}

/// `prefix[0-9a-z]+` anywhere in `value` (an unanchored pattern).
fn contains_prefixed_id(value: &str, prefix: &str) -> bool {
    value.match_indices(prefix).any(|(at, _)| {
        value
            .as_bytes()
            .get(at + prefix.len())
            .is_some_and(|b| is_id_char(*b))
    })
}

/// `^prefix[0-9a-z]+$`.
fn is_prefixed_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(is_id_char))
}

/// A decimal number without leading zero.
fn plain_number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_volume_size(value: &str) -> bool {
    // Order matters: `Gi`/`Ti` end in `i`, so test them before `G`/`T`.
    if let Some(n) = value.strip_suffix("Gi") {
        return plain_number(n).is_some_and(|n| (1..=59_000).contains(&n));
    }
    if let Some(n) = value.strip_suffix("G") {
        return plain_number(n).is_some_and(|n| (1..=64_000).contains(&n));
    }
    if let Some(n) = value.strip_suffix("Ti") {
        // `[1-9]` | `` | `[1-5][0-7]` | `58`
        return n.is_empty()
            || plain_number(n)
                .is_some_and(|n| n <= 9 || (10..=58).contains(&n) && (n % 10 <= 7 || n == 58));
    }
    if let Some(n) = value.strip_suffix("T") {
        // `[1-9]` | `` | `[1-5][0-9]` | `6[0-3]` | `64`
        return n.is_empty() || plain_number(n).is_some_and(|n| (1..=64).contains(&n));
    }
    false
}

/// `[0-9]+(\.[0-9]*)?|\.[0-9]+` consumed from the start; returns the rest.
fn unsigned_decimal(s: &str) -> Option<&str> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &s[int_len..];
    match rest.strip_prefix('.') {
        Some(frac) => {
            let frac_len = frac.bytes().take_while(u8::is_ascii_digit).count();
            (int_len > 0 || frac_len > 0).then_some(&frac[frac_len..])
        }
        None => (int_len > 0).then_some(rest),
    }
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// The body of [`QUANTITY`] without anchors.
fn is_quantity(value: &str) -> bool {
    let Some(suffix) = unsigned_decimal(strip_sign(value)) else {
        return false;
    };
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        _ => suffix
            .strip_prefix(['e', 'E'])
            .and_then(|exponent| unsigned_decimal(strip_sign(exponent)))
            .is_some_and(str::is_empty),
    }
}

/// `\d{1,2}(\.\d{1,2})?%`, `100(\.0{1,2})?%`, the empty string, or a quantity.
fn is_eviction_threshold(value: &str) -> bool {
    if value.is_empty() || is_quantity(value) {
        return true;
    }
    let Some(number) = value.strip_suffix('%') else {
        return false;
    };
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (number, None),
    };
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if int == "100" {
        return frac.is_none_or(|f| (1..=2).contains(&f.len()) && f.bytes().all(|b| b == b'0'));
    }
    digits(int, 2) && frac.is_none_or(|f| digits(f, 2))
}

fn is_condition_reason(value: &str) -> bool {
    let bytes = value.as_bytes();
    let Some((first, rest)) = bytes.split_first() else {
        return false;
    };
    let middle = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b':');
    first.is_ascii_alphabetic()
        && rest.iter().all(middle)
        && rest
            .last()
            .is_none_or(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// A DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`).
fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

fn is_condition_type(value: &str) -> bool {
    let (prefix, name) = match value.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, value),
    };
    let name_bytes = name.as_bytes();
    let name_ok = name_bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && name_bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && name_bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    name_ok && prefix.is_none_or(|p| p.split('.').all(is_dns_label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, accepted: &[&str], rejected: &[&str]) {
        let Some(matches) = matcher(pattern) else {
            panic!("no matcher for {pattern}");
        };
        for value in accepted {
            assert!(matches(value), "{pattern} should accept {value:?}");
        }
        for value in rejected {
            assert!(!matches(value), "{pattern} should reject {value:?}");
        }
    }

    #[test]
    fn unanchored_ids_match_anywhere() {
        check(
            SUBNET_ID,
            &["subnet-0a1b", "my-subnet-1", "subnet-1X"],
            &["subnet-", "subnet-X1", "sub-1", ""],
        );
        check(
            SECURITY_GROUP_ID,
            &["sg-12345749", "xsg-1"],
            &["sg-", "SG-1"],
        );
        check(
            AMI_ID,
            &["ami-0123456789abcdef", "ami-1234749"],
            &["ami-", "AMI-1"],
        );
    }

    #[test]
    fn anchored_ids_match_whole_values() {
        check(
            CAPACITY_RESERVATION_ID,
            &["cr-12345749"],
            &["r-12345749", "cr-", "cr-1X", "xcr-1"],
        );
        check(
            PLACEMENT_GROUP_ID,
            &["pg-02465754522cda020"],
            &["pg-", "pg-A", "my-pg-1"],
        );
        check(
            OWNER_ID,
            &["012345678901"],
            &["01234567890", "0123456789012", "01234567890a"],
        );
    }

    #[test]
    fn volume_sizes_follow_upstream_ranges_and_quirks() {
        check(
            VOLUME_SIZE,
            &[
                "1Gi", "20Gi", "9999Gi", "49999Gi", "58999Gi", "59000Gi", "1G", "64000G", "63999G",
                "1Ti", "17Ti", "57Ti", "58Ti", "1T", "64T", "Ti", "T",
            ],
            &[
                "0Gi", "59001Gi", "60000Gi", "020Gi", "64001G", "0G", "18Ti", "59Ti", "65T", "0T",
                "20", "20Mi", "1.5Gi", "", "Gi",
            ],
        );
    }

    #[test]
    fn quantities_follow_the_kubernetes_grammar() {
        check(
            QUANTITY,
            &[
                "1", "100m", "1.5Gi", ".5", "5.", "-1", "+2k", "1e3", "1E-3", "2Ei", "3n",
            ],
            &["", "1.5.5", "Gi", "1GB", "1 Gi", "1ki", ".", "1e", "e3"],
        );
    }

    #[test]
    fn eviction_thresholds_accept_percentages_quantities_and_empty() {
        check(
            EVICTION_THRESHOLD,
            &[
                "5%", "10%", "99.99%", "100%", "100.0%", "100.00%", "0.5%", "500Mi", "", "1.5Gi",
            ],
            &[
                "110%", "5%3", "110GB", "100.000%", "100.1%", "123%", "5.123%", "%", ".5%",
            ],
        );
    }

    #[test]
    fn condition_patterns_match_metav1() {
        check(
            CONDITION_REASON,
            &["AMINotFound", "A", "Ready_1", "a:b,c"],
            &["", "1A", "A:", "A-B"],
        );
        check(
            CONDITION_TYPE,
            &["Ready", "karpenter.k8s.aws/Drifted", "a.b"],
            &["", "-a", "Foo/Bar", "a/"],
        );
    }

    #[test]
    fn unknown_patterns_have_no_matcher() {
        assert!(matcher("^[a-z]+$").is_none());
    }
}
