//! Nominations shared by the provisioner and disruption (upstream cluster state's
//! `NominateNodeForPod` / `IsNominated`).
//!
//! When a provisioning round places pending pods on an existing or in-flight node, that node is
//! nominated for a window: kube-scheduler has not bound the pods yet, so the node still looks
//! empty, and disruption must not take it (emptiness would taint and delete it, and the pods
//! would then need new NodeClaims). The handle also records whether the provisioner has looked
//! at the pods that were pending when the process started: before that, every node pending pods
//! are headed for is unnominated, which right after a restart makes just-initialized nodes look
//! empty to the first disruption pass.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a nomination lasts: upstream's `max(2 × BATCH_MAX_DURATION, 10 s)`, 20 s by
/// default.
pub const NOMINATION_WINDOW: Duration = Duration::from_secs(20);

/// Node (or in-flight NodeClaim) names nominated until some instant; cheap to clone, every clone
/// sees the same nominations.
#[derive(Debug, Clone, Default)]
pub struct Nominations {
    /// Name → end of its nomination window.
    until: Arc<Mutex<BTreeMap<String, Instant>>>,
    /// Whether the provisioner has finished its first look at the pending pods (a round, or
    /// finding none); disruption waits for it so it never acts on nominations not made yet.
    provisioner_caught_up: Arc<AtomicBool>,
}

impl Nominations {
    /// Nominates `names` from `now` for [`NOMINATION_WINDOW`] (an existing nomination is
    /// extended, never shortened).
    pub fn nominate(&self, names: impl IntoIterator<Item = String>, now: Instant) {
        let end = now + NOMINATION_WINDOW;
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        for name in names {
            let slot = until.entry(name).or_insert(end);
            *slot = (*slot).max(end);
        }
    }

    /// The names nominated at `now`; expired nominations are dropped.
    pub fn active(&self, now: Instant) -> Vec<String> {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.retain(|_, end| *end > now);
        until.keys().cloned().collect()
    }

    /// Records that the provisioner has handled the pods pending at start.
    pub fn mark_provisioner_caught_up(&self) {
        self.provisioner_caught_up.store(true, Ordering::Release);
    }

    /// Whether the provisioner has handled the pods pending at start.
    pub fn provisioner_caught_up(&self) -> bool {
        self.provisioner_caught_up.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominations_expire_after_the_window_and_extend_on_renewal() {
        let nominations = Nominations::default();
        let start = Instant::now();
        nominations.nominate(["n1".to_owned(), "n2".to_owned()], start);
        let later = start + Duration::from_secs(15);
        nominations.nominate(["n2".to_owned()], later);
        assert_eq!(nominations.active(start), vec!["n1", "n2"]);
        let after_first = start + NOMINATION_WINDOW + Duration::from_millis(1);
        assert_eq!(nominations.active(after_first), vec!["n2"]);
        assert!(nominations.active(later + NOMINATION_WINDOW).is_empty());
    }

    #[test]
    fn clones_share_state() {
        let nominations = Nominations::default();
        let seen_by_disruption = nominations.clone();
        assert!(!seen_by_disruption.provisioner_caught_up());
        nominations.mark_provisioner_caught_up();
        nominations.nominate(["n1".to_owned()], Instant::now());
        assert!(seen_by_disruption.provisioner_caught_up());
        assert_eq!(seen_by_disruption.active(Instant::now()), vec!["n1"]);
    }
}
