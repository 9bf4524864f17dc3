//! Disruption budgets: how many of a NodePool's nodes voluntary disruption may take at once
//! (spec core §1.6), following upstream `Budget.IsActive`, `Budget.GetAllowedDisruptions`,
//! `NodePool.GetAllowedDisruptionsByReason` / `MustGetAllowedDisruptions` and the disruption
//! controller's `BuildDisruptionBudgetMapping`.
//!
//! The arithmetic, per NodePool and disruption reason:
//! 1. A budget is active when it has neither `schedule` nor `duration`, else iff
//!    `Next(now − duration) ≤ now` for its UTC cron schedule ([`Budget::is_active`]).
//! 2. An inactive budget allows `i32::MAX` (upstream `math.MaxInt32`); an active one allows its
//!    `nodes` value: an integer, or a percentage of the pool's node count rounded **up**
//!    (5% of 10 ⇒ 1, 50% of 3 ⇒ 2) ([`Budget::allowed`]).
//! 3. For reason R the pool allows the minimum over budgets whose `reasons` is unset or contains
//!    R (`i32::MAX` if there are none) ([`allowed_disruptions_by_reason`]).
//! 4. Any budget error (bad cron, bad `nodes`) fails closed: **0 for every reason** of that pool
//!    ([`allowed_disruptions_fail_closed`]); the driver logs "detected disruption budget errors".
//! 5. What the disruption methods may still start is `max(allowed − disrupting, 0)`
//!    ([`pool_allowance`], [`remaining_disruptions`]).
//!
//! Budgets govern emptiness (`Empty`), drift and static drift (`Drifted`) and multi/single-node
//! consolidation (`Underutilized`); expiration, repair, interruption, manual deletion and static
//! scale-down ignore them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::cron::{CronError, Schedule};

/// `nodes` of the budget a NodePool gets when it lists none (`budgets: [{nodes: "10%"}]`), and
/// the CRD default of a budget's `nodes`.
pub const DEFAULT_BUDGET_NODES: &str = "10%";

/// Why a budget could not be evaluated. Messages carry upstream's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The `schedule` does not parse (or `duration` is set without a `schedule`, which upstream
    /// parses as an empty schedule).
    #[error("invariant violated, invalid cron {schedule:?}, {source}")]
    InvalidSchedule {
        /// The schedule text (empty when absent).
        schedule: String,
        /// What the cron parser rejected.
        source: CronError,
    },
    /// `nodes` is neither an integer nor ends with `%`.
    #[error(
        "invalid value for IntOrString: invalid type: string is not a percentage (nodes {nodes:?})"
    )]
    NodesNotAPercentage {
        /// The `nodes` text.
        nodes: String,
    },
    /// `nodes` ends with `%` but what precedes it is not an integer (`"1000a%"`).
    #[error("invalid value for IntOrString: invalid value {nodes:?}: strconv.Atoi: parsing {number:?}: {}", if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    InvalidNodesPercentage {
        /// The `nodes` text.
        nodes: String,
        /// The text before `%`.
        number: String,
        /// Whether the number was too large for 64 bits rather than malformed.
        out_of_range: bool,
    },
    /// The budget `duration` reaches before the earliest representable time.
    #[error("budget duration {duration:?} reaches before the earliest representable time")]
    DurationOutOfRange {
        /// The budget duration.
        duration: Duration,
    },
    /// A disruption reason other than `Underutilized`, `Empty` or `Drifted`.
    #[error(
        "unknown disruption reason {value:?}: supported values are Underutilized, Empty, Drifted"
    )]
    UnknownReason {
        /// The text given.
        value: String,
    },
}

// === DisruptionReason ===

/// The voluntary disruption a budget can be limited to (`budgets[].reasons`). Serialised as the
/// upstream strings `Underutilized`, `Empty`, `Drifted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DisruptionReason {
    /// Multi- and single-node consolidation.
    Underutilized,
    /// Emptiness.
    Empty,
    /// Drift and static drift.
    Drifted,
}

impl DisruptionReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 3] = [Self::Underutilized, Self::Empty, Self::Drifted];

    /// The upstream string (also the `reason` metric label and the events' wording).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Underutilized => "Underutilized",
            Self::Empty => "Empty",
            Self::Drifted => "Drifted",
        }
    }
}

impl fmt::Display for DisruptionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DisruptionReason {
    type Err = BudgetError;

    /// Case-sensitive, as the CRD enum.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
            .ok_or_else(|| BudgetError::UnknownReason {
                value: value.to_owned(),
            })
    }
}

// === Budget ===

/// One entry of a NodePool's `spec.disruption.budgets`, as plain data (the API crate converts
/// its CRD type into this). Fields keep upstream's presence semantics: see each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Maximum nodes under disruption: an integer (`"5"`) or a percentage of the pool (`"10%"`).
    /// Kept as text because invalid text must fail closed at evaluation, as upstream.
    pub nodes: String,
    /// UTC cron schedule at which the budget window opens; `None` with `duration` `None` means
    /// "always active".
    pub schedule: Option<String>,
    /// How long the window stays open after each schedule hit.
    pub duration: Option<Duration>,
    /// Reasons the budget limits. `None` (field absent) limits every reason; `Some` limits only
    /// the listed ones — so an explicit empty list limits none, exactly as upstream's non-nil
    /// empty slice does.
    pub reasons: Option<Vec<DisruptionReason>>,
}

impl Default for Budget {
    /// The CRD default budget: `{nodes: "10%"}`, always active, all reasons.
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_NODES)
    }
}

impl Budget {
    /// An always-active budget for every reason.
    pub fn new(nodes: impl Into<String>) -> Self {
        Self {
            nodes: nodes.into(),
            schedule: None,
            duration: None,
            reasons: None,
        }
    }

    /// The same budget, active only for `duration` after each hit of `schedule`.
    #[must_use]
    pub fn with_window(mut self, schedule: impl Into<String>, duration: Duration) -> Self {
        self.schedule = Some(schedule.into());
        self.duration = Some(duration);
        self
    }

    /// The same budget, limited to `reasons`.
    #[must_use]
    pub fn with_reasons(mut self, reasons: impl IntoIterator<Item = DisruptionReason>) -> Self {
        self.reasons = Some(reasons.into_iter().collect());
        self
    }

    /// Whether this budget limits disruptions for `reason`.
    pub fn applies_to(&self, reason: DisruptionReason) -> bool {
        self.reasons
            .as_ref()
            .is_none_or(|reasons| reasons.contains(&reason))
    }

    /// Whether the budget is in force at `now`: always without schedule and duration, else iff
    /// the first schedule hit after `now − duration` is not after `now` (so the window is
    /// `[hit, hit + duration)`, and overlapping windows merge).
    ///
    /// Upstream corner cases kept: a schedule without duration uses a zero duration (never
    /// active); a duration without schedule fails like an empty schedule; and a schedule with no
    /// hit within robfig's five-year search (e.g. `0 0 30 2 *`) counts as active, because Go's
    /// zero time is never after `now`.
    ///
    /// # Errors
    /// [`BudgetError::InvalidSchedule`] or [`BudgetError::DurationOutOfRange`].
    pub fn is_active(&self, now: DateTime<Utc>) -> Result<bool, BudgetError> {
        if self.schedule.is_none() && self.duration.is_none() {
            return Ok(true);
        }
        let text = self.schedule.as_deref().unwrap_or_default();
        let schedule = Schedule::parse(text).map_err(|source| BudgetError::InvalidSchedule {
            schedule: text.to_owned(),
            source,
        })?;
        let duration = self.duration.unwrap_or_default();
        let checkpoint = TimeDelta::from_std(duration)
            .ok()
            .and_then(|window| now.checked_sub_signed(window))
            .ok_or(BudgetError::DurationOutOfRange { duration })?;
        Ok(schedule.next_after(checkpoint).is_none_or(|hit| hit <= now))
    }

    /// How many of the pool's `num_nodes` this budget lets be disrupted at `now`: `i32::MAX`
    /// when inactive, else the `nodes` value (percentages of `num_nodes` rounded up).
    ///
    /// # Errors
    /// Any [`BudgetError`] of [`Budget::is_active`] or of the `nodes` text; upstream returns 0
    /// with the error, which [`allowed_disruptions_fail_closed`] reproduces.
    pub fn allowed(&self, num_nodes: usize, now: DateTime<Utc>) -> Result<i32, BudgetError> {
        if !self.is_active(now)? {
            return Ok(i32::MAX);
        }
        self.scaled_nodes(num_nodes)
    }

    /// `intstr.GetScaledValueFromIntOrPercent(GetIntStrFromValue(nodes), numNodes, roundUp)`.
    fn scaled_nodes(&self, num_nodes: usize) -> Result<i32, BudgetError> {
        if let Ok(count) = self.nodes.parse::<i64>() {
            // Upstream stores the integer with intstr.FromInt, which truncates to int32 the way
            // this cast does: "4294967306" allows 10, and "3000000000" a negative count that
            // blocks the pool. Absurd, but it is what Karpenter does with such a budget.
            return Ok(count as i32);
        }
        let Some(number) = self.nodes.strip_suffix('%') else {
            return Err(BudgetError::NodesNotAPercentage {
                nodes: self.nodes.clone(),
            });
        };
        let percent =
            number
                .parse::<i64>()
                .map_err(|error| BudgetError::InvalidNodesPercentage {
                    nodes: self.nodes.clone(),
                    number: number.to_owned(),
                    out_of_range: matches!(
                        error.kind(),
                        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                    ),
                })?;
        // Same float expression as upstream (multiply, then divide, then ceil). Upstream keeps a
        // Go int; results beyond i32 are clamped, which changes nothing once the minimum with
        // MaxInt32 and the floor at 0 are taken.
        let scaled = (percent as f64 * num_nodes as f64 / 100.0).ceil() as i64;
        Ok(i32::try_from(scaled).unwrap_or(if scaled > 0 { i32::MAX } else { i32::MIN }))
    }
}

// === per-pool arithmetic ===

/// The minimum allowed disruptions for `reason` over the budgets that apply to it (`i32::MAX`
/// when none do): upstream `GetAllowedDisruptionsByReason`.
///
/// # Errors
/// The first [`BudgetError`] of **any** budget, including ones that do not apply to `reason`
/// (upstream reports them all; see [`allowed_disruptions_fail_closed`]).
pub fn allowed_disruptions(
    budgets: &[Budget],
    reason: DisruptionReason,
    num_nodes: usize,
    now: DateTime<Utc>,
) -> Result<i32, BudgetError> {
    let mut allowed = i32::MAX;
    for budget in budgets {
        let value = budget.allowed(num_nodes, now)?;
        if budget.applies_to(reason) {
            allowed = allowed.min(value);
        }
    }
    Ok(allowed)
}

/// [`allowed_disruptions`] for every [`DisruptionReason`], evaluating each budget once.
///
/// # Errors
/// The first [`BudgetError`] of any budget.
pub fn allowed_disruptions_by_reason(
    budgets: &[Budget],
    num_nodes: usize,
    now: DateTime<Utc>,
) -> Result<BTreeMap<DisruptionReason, i32>, BudgetError> {
    let values = budgets
        .iter()
        .map(|budget| budget.allowed(num_nodes, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(minimum_by_reason(budgets, &values))
}

/// Per-reason minimum of already evaluated budget values.
fn minimum_by_reason(budgets: &[Budget], values: &[i32]) -> BTreeMap<DisruptionReason, i32> {
    DisruptionReason::ALL
        .into_iter()
        .map(|reason| {
            let allowed = budgets
                .iter()
                .zip(values)
                .filter(|(budget, _)| budget.applies_to(reason))
                .map(|(_, value)| *value)
                .fold(i32::MAX, i32::min);
            (reason, allowed)
        })
        .collect()
}

/// What a NodePool's budgets allow under the fail-closed rule, with the errors that forced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailClosedAllowance {
    /// Allowed disruptions per reason (before subtracting nodes already disrupting); all 0 when
    /// `errors` is not empty.
    pub allowed: BTreeMap<DisruptionReason, i32>,
    /// Every budget error, in budget order, for the driver to log as "detected disruption budget
    /// errors" (upstream `logInvalidBudgets`).
    pub errors: Vec<BudgetError>,
}

/// The allowance the disruption engine uses (spec core §1.6, upstream
/// `MustGetAllowedDisruptions`): [`allowed_disruptions_by_reason`], except that **any** budget
/// error — even in a budget limited to another reason — makes the pool allow 0 disruptions for
/// every reason. Misconfigured budgets cannot be understood, so nothing is disrupted until they
/// are fixed.
pub fn allowed_disruptions_fail_closed(
    budgets: &[Budget],
    num_nodes: usize,
    now: DateTime<Utc>,
) -> FailClosedAllowance {
    let mut values = Vec::with_capacity(budgets.len());
    let mut errors = Vec::new();
    for budget in budgets {
        match budget.allowed(num_nodes, now) {
            Ok(value) => values.push(value),
            Err(error) => errors.push(error),
        }
    }
    let allowed = if errors.is_empty() {
        minimum_by_reason(budgets, &values)
    } else {
        DisruptionReason::ALL
            .into_iter()
            .map(|reason| (reason, 0))
            .collect()
    };
    FailClosedAllowance { allowed, errors }
}

/// The node counts of one NodePool that the budget arithmetic needs; the caller counts them
/// from cluster state with upstream's definitions (`BuildDisruptionBudgetMapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetNodeCounts {
    /// Nodes of the pool that are managed (have a NodeClaim) and **initialized**, excluding
    /// those whose NodeClaim has `InstanceTerminating=True`. Uninitialized replacements are left
    /// out so percentages don't round up on nodes that cannot take pods yet.
    pub num_nodes: usize,
    /// Of those, the nodes already consuming budget: Node `Ready` not `True`, or marked for
    /// deletion (being disrupted or deleted).
    pub disrupting: usize,
}

/// One NodePool's budget for one disruption reason in one disruption pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAllowance {
    /// The reason of the disruption method asking.
    pub reason: DisruptionReason,
    /// The counts the allowance was computed from.
    pub counts: BudgetNodeCounts,
    /// Allowed disruptions before subtracting `counts.disrupting` (fail-closed: 0 on any budget
    /// error). Exported as `karpenter_nodepools_allowed_disruptions{nodepool,reason}`.
    pub allowed: i32,
    /// How many more nodes the method may disrupt now: `max(allowed − disrupting, 0)`.
    pub remaining: usize,
    /// Budget errors of the pool (see [`FailClosedAllowance::errors`]).
    pub errors: Vec<BudgetError>,
}

impl PoolAllowance {
    /// Whether upstream would emit the NodePool event `DisruptionBlocked` "No allowed
    /// disruptions for disruption reason R due to blocking budget": the pool has nodes and its
    /// budgets allow none (regardless of nodes already disrupting).
    pub const fn is_blocked(&self) -> bool {
        self.counts.num_nodes != 0 && self.allowed == 0
    }
}

/// The budget of one NodePool for `reason` (upstream's per-pool entry of
/// `BuildDisruptionBudgetMapping`), applying the fail-closed rule.
pub fn pool_allowance(
    budgets: &[Budget],
    reason: DisruptionReason,
    counts: BudgetNodeCounts,
    now: DateTime<Utc>,
) -> PoolAllowance {
    let FailClosedAllowance { allowed, errors } =
        allowed_disruptions_fail_closed(budgets, counts.num_nodes, now);
    // Every reason has an entry; `i32::MAX` only stands in for an impossible miss.
    let allowed = allowed.get(&reason).copied().unwrap_or(i32::MAX);
    PoolAllowance {
        reason,
        counts,
        allowed,
        remaining: remaining_disruptions(allowed, counts.disrupting),
        errors,
    }
}

/// `max(allowed − disrupting, 0)`: what is left of an allowance once nodes already being
/// disrupted are counted against it. Never negative.
pub fn remaining_disruptions(allowed: i32, disrupting: usize) -> usize {
    let disrupting = i64::try_from(disrupting).unwrap_or(i64::MAX);
    usize::try_from(i64::from(allowed).saturating_sub(disrupting)).unwrap_or(0)
}

#[cfg(test)]
mod tests;
