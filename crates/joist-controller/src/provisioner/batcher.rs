//! Upstream's batching window (spec core §2.1): the first trigger opens a batch, which closes
//! once no new pod UID arrived for the idle duration or the max duration passed since it opened.
//! Re-triggering a UID already in the batch does not extend the idle timer.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, sleep_until};

/// The batching window's durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `BATCH_IDLE_DURATION`.
    pub idle: Duration,
    /// `BATCH_MAX_DURATION`.
    pub max: Duration,
}

/// Waits for a trigger and then for the window to close; returns the UIDs of the batch, or
/// `None` when every sender is gone (the controller is stopping).
pub async fn next_batch(
    triggers: &mut UnboundedReceiver<String>,
    window: Window,
) -> Option<BTreeSet<String>> {
    let first = triggers.recv().await?;
    let opened = Instant::now();
    let mut uids = BTreeSet::from([first]);
    let mut idle_deadline = opened + window.idle;
    let max_deadline = opened + window.max;
    loop {
        tokio::select! {
            received = triggers.recv() => match received {
                Some(uid) => {
                    if uids.insert(uid) {
                        idle_deadline = Instant::now() + window.idle;
                    }
                }
                None => return Some(uids),
            },
            () = sleep_until(idle_deadline.min(max_deadline)) => return Some(uids),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    const WINDOW: Window = Window {
        idle: Duration::from_secs(1),
        max: Duration::from_secs(10),
    };

    #[tokio::test(start_paused = true)]
    async fn the_batch_closes_after_the_idle_duration() {
        let (tx, mut rx) = unbounded_channel();
        tx.send("a".to_owned()).expect("open");
        let started = Instant::now();
        let handle = tokio::spawn(async move { next_batch(&mut rx, WINDOW).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        tx.send("b".to_owned()).expect("open");
        let batch = handle.await.expect("joins").expect("a batch");
        assert_eq!(batch, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
        // b arrived at 0.5 s and extended the idle window to 1.5 s.
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_uids_do_not_extend_it_and_max_caps_it() {
        let (tx, mut rx) = unbounded_channel();
        tx.send("a".to_owned()).expect("open");
        let started = Instant::now();
        let handle = tokio::spawn(async move {
            let batch = next_batch(&mut rx, WINDOW).await;
            (batch, started.elapsed())
        });
        // The same UID every 0.4 s: the idle window still closes 1 s after the first.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let _ = tx.send("a".to_owned());
        }
        let (batch, closed_after) = handle.await.expect("joins");
        assert_eq!(batch.expect("a batch").len(), 1);
        assert_eq!(closed_after, Duration::from_secs(1));

        let (tx, mut rx) = unbounded_channel();
        tx.send("0".to_owned()).expect("open");
        let started = Instant::now();
        let handle = tokio::spawn(async move {
            let batch = next_batch(&mut rx, WINDOW).await;
            (batch, started.elapsed())
        });
        // A new UID every 0.3 s would keep the idle window open forever.
        for i in 1..50 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = tx.send(i.to_string());
        }
        let (batch, closed_after) = handle.await.expect("joins");
        assert_eq!(
            closed_after,
            Duration::from_secs(10),
            "max duration caps the batch"
        );
        // UIDs 0..=33 arrived before 10 s.
        assert_eq!(batch.expect("a batch").len(), 34);
    }

    #[tokio::test]
    async fn no_senders_no_batch() {
        let (tx, mut rx) = unbounded_channel::<String>();
        drop(tx);
        assert!(next_batch(&mut rx, WINDOW).await.is_none());
    }
}
