//! Node drain (spec core §3.3): [`plan`] decides, from the node's pods, what one pass does;
//! [`evict`] carries it out against the API server (Eviction API, TGP force-deletes).

pub mod evict;
pub mod plan;

#[cfg(test)]
mod plan_tests;

pub use evict::{DrainError, DrainOutcome, Drainer};
pub use plan::{DrainPlan, EvictionTier, ForceDelete, PodKey, TierPlan, plan_drain};
