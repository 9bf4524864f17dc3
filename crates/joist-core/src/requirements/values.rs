//! Sorted, shared value sets and integer bounds: the storage under [`Requirement`](super::Requirement).
//!
//! Values are kept as a sorted, de-duplicated `Arc<[Arc<str>]>`: membership is a binary search,
//! set operations are merge walks (or binary searches when one side is much smaller), cloning a
//! requirement is a few reference-count bumps, and the same instance-type or zone names are shared
//! between every requirement that mentions them.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;

/// A sorted (byte order), de-duplicated, shared set of label values.
pub(super) type Values = Arc<[Arc<str>]>;

/// Anything that can become a shared label key or value without surprises: `&str`, `String`,
/// `&String`, `Arc<str>` (shared, no copy), `&Arc<str>`, `Box<str>` and `Cow<str>`.
///
/// Exists so constructors accept all the string forms callers have at hand, while callers that
/// already hold `Arc<str>` (e.g. instance-type names in a catalog) share them instead of copying.
pub trait IntoValue {
    /// Converts into a shared string.
    fn into_value(self) -> Arc<str>;
}

impl IntoValue for &str {
    fn into_value(self) -> Arc<str> {
        Arc::from(self)
    }
}
impl IntoValue for String {
    fn into_value(self) -> Arc<str> {
        Arc::from(self)
    }
}
impl IntoValue for &String {
    fn into_value(self) -> Arc<str> {
        Arc::from(self.as_str())
    }
}
impl IntoValue for Arc<str> {
    fn into_value(self) -> Arc<str> {
        self
    }
}
impl IntoValue for &Arc<str> {
    fn into_value(self) -> Arc<str> {
        Arc::clone(self)
    }
}
impl IntoValue for Box<str> {
    fn into_value(self) -> Arc<str> {
        Arc::from(self)
    }
}
impl IntoValue for Cow<'_, str> {
    fn into_value(self) -> Arc<str> {
        match self {
            Cow::Borrowed(s) => Arc::from(s),
            Cow::Owned(s) => Arc::from(s),
        }
    }
}

/// Builds a sorted, de-duplicated value set.
pub(super) fn sorted_set<I>(values: I) -> Values
where
    I: IntoIterator,
    I::Item: IntoValue,
{
    let mut list: Vec<Arc<str>> = values.into_iter().map(IntoValue::into_value).collect();
    list.sort_unstable();
    list.dedup();
    Values::from(list)
}

/// The empty value set.
pub(super) fn empty() -> Values {
    Values::from(Vec::new())
}

/// Whether the sorted set holds `value`.
pub(super) fn contains(values: &[Arc<str>], value: &str) -> bool {
    values.binary_search_by(|v| (**v).cmp(value)).is_ok()
}

// === Bounds ===

/// Inclusive integer bounds of a complement requirement (`Gt n` is stored as `gte = n + 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(super) struct Bounds {
    /// Inclusive lower bound.
    pub(super) gte: Option<i64>,
    /// Inclusive upper bound.
    pub(super) lte: Option<i64>,
}

impl Bounds {
    /// No bound at all.
    pub(super) const NONE: Bounds = Bounds {
        gte: None,
        lte: None,
    };

    /// Whether neither bound is set.
    pub(super) fn is_none(self) -> bool {
        self.gte.is_none() && self.lte.is_none()
    }

    /// The tighter of two bounds on each side (max of lower bounds, min of upper bounds).
    pub(super) fn tighten(self, other: Bounds) -> Bounds {
        Bounds {
            gte: max_option(self.gte, other.gte),
            lte: min_option(self.lte, other.lte),
        }
    }

    /// Whether the bounds exclude every integer (lower bound above the upper bound).
    pub(super) fn is_empty(self) -> bool {
        matches!((self.gte, self.lte), (Some(gte), Some(lte)) if gte > lte)
    }

    /// Whether `value` lies within the bounds. Without bounds every string does; with a bound a
    /// value must parse as a decimal `i64` (Go `strconv.Atoi` syntax) to be inside.
    pub(super) fn admits(self, value: &str) -> bool {
        if self.is_none() {
            return true;
        }
        match value.parse::<i64>() {
            Ok(n) => self.gte.is_none_or(|gte| n >= gte) && self.lte.is_none_or(|lte| n <= lte),
            Err(_) => false,
        }
    }
}

/// The larger of two optional values, `None` meaning "unbounded".
fn max_option(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The smaller of two optional values, `None` meaning "unbounded".
fn min_option(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

// === Set operations ===

/// A set operation on two sorted value sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SetOp {
    /// Elements in either set.
    Union,
    /// Elements of the left set that are not in the right one.
    Difference,
    /// Elements in both sets.
    Intersection,
}

/// Visits, in sorted order, every element of `op(a, b)` that `keep` admits, stopping early when
/// `visit` breaks. Allocation-free.
pub(super) fn walk<'a>(
    a: &'a [Arc<str>],
    b: &'a [Arc<str>],
    op: SetOp,
    keep: impl Fn(&str) -> bool,
    mut visit: impl FnMut(&'a Arc<str>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut emit = |v: &'a Arc<str>| {
        if keep(v) {
            visit(v)
        } else {
            ControlFlow::Continue(())
        }
    };
    match op {
        SetOp::Intersection => {
            let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            if prefer_search(small.len(), large.len()) {
                for v in small.iter().filter(|v| contains(large, v)) {
                    emit(v)?;
                }
                ControlFlow::Continue(())
            } else {
                merge(a, b, |v, in_a, in_b| {
                    if in_a && in_b {
                        emit(v)
                    } else {
                        ControlFlow::Continue(())
                    }
                })
            }
        }
        SetOp::Difference => {
            if prefer_search(a.len(), b.len()) {
                for v in a.iter().filter(|v| !contains(b, v)) {
                    emit(v)?;
                }
                ControlFlow::Continue(())
            } else {
                merge(a, b, |v, in_a, in_b| {
                    if in_a && !in_b {
                        emit(v)
                    } else {
                        ControlFlow::Continue(())
                    }
                })
            }
        }
        SetOp::Union => merge(a, b, |v, _, _| emit(v)),
    }
}

/// Whether probing each of `probes` elements by binary search in a set of `size` beats a linear
/// merge of both (≈ probes·log2(size) < probes + size).
fn prefer_search(probes: usize, size: usize) -> bool {
    let log2 = (usize::BITS - size.leading_zeros()) as usize;
    probes.saturating_mul(log2) < probes + size
}

/// Walks two sorted sets in lockstep, calling `f(value, in_a, in_b)` once per distinct value.
fn merge<'a>(
    a: &'a [Arc<str>],
    b: &'a [Arc<str>],
    mut f: impl FnMut(&'a Arc<str>, bool, bool) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                f(&a[i], true, false)?;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                f(&b[j], false, true)?;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                f(&a[i], true, true)?;
                i += 1;
                j += 1;
            }
        }
    }
    for v in &a[i..] {
        f(v, true, false)?;
    }
    for v in &b[j..] {
        f(v, false, true)?;
    }
    ControlFlow::Continue(())
}

/// Counts the elements of `op(a, b)` that `keep` admits. Allocation-free.
pub(super) fn count(
    a: &[Arc<str>],
    b: &[Arc<str>],
    op: SetOp,
    keep: impl Fn(&str) -> bool,
) -> usize {
    let mut n = 0;
    let _ = walk(a, b, op, keep, |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    n
}

/// Whether `op(a, b)` has at least one element that `keep` admits. Allocation-free, stops at the
/// first one.
pub(super) fn any(a: &[Arc<str>], b: &[Arc<str>], op: SetOp, keep: impl Fn(&str) -> bool) -> bool {
    walk(a, b, op, keep, |_| ControlFlow::Break(())).is_break()
}

/// Collects the elements of `op(a, b)` that `keep` admits into a new set of known size.
pub(super) fn collect(
    a: &[Arc<str>],
    b: &[Arc<str>],
    op: SetOp,
    keep: impl Fn(&str) -> bool,
    size: usize,
) -> Values {
    let mut out = Vec::with_capacity(size);
    let _ = walk(a, b, op, keep, |v| {
        out.push(Arc::clone(v));
        ControlFlow::Continue(())
    });
    Values::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[&str]) -> Values {
        sorted_set(values.iter().copied())
    }

    fn run(a: &[&str], b: &[&str], op: SetOp) -> Vec<String> {
        let (a, b) = (set(a), set(b));
        let n = count(&a, &b, op, |_| true);
        collect(&a, &b, op, |_| true, n)
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn sorted_set_sorts_and_dedups() {
        let s = set(&["b", "a", "b", "c"]);
        assert_eq!(s.iter().map(|v| &**v).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(contains(&s, "b"));
        assert!(!contains(&s, "d"));
    }

    #[test]
    fn set_operations_by_merge_and_by_search_agree() {
        let big: Vec<String> = (0..100).map(|i| format!("v{i:03}")).collect();
        let big_refs: Vec<&str> = big.iter().map(String::as_str).collect();
        assert_eq!(
            run(&["v005", "x"], &big_refs, SetOp::Intersection),
            ["v005"]
        );
        assert_eq!(run(&["v005", "x"], &big_refs, SetOp::Difference), ["x"]);
        assert_eq!(
            run(&["a", "b", "c"], &["b", "c", "d"], SetOp::Intersection),
            ["b", "c"]
        );
        assert_eq!(
            run(&["a", "b", "c"], &["b", "c", "d"], SetOp::Difference),
            ["a"]
        );
        assert_eq!(
            run(&["a", "c"], &["b", "c", "d"], SetOp::Union),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn any_respects_the_filter() {
        let (a, b) = (set(&["1", "x"]), set(&["1", "x"]));
        assert!(any(&a, &b, SetOp::Intersection, |v| v == "x"));
        assert!(!any(&a, &b, SetOp::Intersection, |v| v == "y"));
    }

    #[test]
    fn bounds_admit_only_integers_inside() {
        let b = Bounds {
            gte: Some(2),
            lte: Some(5),
        };
        assert!(b.admits("2") && b.admits("5") && b.admits("+3") && b.admits("004"));
        assert!(!b.admits("1") && !b.admits("6") && !b.admits("x") && !b.admits(""));
        assert!(Bounds::NONE.admits("anything"));
        assert!(
            Bounds {
                gte: Some(3),
                lte: Some(2)
            }
            .is_empty()
        );
        assert!(
            !Bounds {
                gte: Some(2),
                lte: Some(2)
            }
            .is_empty()
        );
        let t = Bounds {
            gte: Some(1),
            lte: None,
        }
        .tighten(Bounds {
            gte: Some(3),
            lte: Some(9),
        });
        assert_eq!(
            t,
            Bounds {
                gte: Some(3),
                lte: Some(9)
            }
        );
    }
}
