//! Waiting for the cluster to reach a state: the one helper every end-to-end test needs.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::TestEnvError;

/// How often [`eventually`] checks.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Calls `check` until it returns `Some`, at most for `timeout`, and returns that value;
/// [`TestEnvError::Timeout`] naming `what` otherwise. `check` runs at least once.
pub async fn eventually<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, TestEnvError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if started.elapsed() >= timeout {
            return Err(TestEnvError::Timeout {
                what: what.to_owned(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_found() {
        let mut calls = 0;
        let value = eventually("the third call", Duration::from_secs(5), || {
            calls += 1;
            let found = (calls == 3).then_some(calls);
            async move { found }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_naming_what_it_waited_for() {
        let err = eventually("a miracle", Duration::from_millis(300), || async {
            None::<()>
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("a miracle"), "{err}");
    }
}
