//! The pod queue (spec core §2.4): CPU request descending, then memory descending, then creation
//! time and UID ascending; a pod that fails goes to the back, and the round ends when a pod comes
//! around again with the queue no shorter than when it was pushed (no progress in a full cycle).

use std::collections::VecDeque;

/// Queue of positions in the solver's pod list.
#[derive(Debug)]
pub(crate) struct Queue {
    /// Positions, front first.
    items: VecDeque<usize>,
    /// Per position, the queue length right after it was last pushed back (0 = never pushed).
    last_len: Vec<usize>,
}

impl Queue {
    /// A queue of `order` (already sorted) over `count` positions.
    pub(crate) fn new(order: Vec<usize>, count: usize) -> Self {
        Self {
            items: order.into(),
            last_len: vec![0; count],
        }
    }

    /// The next position, or `None` when the queue is empty or no progress was made since the
    /// front pod was pushed back.
    pub(crate) fn pop(&mut self) -> Option<usize> {
        let &front = self.items.front()?;
        if self.last_len[front] == self.items.len() {
            return None;
        }
        self.items.pop_front()
    }

    /// Pushes a failed position to the back.
    pub(crate) fn push(&mut self, position: usize) {
        self.items.push_back(position);
        self.last_len[position] = self.items.len();
    }
}

/// The queue order's sort key: larger CPU and memory first, then older, then smaller UID.
pub(crate) fn order_key(
    cpu: i128,
    memory: i128,
    created: chrono::DateTime<chrono::Utc>,
    uid: &str,
) -> (std::cmp::Reverse<i128>, std::cmp::Reverse<i128>, chrono::DateTime<chrono::Utc>, &str) {
    (std::cmp::Reverse(cpu), std::cmp::Reverse(memory), created, uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_a_full_cycle_without_progress() {
        let mut q = Queue::new(vec![0, 1, 2], 3);
        assert_eq!(q.pop(), Some(0));
        q.push(0);
        assert_eq!(q.pop(), Some(1)); // 1 succeeds
        assert_eq!(q.pop(), Some(2));
        q.push(2); // [0, 2]: 0 was pushed at length 3, so 1's success counts as progress
        assert_eq!(q.pop(), Some(0));
        q.push(0); // [2, 0]: 2 was pushed at length 2 and nothing succeeded since
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn progress_keeps_the_queue_going() {
        let mut q = Queue::new(vec![0, 1], 2);
        assert_eq!(q.pop(), Some(0));
        q.push(0); // [1, 0], last_len[0] = 2
        assert_eq!(q.pop(), Some(1)); // 1 succeeds: [0]
        assert_eq!(q.pop(), Some(0), "the queue shrank since 0 was pushed");
        q.push(0);
        assert_eq!(q.pop(), None);
    }
}
