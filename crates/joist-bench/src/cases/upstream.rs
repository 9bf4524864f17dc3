//! `upstream-mix`: upstream Karpenter's scheduling benchmark (spec core §9.3).
//!
//! One NodePool `default` with limits cpu 10,000,000 and memory 10,000,000Gi, the fake
//! provider's 400 instance types `fake-it-0` … `fake-it-399`, no nodes, no DaemonSets; pods from
//! [`crate::mix::upstream`]. Variants: any pod count (`makeDiversePods(n)`), or
//! `RespectPreferences` / `IgnorePreferences` (4,000 preference pods under that
//! `PreferencePolicy`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::DateTime;
use joist_core::resources::{Quantity, ResourceList, names};
use joist_core::rng::SeededRng;
use joist_core::scheduling::PreferencePolicy;
use joist_core::snapshot::{NodePool, Snapshot};
use joist_core::testing::{FAKE_ZONES, fake_instance_types_n, fake_settings};

use super::{CaseError, Prepared, convert, pod_count};
use crate::mix::{self, upstream};

/// The sizes measured by default.
pub const DEFAULT_VARIANTS: [&str; 6] = [
    "100",
    "1000",
    "5000",
    "20000",
    RESPECT_PREFERENCES,
    IGNORE_PREFERENCES,
];
/// Upstream's `BenchmarkRespectPreferences`.
pub const RESPECT_PREFERENCES: &str = "RespectPreferences";
/// Upstream's `BenchmarkIgnorePreferences`.
pub const IGNORE_PREFERENCES: &str = "IgnorePreferences";
/// Instance types of the fake provider in upstream's benchmark.
pub const INSTANCE_TYPES: usize = 400;
/// The NodePool's name (upstream's `test.NodePool()` generates one; the name does not matter).
pub const NODEPOOL: &str = "default";

const EXPECTED: &str = "a pod count, RespectPreferences or IgnorePreferences";

/// The NodePool: no requirements, huge limits.
fn nodepool() -> NodePool {
    let mut limits = ResourceList::new();
    limits.insert(names::CPU, Quantity::from_int(10_000_000));
    limits.insert(names::MEMORY, Quantity::from_mebibytes(10_000_000 * 1024));
    NodePool {
        name: NODEPOOL.to_string(),
        limits,
        ready: true,
        ..NodePool::default()
    }
}

/// Builds the case at `variant`.
pub fn prepare(variant: &str) -> Result<Prepared, CaseError> {
    let mut rng = SeededRng::new(upstream::SEED);
    let mut settings = fake_settings();
    let pods = match variant {
        RESPECT_PREFERENCES | IGNORE_PREFERENCES => {
            if variant == IGNORE_PREFERENCES {
                settings.preference_policy = PreferencePolicy::Ignore;
            }
            upstream::preference_pods(upstream::PREFERENCE_PODS, FAKE_ZONES[0], &mut rng)
        }
        _ => {
            let count = pod_count("upstream-mix", variant, EXPECTED)?;
            upstream::diverse_pods(count, &mut rng)
        }
    };
    let demand = mix::total_requests(&pods);
    let created = DateTime::UNIX_EPOCH;
    let instance_types = BTreeMap::from([(
        NODEPOOL.to_string(),
        Arc::from(fake_instance_types_n(INSTANCE_TYPES)),
    )]);
    let snapshot = Snapshot {
        now: created,
        pods: pods
            .iter()
            .map(|pod| convert::to_pod(pod, created))
            .collect(),
        nodepools: vec![nodepool()],
        instance_types,
        ..Snapshot::default()
    };
    Ok(Prepared {
        snapshot,
        settings,
        demand,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::Case;

    #[test]
    fn diverse_sizes_build_one_pool_with_400_fake_types_and_no_nodes() {
        let prepared = super::super::prepare(Case::UpstreamMix, "250").expect("prepare");
        let snapshot = &prepared.snapshot;
        assert_eq!(snapshot.pods.len(), 250);
        assert_eq!(snapshot.nodepools.len(), 1);
        assert!(snapshot.nodes.is_empty() && snapshot.daemonsets.is_empty());
        assert_eq!(prepared.offered_instance_types(), INSTANCE_TYPES);
        let types = &snapshot.instance_types[NODEPOOL];
        assert_eq!(types[0].name, "fake-it-0");
        assert_eq!(types[399].name, "fake-it-399");
        assert_eq!(
            snapshot.nodepools[0].limits.get(names::CPU),
            Some(Quantity::from_int(10_000_000))
        );
        assert_eq!(
            prepared.demand.get(names::PODS),
            Some(Quantity::from_int(250))
        );
        assert_eq!(
            prepared.settings.preference_policy,
            PreferencePolicy::Respect
        );
    }

    #[test]
    fn preference_variants_set_the_policy_and_prefer_the_first_fake_zone() {
        let respect = prepare(RESPECT_PREFERENCES).expect("respect");
        let ignore = prepare(IGNORE_PREFERENCES).expect("ignore");
        assert_eq!(respect.snapshot.pods.len(), upstream::PREFERENCE_PODS);
        assert_eq!(
            respect.settings.preference_policy,
            PreferencePolicy::Respect
        );
        assert_eq!(ignore.settings.preference_policy, PreferencePolicy::Ignore);
        let preference = &respect.snapshot.pods[0].constraints.node_affinity.preferred[0];
        assert_eq!(
            preference.preference.match_expressions[0].values,
            vec![FAKE_ZONES[0].to_string()]
        );
    }

    #[test]
    fn unknown_variants_are_refused_with_what_is_accepted() {
        let err = prepare("lots").expect_err("refused");
        assert!(err.to_string().contains("RespectPreferences"), "{err}");
        assert!(prepare("0").is_err());
    }
}
