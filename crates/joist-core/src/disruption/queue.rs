//! The orchestration queue's decisions (spec core §4.12, upstream `disruption.Queue`) and the
//! start-of-pass taint cleanup (§4.1 step 2), as pure functions of what the driver observed.
//!
//! The driver owns the side effects: it taints candidates, creates replacements, and on every
//! reconcile of a queued command asks [`queue_step`] whether to keep waiting, delete the
//! candidates, or give up. Giving up means untainting the candidates, clearing their
//! `DisruptionReason` condition and unmarking them for deletion; if the driver crashes before
//! that, [`stale_disrupted_taints`] finds the leftovers on the next pass.

use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::DisruptionInput;
use crate::labels::DISRUPTED_TAINT_KEY;

/// Per queued command, how much longer every command may wait (upstream uses the queue length
/// as a proxy for cloud-provider load).
pub const QUEUE_TIMEOUT_PER_COMMAND: Duration = Duration::from_millis(80);
/// The shortest time a command may wait for its replacements.
pub const MIN_QUEUE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The longest time a command may wait for its replacements.
pub const MAX_QUEUE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// How long a command may wait for its replacements when `queued_commands` commands are in the
/// queue: `clamp(80 ms × N, 10 min, 1 h)` (upstream `GetMaxRetryDuration`).
pub fn queue_timeout(queued_commands: usize) -> Duration {
    let scaled = u32::try_from(queued_commands)
        .ok()
        .and_then(|n| QUEUE_TIMEOUT_PER_COMMAND.checked_mul(n))
        .unwrap_or(MAX_QUEUE_TIMEOUT);
    scaled.clamp(MIN_QUEUE_TIMEOUT, MAX_QUEUE_TIMEOUT)
}

/// What the driver knows about one replacement NodeClaim of a queued command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacementStatus {
    /// The replacement NodeClaim's name.
    pub nodeclaim: String,
    /// Whether the API server returned it on the last read.
    pub in_api: bool,
    /// Whether cluster state still tracks it: a NodeClaim the API does not return yet but
    /// state knows is a read lagging behind, not a lost replacement.
    pub in_state: bool,
    /// Whether it has `Initialized=True`.
    pub initialized: bool,
}

/// Why a queued command is abandoned (the driver untaints its candidates, clears their
/// `DisruptionReason` condition, unmarks them and counts
/// `karpenter_voluntary_disruption_queue_failures_total`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueFailure {
    /// A replacement is gone from both the API and cluster state (ICE, liveness timeout).
    #[error("replacement was deleted (NodeClaim={nodeclaim})")]
    ReplacementGone {
        /// The missing replacement.
        nodeclaim: String,
    },
    /// The replacements did not all initialize within [`queue_timeout`].
    #[error("command reached timeout (duration={waited:?})")]
    TimedOut {
        /// How long the command had been queued.
        waited: Duration,
    },
}

/// What to do with a queued command on this reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStep {
    /// Keep the candidates tainted and look again later; the names are the replacements not
    /// initialized yet (`DisruptionWaitingReadiness` events).
    Wait(Vec<String>),
    /// Every replacement is initialized (or there are none): delete the candidates.
    Terminate,
    /// Abandon the command.
    Fail(QueueFailure),
}

/// The next step of a command created at `created`, at `now`, with `queued_commands` commands in
/// the queue. Initialized replacements finish the command even past the timeout, since its
/// candidates can then go; a replacement missing from both the API and state fails it at once.
pub fn queue_step(
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    queued_commands: usize,
    replacements: &[ReplacementStatus],
) -> QueueStep {
    if let Some(gone) = replacements
        .iter()
        .find(|r| !r.initialized && !r.in_api && !r.in_state)
    {
        return QueueStep::Fail(QueueFailure::ReplacementGone {
            nodeclaim: gone.nodeclaim.clone(),
        });
    }
    let waiting: Vec<String> = replacements
        .iter()
        .filter(|r| !r.initialized)
        .map(|r| r.nodeclaim.clone())
        .collect();
    if waiting.is_empty() {
        return QueueStep::Terminate;
    }
    let waited = (now - created).to_std().unwrap_or(Duration::ZERO);
    if waited > queue_timeout(queued_commands) {
        return QueueStep::Fail(QueueFailure::TimedOut { waited });
    }
    QueueStep::Wait(waiting)
}

/// The nodes whose `karpenter.sh/disrupted` taint no command owns any more (§4.1 step 2): tainted,
/// not in the orchestration queue and not marked for deletion. A pass removes their taint and
/// clears their NodeClaim's `DisruptionReason` before choosing new commands, which recovers from
/// a crash mid-command and from failed commands. Sorted by node name.
pub fn stale_disrupted_taints(input: &DisruptionInput<'_>) -> Vec<String> {
    let mut stale: Vec<String> = input
        .snapshot
        .nodes
        .iter()
        .filter(|node| node.taints.iter().any(|t| t.key == DISRUPTED_TAINT_KEY))
        .filter(|node| !node.marked_for_deletion && !input.node_state(&node.name).queued)
        .map(|node| node.name.clone())
        .collect();
    stale.sort();
    stale
}
