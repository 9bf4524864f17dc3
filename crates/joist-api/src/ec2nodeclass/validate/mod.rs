//! `validate`: what the API server would reject when an EC2NodeClass is applied with upstream's
//! v1.14.1 CRD, plus the values that pass the API server but that Karpenter cannot decode.
//!
//! Steps, in the API server's order (the admission part is [`crate::common::check::admit`],
//! shared with NodePool and NodeClaim):
//! 1. apiVersion/kind (the only served version is `karpenter.k8s.aws/v1`);
//! 2. CRD defaults ([`EC2NodeClass::with_defaults`]), applied before validation as the server does;
//! 3. strict field validation: fields the schema does not declare refuse the object on their own,
//!    except inside `kubelet`, whose unknown fields are kept for forward compatibility;
//! 4. object metadata and the OpenAPI schema of [`super::crd()`] (types, required, enums,
//!    patterns, lengths, limits, ranges);
//! 5. every CEL rule, mirrored in [`cel`] — skipped, as the server skips them, when step 4
//!    found a blocking error (required, enum, type, maxLength, maxItems, maxProperties);
//! 6. decode checks ([`decode`]) on an admitted object: soft-eviction grace periods must be Go
//!    durations, or Karpenter's controller cannot read the object at all.
//!
//! Status is not validated: the API server ignores it on create.

mod cel;
mod decode;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cases;
#[cfg(test)]
mod tests_cases_launch;
#[cfg(test)]
mod tests_cases_selectors;

use super::crd::schema;
use super::{API_VERSION, EC2NodeClass, KIND};
use crate::common::check;
use crate::common::openapi;
use crate::validation::{FieldError, FieldPath};

/// Every problem with `class`, each with the API server's field path (e.g.
/// `spec.amiSelectorTerms[0].alias`) and message (e.g. `Unsupported value: "Ubuntu": supported
/// values: "AL2", …`, `Required value`, `unknown field "spec.foo"`, or a CEL rule's
/// `Invalid value: "object": <message>`). Empty when `class` would be accepted. Deterministic:
/// same object, same list in the same order.
pub fn validate(class: &EC2NodeClass) -> Vec<FieldError> {
    let class = class.clone().with_defaults();
    let mut errors = type_meta(&class);
    let object = match serde_json::to_value(&class) {
        Ok(json) => json,
        Err(error) => {
            // Unreachable for these types (all map keys are strings); reported rather than hidden.
            errors.push(FieldError::new(
                &FieldPath::root(),
                format!("Internal error: {error}"),
            ));
            return errors;
        }
    };
    let spec_path = FieldPath::root().child("spec");
    let admitted = check::admit(
        &object,
        &schema(),
        false,
        &mut errors,
        |_| {},
        |errors| errors.extend(cel::check_spec(&class.spec, &spec_path)),
    );
    if admitted {
        errors.extend(decode::check_spec(&class.spec, &spec_path));
    }
    errors
}

fn type_meta(class: &EC2NodeClass) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, actual, expected) in [
        ("apiVersion", &class.api_version, API_VERSION),
        ("kind", &class.kind, KIND),
    ] {
        if actual != expected {
            errors.push(openapi::not_supported(
                &FieldPath::root().child(field),
                &actual.as_str().into(),
                &[expected],
            ));
        }
    }
    errors
}
