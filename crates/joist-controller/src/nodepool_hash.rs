//! `nodepool.hash` (spec core §3.4): keeps `karpenter.sh/nodepool-hash` and
//! `karpenter.sh/nodepool-hash-version` on every NodePool, and when a NodePool's hash-version is
//! not joist's (a NodePool upstream Karpenter stamped, or an older joist), first re-stamps the
//! pool's NodeClaims so the scheme change does not drift the whole fleet.
//!
//! This is what makes the switch from upstream Karpenter quiet: upstream's NodeClaims carry
//! hash-version `v3`, joist writes `v3-joist1` (same fields, joist's encoding), so they are
//! re-stamped with the pool's current hash instead of being replaced. A NodeClaim already
//! `Drifted` keeps its old hash (its drift cannot be re-evaluated under the new scheme), as
//! upstream does on its own version bumps.

use std::collections::BTreeMap;

use joist_api::nodeclaim::NodeClaim;
use joist_api::nodepool::NodePool;
use joist_api::nodepool::hash::restamp_nodeclaim;
use joist_core::labels::NODEPOOL;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::disruption::condition_true;
use crate::index::Index;
use crate::objects::{NodeClaimObject, NodePoolObject};

/// The writes that bring a NodePool and its NodeClaims to the current hash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HashPlan {
    /// NodeClaims to re-stamp, by name, with their new hash annotations (sorted by name).
    pub restamps: Vec<(String, BTreeMap<String, String>)>,
    /// The NodePool's new hash annotations, when they differ from what it carries.
    pub nodepool: Option<BTreeMap<String, String>>,
}

/// What `pool` and its NodeClaims need. Re-stamps come only with a version change, and are
/// written before the pool's annotations: a crash in between repeats them, never skips them.
pub fn hash_plan(pool: &NodePool, claims: &[&NodeClaim]) -> HashPlan {
    let wanted: BTreeMap<String, String> = pool
        .hash_annotations()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    let current = pool.metadata.annotations.clone().unwrap_or_default();
    let up_to_date = wanted.iter().all(|(k, v)| current.get(k) == Some(v));
    let mut plan = HashPlan::default();
    if up_to_date {
        return plan;
    }
    if pool.needs_nodeclaim_restamp() {
        let hash = &wanted[joist_core::labels::NODEPOOL_HASH];
        let mut owned: Vec<&&NodeClaim> = claims
            .iter()
            .filter(|c| {
                c.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(NODEPOOL))
                    .map(String::as_str)
                    == Some(pool.name())
            })
            .collect();
        owned.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for claim in owned {
            let mut annotations = claim.metadata.annotations.clone().unwrap_or_default();
            let drifted = condition_true(claim, "Drifted");
            if restamp_nodeclaim(&mut annotations, hash, drifted) {
                let stamp = [
                    joist_core::labels::NODEPOOL_HASH,
                    joist_core::labels::NODEPOOL_HASH_VERSION,
                ]
                .into_iter()
                .filter_map(|k| Some((k.to_owned(), annotations.get(k)?.clone())))
                .collect();
                let name = claim.metadata.name.clone().unwrap_or_default();
                plan.restamps.push((name, stamp));
            }
        }
    }
    plan.nodepool = Some(wanted);
    plan
}

/// Applies [`hash_plan`] for one NodePool.
pub async fn reconcile(client: &Client, index: &Index, pool: &NodePool) -> Result<(), kube::Error> {
    let claims = index.nodeclaims.state();
    let claims: Vec<&NodeClaim> = claims.iter().map(|c| &c.0).collect();
    let plan = hash_plan(pool, &claims);
    let claims_api = Api::<NodeClaimObject>::all(client.clone());
    for (name, annotations) in &plan.restamps {
        let patch = json!({"metadata": {"annotations": annotations}});
        match claims_api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            // Gone meanwhile: nothing to re-stamp.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    if let Some(annotations) = &plan.nodepool {
        let patch = json!({"metadata": {"annotations": annotations}});
        Api::<NodePoolObject>::all(client.clone())
            .patch(pool.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
