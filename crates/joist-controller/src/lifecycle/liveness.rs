//! Liveness: a NodeClaim that does not launch within 5 minutes or whose Node does not register
//! within 15 minutes is deleted (spec core §3.1).

use std::time::Duration;

use kube::Api;
use kube::api::DeleteParams;

use super::{Context, LAUNCHED, LifecycleError, REGISTERED, State};
use crate::objects::NodeClaimObject;

/// Upstream's `LaunchTimeout`.
pub const LAUNCH_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Upstream's registration TTL.
pub const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(super) async fn reconcile<P>(
    state: &mut State,
    context: &Context<P>,
) -> Result<(), LifecycleError> {
    if state.conditions.is_true(REGISTERED) {
        return Ok(());
    }
    let Some((reason, timeout)) = timed_out(state) else {
        return Ok(());
    };
    tracing::debug!(controller = "nodeclaim.lifecycle", NodeClaim = %state.claim.name(), timeout = ?timeout, reason, "terminating due to timeout");
    Api::<NodeClaimObject>::all(context.client.clone())
        .delete(state.claim.name(), &DeleteParams::default())
        .await?;
    state.deleted = true;
    Ok(())
}

/// Which timeout, if any, the NodeClaim has passed: measured from the last transition of the
/// `Launched` (not True) or `Registered` (not True) condition.
fn timed_out(state: &State) -> Option<(&'static str, Duration)> {
    let elapsed = |type_: &str| {
        let condition = state.conditions.get(type_)?;
        let since = state.now.duration_since(condition.last_transition_time.0);
        Duration::try_from(since).ok()
    };
    if !state.conditions.is_true(LAUNCHED) {
        return elapsed(LAUNCHED)
            .filter(|e| *e >= LAUNCH_TIMEOUT)
            .map(|_| ("launch_timeout", LAUNCH_TIMEOUT));
    }
    elapsed(REGISTERED)
        .filter(|e| *e >= REGISTRATION_TIMEOUT)
        .map(|_| ("registration_timeout", REGISTRATION_TIMEOUT))
}
