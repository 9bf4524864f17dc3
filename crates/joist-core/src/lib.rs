//! joist's decision core.
//!
//! Everything here is pure: no async runtime, no Kubernetes or AWS clients, no logging, no clock
//! reads and no randomness except a [`rng::SeededRng`] passed in. Drivers (the controller, the
//! simulator, benchmarks, tests) build a snapshot, call into this crate and act on what it returns.
//! That is what makes every decision reproducible and explainable.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod disruption;
pub mod duration;
pub mod explain;
pub mod instancetype;
pub mod labels;
pub mod nodepool;
pub mod requirements;
pub mod resources;
pub mod rng;
pub mod scheduling;
pub mod snapshot;
pub mod taints;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
