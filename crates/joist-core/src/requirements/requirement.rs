//! [`Requirement`]: one label key's allowed values (spec core §1.5).

use std::fmt;
use std::sync::Arc;

use super::values::{self, Bounds, IntoValue, SetOp, Values};
use super::{NodeSelectorRequirement, Operator, RequirementError};
use crate::labels::LabelAliases;
use crate::rng::SeededRng;

/// The set of values one label key may take: `(key, complement, values, gte, lte, minValues)`.
///
/// `complement = false` means "one of `values`" (`In`, or `DoesNotExist` when empty);
/// `complement = true` means "anything except `values`" (`NotIn`, or `Exists` when empty),
/// further limited to integers within `gte..=lte` when a bound is set. Only complement
/// requirements carry bounds; every value stored in a complement lies within its bounds.
///
/// Keys are stored as given: build with [`normalized`](Self::normalized) or
/// [`from_node_selector_requirement`](Self::from_node_selector_requirement) to apply the label
/// aliases (upstream normalises inside its constructor from a global table).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The label key.
    key: Arc<str>,
    /// Whether `values` lists excluded rather than allowed values.
    complement: bool,
    /// Sorted, de-duplicated values.
    values: Values,
    /// Inclusive integer bounds (complement requirements only).
    bounds: Bounds,
    /// The `minValues` flexibility carried along (max of the inputs on intersection).
    min_values: Option<u32>,
}

// === impl Requirement: construction ===

impl Requirement {
    /// Builds a requirement from the wire triple, as upstream's `NewRequirementWithFlexibility`:
    /// `In`/`NotIn` keep their values, `Exists`/`DoesNotExist` ignore them, `Gt n` becomes an
    /// `Exists` with `gte = n + 1` (`Gt i64::MAX` matches nothing: `DoesNotExist`), `Lt n` one with
    /// `lte = n - 1` (`Lt i64::MIN`: `DoesNotExist`), `Gte`/`Lte` inclusive bounds.
    ///
    /// Errors when a numeric operator does not have exactly one value or the value is not a
    /// decimal `i64`. The key is not normalised (see [`normalized`](Self::normalized)).
    pub fn new<I>(
        key: impl IntoValue,
        operator: Operator,
        values: I,
    ) -> Result<Self, RequirementError>
    where
        I: IntoIterator,
        I::Item: IntoValue,
    {
        let key = key.into_value();
        Ok(match operator {
            Operator::In => Self::in_values(key, values),
            Operator::NotIn => Self::not_in(key, values),
            Operator::Exists => Self::exists(key),
            Operator::DoesNotExist => Self::does_not_exist(key),
            Operator::Gt => {
                Self::greater_than(Arc::clone(&key), single_integer(&key, operator, values)?)
            }
            Operator::Lt => {
                Self::less_than(Arc::clone(&key), single_integer(&key, operator, values)?)
            }
            Operator::Gte => {
                Self::at_least(Arc::clone(&key), single_integer(&key, operator, values)?)
            }
            Operator::Lte => {
                Self::at_most(Arc::clone(&key), single_integer(&key, operator, values)?)
            }
        })
    }

    /// Converts one wire requirement, normalising its key with `aliases` and keeping `minValues`.
    pub fn from_node_selector_requirement(
        requirement: &NodeSelectorRequirement,
        aliases: &LabelAliases,
    ) -> Result<Self, RequirementError> {
        let key = aliases.normalize(&requirement.key);
        Ok(Self::new(key, requirement.operator, &requirement.values)?
            .with_min_values(requirement.min_values))
    }

    /// `key In values` (an empty list gives `DoesNotExist`).
    pub fn in_values<I>(key: impl IntoValue, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoValue,
    {
        Self::raw(
            key.into_value(),
            false,
            values::sorted_set(values),
            Bounds::NONE,
        )
    }

    /// `key NotIn values` (an empty list gives `Exists`).
    pub fn not_in<I>(key: impl IntoValue, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoValue,
    {
        Self::raw(
            key.into_value(),
            true,
            values::sorted_set(values),
            Bounds::NONE,
        )
    }

    /// `key Exists`.
    pub fn exists(key: impl IntoValue) -> Self {
        Self::raw(key.into_value(), true, values::empty(), Bounds::NONE)
    }

    /// `key DoesNotExist`.
    pub fn does_not_exist(key: impl IntoValue) -> Self {
        Self::raw(key.into_value(), false, values::empty(), Bounds::NONE)
    }

    /// `key Gt n`: an integer `>= n + 1`; `Gt i64::MAX` matches nothing.
    pub fn greater_than(key: impl IntoValue, n: i64) -> Self {
        match n.checked_add(1) {
            Some(gte) => Self::raw(
                key.into_value(),
                true,
                values::empty(),
                Bounds {
                    gte: Some(gte),
                    lte: None,
                },
            ),
            None => Self::does_not_exist(key),
        }
    }

    /// `key Lt n`: an integer `<= n - 1`; `Lt i64::MIN` matches nothing.
    pub fn less_than(key: impl IntoValue, n: i64) -> Self {
        match n.checked_sub(1) {
            Some(lte) => Self::raw(
                key.into_value(),
                true,
                values::empty(),
                Bounds {
                    gte: None,
                    lte: Some(lte),
                },
            ),
            None => Self::does_not_exist(key),
        }
    }

    /// `key Gte n`: an integer `>= n`.
    pub fn at_least(key: impl IntoValue, n: i64) -> Self {
        Self::raw(
            key.into_value(),
            true,
            values::empty(),
            Bounds {
                gte: Some(n),
                lte: None,
            },
        )
    }

    /// `key Lte n`: an integer `<= n`.
    pub fn at_most(key: impl IntoValue, n: i64) -> Self {
        Self::raw(
            key.into_value(),
            true,
            values::empty(),
            Bounds {
                gte: None,
                lte: Some(n),
            },
        )
    }

    /// Returns the requirement with `minValues` replaced.
    #[must_use]
    pub fn with_min_values(mut self, min_values: Option<u32>) -> Self {
        self.min_values = min_values;
        self
    }

    /// Returns the requirement with its key rewritten to the canonical key if it is an alias.
    #[must_use]
    pub fn normalized(mut self, aliases: &LabelAliases) -> Self {
        let canonical = aliases.normalize(&self.key);
        if canonical != &*self.key {
            self.key = Arc::from(canonical);
        }
        self
    }

    /// The same requirement over `key` and `values`, which must equal its own (the
    /// [`Interner`](super::Interner) passes shared copies of them).
    pub(super) fn with_shared_parts(&self, key: Arc<str>, values: Values) -> Self {
        debug_assert!(*key == *self.key && values == self.values);
        Self {
            key,
            values,
            ..self.clone()
        }
    }

    /// The one constructor every other goes through.
    fn raw(key: Arc<str>, complement: bool, values: Values, bounds: Bounds) -> Self {
        Self {
            key,
            complement,
            values,
            bounds,
            min_values: None,
        }
    }
}

/// Parses the single integer value of a numeric operator.
fn single_integer<I>(key: &str, operator: Operator, values: I) -> Result<i64, RequirementError>
where
    I: IntoIterator,
    I::Item: IntoValue,
{
    let values: Vec<Arc<str>> = values.into_iter().map(IntoValue::into_value).collect();
    let [value] = values.as_slice() else {
        return Err(RequirementError::WrongValueCount {
            key: key.to_owned(),
            operator,
            count: values.len(),
        });
    };
    value
        .parse::<i64>()
        .map_err(|_| RequirementError::NotAnInteger {
            key: key.to_owned(),
            operator,
            value: value.to_string(),
        })
}

// === impl Requirement: accessors ===

impl Requirement {
    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The label key, shared.
    pub fn shared_key(&self) -> &Arc<str> {
        &self.key
    }

    /// Whether the values are excluded (`NotIn`/`Exists`) rather than allowed (`In`/`DoesNotExist`).
    pub fn is_complement(&self) -> bool {
        self.complement
    }

    /// The values in sorted (byte) order: allowed values for `In`, excluded ones for `NotIn`.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + Clone {
        self.values.iter().map(|v| &**v)
    }

    /// The values as shared strings, sorted.
    pub fn shared_values(&self) -> &[Arc<str>] {
        &self.values
    }

    /// Inclusive lower bound, if any.
    pub fn gte(&self) -> Option<i64> {
        self.bounds.gte
    }

    /// Inclusive upper bound, if any.
    pub fn lte(&self) -> Option<i64> {
        self.bounds.lte
    }

    /// The `minValues` carried by the requirement.
    pub fn min_values(&self) -> Option<u32> {
        self.min_values
    }

    /// The operator the requirement behaves as: `NotIn` (complement with values), `Exists`
    /// (complement without values, bounded or not), `In` (values) or `DoesNotExist`.
    pub fn operator(&self) -> Operator {
        match (self.complement, self.values.is_empty()) {
            (true, false) => Operator::NotIn,
            (true, true) => Operator::Exists,
            (false, false) => Operator::In,
            (false, true) => Operator::DoesNotExist,
        }
    }

    /// Upstream's `Len`: the number of allowed values, `i64::MAX - |values|` for a complement.
    pub fn len(&self) -> u64 {
        let n = self.values.len() as u64;
        if self.complement {
            (i64::MAX as u64).saturating_sub(n)
        } else {
            n
        }
    }

    /// Whether [`len`](Self::len) is 0, i.e. the requirement is `DoesNotExist`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `value` is allowed: (non-)membership and, when bounded, an integer within bounds.
    pub fn has(&self, value: &str) -> bool {
        values::contains(&self.values, value) != self.complement && self.bounds.admits(value)
    }
}

// === impl Requirement: algebra ===

impl Requirement {
    /// The values allowed by both requirements (upstream `Intersection`), keeping `self`'s key.
    ///
    /// Complement iff both are; bounds tighten (a lower bound above the upper gives
    /// `DoesNotExist`); values are the union (both complements), difference (one) or intersection
    /// (neither), minus values outside the bounds; concrete results drop bounds; `minValues` is
    /// the max. Reuses an input's value storage when the result equals it.
    pub fn intersection(&self, other: &Requirement) -> Requirement {
        let complement = self.complement && other.complement;
        let bounds = self.bounds.tighten(other.bounds);
        let min_values = self.min_values.max(other.min_values);
        if bounds.is_empty() {
            return Self::does_not_exist(Arc::clone(&self.key)).with_min_values(min_values);
        }
        let (a, b, op) = match (self.complement, other.complement) {
            (true, true) => (self, other, SetOp::Union),
            (true, false) => (other, self, SetOp::Difference),
            (false, true) => (self, other, SetOp::Difference),
            (false, false) => (self, other, SetOp::Intersection),
        };
        let keep = |v: &str| bounds.admits(v);
        let size = values::count(&a.values, &b.values, op, keep);
        let values = reuse_if_equal(a, b, op, bounds, size)
            .unwrap_or_else(|| values::collect(&a.values, &b.values, op, keep, size));
        let bounds = if complement { bounds } else { Bounds::NONE };
        Self {
            key: Arc::clone(&self.key),
            complement,
            values,
            bounds,
            min_values,
        }
    }

    /// Whether the intersection allows at least one value (upstream `HasIntersection`), without
    /// building it. Two complements always intersect unless their bounds are disjoint.
    pub fn has_intersection(&self, other: &Requirement) -> bool {
        let bounds = self.bounds.tighten(other.bounds);
        if bounds.is_empty() {
            return false;
        }
        let keep = |v: &str| bounds.admits(v);
        match (self.complement, other.complement) {
            (true, true) => true,
            (true, false) => values::any(&other.values, &self.values, SetOp::Difference, keep),
            (false, true) => values::any(&self.values, &other.values, SetOp::Difference, keep),
            (false, false) => values::any(&self.values, &other.values, SetOp::Intersection, keep),
        }
    }

    /// A value satisfying the requirement, for writing node labels (upstream `Any`).
    ///
    /// `In`: the first value in byte order (upstream takes an arbitrary map element; joist picks
    /// deterministically). `NotIn`/`Exists`: a uniformly random integer within the bounds
    /// (preferring `0..=i64::MAX - 1`, as upstream) that is not one of the excluded values, or
    /// `None` when the bounds leave none. `DoesNotExist`: `None`.
    pub fn any(&self, rng: &mut SeededRng) -> Option<String> {
        match self.operator() {
            Operator::In => self.values.first().map(|v| v.to_string()),
            Operator::NotIn | Operator::Exists => self.random_integer(rng),
            _ => None,
        }
    }

    /// A random integer within the bounds, skipping excluded values; one draw, no rejection loop.
    ///
    /// Draws from upstream's default range (`0..=i64::MAX - 1` narrowed by the bounds) and falls
    /// back to everything the bounds allow when that range is empty or fully excluded (upstream
    /// would panic or return an excluded value there).
    fn random_integer(&self, rng: &mut SeededRng) -> Option<String> {
        let full = (
            self.bounds.gte.unwrap_or(i64::MIN),
            self.bounds.lte.unwrap_or(i64::MAX),
        );
        let preferred = (
            self.bounds.gte.unwrap_or(0),
            self.bounds.lte.unwrap_or(i64::MAX - 1),
        );
        [preferred, full]
            .into_iter()
            .find_map(|(lo, hi)| self.draw_excluding(lo, hi, rng))
            .map(|n| n.to_string())
    }

    /// A uniform integer in `lo..=hi` that is not an excluded value, or `None` if there is none.
    fn draw_excluding(&self, lo: i64, hi: i64, rng: &mut SeededRng) -> Option<i64> {
        if lo > hi {
            return None;
        }
        // Excluded values that could collide with a drawn integer's canonical spelling.
        let mut excluded: Vec<i64> = self
            .values
            .iter()
            .filter_map(|v| v.parse::<i64>().ok().filter(|n| n.to_string() == **v))
            .filter(|n| (lo..=hi).contains(n))
            .collect();
        excluded.sort_unstable();
        excluded.dedup();
        let width = (i128::from(hi) - i128::from(lo) + 1) as u128;
        let available = width - excluded.len() as u128;
        if available == 0 {
            return None;
        }
        // `available` is at most 2^64, which truncates to 0: `below(0)` draws any u64.
        let index = rng.below(available as u64);
        // Map the index to the index-th non-excluded integer by stepping over excluded values.
        let mut candidate = i128::from(lo) + i128::from(index);
        for e in excluded {
            if i128::from(e) <= candidate {
                candidate += 1;
            } else {
                break;
            }
        }
        // In range by construction: `candidate` is the index-th of the `available` integers.
        i64::try_from(candidate).ok()
    }

    /// The wire form (upstream `NodeSelectorRequirement`/`BoundedNodeSelectorRequirements`):
    /// bounds become `Gte` and/or `Lte`; a bounded complement that also excludes values adds a
    /// `NotIn` (upstream drops those values, losing them on a round trip); otherwise one
    /// `NotIn`/`Exists`/`In`/`DoesNotExist`. Every entry carries `minValues`.
    pub fn to_node_selector_requirements(&self) -> Vec<NodeSelectorRequirement> {
        let entry = |operator: Operator, values: Vec<String>| NodeSelectorRequirement {
            key: self.key.to_string(),
            operator,
            values,
            min_values: self.min_values,
        };
        let listed = || {
            self.values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        };
        if self.bounds.is_none() {
            return vec![entry(self.operator(), listed())];
        }
        let mut out = Vec::with_capacity(3);
        if let Some(gte) = self.bounds.gte {
            out.push(entry(Operator::Gte, vec![gte.to_string()]));
        }
        if let Some(lte) = self.bounds.lte {
            out.push(entry(Operator::Lte, vec![lte.to_string()]));
        }
        if !self.values.is_empty() {
            out.push(entry(Operator::NotIn, listed()));
        }
        out
    }
}

/// If `op(a, b)` filtered by `bounds` has `size` elements and is provably equal to one input's
/// values, returns that input's shared storage so no new set is allocated.
fn reuse_if_equal(
    a: &Requirement,
    b: &Requirement,
    op: SetOp,
    bounds: Bounds,
    size: usize,
) -> Option<Values> {
    match op {
        // Both results are subsets of `a`'s values: equal size means equal.
        SetOp::Intersection | SetOp::Difference if size == a.values.len() => {
            Some(Arc::clone(&a.values))
        }
        SetOp::Intersection if size == b.values.len() => Some(Arc::clone(&b.values)),
        // A complement's values lie within its own bounds, so when the tightened bounds are an
        // input's own, the filtered union contains that input's values: equal size means equal.
        SetOp::Union if size == a.values.len() && bounds == a.bounds => Some(Arc::clone(&a.values)),
        SetOp::Union if size == b.values.len() && bounds == b.bounds => Some(Arc::clone(&b.values)),
        _ => None,
    }
}

// === impl Display ===

/// Upstream's `String()`: `key Op` for `Exists`/`DoesNotExist`, else `key Op [v1 v2 ...]` with at
/// most five values then `and N others`; then ` >=n`, ` <=n` and ` minValues n` when set.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = self.operator();
        write!(f, "{} {operator}", self.key)?;
        if matches!(operator, Operator::In | Operator::NotIn) {
            f.write_str(" [")?;
            for (i, v) in self.values.iter().take(5).enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                f.write_str(v)?;
            }
            if self.values.len() > 5 {
                write!(f, " and {} others", self.values.len() - 5)?;
            }
            f.write_str("]")?;
        }
        if let Some(gte) = self.bounds.gte {
            write!(f, " >={gte}")?;
        }
        if let Some(lte) = self.bounds.lte {
            write!(f, " <={lte}")?;
        }
        if let Some(min_values) = self.min_values {
            write!(f, " minValues {min_values}")?;
        }
        Ok(())
    }
}
