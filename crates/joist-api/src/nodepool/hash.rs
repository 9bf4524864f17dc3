//! The NodePool drift hash (spec core §1.2, §3.4, §4.5): `karpenter.sh/nodepool-hash` over
//! `spec.template` and its version `karpenter.sh/nodepool-hash-version`.
//!
//! Hashed, as upstream's `NodePool.Hash()` (`hashstructure` over `spec.template` with
//! `SlicesAsSets`, `IgnoreZeroValue`, `ZeroNil`): template `labels` and `annotations`, `taints`
//! and `startupTaints` (as sets), `nodeClassRef` (group, kind, name), `expireAfter` and
//! `terminationGracePeriod` (by duration, so `60m` equals `1h`; `Never` is the zero value). Not
//! hashed: `requirements` (tagged `hash:"ignore"`; requirement changes are caught by
//! requirements drift instead) and everything outside the template (`disruption` with its
//! budgets, `limits`, `weight`, `replicas`). Unknown fields are ignored, as Go's decoder drops
//! them.
//!
//! # Versions and migration
//! joist's hash value is not upstream's (see `common::structhash`), so joist stamps
//! [`HASH_VERSION`], a joist-specific version, rather than upstream's
//! [`UPSTREAM_HASH_VERSION`]. Static drift only compares hashes of equal versions, and
//! the hash controller re-stamps NodeClaims whenever the NodePool's version annotation is not the
//! current one ([`restamp_nodeclaim`]). So when joist takes over from Karpenter, the NodePools
//! carry `v3`, joist re-stamps every non-drifted NodeClaim with its own hash and version, and
//! nothing drifts; the same happens in reverse when Karpenter takes over from joist. Had joist
//! written `v3` with a different value, every NodeClaim would have drifted at once.

use std::collections::BTreeMap;

use joist_core::duration::parse_go_duration;
use joist_core::labels::{NODEPOOL_HASH, NODEPOOL_HASH_VERSION, NODEPOOL_HASH_VERSION_VALUE};

use super::{DEFAULT_EXPIRE_AFTER, NodePool};
use crate::common::structhash::{HashValue, StructBuilder};
use crate::common::{NodeClassReference, Taint};

/// The hash-version joist writes: upstream's `v3` field set, joist's encoding.
pub const HASH_VERSION: &str = NODEPOOL_HASH_VERSION_VALUE;
/// The hash-version upstream Karpenter v1.14 writes (`NodePoolHashVersion`).
pub const UPSTREAM_HASH_VERSION: &str = "v3";

// === impl NodePool ===

impl NodePool {
    /// The `karpenter.sh/nodepool-hash` value of this NodePool's template (decimal, stable
    /// across runs and platforms). An absent `expireAfter` counts as the CRD default `720h`,
    /// which is what the API server stores.
    pub fn hash(&self) -> String {
        template_value(self).digest()
    }

    /// The two annotations the hash controller keeps on the NodePool (and that new NodeClaims
    /// copy): hash and hash-version.
    pub fn hash_annotations(&self) -> [(&'static str, String); 2] {
        [
            (NODEPOOL_HASH, self.hash()),
            (
                NODEPOOL_HASH_VERSION,
                NODEPOOL_HASH_VERSION_VALUE.to_owned(),
            ),
        ]
    }

    /// Whether the NodePool's hash-version annotation is not the current one, so the hash
    /// controller must re-stamp the pool's NodeClaims ([`restamp_nodeclaim`]) before writing the
    /// new annotations.
    pub fn needs_nodeclaim_restamp(&self) -> bool {
        let annotations = self.metadata.annotations.as_ref();
        annotations
            .and_then(|a| a.get(NODEPOOL_HASH_VERSION))
            .map(String::as_str)
            != Some(HASH_VERSION)
    }
}

/// Upstream `updateNodeClaimHash` for one NodeClaim of a NodePool whose hash-version changed:
/// a NodeClaim whose hash-version is not current gets the current version and, unless it already
/// has a `Drifted` condition (whose drift can no longer be re-evaluated against the old scheme),
/// the NodePool's current hash. Returns whether the annotations changed.
pub fn restamp_nodeclaim(
    nodeclaim_annotations: &mut BTreeMap<String, String>,
    nodepool_hash: &str,
    has_drifted_condition: bool,
) -> bool {
    if nodeclaim_annotations
        .get(NODEPOOL_HASH_VERSION)
        .is_some_and(|v| v == HASH_VERSION)
    {
        return false;
    }
    nodeclaim_annotations.insert(NODEPOOL_HASH_VERSION.into(), HASH_VERSION.into());
    if !has_drifted_condition {
        nodeclaim_annotations.insert(NODEPOOL_HASH.into(), nodepool_hash.into());
    }
    true
}

/// The value tree of `spec.template` (`NodeClaimTemplate`: embedded `ObjectMeta`, then `Spec`).
fn template_value(pool: &NodePool) -> HashValue {
    let template = pool.spec.template.as_ref();
    let metadata = template.and_then(|t| t.metadata.as_ref());
    let meta = StructBuilder::new()
        .map("Labels", metadata.and_then(|m| m.labels.as_ref()))
        .map("Annotations", metadata.and_then(|m| m.annotations.as_ref()))
        .build();
    let spec = template.and_then(|t| t.spec.as_ref());
    let expire_after = spec
        .map_or(Some(DEFAULT_EXPIRE_AFTER), |s| {
            Some(s.expire_after.as_deref().unwrap_or(DEFAULT_EXPIRE_AFTER))
        })
        .filter(|text| *text != "Never");
    let spec = StructBuilder::new()
        .set(
            "Taints",
            spec.and_then(|s| s.taints.as_deref()),
            taint_value,
        )
        .set(
            "StartupTaints",
            spec.and_then(|s| s.startup_taints.as_deref()),
            taint_value,
        )
        .field(
            "NodeClassRef",
            spec.and_then(|s| s.node_class_ref.as_ref())
                .map(node_class_ref_value),
        )
        .field(
            "TerminationGracePeriod",
            spec.and_then(|s| s.termination_grace_period.as_deref())
                .map(duration_value),
        )
        .field("ExpireAfter", expire_after.map(duration_value))
        .build();
    StructBuilder::new()
        .field("ObjectMeta", Some(meta))
        .field("Spec", Some(spec))
        .build()
}

/// A `v1.Taint`.
pub(crate) fn taint_value(taint: &Taint) -> HashValue {
    StructBuilder::new()
        .str("Key", taint.key.as_deref())
        .str("Value", taint.value.as_deref())
        .str("Effect", taint.effect.as_deref())
        .str("TimeAdded", taint.time_added.as_deref())
        .build()
}

fn node_class_ref_value(reference: &NodeClassReference) -> HashValue {
    StructBuilder::new()
        .str("Kind", reference.kind.as_deref())
        .str("Name", reference.name.as_deref())
        .str("Group", reference.group.as_deref())
        .build()
}

/// A Go duration by value (nanoseconds, saturating), so equal spans written differently hash
/// alike. Text that does not parse (validation rejects it) is hashed as the text itself, which
/// keeps the result deterministic.
pub(crate) fn duration_value(text: &str) -> HashValue {
    match parse_go_duration(text) {
        Ok(duration) => HashValue::Int(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)),
        Err(_) => HashValue::Str(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::NodeSelectorRequirementWithMinValues;
    use crate::nodepool::{
        Budget, Disruption, NodeClaimTemplate, NodeClaimTemplateSpec, NodePoolSpec,
        TemplateMetadata,
    };

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: Some(key.into()),
            effect: Some(effect.into()),
            ..Taint::default()
        }
    }

    /// A defaulted pool with one label, one taint and a nodeClassRef.
    fn pool() -> NodePool {
        let spec = NodeClaimTemplateSpec {
            node_class_ref: Some(NodeClassReference {
                group: Some("karpenter.k8s.aws".into()),
                kind: Some("EC2NodeClass".into()),
                name: Some("default".into()),
                ..NodeClassReference::default()
            }),
            taints: Some(vec![taint("a", "NoSchedule")]),
            requirements: Some(Vec::new()),
            ..NodeClaimTemplateSpec::default()
        };
        let template = NodeClaimTemplate {
            metadata: Some(TemplateMetadata {
                labels: Some(BTreeMap::from([("team".into(), "a".into())])),
                ..TemplateMetadata::default()
            }),
            spec: Some(spec),
            ..NodeClaimTemplate::default()
        };
        NodePool::new(
            "default",
            NodePoolSpec {
                template: Some(template),
                ..NodePoolSpec::default()
            },
        )
        .with_defaults()
    }

    fn template_spec(pool: &mut NodePool) -> &mut NodeClaimTemplateSpec {
        pool.spec
            .template
            .as_mut()
            .and_then(|t| t.spec.as_mut())
            .unwrap()
    }

    fn metadata(pool: &mut NodePool) -> &mut TemplateMetadata {
        pool.spec
            .template
            .as_mut()
            .and_then(|t| t.metadata.as_mut())
            .unwrap()
    }

    /// A named edit of the pool.
    type PoolChange = fn(&mut NodePool);

    #[test]
    fn item_71_each_static_field_changes_the_hash() {
        let base = pool().hash();
        let changes: Vec<(&str, PoolChange)> = vec![
            ("labels", |p| {
                metadata(p)
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert("x".into(), "y".into());
            }),
            ("annotations", |p| {
                metadata(p).annotations = Some(BTreeMap::from([("a".into(), "b".into())]));
            }),
            ("taints", |p| {
                template_spec(p).taints = Some(vec![taint("b", "NoSchedule")])
            }),
            ("startupTaints", |p| {
                template_spec(p).startup_taints = Some(vec![taint("s", "NoExecute")]);
            }),
            ("nodeClassRef.name", |p| {
                template_spec(p).node_class_ref.as_mut().unwrap().name = Some("other".into());
            }),
            ("expireAfter", |p| {
                template_spec(p).expire_after = Some("24h".into())
            }),
            ("terminationGracePeriod", |p| {
                template_spec(p).termination_grace_period = Some("1h".into());
            }),
        ];
        for (field, change) in changes {
            let mut changed = pool();
            change(&mut changed);
            assert_ne!(changed.hash(), base, "{field} must change the hash");
        }
    }

    #[test]
    fn item_71_requirements_and_behaviour_fields_do_not_change_the_hash() {
        let base = pool().hash();
        let mut changed = pool();
        template_spec(&mut changed).requirements =
            Some(vec![NodeSelectorRequirementWithMinValues {
                key: Some("karpenter.sh/capacity-type".into()),
                operator: Some("In".into()),
                values: Some(vec!["spot".into()]),
                ..NodeSelectorRequirementWithMinValues::default()
            }]);
        changed.spec.disruption = Some(Disruption {
            consolidate_after: Some("Never".into()),
            budgets: Some(vec![Budget::nodes("0")]),
            ..Disruption::default()
        });
        changed.spec.weight = Some(50);
        changed.spec.limits = Some(BTreeMap::new());
        assert_eq!(changed.hash(), base);
    }

    #[test]
    fn hash_is_insensitive_to_taint_order_duration_spelling_and_defaults() {
        let mut a = pool();
        template_spec(&mut a).taints =
            Some(vec![taint("a", "NoSchedule"), taint("b", "NoExecute")]);
        template_spec(&mut a).expire_after = Some("60m".into());
        let mut b = pool();
        template_spec(&mut b).taints =
            Some(vec![taint("b", "NoExecute"), taint("a", "NoSchedule")]);
        template_spec(&mut b).expire_after = Some("1h".into());
        assert_eq!(a.hash(), b.hash());
        // An absent expireAfter is the 720h the API server stores.
        let mut absent = pool();
        template_spec(&mut absent).expire_after = None;
        assert_eq!(absent.hash(), pool().hash());
        let mut never = pool();
        template_spec(&mut never).expire_after = Some("Never".into());
        assert_ne!(never.hash(), pool().hash());
    }

    #[test]
    fn item_71_migration_from_upstream_restamps_instead_of_drifting() {
        use joist_core::disruption::{DriftReason, static_drift};
        // A NodeClaim stamped by Karpenter, and the NodePool as Karpenter left it.
        let upstream_stamp = BTreeMap::from([
            (NODEPOOL_HASH.to_owned(), "5813571389409873190".to_owned()),
            (
                NODEPOOL_HASH_VERSION.to_owned(),
                UPSTREAM_HASH_VERSION.to_owned(),
            ),
        ]);
        let mut pool = pool();
        pool.metadata.annotations = Some(upstream_stamp.clone());
        let mut nodeclaim = upstream_stamp;
        // joist's hash controller: re-stamp (the pool's version is not joist's), then annotate.
        assert!(pool.needs_nodeclaim_restamp());
        restamp_nodeclaim(&mut nodeclaim, &pool.hash(), false);
        let joist_stamp: BTreeMap<String, String> = pool
            .hash_annotations()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(
            static_drift(&joist_stamp, &nodeclaim),
            None,
            "no mass drift"
        );
        // A later template change does drift it.
        metadata(&mut pool)
            .labels
            .as_mut()
            .unwrap()
            .insert("x".into(), "y".into());
        let changed: BTreeMap<String, String> = pool
            .hash_annotations()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(
            static_drift(&changed, &nodeclaim),
            Some(DriftReason::NodePoolDrifted)
        );
    }

    #[test]
    fn hash_is_a_decimal_u64_and_deterministic() {
        let hash = pool().hash();
        assert!(hash.parse::<u64>().is_ok(), "{hash}");
        assert_eq!(hash, pool().hash());
    }

    #[test]
    fn hash_annotations_carry_the_joist_version() {
        let [(hash_key, hash), (version_key, version)] = pool().hash_annotations();
        assert_eq!(hash_key, "karpenter.sh/nodepool-hash");
        assert_eq!(hash, pool().hash());
        assert_eq!(version_key, "karpenter.sh/nodepool-hash-version");
        assert_eq!(version, HASH_VERSION);
        assert_ne!(HASH_VERSION, UPSTREAM_HASH_VERSION);
    }

    #[test]
    fn version_change_restamps_non_drifted_nodeclaims_only() {
        let mut upstream_pool = pool();
        upstream_pool.metadata.annotations = Some(BTreeMap::from([
            (NODEPOOL_HASH.into(), "123".into()),
            (NODEPOOL_HASH_VERSION.into(), UPSTREAM_HASH_VERSION.into()),
        ]));
        assert!(upstream_pool.needs_nodeclaim_restamp());
        let stamped = |hash: &str| {
            BTreeMap::from([
                (NODEPOOL_HASH.to_owned(), hash.to_owned()),
                (
                    NODEPOOL_HASH_VERSION.to_owned(),
                    UPSTREAM_HASH_VERSION.to_owned(),
                ),
            ])
        };
        let new_hash = upstream_pool.hash();
        let mut healthy = stamped("123");
        assert!(restamp_nodeclaim(&mut healthy, &new_hash, false));
        assert_eq!(healthy[NODEPOOL_HASH], new_hash);
        assert_eq!(healthy[NODEPOOL_HASH_VERSION], HASH_VERSION);
        let mut drifted = stamped("old");
        assert!(restamp_nodeclaim(&mut drifted, &new_hash, true));
        assert_eq!(
            drifted[NODEPOOL_HASH], "old",
            "drifted NodeClaims keep their hash"
        );
        assert_eq!(drifted[NODEPOOL_HASH_VERSION], HASH_VERSION);
        // Already current: untouched.
        assert!(!restamp_nodeclaim(&mut healthy, "999", false));
        assert_eq!(healthy[NODEPOOL_HASH], new_hash);
        let mut current = pool();
        current.metadata.annotations = Some(
            current
                .hash_annotations()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
        assert!(!current.needs_nodeclaim_restamp());
    }
}
