//! The CRD's CEL rules ([`super::super::rules`]) evaluated in Rust with CEL's semantics, including
//! upstream's quirks: `!self.all(...)` exclusivity checks fail only when every term breaks them
//! (so an empty list fails them too), and a rule that reads an absent field is a runtime error
//! (`no such key: …`), reported the way the API server reports evaluation errors.
//!
//! Runs only on an object that passed the blocking schema checks, as on the API server; fields the
//! schema requires are therefore present, and are treated defensively (never unwrapped) anyway.
//! A rule's own errors come before those of its children, as in the API server's walk.

use std::collections::BTreeMap;

use super::super::kubelet::KubeletConfiguration;
use super::super::launch::{
    BlockDeviceMapping, ConnectionTracking, NetworkInterface, PlacementGroupSelector,
};
use super::super::rules::{self, Rule};
use super::super::types::{AmiSelectorTerm, EC2NodeClassSpec};
use crate::common::check::cel_error;
use crate::validation::{FieldError, FieldPath};

/// The JSON type of the value a rule is attached to, which the API server prints before the
/// rule's message: `Invalid value: "object": <message>`.
const OBJECT: &str = "object";
/// See [`OBJECT`].
const ARRAY: &str = "array";
/// See [`OBJECT`].
const STRING: &str = "string";

/// Collects rule failures, worded as the API server words them (see [`cel_error`]).
#[derive(Default)]
struct Failures(Vec<FieldError>);

impl Failures {
    /// `rule`, attached to a value of JSON type `on`, failed at `path`.
    fn fail(&mut self, path: &FieldPath, on: &str, rule: Rule) {
        self.0.push(cel_error(path, on, rule.message));
    }

    /// `rule` could not be evaluated; `error` is CEL's runtime error, worded like the API
    /// server's `<error> evaluating rule: <message>`.
    fn evaluation(&mut self, path: &FieldPath, error: &str, on: &str, rule: Rule) {
        let message = format!("{error} evaluating rule: {}", rule.message);
        self.0.push(cel_error(path, on, &message));
    }

    /// Reports `rule` unless `holds`.
    fn require(&mut self, holds: bool, path: &FieldPath, on: &str, rule: Rule) {
        if !holds {
            self.fail(path, on, rule);
        }
    }
}

/// Every CEL rule of the spec schema, applied to `spec` at `path`.
pub(super) fn check_spec(spec: &EC2NodeClassSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut failures = Failures::default();
    spec_rules(spec, path, &mut failures);
    selector_terms(spec, path, &mut failures);
    for (field, value, rule) in [
        ("role", &spec.role, rules::ROLE_NOT_EMPTY),
        (
            "instanceProfile",
            &spec.instance_profile,
            rules::INSTANCE_PROFILE_NOT_EMPTY,
        ),
    ] {
        if value.as_deref() == Some("") {
            failures.fail(&path.child(field), STRING, rule);
        }
    }
    if let Some(tags) = &spec.tags {
        spec_tags(tags, &path.child("tags"), &mut failures);
    }
    if let Some(kubelet) = &spec.kubelet {
        kubelet_rules(kubelet, &path.child("kubelet"), &mut failures);
    }
    if let Some(mappings) = &spec.block_device_mappings {
        block_device_mappings(mappings, &path.child("blockDeviceMappings"), &mut failures);
    }
    if let Some(interfaces) = &spec.network_interfaces {
        network_interfaces(interfaces, &path.child("networkInterfaces"), &mut failures);
    }
    if let Some(tracking) = &spec.connection_tracking {
        connection_tracking(tracking, &path.child("connectionTracking"), &mut failures);
    }
    if let Some(selector) = &spec.placement_group_selector {
        placement_group(
            selector,
            &path.child("placementGroupSelector"),
            &mut failures,
        );
    }
    failures.0
}

/// The text CEL's `find('^[^@]+')` returns for an alias: everything before the first `@`.
fn alias_family(alias: &str) -> &str {
    alias.split('@').next().unwrap_or_default()
}

fn spec_rules(spec: &EC2NodeClassSpec, path: &FieldPath, failures: &mut Failures) {
    failures.require(
        spec.role.is_some() != spec.instance_profile.is_some(),
        path,
        OBJECT,
        rules::ROLE_XOR_INSTANCE_PROFILE,
    );
    let terms = spec.ami_selector_terms.as_deref().unwrap_or_default();
    if let Some(family) = spec.ami_family.as_deref() {
        for (alias, allowed, rule) in rules::FAMILY_WITH_ALIAS {
            let uses_alias = terms
                .iter()
                .any(|t| t.alias.as_deref().is_some_and(|a| alias_family(a) == alias));
            failures.require(
                !uses_alias || family == "Custom" || family == allowed,
                path,
                OBJECT,
                rule,
            );
        }
    }
    let has_alias = terms.iter().any(|t| t.alias.is_some());
    failures.require(
        has_alias || spec.ami_family.is_some(),
        path,
        OBJECT,
        rules::FAMILY_REQUIRED_WITHOUT_ALIAS,
    );
}

/// The `tags` rule shared by every kind of selector term.
fn term_tags(tags: Option<&BTreeMap<String, String>>, path: &FieldPath, failures: &mut Failures) {
    if let Some(tags) = tags {
        let holds = tags
            .iter()
            .all(|(key, value)| !key.is_empty() && !value.is_empty());
        failures.require(
            holds,
            &path.child("tags"),
            OBJECT,
            rules::TERM_TAGS_NOT_EMPTY,
        );
    }
}

fn selector_terms(spec: &EC2NodeClassSpec, spec_path: &FieldPath, failures: &mut Failures) {
    if let Some(terms) = &spec.subnet_selector_terms {
        let path = spec_path.child("subnetSelectorTerms");
        failures.require(
            !terms.is_empty(),
            &path,
            ARRAY,
            rules::SUBNET_TERMS_NOT_EMPTY,
        );
        failures.require(
            terms.iter().all(|t| t.tags.is_some() || t.id.is_some()),
            &path,
            ARRAY,
            rules::SUBNET_TERM_HAS_FIELD,
        );
        failures.require(
            !terms.iter().all(|t| t.id.is_some() && t.tags.is_some()),
            &path,
            ARRAY,
            rules::SUBNET_ID_EXCLUSIVE,
        );
        for (i, term) in terms.iter().enumerate() {
            term_tags(term.tags.as_ref(), &path.index(i), failures);
        }
    }
    if let Some(terms) = &spec.security_group_selector_terms {
        let path = spec_path.child("securityGroupSelectorTerms");
        failures.require(
            !terms.is_empty(),
            &path,
            ARRAY,
            rules::SECURITY_GROUP_TERMS_NOT_EMPTY,
        );
        let has_field = terms
            .iter()
            .all(|t| t.tags.is_some() || t.id.is_some() || t.name.is_some());
        failures.require(
            has_field,
            &path,
            ARRAY,
            rules::SECURITY_GROUP_TERM_HAS_FIELD,
        );
        let id_mixed = terms
            .iter()
            .all(|t| t.id.is_some() && (t.tags.is_some() || t.name.is_some()));
        failures.require(!id_mixed, &path, ARRAY, rules::SECURITY_GROUP_ID_EXCLUSIVE);
        let name_mixed = terms
            .iter()
            .all(|t| t.name.is_some() && (t.tags.is_some() || t.id.is_some()));
        failures.require(
            !name_mixed,
            &path,
            ARRAY,
            rules::SECURITY_GROUP_NAME_EXCLUSIVE,
        );
        for (i, term) in terms.iter().enumerate() {
            term_tags(term.tags.as_ref(), &path.index(i), failures);
        }
    }
    if let Some(terms) = &spec.capacity_reservation_selector_terms {
        let path = spec_path.child("capacityReservationSelectorTerms");
        let has_field = terms
            .iter()
            .all(|t| t.tags.is_some() || t.id.is_some() || t.instance_match_criteria.is_some());
        failures.require(
            has_field,
            &path,
            ARRAY,
            rules::CAPACITY_RESERVATION_TERM_HAS_FIELD,
        );
        let id_mixed = terms.iter().all(|t| {
            t.id.is_some()
                && (t.tags.is_some() || t.owner_id.is_some() || t.instance_match_criteria.is_some())
        });
        failures.require(
            !id_mixed,
            &path,
            ARRAY,
            rules::CAPACITY_RESERVATION_ID_EXCLUSIVE,
        );
        for (i, term) in terms.iter().enumerate() {
            term_tags(term.tags.as_ref(), &path.index(i), failures);
        }
    }
    if let Some(terms) = &spec.ami_selector_terms {
        ami_selector_terms(terms, &spec_path.child("amiSelectorTerms"), failures);
    }
}

fn ami_selector_terms(terms: &[AmiSelectorTerm], path: &FieldPath, failures: &mut Failures) {
    let has_field = terms.iter().all(|t| {
        t.tags.is_some()
            || t.id.is_some()
            || t.name.is_some()
            || t.alias.is_some()
            || t.ssm_parameter.is_some()
    });
    failures.require(has_field, path, ARRAY, rules::AMI_TERM_HAS_FIELD);
    let id_mixed = terms.iter().any(|t| {
        t.id.is_some()
            && (t.alias.is_some() || t.tags.is_some() || t.name.is_some() || t.owner.is_some())
    });
    failures.require(!id_mixed, path, ARRAY, rules::AMI_ID_EXCLUSIVE);
    let alias_mixed = terms.iter().any(|t| {
        t.alias.is_some()
            && (t.id.is_some() || t.tags.is_some() || t.name.is_some() || t.owner.is_some())
    });
    failures.require(!alias_mixed, path, ARRAY, rules::AMI_ALIAS_EXCLUSIVE_FIELDS);
    let alias_with_others = terms.iter().any(|t| t.alias.is_some()) && terms.len() != 1;
    failures.require(!alias_with_others, path, ARRAY, rules::AMI_ALIAS_ONLY_TERM);
    for (i, term) in terms.iter().enumerate() {
        let term_path = path.index(i);
        if let Some(alias) = &term.alias {
            alias_rules(alias, &term_path.child("alias"), failures);
        }
        term_tags(term.tags.as_ref(), &term_path, failures);
    }
}

/// `^[a-zA-Z0-9]+@.+$` (RE2: `.` excludes newlines, `$` is the end of the text).
fn alias_well_formed(alias: &str) -> bool {
    alias.split_once('@').is_some_and(|(family, version)| {
        !family.is_empty()
            && family.bytes().all(|b| b.is_ascii_alphanumeric())
            && !version.is_empty()
            && !version.contains('\n')
    })
}

fn alias_rules(alias: &str, path: &FieldPath, failures: &mut Failures) {
    if !alias_well_formed(alias) {
        failures.fail(path, STRING, rules::ALIAS_FORMAT);
    }
    let mut parts = alias.split('@');
    let family = parts.next().unwrap_or_default();
    if !rules::ALIAS_FAMILIES.contains(&family) {
        failures.fail(path, STRING, rules::ALIAS_FAMILY);
    }
    if rules::WINDOWS_ALIAS_FAMILIES.contains(&family) {
        match parts.next() {
            Some("latest") => {}
            Some(_) => failures.fail(path, STRING, rules::ALIAS_WINDOWS_LATEST),
            // `self.split('@')[1]` on a one-element list.
            None => failures.evaluation(
                path,
                "index out of bounds: 1",
                STRING,
                rules::ALIAS_WINDOWS_LATEST,
            ),
        }
    }
}

fn spec_tags(tags: &BTreeMap<String, String>, path: &FieldPath, failures: &mut Failures) {
    let all_keys = |ok: fn(&str) -> bool| tags.keys().all(|key| ok(key));
    failures.require(
        all_keys(|k| !k.is_empty()),
        path,
        OBJECT,
        rules::TAG_KEYS_NOT_EMPTY,
    );
    failures.require(
        all_keys(|k| k != "eks:eks-cluster-name"),
        path,
        OBJECT,
        rules::TAG_NOT_EKS_CLUSTER_NAME,
    );
    failures.require(
        all_keys(|k| !k.starts_with("kubernetes.io/cluster")),
        path,
        OBJECT,
        rules::TAG_NOT_KUBERNETES_CLUSTER,
    );
    failures.require(
        all_keys(|k| k != "karpenter.sh/nodepool"),
        path,
        OBJECT,
        rules::TAG_NOT_NODEPOOL,
    );
    failures.require(
        all_keys(|k| k != "karpenter.sh/nodeclaim"),
        path,
        OBJECT,
        rules::TAG_NOT_NODECLAIM,
    );
    failures.require(
        all_keys(|k| k != "karpenter.k8s.aws/ec2nodeclass"),
        path,
        OBJECT,
        rules::TAG_NOT_EC2NODECLASS,
    );
}

/// `has(self.<from>) ? self.<from>.all(e, e in self.<to>) : true`, with `to_field` named in
/// the runtime error when `to` is absent.
fn keys_matched(
    from: Option<&BTreeMap<String, String>>,
    to: Option<&BTreeMap<String, String>>,
    to_field: &str,
    path: &FieldPath,
    rule: Rule,
    failures: &mut Failures,
) {
    let Some(from) = from.filter(|from| !from.is_empty()) else {
        return;
    };
    match to {
        Some(to) => failures.require(
            from.keys().all(|key| to.contains_key(key)),
            path,
            OBJECT,
            rule,
        ),
        None => failures.evaluation(path, &format!("no such key: {to_field}"), OBJECT, rule),
    }
}

fn kubelet_rules(kubelet: &KubeletConfiguration, path: &FieldPath, failures: &mut Failures) {
    if let (Some(high), Some(low)) = (
        kubelet.image_gc_high_threshold_percent,
        kubelet.image_gc_low_threshold_percent,
    ) {
        failures.require(high > low, path, OBJECT, rules::IMAGE_GC_HIGH_ABOVE_LOW);
    }
    let soft = kubelet.eviction_soft.as_ref();
    let grace = kubelet.eviction_soft_grace_period.as_ref();
    keys_matched(
        soft,
        grace,
        "evictionSoftGracePeriod",
        path,
        rules::EVICTION_SOFT_HAS_GRACE_PERIOD,
        failures,
    );
    keys_matched(
        grace,
        soft,
        "evictionSoft",
        path,
        rules::GRACE_PERIOD_HAS_EVICTION_SOFT,
        failures,
    );

    const RESERVABLE: [&str; 4] = super::super::kubelet::RESERVABLE_RESOURCES;
    for (field, map, keys_rule, negative_rule) in [
        (
            "systemReserved",
            &kubelet.system_reserved,
            rules::SYSTEM_RESERVED_KEYS,
            rules::SYSTEM_RESERVED_NOT_NEGATIVE,
        ),
        (
            "kubeReserved",
            &kubelet.kube_reserved,
            rules::KUBE_RESERVED_KEYS,
            rules::KUBE_RESERVED_NOT_NEGATIVE,
        ),
    ] {
        if let Some(map) = map {
            let map_path = path.child(field);
            failures.require(
                map.keys().all(|k| RESERVABLE.contains(&k.as_str())),
                &map_path,
                OBJECT,
                keys_rule,
            );
            failures.require(
                map.values().all(|v| !v.starts_with('-')),
                &map_path,
                OBJECT,
                negative_rule,
            );
        }
    }
    const SIGNALS: [&str; 6] = super::super::kubelet::EVICTION_SIGNALS;
    for (field, map, rule) in [
        (
            "evictionHard",
            &kubelet.eviction_hard,
            rules::EVICTION_HARD_KEYS,
        ),
        (
            "evictionSoft",
            &kubelet.eviction_soft,
            rules::EVICTION_SOFT_KEYS,
        ),
        (
            "evictionSoftGracePeriod",
            &kubelet.eviction_soft_grace_period,
            rules::EVICTION_SOFT_GRACE_PERIOD_KEYS,
        ),
    ] {
        if let Some(map) = map {
            failures.require(
                map.keys().all(|k| SIGNALS.contains(&k.as_str())),
                &path.child(field),
                OBJECT,
                rule,
            );
        }
    }
}

fn block_device_mappings(
    mappings: &[BlockDeviceMapping],
    path: &FieldPath,
    failures: &mut Failures,
) {
    let roots = mappings
        .iter()
        .filter(|m| m.root_volume == Some(true))
        .count();
    failures.require(roots <= 1, path, ARRAY, rules::ONE_ROOT_VOLUME);
    for (i, mapping) in mappings.iter().enumerate() {
        let Some(ebs) = &mapping.ebs else {
            continue;
        };
        let ebs_path = path.index(i).child("ebs");
        failures.require(
            ebs.snapshot_id.is_some() || ebs.volume_size.is_some(),
            &ebs_path,
            OBJECT,
            rules::EBS_SNAPSHOT_OR_SIZE,
        );
        let snapshot_set = ebs.snapshot_id.as_deref().is_some_and(|id| !id.is_empty());
        let holds = ebs.volume_initialization_rate.is_none() || snapshot_set;
        failures.require(
            holds,
            &ebs_path,
            OBJECT,
            rules::EBS_INITIALIZATION_RATE_NEEDS_SNAPSHOT,
        );
    }
}

fn network_interfaces(interfaces: &[NetworkInterface], path: &FieldPath, failures: &mut Failures) {
    let is_efa_only = |n: &NetworkInterface| n.interface_type.as_deref() == Some("efa-only");
    let has_primary = interfaces.iter().any(|n| {
        n.device_index == Some(0)
            && n.network_card_index == Some(0)
            && n.interface_type.as_deref() == Some("interface")
    });
    failures.require(
        interfaces.is_empty() || has_primary,
        path,
        ARRAY,
        rules::PRIMARY_INTERFACE,
    );
    let unique = interfaces.iter().all(|x| {
        let same_slot = interfaces
            .iter()
            .filter(|y| {
                x.network_card_index == y.network_card_index && x.device_index == y.device_index
            })
            .count();
        let efa_on_card = interfaces
            .iter()
            .filter(|y| x.network_card_index == y.network_card_index && is_efa_only(y))
            .count();
        same_slot == 1 && (!is_efa_only(x) || efa_on_card == 1)
    });
    failures.require(unique, path, ARRAY, rules::UNIQUE_INTERFACES);
}

fn connection_tracking(tracking: &ConnectionTracking, path: &FieldPath, failures: &mut Failures) {
    let any = tracking.tcp_established_timeout.is_some()
        || tracking.udp_stream_timeout.is_some()
        || tracking.udp_timeout.is_some();
    failures.require(any, path, OBJECT, rules::CONNECTION_TRACKING_HAS_FIELD);
}

fn placement_group(selector: &PlacementGroupSelector, path: &FieldPath, failures: &mut Failures) {
    failures.require(
        selector.name.is_some() || selector.id.is_some(),
        path,
        OBJECT,
        rules::PLACEMENT_GROUP_HAS_FIELD,
    );
    failures.require(
        !(selector.name.is_some() && selector.id.is_some()),
        path,
        OBJECT,
        rules::PLACEMENT_GROUP_EXCLUSIVE,
    );
}
