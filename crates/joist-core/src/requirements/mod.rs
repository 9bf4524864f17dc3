//! Karpenter's requirement algebra (spec core §1.5): the reasoning behind almost every scheduling
//! and disruption decision.
//!
//! * [`NodeSelectorRequirement`] is the plain wire form (`key`, `operator`, `values`,
//!   `minValues`) used by the API types.
//! * [`Requirement`] is one key's set of allowed values, possibly a complement ("anything but")
//!   and possibly bounded to an integer range; it supports membership ([`Requirement::has`]),
//!   [`Requirement::intersection`] and value picking ([`Requirement::any`]).
//! * [`Requirements`] is a conjunction keyed by label key with upstream's `Add`, `Get`,
//!   `Intersects` and `Compatible` (error texts included).
//! * [`Interner`] makes separately built requirements share equal keys, values and
//!   requirements (a catalog's instance types repeat almost all of theirs).
//!
//! This is the scheduler's hottest code (pods × nodes × instance types): membership, overlap and
//! compatibility checks never allocate, and values are shared `Arc<str>`s in sorted slices.
//!
//! Key normalisation (deprecated aliases such as `failure-domain.beta.kubernetes.io/zone`) is
//! explicit: the wire conversions take a [`LabelAliases`](crate::labels::LabelAliases), and
//! [`Requirement::normalized`] rewrites a hand-built requirement.

mod compat;
mod interner;
mod operator;
mod requirement;
mod set;
mod values;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use compat::{IncompatibleError, KeyConflict};
pub use interner::Interner;
pub use operator::{NodeSelectorRequirement, Operator};
pub use requirement::Requirement;
pub use set::Requirements;
pub use values::IntoValue;

/// Why a requirement could not be built from its wire form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// The operator string is not one of the eight supported operators.
    #[error(
        "unknown operator {0:?}: expected one of In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte"
    )]
    UnknownOperator(String),
    /// A numeric operator (`Gt`, `Lt`, `Gte`, `Lte`) did not have exactly one value.
    #[error(
        "requirement on key {key:?} with operator {operator} needs exactly one value, got {count}"
    )]
    WrongValueCount {
        /// The requirement's key.
        key: String,
        /// The numeric operator.
        operator: Operator,
        /// How many values were given.
        count: usize,
    },
    /// A numeric operator's value is not a decimal 64-bit integer.
    #[error(
        "requirement on key {key:?} with operator {operator} needs an integer value, got {value:?}"
    )]
    NotAnInteger {
        /// The requirement's key.
        key: String,
        /// The numeric operator.
        operator: Operator,
        /// The offending value.
        value: String,
    },
}
