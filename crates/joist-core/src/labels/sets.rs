//! Provider-extensible label sets: [`WellKnownLabels`] and [`LabelAliases`].

use std::collections::{BTreeMap, BTreeSet};

use super::{
    ARCH, BETA_ARCH, BETA_INSTANCE_TYPE, BETA_OS, CAPACITY_TYPE, FAILURE_DOMAIN_BETA_REGION,
    FAILURE_DOMAIN_BETA_ZONE, INSTANCE_TYPE, NODEPOOL, OS, REGION, WINDOWS_BUILD, ZONE,
};

// === impl WellKnownLabels ===

/// The label keys Karpenter knows values for (upstream `WellKnownLabels`), kept sorted.
///
/// These keys may be left undefined by a NodePool template and still be used by pods: the
/// scheduler passes this set as `allow_undefined` when checking pods against NodePools and
/// offerings. It is a value built by the provider (`core()` plus the provider's keys) rather than
/// a global, so that tests and providers can use different sets side by side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WellKnownLabels {
    /// The keys, sorted so that iteration (e.g. for typo hints) is deterministic.
    keys: BTreeSet<String>,
}

impl WellKnownLabels {
    /// An empty set (for checks that allow no undefined key).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The core set of spec core §1.4: nodepool, zone, region, instance type, arch, os,
    /// capacity type and windows build.
    pub fn core() -> Self {
        Self::empty().with([
            NODEPOOL,
            ZONE,
            REGION,
            INSTANCE_TYPE,
            ARCH,
            OS,
            CAPACITY_TYPE,
            WINDOWS_BUILD,
        ])
    }

    /// Returns the set extended with `keys` (how a provider adds its labels).
    #[must_use]
    pub fn with<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Adds one key; returns whether it was new.
    pub fn insert(&mut self, key: impl Into<String>) -> bool {
        self.keys.insert(key.into())
    }

    /// Whether `key` is well known.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// The keys in sorted order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + Clone {
        self.keys.iter().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

// === impl LabelAliases ===

/// Deprecated label keys and the canonical keys they are rewritten to (upstream
/// `NormalizedLabels`).
///
/// Pod and NodePool requirements are normalised with it before any comparison, so a pod selecting
/// `failure-domain.beta.kubernetes.io/zone` matches nodes labelled `topology.kubernetes.io/zone`.
/// A value so that the provider can add its own aliases (AWS adds `topology.ebs.csi.aws.com/zone`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelAliases {
    /// Deprecated key -> canonical key.
    aliases: BTreeMap<String, String>,
}

impl LabelAliases {
    /// No aliases: `normalize` returns every key unchanged.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The five aliases of spec core §1.4 (beta zone/region/arch/os/instance-type).
    pub fn core() -> Self {
        Self::empty()
            .with(FAILURE_DOMAIN_BETA_ZONE, ZONE)
            .with(FAILURE_DOMAIN_BETA_REGION, REGION)
            .with(BETA_ARCH, ARCH)
            .with(BETA_OS, OS)
            .with(BETA_INSTANCE_TYPE, INSTANCE_TYPE)
    }

    /// Returns the aliases extended with `alias` -> `canonical` (replacing an earlier mapping of
    /// the same alias).
    #[must_use]
    pub fn with(mut self, alias: impl Into<String>, canonical: impl Into<String>) -> Self {
        self.aliases.insert(alias.into(), canonical.into());
        self
    }

    /// The canonical key for `key`: its alias target if it is a known alias, else `key` itself.
    /// Aliases are applied once, not transitively, as upstream does.
    pub fn normalize<'a>(&'a self, key: &'a str) -> &'a str {
        self.aliases.get(key).map_or(key, String::as_str)
    }

    /// The (alias, canonical) pairs in alias order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, c)| (a.as_str(), c.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_well_known_labels_are_the_eight_of_the_spec() {
        let wk = WellKnownLabels::core();
        assert_eq!(wk.len(), 8);
        for key in [
            NODEPOOL,
            ZONE,
            REGION,
            INSTANCE_TYPE,
            ARCH,
            OS,
            CAPACITY_TYPE,
            WINDOWS_BUILD,
        ] {
            assert!(wk.contains(key), "{key}");
        }
        assert!(!wk.contains("kubernetes.io/hostname"));
        let keys: Vec<&str> = wk.iter().collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "iteration is sorted");
    }

    #[test]
    fn providers_extend_well_known_labels_without_touching_core() {
        let mut aws = WellKnownLabels::core().with(["karpenter.k8s.aws/instance-family"]);
        assert!(aws.insert("karpenter.k8s.aws/instance-size"));
        assert!(!aws.insert("karpenter.k8s.aws/instance-size"));
        assert!(aws.contains("karpenter.k8s.aws/instance-family"));
        assert_eq!(aws.len(), 10);
        assert!(!WellKnownLabels::core().contains("karpenter.k8s.aws/instance-family"));
        assert!(WellKnownLabels::empty().is_empty());
    }

    #[test]
    fn aliases_normalise_the_five_beta_keys_and_leave_others() {
        let aliases = LabelAliases::core();
        assert_eq!(aliases.normalize(FAILURE_DOMAIN_BETA_ZONE), ZONE);
        assert_eq!(aliases.normalize(FAILURE_DOMAIN_BETA_REGION), REGION);
        assert_eq!(aliases.normalize(BETA_ARCH), ARCH);
        assert_eq!(aliases.normalize(BETA_OS), OS);
        assert_eq!(aliases.normalize(BETA_INSTANCE_TYPE), INSTANCE_TYPE);
        assert_eq!(aliases.normalize("example.com/team"), "example.com/team");
        assert_eq!(aliases.iter().count(), 5);
    }

    #[test]
    fn provider_alias_is_added() {
        let aliases = LabelAliases::core().with("topology.ebs.csi.aws.com/zone", ZONE);
        assert_eq!(aliases.normalize("topology.ebs.csi.aws.com/zone"), ZONE);
        assert_eq!(LabelAliases::empty().normalize(BETA_OS), BETA_OS);
    }
}
