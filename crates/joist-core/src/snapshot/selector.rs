//! [`LabelSelector`]: Kubernetes label selectors with apimachinery's semantics.
//!
//! * A **nil** selector (`Option::None` where the API field is optional) selects nothing; an
//!   **empty** selector (`{}`) selects everything. Topology spread and pod (anti-)affinity rely on
//!   this distinction (spec core §2.9: a nil TSC selector never restricts).
//! * `In`/`NotIn` need at least one value, `Exists`/`DoesNotExist` none; a selector that breaks
//!   these rules is invalid and, like upstream (which fails `LabelSelectorAsSelector` and treats
//!   the term as matching nothing), [`LabelSelector::matches`] then returns `false`.

use std::collections::BTreeMap;
use std::fmt;

/// A label selector operator (`metav1.LabelSelectorOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SelectorOperator {
    /// The label is present and its value is one of the values.
    In,
    /// The label is absent, or present with a value that is none of the values.
    NotIn,
    /// The label is present (any value).
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl SelectorOperator {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            SelectorOperator::In => "In",
            SelectorOperator::NotIn => "NotIn",
            SelectorOperator::Exists => "Exists",
            SelectorOperator::DoesNotExist => "DoesNotExist",
        }
    }

    /// Whether a label whose value is `value` (`None` = absent) satisfies this operator, where
    /// `listed` says whether a value is among the expression's values. The one place the four
    /// operators' Kubernetes semantics live; each selector form supplies its own value lookup.
    pub fn admits(self, value: Option<&String>, listed: impl Fn(&String) -> bool) -> bool {
        match self {
            SelectorOperator::In => value.is_some_and(listed),
            SelectorOperator::NotIn => !value.is_some_and(listed),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for SelectorOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelSelectorRequirement {
    /// The label key the expression is about.
    pub key: String,
    /// How the label's value is compared with `values`.
    pub operator: SelectorOperator,
    /// The values (`In`/`NotIn`: at least one; `Exists`/`DoesNotExist`: none).
    pub values: Vec<String>,
}

impl LabelSelectorRequirement {
    /// Builds an expression.
    pub fn new<I, S>(key: impl Into<String>, operator: SelectorOperator, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            key: key.into(),
            operator,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Why the expression is invalid, if it is (apimachinery's messages).
    pub fn validate(&self) -> Result<(), SelectorError> {
        let needs_values = matches!(
            self.operator,
            SelectorOperator::In | SelectorOperator::NotIn
        );
        if needs_values == self.values.is_empty() {
            return Err(SelectorError::ValueCount {
                key: self.key.clone(),
                operator: self.operator,
            });
        }
        Ok(())
    }

    /// Whether `labels` satisfy the expression (assumes it is valid).
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.operator
            .admits(labels.get(&self.key), |v| self.values.contains(v))
    }
}

/// Why a selector is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `In`/`NotIn` without values, or `Exists`/`DoesNotExist` with values.
    #[error("{}", value_count_message(.key, *.operator))]
    ValueCount {
        /// The expression's key.
        key: String,
        /// The expression's operator.
        operator: SelectorOperator,
    },
}

fn value_count_message(key: &str, operator: SelectorOperator) -> String {
    match operator {
        SelectorOperator::In | SelectorOperator::NotIn => {
            format!(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty (key {key})"
            )
        }
        SelectorOperator::Exists | SelectorOperator::DoesNotExist => format!(
            "values: Invalid value: for 'exists', 'doesnotexist' operators, values set must be empty (key {key})"
        ),
    }
}

/// A label selector: `matchLabels` AND every `matchExpressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    pub match_labels: BTreeMap<String, String>,
    /// Further expressions, all of which must hold.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// The empty selector, which selects everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector of `matchLabels` only.
    pub fn from_labels<I, K, V>(labels: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            match_labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    /// Returns the selector with one more expression.
    #[must_use]
    pub fn with_expression(mut self, expression: LabelSelectorRequirement) -> Self {
        self.match_expressions.push(expression);
        self
    }

    /// Whether the selector has neither labels nor expressions (selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Why the selector is invalid, if it is.
    pub fn validate(&self) -> Result<(), SelectorError> {
        self.match_expressions
            .iter()
            .try_for_each(LabelSelectorRequirement::validate)
    }

    /// Whether `labels` are selected. An invalid selector selects nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        if self.validate().is_err() {
            return false;
        }
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }
}

/// Kubernetes' reading of an optional selector: `None` (nil) selects nothing, `Some` follows
/// [`LabelSelector::matches`].
pub fn optional_selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| s.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nil_selects_nothing_and_empty_selects_everything() {
        let l = labels(&[("app", "web")]);
        assert!(!optional_selector_matches(None, &l));
        assert!(optional_selector_matches(
            Some(&LabelSelector::everything()),
            &l
        ));
        assert!(optional_selector_matches(
            Some(&LabelSelector::everything()),
            &BTreeMap::new()
        ));
    }

    #[test]
    fn match_labels_need_exact_values() {
        let s = LabelSelector::from_labels([("app", "web")]);
        assert!(s.matches(&labels(&[("app", "web"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "db")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn operators_follow_kubernetes_semantics() {
        let sel = |op, values: &[&str]| {
            LabelSelector::everything().with_expression(LabelSelectorRequirement::new(
                "k",
                op,
                values.iter().copied(),
            ))
        };
        let with_a = labels(&[("k", "a")]);
        let with_b = labels(&[("k", "b")]);
        let without = labels(&[("other", "a")]);
        let in_a = sel(SelectorOperator::In, &["a"]);
        assert!(in_a.matches(&with_a) && !in_a.matches(&with_b) && !in_a.matches(&without));
        let not_in_a = sel(SelectorOperator::NotIn, &["a"]);
        assert!(
            !not_in_a.matches(&with_a) && not_in_a.matches(&with_b) && not_in_a.matches(&without)
        );
        let exists = sel(SelectorOperator::Exists, &[]);
        assert!(exists.matches(&with_a) && !exists.matches(&without));
        let absent = sel(SelectorOperator::DoesNotExist, &[]);
        assert!(!absent.matches(&with_a) && absent.matches(&without));
    }

    #[test]
    fn invalid_selectors_select_nothing() {
        let in_without_values = LabelSelector::everything().with_expression(
            LabelSelectorRequirement::new("k", SelectorOperator::In, Vec::<String>::new()),
        );
        assert!(in_without_values.validate().is_err());
        assert!(!in_without_values.matches(&labels(&[("k", "a")])));
        let exists_with_values = LabelSelector::everything().with_expression(
            LabelSelectorRequirement::new("k", SelectorOperator::Exists, ["a"]),
        );
        assert!(!exists_with_values.matches(&labels(&[("k", "a")])));
    }
}
