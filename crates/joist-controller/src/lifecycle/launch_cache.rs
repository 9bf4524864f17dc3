//! What this process launched for NodeClaims whose status does not show it yet (spec core §3.1,
//! upstream's launch cache keyed by NodeClaim UID).
//!
//! The lifecycle reconciler reads NodeClaims from the watch cache, which trails the API server:
//! right after `create` and the status patch, a second reconcile of the same NodeClaim may still
//! see no `status.providerID` and would launch a second instance. Remembering the launched
//! instance here lets that reconcile re-use it for its own status patch instead.
//!
//! An entry lives from a successful `create` until the NodeClaim is seen launched (its
//! providerID is visible), is finalized (a NodeClaim deleted before its status showed the launch
//! is finalized under the remembered providerID, so its instance is terminated, not leaked), or
//! is deleted unlaunched. A NodeClaim that vanishes
//! without any of those (its finalizer removed by hand) leaves an entry behind, so entries older
//! than [`LAUNCH_CACHE_TTL`] are dropped when another is added: far longer than any status patch takes
//! to show up, so a dropped entry can no longer cause a double launch.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use joist_api::nodeclaim::NodeClaim;

use crate::provider::Launched;

/// How long an entry outlives its NodeClaim's last launch at most.
pub const LAUNCH_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Launched instances by NodeClaim UID, until the NodeClaim's status shows them.
#[derive(Debug)]
pub struct LaunchCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// Entries older than this are dropped when another is added.
    ttl: Duration,
}

impl Default for LaunchCache {
    fn default() -> Self {
        Self::with_ttl(LAUNCH_CACHE_TTL)
    }
}

/// One remembered launch and when it happened (for the TTL backstop).
#[derive(Debug)]
struct Entry {
    launched: Launched,
    at: Instant,
}

impl LaunchCache {
    /// An empty cache whose entries live at most [`LAUNCH_CACHE_TTL`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache whose entries live at most `ttl`.
    pub fn with_ttl(ttl: Duration) -> Self {
        LaunchCache {
            entries: Mutex::default(),
            ttl,
        }
    }

    /// The instance launched earlier for `claim`, if its status does not show it yet.
    pub fn recall(&self, claim: &NodeClaim) -> Option<Launched> {
        self.lock()
            .get(&key(claim))
            .map(|entry| entry.launched.clone())
    }

    /// Remembers that `launched` was created for `claim`.
    pub fn remember(&self, claim: &NodeClaim, launched: Launched) {
        let now = Instant::now();
        let mut entries = self.lock();
        let ttl = self.ttl;
        entries.retain(|_, entry| now.duration_since(entry.at) < ttl);
        entries.insert(key(claim), Entry { launched, at: now });
    }

    /// `claim` with the remembered launch's providerID when its status has none, so a NodeClaim
    /// deleted before its status patch landed is finalized with its instance; `claim` itself
    /// otherwise.
    pub fn with_remembered_provider_id<'a>(&self, claim: &'a NodeClaim) -> Cow<'a, NodeClaim> {
        let has_id = claim
            .status
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .is_some_and(|id| !id.is_empty());
        match self.recall(claim).filter(|_| !has_id) {
            Some(launched) => {
                let mut claim = claim.clone();
                claim
                    .status
                    .get_or_insert_with(Default::default)
                    .provider_id = Some(launched.provider_id);
                Cow::Owned(claim)
            }
            None => Cow::Borrowed(claim),
        }
    }

    /// Forgets `claim`: its status shows the launch, or it is gone.
    pub fn forget(&self, claim: &NodeClaim) {
        self.lock().remove(&key(claim));
    }

    /// How many launches are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Every critical section is a single map operation, so a panic elsewhere cannot leave
        // the map half-updated: a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The UID, which differs between a NodeClaim and a later one of the same name; the name only
/// for objects that never came from the API server (tests).
fn key(claim: &NodeClaim) -> String {
    claim
        .metadata
        .uid
        .clone()
        .unwrap_or_else(|| claim.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(name: &str, uid: &str) -> NodeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": uid},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        }))
        .expect("a NodeClaim")
    }

    fn launched(provider_id: &str) -> Launched {
        Launched {
            provider_id: provider_id.to_owned(),
            instance_type: "m5.large".to_owned(),
            zone: "us-east-1a".to_owned(),
            capacity_type: "on-demand".to_owned(),
            price: 0.096,
            labels: Default::default(),
            capacity: Default::default(),
            allocatable: Default::default(),
        }
    }

    #[test]
    fn entries_are_keyed_by_uid_so_a_recreated_claim_of_the_same_name_launches_anew() {
        let cache = LaunchCache::new();
        cache.remember(&claim("default-a", "uid-1"), launched("kwok://default-a"));
        assert_eq!(
            cache
                .recall(&claim("default-a", "uid-1"))
                .map(|l| l.provider_id),
            Some("kwok://default-a".to_owned())
        );
        assert_eq!(cache.recall(&claim("default-a", "uid-2")), None);
    }

    #[test]
    fn forgetting_removes_the_entry() {
        let cache = LaunchCache::new();
        cache.remember(&claim("default-a", "uid-1"), launched("kwok://default-a"));
        cache.remember(&claim("default-b", "uid-2"), launched("kwok://default-b"));
        cache.forget(&claim("default-a", "uid-1"));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.recall(&claim("default-a", "uid-1")), None);
        cache.forget(&claim("default-b", "uid-2"));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_deleting_claim_without_a_provider_id_gets_the_remembered_one() {
        let cache = LaunchCache::new();
        let unpatched = claim("default-a", "uid-1");
        assert!(matches!(
            cache.with_remembered_provider_id(&unpatched),
            Cow::Borrowed(_)
        ));
        cache.remember(&unpatched, launched("kwok://default-a"));
        let finalized = cache.with_remembered_provider_id(&unpatched);
        assert_eq!(
            finalized
                .status
                .as_ref()
                .and_then(|s| s.provider_id.as_deref()),
            Some("kwok://default-a")
        );
        // A providerID in the status wins.
        let mut patched = unpatched.clone();
        patched
            .status
            .get_or_insert_with(Default::default)
            .provider_id = Some("kwok://other".to_owned());
        assert!(matches!(
            cache.with_remembered_provider_id(&patched),
            Cow::Borrowed(c) if c.status.as_ref().and_then(|s| s.provider_id.as_deref()) == Some("kwok://other")
        ));
    }

    #[test]
    fn entries_older_than_the_ttl_are_dropped_when_another_is_added() {
        let cache = LaunchCache::with_ttl(Duration::from_millis(500));
        cache.remember(&claim("default-a", "uid-1"), launched("kwok://default-a"));
        cache.remember(&claim("default-b", "uid-2"), launched("kwok://default-b"));
        assert_eq!(cache.len(), 2, "both are younger than the TTL");
        std::thread::sleep(Duration::from_millis(600));
        cache.remember(&claim("default-c", "uid-3"), launched("kwok://default-c"));
        assert_eq!(cache.recall(&claim("default-a", "uid-1")), None);
        assert_eq!(cache.recall(&claim("default-b", "uid-2")), None);
        assert_eq!(cache.len(), 1);
    }
}
