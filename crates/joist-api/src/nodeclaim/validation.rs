//! NodeClaim validation: the CRD's OpenAPI schema and CEL rules. NodeClaims have no runtime
//! validation upstream (the scheduler writes them); the one transition rule makes the spec
//! immutable.

use joist_core::labels::LabelContext;

use super::crd::rule_spec_immutable;
use super::{NodeClaim, schema};
use crate::common::check::{self, ValidationOptions, cel_error};
use crate::validation::{FieldError, FieldPath};

/// Validates a NodeClaim as the API server would on create, with core Karpenter's label policy.
pub fn validate(nodeclaim: &NodeClaim) -> Vec<FieldError> {
    validate_with(nodeclaim, &ValidationOptions::default())
}

/// [`validate`] with a provider's label policy.
pub fn validate_with(nodeclaim: &NodeClaim, options: &ValidationOptions) -> Vec<FieldError> {
    run(None, nodeclaim, options, false)
}

/// Validates an update: everything [`validate`] checks plus `spec is immutable`.
pub fn validate_update(old: &NodeClaim, new: &NodeClaim) -> Vec<FieldError> {
    run(
        Some(&old.clone().with_defaults()),
        new,
        &ValidationOptions::default(),
        false,
    )
}

/// Validates a NodeClaim including its `status`, as the API server does when a controller writes
/// the status subresource ([`validate`] ignores `status`, which the API server drops on create).
pub fn validate_status(nodeclaim: &NodeClaim) -> Vec<FieldError> {
    run(None, nodeclaim, &ValidationOptions::default(), true)
}

fn run(
    old: Option<&NodeClaim>,
    nodeclaim: &NodeClaim,
    options: &ValidationOptions,
    with_status: bool,
) -> Vec<FieldError> {
    let nodeclaim = nodeclaim.clone().with_defaults();
    let object = match serde_json::to_value(&nodeclaim) {
        Ok(object) => object,
        Err(e) => {
            return vec![FieldError {
                path: String::new(),
                message: format!("cannot encode NodeClaim: {e}"),
            }];
        }
    };
    let restricted = options.labels.restricted_requirement_keys();
    let mut errors = Vec::new();
    check::admit(
        &object,
        &schema(&options.labels),
        with_status,
        &mut errors,
        |_| {},
        |errors| {
            let spec_path = FieldPath::root().child("spec");
            if old.is_some_and(|old| old.spec != nodeclaim.spec) {
                errors.push(cel_error(
                    &spec_path,
                    "object",
                    &rule_spec_immutable().message,
                ));
            }
            if let Some(reference) = &nodeclaim.spec.node_class_ref {
                check::cel_node_class_ref(reference, &spec_path.child("nodeClassRef"), errors);
            }
            if let Some(requirements) = &nodeclaim.spec.requirements {
                let path = spec_path.child("requirements");
                check::cel_requirements(
                    requirements,
                    &path,
                    &restricted,
                    LabelContext::NodeClaim,
                    errors,
                );
            }
        },
    );
    errors
}
