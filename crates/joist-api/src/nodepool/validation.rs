//! NodePool validation: the CRD's OpenAPI schema, every CEL rule, and the controller's runtime
//! checks (what would make `ValidationSucceeded` false), in the API server's order. See
//! [`crate::common::check`] for the pipeline.

use joist_core::labels::LabelContext;
use joist_core::nodepool::budgets::BudgetError;
use joist_core::nodepool::cron::Schedule;
use joist_core::resources::Quantity;

use super::crd::{
    rule_schedule_with_duration, rule_static_limits, rule_static_transition, rule_static_weight,
};
use super::{NodePool, schema};
use crate::common::LabelPolicy;
use crate::common::check::{self, ValidationOptions, cel_error};
use crate::common::schema::rule_immutable_ref;
use crate::validation::{FieldError, FieldPath};

/// Validates a NodePool as `kubectl apply` (create) and then the controller would, with core
/// Karpenter's label policy. Defaults are applied first, as the API server does.
pub fn validate(nodepool: &NodePool) -> Vec<FieldError> {
    validate_with(nodepool, &ValidationOptions::default())
}

/// [`validate`] with a provider's label policy.
pub fn validate_with(nodepool: &NodePool, options: &ValidationOptions) -> Vec<FieldError> {
    run(None, nodepool, options, false)
}

/// Validates an update from `old` to `new`: everything [`validate`] checks plus the transition
/// rules (static/dynamic mode, `nodeClassRef.group` and `.kind` immutability).
pub fn validate_update(old: &NodePool, new: &NodePool) -> Vec<FieldError> {
    validate_update_with(old, new, &ValidationOptions::default())
}

/// [`validate_update`] with a provider's label policy.
pub fn validate_update_with(
    old: &NodePool,
    new: &NodePool,
    options: &ValidationOptions,
) -> Vec<FieldError> {
    run(Some(&old.clone().with_defaults()), new, options, false)
}

/// Validates a NodePool including its `status`, as the API server does when a controller writes
/// the status subresource ([`validate`] ignores `status`, which the API server drops on create).
pub fn validate_status(nodepool: &NodePool) -> Vec<FieldError> {
    run(None, nodepool, &ValidationOptions::default(), true)
}

fn run(
    old: Option<&NodePool>,
    nodepool: &NodePool,
    options: &ValidationOptions,
    with_status: bool,
) -> Vec<FieldError> {
    let nodepool = nodepool.clone().with_defaults();
    let mut errors = Vec::new();
    let object = match serde_json::to_value(&nodepool) {
        Ok(object) => object,
        Err(e) => {
            return vec![FieldError {
                path: String::new(),
                message: format!("cannot encode NodePool: {e}"),
            }];
        }
    };
    let admitted = check::admit(
        &object,
        &schema(&options.labels),
        with_status,
        &mut errors,
        |errors| scale(&nodepool, errors),
        |errors| cel(&nodepool, old, &options.labels, errors),
    );
    if admitted {
        runtime(&nodepool, options, &mut errors);
    }
    errors
}

/// The scale subresource's own check of `specReplicasPath` (the path keeps its leading dot).
fn scale(nodepool: &NodePool, errors: &mut Vec<FieldError>) {
    if let Some(replicas) = nodepool.spec.replicas.filter(|r| *r < 0) {
        errors.push(FieldError {
            path: ".spec.replicas".to_owned(),
            message: format!("Invalid value: {replicas}: should be a non-negative integer"),
        });
    }
}

// === CEL ===

fn cel(
    nodepool: &NodePool,
    old: Option<&NodePool>,
    policy: &LabelPolicy,
    errors: &mut Vec<FieldError>,
) {
    let spec = &nodepool.spec;
    let spec_path = FieldPath::root().child("spec");
    if old.is_some_and(|old| old.spec.replicas.is_some() != spec.replicas.is_some()) {
        errors.push(cel_error(
            &spec_path,
            "object",
            &rule_static_transition().message,
        ));
    }
    if spec.replicas.is_some() {
        let limits_ok = spec
            .limits
            .as_ref()
            .is_none_or(|l| l.is_empty() || (l.len() == 1 && l.contains_key("nodes")));
        if !limits_ok {
            errors.push(cel_error(
                &spec_path,
                "object",
                &rule_static_limits().message,
            ));
        }
        if spec.weight.is_some() {
            errors.push(cel_error(
                &spec_path,
                "object",
                &rule_static_weight().message,
            ));
        }
    }
    if let Some(budgets) = spec.disruption.as_ref().and_then(|d| d.budgets.as_ref())
        && budgets
            .iter()
            .any(|b| b.schedule.is_some() != b.duration.is_some())
    {
        let path = spec_path.child("disruption").child("budgets");
        errors.push(cel_error(
            &path,
            "array",
            &rule_schedule_with_duration().message,
        ));
    }
    let template_path = spec_path.child("template");
    if let Some(labels) = nodepool
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
    {
        check::cel_template_labels(
            labels,
            &template_path.child("metadata").child("labels"),
            policy,
            &policy.restricted_labels(),
            errors,
        );
    }
    let Some(template_spec) = nodepool.template_spec() else {
        return;
    };
    let tspec_path = template_path.child("spec");
    if let Some(reference) = &template_spec.node_class_ref {
        let path = tspec_path.child("nodeClassRef");
        if let Some(old_ref) = old
            .and_then(|o| o.template_spec())
            .and_then(|s| s.node_class_ref.as_ref())
        {
            if old_ref.group != reference.group {
                errors.push(cel_error(
                    &path,
                    "object",
                    &rule_immutable_ref("group").message,
                ));
            }
            if old_ref.kind != reference.kind {
                errors.push(cel_error(
                    &path,
                    "object",
                    &rule_immutable_ref("kind").message,
                ));
            }
        }
        check::cel_node_class_ref(reference, &path, errors);
    }
    if let Some(requirements) = &template_spec.requirements {
        let path = tspec_path.child("requirements");
        check::cel_requirements(
            requirements,
            &path,
            &policy.restricted_requirement_keys(),
            LabelContext::NodePoolTemplate,
            errors,
        );
    }
}

// === runtime ===

fn runtime(nodepool: &NodePool, options: &ValidationOptions, errors: &mut Vec<FieldError>) {
    let template_path = FieldPath::root().child("spec").child("template");
    check::runtime_template_labels(
        &nodepool.template_labels(),
        &template_path.child("metadata").child("labels"),
        errors,
    );
    if let Some(template_spec) = nodepool.template_spec() {
        let tspec_path = template_path.child("spec");
        let taints = template_spec.taints.as_deref().unwrap_or_default();
        let startup = template_spec.startup_taints.as_deref().unwrap_or_default();
        check::runtime_taints(
            &[("taints", taints), ("startupTaints", startup)],
            &tspec_path,
            errors,
        );
        if let Some(requirements) = &template_spec.requirements {
            check::runtime_requirements(
                requirements,
                &tspec_path.child("requirements"),
                options,
                errors,
            );
        }
    }
    runtime_budgets(nodepool, errors);
    // The controller decodes limits into Kubernetes quantities; a value the CRD pattern lets
    // through but that is not a representable quantity would make the NodePool unreadable.
    for (name, value) in nodepool.spec.limits.iter().flatten() {
        if let Some(text) = value.text()
            && let Err(e) = Quantity::parse(&text)
        {
            let path = FieldPath::root().child("spec").child("limits").child(name);
            errors.push(crate::common::openapi::invalid(
                &path,
                &value.0,
                &e.to_string(),
            ));
        }
    }
}

/// A schedule that passes the CRD pattern but is not a valid cron expression is accepted by the
/// API server; the disruption controller then fails closed (no disruption at all for the pool)
/// and only logs "detected disruption budget errors". joist reports it, with upstream's text.
fn runtime_budgets(nodepool: &NodePool, errors: &mut Vec<FieldError>) {
    let budgets = nodepool
        .spec
        .disruption
        .as_ref()
        .and_then(|d| d.budgets.as_deref())
        .unwrap_or_default();
    let path = FieldPath::root()
        .child("spec")
        .child("disruption")
        .child("budgets");
    for (i, budget) in budgets.iter().enumerate() {
        if let Some(schedule) = &budget.schedule
            && let Err(source) = Schedule::parse(schedule)
        {
            let error = BudgetError::InvalidSchedule {
                schedule: schedule.clone(),
                source,
            };
            errors.push(FieldError::new(
                &path.index(i).child("schedule"),
                format!("{error} (the NodePool is accepted, but none of its nodes are disrupted while a budget is invalid)"),
            ));
        }
    }
}
