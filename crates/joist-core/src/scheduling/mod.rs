//! The provisioning solver (spec core §2): which new NodeClaims to launch and which pods to
//! nominate onto existing or in-flight nodes, as a pure function of a [`Snapshot`].
//!
//! [`solve`] follows upstream Karpenter's scheduler (`pkg/controllers/provisioning/scheduling`)
//! decision for decision where spec core §9.2 states an outcome, on data laid out for speed:
//! dense resource vectors, pod classes that share requirement work, and NodeClaim options kept as
//! index lists narrowed in place (see `docs/design/scheduling.md`).
//!
//! Topology (spread, pod affinity, anti-affinity) and preference relaxation plug in through
//! [`hooks`]; until those engines exist, pods that need them are reported unschedulable with an
//! explicit reason rather than placed incorrectly.

mod claims;
mod classes;
pub mod default_spread;
mod dense;
mod existing;
mod failure;
mod filter;
mod finalize;
pub mod hooks;
mod hostname_watch;
mod limits;
mod masks;
mod minvalues;
mod packing;
mod plan;
pub mod preferences;
mod provisionable;
mod queue;
mod reservations;
mod settings;
mod solver;
mod stats;
mod template;
pub mod topology;
mod volumes;

#[cfg(test)]
mod tests;

pub use default_spread::{DefaultSpreadError, DefaultTopologySpread};
pub use plan::{
    Ignored, NO_COMPATIBLE_INSTANCE_TYPES, NewNodeClaim, NodePoolEvent, Nomination, Plan, PodIndex,
    SkippedNodePool, Unschedulable,
};
pub use settings::{
    MAX_INSTANCE_TYPES, MinValuesPolicy, PackingPolicy, PreferencePolicy, ReservedOfferingMode,
    SchedulingSettings,
};
pub use stats::{FLEXIBLE_ZONE, NO_ZONE, SchedulingStats, ZoneDomains};

use crate::explain::Explanation;
use crate::rng::SeededRng;
use crate::snapshot::Snapshot;

/// Upstream's error for every pod when no NodePool is usable.
const NO_DYNAMIC_NODEPOOLS: &str = "no dynamic nodepools found";

/// Upstream's error for every pod when NodePools exist but none has an instance type left.
pub(crate) const NO_INSTANCE_TYPES: &str =
    "nodepool requirements filtered out all available instance types";

/// Decides where the snapshot's provisionable pods go (spec core §2).
///
/// Pure and deterministic: the same snapshot, settings and RNG state give the same [`Plan`]. The
/// RNG only resolves label values of `Exists`/`NotIn`/`Gt`/`Lt` custom requirements.
pub fn solve(snapshot: &Snapshot, settings: &SchedulingSettings, rng: &mut SeededRng) -> Plan {
    let mut batch = provisionable::collect(snapshot, settings);
    // Default topology spread (spec core §2.3 step 5) works on a copy of the snapshot whose
    // batch pods carry the injected constraints; unconfigured solves keep the original.
    let injected =
        default_spread::inject::inject(snapshot, &settings.default_topology_spread, &batch.pods);
    let snapshot = injected.as_ref().unwrap_or(snapshot);
    let mut plan = Plan {
        ignored: std::mem::take(&mut batch.ignored),
        ..Plan::default()
    };
    let mut solver = solver::Solver::new(snapshot, settings, &batch, &mut plan.skipped_nodepools);
    // Upstream counts pending pods by zone before its queue runs, so placements do not move them.
    let pending_by_zone = stats::pending_by_effective_zone(&solver);
    if solver.no_dynamic_nodepools {
        plan.unschedulable = batch
            .pods
            .iter()
            .map(|&pod| Unschedulable {
                pod,
                explanation: Explanation::general(NO_DYNAMIC_NODEPOOLS),
            })
            .collect();
        stats::finish(&mut plan, batch.pods.len(), pending_by_zone);
        return plan;
    }
    let failures = solver.run();
    if settings.packing_policy == PackingPolicy::CostAware {
        packing::repack(&mut solver);
    }
    record(&mut plan, &solver, failures, rng);
    stats::finish(&mut plan, batch.pods.len(), pending_by_zone);
    plan
}

/// Turns the solver's state into the plan: nominations, finalised NodeClaims, failures.
fn record(
    plan: &mut Plan,
    solver: &solver::Solver<'_>,
    failures: Vec<Option<failure::Failure>>,
    rng: &mut SeededRng,
) {
    for node in &solver.existing {
        plan.nominations
            .extend(node.pods.iter().map(|&pod| Nomination {
                pod,
                node: node.node.name.clone(),
            }));
    }
    let mut offerings = masks::OfferingCache::default();
    for claim in &solver.claims {
        let template = &solver.templates[claim.template];
        let finalized = finalize::finalize(
            claim,
            template,
            &solver.index,
            solver.settings,
            &mut offerings,
            rng,
        );
        match finalized {
            Ok(nodeclaim) => plan.new_nodeclaims.push(nodeclaim),
            Err(message) => {
                plan.unschedulable
                    .extend(claim.pods.iter().map(|&pod| Unschedulable {
                        pod,
                        explanation: Explanation::general(message.clone()),
                    }))
            }
        }
    }
    for (position, failure) in failures.into_iter().enumerate() {
        let Some(failure) = failure else { continue };
        let pod = solver.pods[position].index;
        if failure.is_reserved_capacity() {
            plan.deferred.push(pod);
        } else {
            plan.unschedulable.push(Unschedulable {
                pod,
                explanation: failure.explain(),
            });
        }
    }
    plan.unschedulable.sort_by_key(|u| u.pod);
    plan.deferred.sort_unstable();
}
