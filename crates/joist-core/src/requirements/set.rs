//! [`Requirements`]: requirements keyed by label key, in key order.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use super::{NodeSelectorRequirement, Requirement, RequirementError};
use crate::labels::{HOSTNAME, LabelAliases, WellKnownLabels};
use crate::rng::SeededRng;

/// A conjunction of requirements, at most one per label key (upstream `Requirements`).
///
/// Stored as a `Vec` sorted by key: the sets are small (a pod has a handful of keys, an instance
/// type a few dozen), so binary search beats hashing, iteration is in key order (deterministic
/// output and error order), and cloning is one allocation plus reference-count bumps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Requirements {
    /// The requirements, sorted by key, keys unique.
    items: Vec<Requirement>,
}

// === impl Requirements: construction ===

impl Requirements {
    /// No requirements (every key allowed).
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds requirements from wire requirements, normalising keys with `aliases` and
    /// intersecting repeated keys (upstream `NewNodeSelectorRequirementsWithMinValues`).
    pub fn from_node_selector_requirements(
        requirements: &[NodeSelectorRequirement],
        aliases: &LabelAliases,
    ) -> Result<Self, RequirementError> {
        let mut out = Self::new();
        for requirement in requirements {
            out.add(Requirement::from_node_selector_requirement(
                requirement,
                aliases,
            )?);
        }
        Ok(out)
    }

    /// One `key In [value]` per label, keys normalised with `aliases` (upstream
    /// `NewLabelRequirements`; two labels that normalise to one key intersect).
    pub fn from_labels(labels: &BTreeMap<String, String>, aliases: &LabelAliases) -> Self {
        let mut out = Self::new();
        for (key, value) in labels {
            out.add(Requirement::in_values(aliases.normalize(key), [value]));
        }
        out
    }

    /// Requirements from `items`, which are already sorted by key with unique keys (as another
    /// `Requirements`' items are).
    pub(super) fn from_sorted_unique(items: Vec<Requirement>) -> Self {
        debug_assert!(items.windows(2).all(|w| w[0].key() < w[1].key()));
        Self { items }
    }

    /// Adds a requirement; if its key is already present the stored requirement becomes the
    /// intersection of both (`minValues` = max).
    pub fn add(&mut self, requirement: Requirement) {
        match self.position(requirement.key()) {
            Ok(i) => {
                let merged = self.items[i].intersection(&requirement);
                self.items[i] = merged;
            }
            Err(i) => self.items.insert(i, requirement),
        }
    }

    /// Adds every requirement of `other` (see [`add`](Self::add)).
    pub fn add_all(&mut self, other: &Requirements) {
        for requirement in &other.items {
            self.add(requirement.clone());
        }
    }

    /// Removes and returns the requirement on `key`, if any (used when relaxing preferences).
    pub fn remove(&mut self, key: &str) -> Option<Requirement> {
        self.position(key).ok().map(|i| self.items.remove(i))
    }

    /// The requirements of both: keys of either side, intersected where both define them.
    pub fn intersection(&self, other: &Requirements) -> Requirements {
        let mut items = Vec::with_capacity(self.items.len() + other.items.len());
        let (mut i, mut j) = (0, 0);
        while i < self.items.len() && j < other.items.len() {
            let (a, b) = (&self.items[i], &other.items[j]);
            match a.key().cmp(b.key()) {
                std::cmp::Ordering::Less => {
                    items.push(a.clone());
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    items.push(b.clone());
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    items.push(a.intersection(b));
                    i += 1;
                    j += 1;
                }
            }
        }
        items.extend(self.items[i..].iter().cloned());
        items.extend(other.items[j..].iter().cloned());
        Requirements { items }
    }
}

impl FromIterator<Requirement> for Requirements {
    fn from_iter<I: IntoIterator<Item = Requirement>>(iter: I) -> Self {
        let mut out = Self::new();
        out.extend(iter);
        out
    }
}

impl Extend<Requirement> for Requirements {
    fn extend<I: IntoIterator<Item = Requirement>>(&mut self, iter: I) {
        for requirement in iter {
            self.add(requirement);
        }
    }
}

impl<'a> IntoIterator for &'a Requirements {
    type Item = &'a Requirement;
    type IntoIter = std::slice::Iter<'a, Requirement>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

// === impl Requirements: queries ===

/// Up to this many keys [`Requirements::find`] scans instead of binary searching.
const LINEAR_FIND_MAX: usize = 16;

impl Requirements {
    /// Binary search for `key`.
    pub(super) fn position(&self, key: &str) -> Result<usize, usize> {
        self.items.binary_search_by(|r| r.key().cmp(key))
    }

    /// The requirement on `key`, or `key Exists` when the key is not constrained (upstream `Get`).
    pub fn get(&self, key: &str) -> Cow<'_, Requirement> {
        match self.find(key) {
            Some(requirement) => Cow::Borrowed(requirement),
            None => Cow::Owned(Requirement::exists(key)),
        }
    }

    /// The requirement on `key` if the key is constrained.
    ///
    /// Small sets (a NodeClaim's dozen keys) are scanned: string equality compares lengths
    /// first, and label keys mostly differ in length, whereas the binary search's ordering
    /// compares the long shared prefixes (`kubernetes.io/`, `karpenter.sh/`) byte by byte.
    pub fn find(&self, key: &str) -> Option<&Requirement> {
        if self.items.len() <= LINEAR_FIND_MAX {
            return self.items.iter().find(|r| r.key() == key);
        }
        self.position(key).ok().map(|i| &self.items[i])
    }

    /// Whether `key` is constrained (upstream `Has`).
    pub fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// The constrained keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + Clone {
        self.items.iter().map(Requirement::key)
    }

    /// The requirements in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, Requirement> {
        self.items.iter()
    }

    /// Number of constrained keys.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no key is constrained.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether any requirement carries `minValues` (upstream `HasMinValues`).
    pub fn has_min_values(&self) -> bool {
        self.items.iter().any(|r| r.min_values().is_some())
    }

    /// The wire form, in key order (upstream `NodeSelectorRequirements`, whose order is random).
    pub fn to_node_selector_requirements(&self) -> Vec<NodeSelectorRequirement> {
        self.items
            .iter()
            .flat_map(Requirement::to_node_selector_requirements)
            .collect()
    }

    /// Node labels resolved from the requirements (upstream
    /// `NodeClaimTemplate.resolveCustomLabelsFromRequirements`): for every key not in `exclude`
    /// and not `kubernetes.io/hostname`, [`Requirement::any`] if it yields a value. Keys are
    /// visited in order, so the result depends only on the requirements and the RNG state.
    ///
    /// Pass the provider's well-known labels as `exclude` to get upstream's behaviour (well-known
    /// labels come from the chosen instance type instead); pass an empty set to resolve every key.
    pub fn labels(
        &self,
        rng: &mut SeededRng,
        exclude: &WellKnownLabels,
    ) -> BTreeMap<String, String> {
        self.items
            .iter()
            .filter(|r| r.key() != HOSTNAME && !exclude.contains(r.key()))
            .filter_map(|r| r.any(rng).map(|value| (r.key().to_owned(), value)))
            .collect()
    }
}

/// Upstream's `String()`: every requirement except `kubernetes.io/hostname`, as strings, sorted,
/// joined by `", "`.
impl fmt::Display for Requirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .items
            .iter()
            .filter(|r| r.key() != HOSTNAME)
            .map(ToString::to_string)
            .collect();
        parts.sort_unstable();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::labels::{self, LabelAliases, WellKnownLabels};
    use crate::requirements::{NodeSelectorRequirement, Operator, Requirement};
    use crate::rng::SeededRng;

    fn reqs(items: impl IntoIterator<Item = Requirement>) -> Requirements {
        items.into_iter().collect()
    }

    fn keyed(key: &str, op: Operator, values: &[&str]) -> Requirement {
        Requirement::new(key, op, values.iter().copied()).unwrap()
    }

    #[test]
    fn requirements_string_is_sorted_and_skips_hostname() {
        let r = reqs([
            keyed("inA", Operator::In, &["A"]),
            keyed("exists", Operator::Exists, &[]),
            keyed("greaterThan1", Operator::Gt, &["1"]),
            keyed("notIn12", Operator::NotIn, &["1", "2"]),
            keyed(labels::HOSTNAME, Operator::In, &["node-1"]),
            keyed("doesNotExist", Operator::DoesNotExist, &[]),
        ]);
        assert_eq!(
            r.to_string(),
            "doesNotExist DoesNotExist, exists Exists, greaterThan1 Exists >=2, inA In [A], \
             notIn12 NotIn [1 2]"
        );
    }

    #[test]
    fn find_and_has_agree_below_and_above_the_scan_limit() {
        for size in [
            0,
            1,
            LINEAR_FIND_MAX,
            LINEAR_FIND_MAX + 1,
            3 * LINEAR_FIND_MAX,
        ] {
            let keys: Vec<String> = (0..size)
                .map(|i| format!("example.com/key-{i:02}"))
                .collect();
            let r = reqs(keys.iter().map(|k| keyed(k, Operator::In, &[k.as_str()])));
            for key in &keys {
                let found = r.find(key).expect("every added key is found");
                assert_eq!(found.key(), key);
                assert!(found.has(key));
                assert!(r.has(key));
            }
            assert!(r.find("example.com/key-").is_none(), "size {size}");
            assert!(!r.has("example.com/key-999"), "size {size}");
        }
    }

    #[test]
    fn add_intersects_an_existing_key() {
        let mut r = Requirements::new();
        r.add(keyed("k", Operator::In, &["a", "b"]).with_min_values(Some(1)));
        r.add(keyed("k", Operator::NotIn, &["a"]).with_min_values(Some(2)));
        assert_eq!(r.len(), 1);
        assert_eq!(r.get("k").to_string(), "k In [b] minValues 2");
    }

    #[test]
    fn get_of_an_absent_key_is_exists() {
        let r = Requirements::new();
        assert!(!r.has("k"));
        assert_eq!(r.get("k").operator(), Operator::Exists);
        assert_eq!(r.get("k").key(), "k");
        assert!(r.find("k").is_none());
    }

    #[test]
    fn keys_are_iterated_in_order() {
        let r = reqs([
            keyed("b", Operator::Exists, &[]),
            keyed("a", Operator::Exists, &[]),
        ]);
        assert_eq!(r.keys().collect::<Vec<_>>(), ["a", "b"]);
        let mut r = r;
        assert!(r.remove("a").is_some());
        assert_eq!(r.keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn from_labels_normalises_and_uses_in() {
        let labels = BTreeMap::from([
            (labels::BETA_ARCH.to_owned(), "arm64".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ]);
        let r = Requirements::from_labels(&labels, &LabelAliases::core());
        assert_eq!(r.to_string(), "kubernetes.io/arch In [arm64], team In [a]");
    }

    #[test]
    fn from_node_selector_requirements_normalises_intersects_and_reports_errors() {
        let wire = [
            NodeSelectorRequirement::new(
                labels::FAILURE_DOMAIN_BETA_ZONE,
                Operator::In,
                ["a", "b"],
            ),
            NodeSelectorRequirement::new(labels::ZONE, Operator::NotIn, ["a"])
                .with_min_values(Some(1)),
        ];
        let r =
            Requirements::from_node_selector_requirements(&wire, &LabelAliases::core()).unwrap();
        assert_eq!(
            r.to_string(),
            "topology.kubernetes.io/zone In [b] minValues 1"
        );
        let bad = [NodeSelectorRequirement::new("k", Operator::Gt, ["x"])];
        assert!(
            Requirements::from_node_selector_requirements(&bad, &LabelAliases::core()).is_err()
        );
    }

    #[test]
    fn to_node_selector_requirements_emits_bounds_as_gte_and_lte() {
        let r = reqs([
            keyed("both", Operator::Gt, &["1"]).intersection(&keyed("both", Operator::Lt, &["9"])),
            keyed("in", Operator::In, &["b", "a"]).with_min_values(Some(2)),
            keyed("lower", Operator::Gt, &["1"]),
            keyed("notin", Operator::Gte, &["0"]).intersection(&keyed(
                "notin",
                Operator::NotIn,
                &["5"],
            )),
            keyed("none", Operator::DoesNotExist, &[]),
            keyed("any", Operator::Exists, &[]),
        ]);
        let wire = r.to_node_selector_requirements();
        let expected = [
            NodeSelectorRequirement::new("any", Operator::Exists, Vec::<String>::new()),
            NodeSelectorRequirement::new("both", Operator::Gte, ["2"]),
            NodeSelectorRequirement::new("both", Operator::Lte, ["8"]),
            NodeSelectorRequirement::new("in", Operator::In, ["a", "b"]).with_min_values(Some(2)),
            NodeSelectorRequirement::new("lower", Operator::Gte, ["2"]),
            NodeSelectorRequirement::new("none", Operator::DoesNotExist, Vec::<String>::new()),
            NodeSelectorRequirement::new("notin", Operator::Gte, ["0"]),
            NodeSelectorRequirement::new("notin", Operator::NotIn, ["5"]),
        ];
        assert_eq!(wire, expected);
        let back =
            Requirements::from_node_selector_requirements(&wire, &LabelAliases::empty()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn labels_resolve_custom_keys_and_skip_excluded_and_hostname() {
        let r = reqs([
            keyed("custom", Operator::In, &["x", "a"]),
            keyed("gpu-count", Operator::Gt, &["3"]).intersection(&keyed(
                "gpu-count",
                Operator::Lt,
                &["5"],
            )),
            keyed("absent", Operator::DoesNotExist, &[]),
            keyed(labels::ZONE, Operator::In, &["us-east-1a"]),
            keyed(labels::HOSTNAME, Operator::In, &["h"]),
        ]);
        let mut rng = SeededRng::new(0);
        let resolved = r.labels(&mut rng, &WellKnownLabels::core());
        let expected = BTreeMap::from([
            ("custom".to_owned(), "a".to_owned()),
            ("gpu-count".to_owned(), "4".to_owned()),
        ]);
        assert_eq!(resolved, expected);
        let all = r.labels(&mut rng, &WellKnownLabels::empty());
        assert_eq!(
            all.get(labels::ZONE).map(String::as_str),
            Some("us-east-1a")
        );
        assert!(!all.contains_key(labels::HOSTNAME));
    }

    #[test]
    fn requirements_intersection_unions_keys_and_intersects_shared_ones() {
        let a = reqs([
            keyed("a", Operator::In, &["1", "2"]),
            keyed("b", Operator::Exists, &[]),
        ]);
        let b = reqs([
            keyed("a", Operator::In, &["2", "3"]),
            keyed("c", Operator::DoesNotExist, &[]),
        ]);
        assert_eq!(
            a.intersection(&b).to_string(),
            "a In [2], b Exists, c DoesNotExist"
        );
    }
}
