//! Why one placement attempt failed, before it becomes an [`Explanation`].

use crate::explain::{Explanation, NodePoolRejection, RejectReason};

/// The outcome of a failed attempt.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// A failure not tied to particular NodePools.
    General(String),
    /// Every NodePool refused; one rejection each, in weight order.
    NodePools(Vec<NodePoolRejection>),
    /// The pod references DRA resource claims while they are ignored.
    Dra,
    /// A failure with extra notes for the explanation.
    Noted(Box<Failure>, Vec<String>),
}

/// Upstream's DRA message.
pub(crate) const DRA_MESSAGE: &str =
    "pod has Dynamic Resource Allocation requirements that are not yet supported by Karpenter";

impl Failure {
    /// Whether preference relaxation may be tried (not for DRA or reserved-capacity failures).
    pub(crate) fn may_relax(&self) -> bool {
        match self {
            Failure::Dra => false,
            Failure::NodePools(rejections) => !rejections
                .iter()
                .any(|r| r.reason == RejectReason::ReservedCapacity),
            Failure::Noted(inner, _) => inner.may_relax(),
            Failure::General(_) => true,
        }
    }

    /// Whether the pod only waits for reserved capacity (deferred, not failed).
    pub(crate) fn is_reserved_capacity(&self) -> bool {
        match self {
            Failure::NodePools(rejections) => rejections
                .iter()
                .any(|r| r.reason == RejectReason::ReservedCapacity),
            Failure::Noted(inner, _) => inner.is_reserved_capacity(),
            _ => false,
        }
    }

    /// Adds a note.
    pub(crate) fn note(&mut self, note: &str) {
        match self {
            Failure::Noted(_, notes) => notes.push(note.to_owned()),
            other => {
                let inner = std::mem::replace(other, Failure::Dra);
                *other = Failure::Noted(Box::new(inner), vec![note.to_owned()]);
            }
        }
    }

    /// The explanation.
    pub(crate) fn explain(self) -> Explanation {
        match self {
            Failure::General(message) => Explanation::general(message),
            Failure::NodePools(rejections) => Explanation::from_rejections(rejections),
            Failure::Dra => Explanation::general(DRA_MESSAGE),
            Failure::Noted(inner, notes) => {
                let mut explanation = inner.explain();
                explanation.notes = notes;
                explanation
            }
        }
    }
}
