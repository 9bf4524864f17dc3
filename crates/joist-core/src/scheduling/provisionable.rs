//! Which pods a round considers, and pod validation (spec core §2.2).

use std::collections::BTreeSet;

use super::plan::{Ignored, PodIndex};
use super::settings::SchedulingSettings;
use crate::labels::{CAPACITY_TYPE, CAPACITY_TYPES, NODEPOOL, validate_label_value, validate_qualified_name};
use crate::requirements::{NodeSelectorRequirement, Operator, Requirement, Requirements};
use crate::snapshot::{NodeSelectorTerm, Pod, Snapshot};

/// The pods of one round: pending provisionable pods first (snapshot order), then reschedulable
/// pods of nodes marked for deletion; invalid pods split off with their errors.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Valid pods to place.
    pub(crate) pods: Vec<PodIndex>,
    /// Invalid pods, left out of the round.
    pub(crate) ignored: Vec<Ignored>,
}

/// Upstream `IsProvisionable`: marked Unschedulable by kube-scheduler, not bound, not preempting,
/// not a DaemonSet or mirror pod.
pub(crate) fn is_provisionable(pod: &Pod) -> bool {
    pod.unschedulable
        && pod.node_name.is_none()
        && pod.nominated_node_name.is_none()
        && !pod.is_daemonset_pod()
        && !pod.is_mirror_pod()
}

/// Upstream `IsReschedulable` plus the provisioner's extra filters for pods on deleting nodes:
/// active (or a terminating StatefulSet pod), not a DaemonSet or mirror pod, no active
/// `do-not-disrupt`, and not behind a fully blocking PodDisruptionBudget.
fn is_reschedulable(pod: &Pod, snapshot: &Snapshot) -> bool {
    let active = !pod.is_terminal() && !pod.is_terminating();
    (active || (pod.is_statefulset_pod() && pod.is_terminating()))
        && !pod.is_daemonset_pod()
        && !pod.is_mirror_pod()
        && !has_active_do_not_disrupt(pod)
        && !is_fully_blocked_by_pdbs(pod, snapshot)
}

/// `karpenter.sh/do-not-disrupt: "true"`, or a duration value (since v1.12). joist does not know
/// when the protection window started, so a duration counts as active (the conservative choice:
/// the pod is not moved).
fn has_active_do_not_disrupt(pod: &Pod) -> bool {
    pod.do_not_disrupt().is_some_and(|value| {
        value == "true"
            || (!value.is_empty()
                && value.chars().all(|c| c.is_ascii_digit() || "hms.".contains(c))
                && value.chars().any(|c| c.is_ascii_alphabetic()))
    })
}

/// Whether the pod is covered by more than one PDB, or by one that never allows an eviction.
fn is_fully_blocked_by_pdbs(pod: &Pod, snapshot: &Snapshot) -> bool {
    let matching: Vec<_> = snapshot
        .pdbs
        .iter()
        .filter(|pdb| {
            pdb.namespace == pod.namespace
                && pdb.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))
        })
        .collect();
    matching.len() > 1 || matching.iter().any(|pdb| pdb.is_fully_blocking())
}

/// Collects the round's pods (spec core §2.2): pending provisionable pods plus reschedulable pods
/// from nodes marked for deletion, validated.
pub(crate) fn collect(snapshot: &Snapshot, settings: &SchedulingSettings) -> Batch {
    let deleting: BTreeSet<&str> = snapshot
        .nodes
        .iter()
        .filter(|n| n.marked_for_deletion)
        .map(|n| n.name.as_str())
        .collect();
    let mut batch = Batch::default();
    let pending = (0..snapshot.pods.len()).filter(|&i| is_provisionable(&snapshot.pods[i]));
    let moving = (0..snapshot.pods.len()).filter(|&i| {
        let pod = &snapshot.pods[i];
        pod.node_name
            .as_deref()
            .is_some_and(|n| deleting.contains(n))
            && is_reschedulable(pod, snapshot)
    });
    for index in pending.chain(moving) {
        match validate(&snapshot.pods[index], settings) {
            Ok(()) => batch.pods.push(index),
            Err(error) => batch.ignored.push(Ignored {
                pod: index,
                message: error.message,
                emit_event: error.emit_event,
            }),
        }
    }
    batch
}

/// A pod validation failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidationError {
    /// Upstream's messages joined by `"; "`.
    pub(crate) message: String,
    /// False only for the "configured to not run on a Karpenter provisioned node" case.
    pub(crate) emit_event: bool,
}

/// Upstream `Provisioner.Validate` without the volume checks: `karpenter.sh/nodepool
/// DoesNotExist`, then every nodeSelector entry and required node-affinity expression through
/// `ValidateRequirement`, and `matchFields` terms.
pub(crate) fn validate(pod: &Pod, settings: &SchedulingSettings) -> Result<(), ValidationError> {
    let mut errors = Vec::new();
    let refuses_karpenter = refuses_karpenter_nodes(pod, settings);
    if refuses_karpenter {
        errors.push(format!(
            "configured to not run on a Karpenter provisioned node (requirement={NODEPOOL} DoesNotExist)"
        ));
    }
    for (key, value) in &pod.constraints.node_selector {
        let requirement = NodeSelectorRequirement::new(key, Operator::In, [value]);
        validate_requirement(&requirement, settings, &mut errors);
    }
    for term in &pod.constraints.node_affinity.required {
        validate_term(term, settings, &mut errors);
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ValidationError {
        emit_event: !(refuses_karpenter && errors.len() == 1),
        message: errors.join("; "),
    })
}

/// Whether the pod's requirements (preferences included, as upstream builds them here) make
/// `karpenter.sh/nodepool` DoesNotExist. Expressions that do not parse are skipped: they are
/// reported by the per-expression validation instead.
fn refuses_karpenter_nodes(pod: &Pod, settings: &SchedulingSettings) -> bool {
    let aliases = &settings.label_aliases;
    let mut requirements = Requirements::new();
    for (key, value) in &pod.constraints.node_selector {
        requirements.add(Requirement::in_values(aliases.normalize(key), [value]));
    }
    let affinity = &pod.constraints.node_affinity;
    let heaviest = pod
        .constraints
        .heaviest_preferred_node_term()
        .map(|i| &affinity.preferred[i].preference);
    for term in heaviest.into_iter().chain(affinity.required.first()) {
        for expression in &term.match_expressions {
            if let Ok(r) = Requirement::from_node_selector_requirement(expression, aliases) {
                requirements.add(r);
            }
        }
    }
    requirements
        .find(NODEPOOL)
        .is_some_and(|r| r.operator() == Operator::DoesNotExist)
}

fn validate_term(term: &NodeSelectorTerm, settings: &SchedulingSettings, errors: &mut Vec<String>) {
    if !term.match_fields.is_empty() {
        errors.push("node selector term with matchFields is not supported".to_owned());
    }
    for expression in &term.match_expressions {
        validate_requirement(expression, settings, errors);
    }
}

/// Upstream `v1.ValidateRequirement` (every operator of [`Operator`] is supported).
fn validate_requirement(
    requirement: &NodeSelectorRequirement,
    settings: &SchedulingSettings,
    errors: &mut Vec<String>,
) {
    let key = settings.label_aliases.normalize(&requirement.key);
    let operator = requirement.operator;
    if let Err(message) = settings
        .restricted_labels
        .runtime_check(key, &settings.well_known_labels)
    {
        errors.push(message);
    }
    if let Some(message) = well_known_values_error(key, requirement) {
        errors.push(message);
    }
    if let Err(messages) = validate_qualified_name(key) {
        for m in messages {
            errors.push(format!("key {key} is not a qualified name, {m}"));
        }
    }
    for value in &requirement.values {
        if let Err(messages) = validate_label_value(value) {
            for m in messages {
                errors.push(format!("invalid value {value} for key {key}, {m}"));
            }
        }
    }
    if operator == Operator::In && requirement.values.is_empty() {
        errors.push(format!("key {key} with operator {operator} must have a value defined"));
    }
    if operator.is_numeric() {
        let single_non_negative = matches!(requirement.values.as_slice(), [v] if v.parse::<i64>().is_ok_and(|n| n >= 0));
        if !single_non_negative {
            errors.push(format!(
                "key {key} with operator {operator} must have a single positive integer value"
            ));
        }
    }
}

/// Upstream `validateWellKnownValues` for pods: `karpenter.sh/capacity-type In` needs at least one
/// known value. The known values print as Go prints a `sets.Set[string]`.
fn well_known_values_error(key: &str, requirement: &NodeSelectorRequirement) -> Option<String> {
    if key != CAPACITY_TYPE || requirement.operator != Operator::In {
        return None;
    }
    let (valid, invalid): (Vec<&String>, Vec<&String>) = requirement
        .values
        .iter()
        .partition(|v| CAPACITY_TYPES.contains(&v.as_str()));
    if !valid.is_empty() {
        return None;
    }
    let known = CAPACITY_TYPES
        .iter()
        .map(|v| format!("{v}:{{}}"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "no valid values found in [{}] for {key}, expected one of: map[{known}], got: [{}]",
        requirement.values.join(" "),
        invalid.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::HOSTNAME;
    use crate::testing::pod;

    fn settings() -> SchedulingSettings {
        SchedulingSettings::default()
    }

    #[test]
    fn provisionable_needs_unschedulable_unbound_and_not_daemon_or_mirror() {
        assert!(is_provisionable(&pod().build()));
        assert!(!is_provisionable(&pod().node_name("n").build()));
        assert!(!is_provisionable(&pod().nominated("n").build()));
        assert!(!is_provisionable(&pod().owner("apps/v1", "DaemonSet", "ds").build()));
        assert!(!is_provisionable(&pod().owner("v1", "Node", "n").build()));
        let mut not_marked = pod().build();
        not_marked.unschedulable = false;
        assert!(!is_provisionable(&not_marked));
    }

    #[test]
    fn nodepool_does_not_exist_is_ignored_without_event() {
        let p = pod()
            .node_requirement(NODEPOOL, Operator::DoesNotExist, &[])
            .build();
        let err = validate(&p, &settings()).unwrap_err();
        assert_eq!(
            err.message,
            "configured to not run on a Karpenter provisioned node (requirement=karpenter.sh/nodepool DoesNotExist)"
        );
        assert!(!err.emit_event);
    }

    #[test]
    fn restricted_and_malformed_requirements_are_rejected() {
        let hostname = pod().node_selector(HOSTNAME, "n1").build();
        let err = validate(&hostname, &settings()).unwrap_err();
        assert!(err.message.starts_with("using label kubernetes.io/hostname is not allowed"));
        assert!(err.emit_event);
        let karpenter = pod().node_selector("karpenter.sh/custom", "x").build();
        assert!(validate(&karpenter, &settings()).is_err());
        let allowed = pod()
            .node_selector(NODEPOOL, "default")
            .node_selector(CAPACITY_TYPE, "spot")
            .node_selector("node-role.kubernetes.io/worker", "")
            .build();
        assert_eq!(validate(&allowed, &settings()), Ok(()));
        let empty_in = pod().node_requirement("team", Operator::In, &[]).build();
        assert_eq!(
            validate(&empty_in, &settings()).unwrap_err().message,
            "key team with operator In must have a value defined"
        );
        let gt = pod().node_requirement("n", Operator::Gt, &["abc"]).build();
        assert_eq!(
            validate(&gt, &settings()).unwrap_err().message,
            "key n with operator Gt must have a single positive integer value"
        );
    }

    #[test]
    fn capacity_type_needs_a_known_value_and_match_fields_are_unsupported() {
        let p = pod().node_requirement(CAPACITY_TYPE, Operator::In, &["cheap"]).build();
        assert_eq!(
            validate(&p, &settings()).unwrap_err().message,
            "no valid values found in [cheap] for karpenter.sh/capacity-type, expected one of: \
             map[on-demand:{} reserved:{} spot:{}], got: [cheap]"
        );
        let mut fields = pod().build();
        fields.constraints.node_affinity.required = vec![NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![NodeSelectorRequirement::new("metadata.name", Operator::In, ["n"])],
        }];
        assert_eq!(
            validate(&fields, &settings()).unwrap_err().message,
            "node selector term with matchFields is not supported"
        );
    }
}
