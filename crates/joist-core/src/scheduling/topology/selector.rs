//! [`PodSelector`]: a label selector in canonical form, so that two constraints selecting the same
//! pods share one topology group and a pod is matched without re-validating the selector.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::snapshot::{LabelSelector, SelectorOperator};

/// Which pods a topology group counts (spec core §2.9).
///
/// Kubernetes semantics: a **nil** selector, and an invalid one, select no pod (upstream
/// `LabelSelectorAsSelector` failing ⇒ `labels.Nothing()`); an empty selector selects every pod.
/// `matchLabels` entries are folded into `In` expressions and the expressions are sorted and
/// de-duplicated, so equal selectors compare and hash equal (upstream hashes expressions as a set
/// for the same reason).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum PodSelector {
    /// Nil or invalid: selects no pod.
    Nothing,
    /// Every term must hold; no term selects every pod.
    All(Arc<[SelectorTerm]>),
}

/// One canonical expression: `values` sorted and de-duplicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SelectorTerm {
    /// The label key.
    key: String,
    /// How the label is compared.
    operator: SelectorOperator,
    /// The values (`In`/`NotIn` only).
    values: Vec<String>,
}

impl PodSelector {
    /// The canonical form of `selector`, with `extra` `(key, value)` pairs ANDed in as `In`
    /// expressions (how a spread constraint's `matchLabelKeys` narrow its selector). A nil
    /// selector stays nil whatever `extra` holds.
    pub(crate) fn new<'a>(
        selector: Option<&'a LabelSelector>,
        extra: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let Some(selector) = selector else {
            return PodSelector::Nothing;
        };
        if selector.validate().is_err() {
            return PodSelector::Nothing;
        }
        let labels = selector
            .match_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra)
            .map(|(key, value)| SelectorTerm {
                key: key.to_owned(),
                operator: SelectorOperator::In,
                values: vec![value.to_owned()],
            });
        let expressions = selector.match_expressions.iter().map(|e| {
            let mut values = e.values.clone();
            values.sort_unstable();
            values.dedup();
            SelectorTerm {
                key: e.key.clone(),
                operator: e.operator,
                values,
            }
        });
        let mut terms: Vec<SelectorTerm> = labels.chain(expressions).collect();
        terms.sort_unstable();
        terms.dedup();
        PodSelector::All(terms.into())
    }

    /// Whether a pod with `labels` is selected.
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            PodSelector::Nothing => false,
            PodSelector::All(terms) => terms.iter().all(|t| t.matches(labels)),
        }
    }
}

impl SelectorTerm {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        // Values are sorted at construction, so membership is a binary search.
        self.operator.admits(labels.get(&self.key), |v| {
            self.values.binary_search(v).is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nil_and_invalid_select_nothing_and_empty_selects_everything() {
        let pod = labels(&[("app", "web")]);
        assert!(!PodSelector::new(None, [("app", "web")]).matches(&pod));
        let invalid = LabelSelector::everything().with_expression(LabelSelectorRequirement::new(
            "app",
            SelectorOperator::In,
            Vec::<String>::new(),
        ));
        assert_eq!(PodSelector::new(Some(&invalid), []), PodSelector::Nothing);
        let everything = PodSelector::new(Some(&LabelSelector::everything()), []);
        assert!(everything.matches(&pod));
        assert!(everything.matches(&labels(&[])));
    }

    #[test]
    fn match_labels_and_equivalent_expressions_are_one_selector() {
        let by_labels = LabelSelector::from_labels([("app", "web")]);
        let by_expression = LabelSelector::everything().with_expression(
            LabelSelectorRequirement::new("app", SelectorOperator::In, ["web", "web"]),
        );
        assert_eq!(
            PodSelector::new(Some(&by_labels), []),
            PodSelector::new(Some(&by_expression), [])
        );
    }

    #[test]
    fn extra_pairs_narrow_the_selector() {
        let selector = LabelSelector::from_labels([("app", "web")]);
        let narrowed = PodSelector::new(Some(&selector), [("version", "v2")]);
        assert!(narrowed.matches(&labels(&[("app", "web"), ("version", "v2")])));
        assert!(!narrowed.matches(&labels(&[("app", "web"), ("version", "v1")])));
        assert!(!narrowed.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn operators_follow_kubernetes_semantics() {
        let select = |operator, values: &[&str]| {
            let s = LabelSelector::everything().with_expression(LabelSelectorRequirement::new(
                "k",
                operator,
                values.iter().copied(),
            ));
            PodSelector::new(Some(&s), [])
        };
        let (a, b, none) = (labels(&[("k", "a")]), labels(&[("k", "b")]), labels(&[]));
        let in_a = select(SelectorOperator::In, &["a"]);
        assert!(in_a.matches(&a) && !in_a.matches(&b) && !in_a.matches(&none));
        let not_in_a = select(SelectorOperator::NotIn, &["a"]);
        assert!(!not_in_a.matches(&a) && not_in_a.matches(&b) && not_in_a.matches(&none));
        let exists = select(SelectorOperator::Exists, &[]);
        assert!(exists.matches(&a) && !exists.matches(&none));
        let absent = select(SelectorOperator::DoesNotExist, &[]);
        assert!(!absent.matches(&a) && absent.matches(&none));
    }
}
