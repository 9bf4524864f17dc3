//! Values the API server accepts but Karpenter v1.14.1 cannot decode into its Go types; one such
//! value makes the controller unable to read the object at all, so joist reports them.
//!
//! * `kubelet.evictionSoftGracePeriod` values are `metav1.Duration`s, read with Go's
//!   `time.ParseDuration` ([`parse_go_duration`]); Go decodes negative durations, so a negative
//!   value is accepted here although joist-core's parser calls it out.
//!
//! `ebs.volumeSize` is a `resource.Quantity` in Go, but every value its CRD pattern admits is one:
//! even the quirky bare `Ti`/`T` parse (as zero, [`joist_core::resources::Quantity::parse`]
//! agrees with apimachinery), so sizes need no check here.

use joist_core::duration::{DurationError, parse_go_duration};

use super::super::types::EC2NodeClassSpec;
use crate::common::openapi::go_quote;
use crate::validation::{FieldError, FieldPath};

/// Decode problems of `spec` at `path`.
pub(super) fn check_spec(spec: &EC2NodeClassSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let grace_periods = spec
        .kubelet
        .as_ref()
        .and_then(|k| k.eviction_soft_grace_period.as_ref());
    for (signal, period) in grace_periods.into_iter().flatten() {
        match parse_go_duration(period) {
            Ok(_) | Err(DurationError::Negative { .. }) => {}
            Err(error) => {
                let period_path = path
                    .child("kubelet")
                    .child("evictionSoftGracePeriod")
                    .key(signal);
                errors.push(FieldError::new(
                    &period_path,
                    format!("Invalid value: {}: {error}", go_quote(period)),
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use joist_core::resources::Quantity;

    use super::super::super::crd::VOLUME_SIZE;
    use crate::common::pattern::Pattern;

    #[test]
    fn every_size_the_pattern_admits_is_a_quantity() {
        let pattern = Pattern::new(VOLUME_SIZE).expect("the volumeSize pattern compiles");
        let admits = |size: &str| pattern.is_match(size);
        let mut admitted = 0;
        for number in std::iter::once(String::new()).chain((0..=65_000).map(|n| n.to_string())) {
            for unit in ["Gi", "G", "Ti", "T"] {
                let size = format!("{number}{unit}");
                if admits(&size) {
                    admitted += 1;
                    assert!(Quantity::parse(&size).is_ok(), "{size}");
                }
            }
        }
        // 59000 Gi + 64000 G + (9 + 1 + 5·8 + 1) Ti + (64 + 1) T sizes.
        assert_eq!(admitted, 59_000 + 64_000 + 51 + 65);
    }
}
