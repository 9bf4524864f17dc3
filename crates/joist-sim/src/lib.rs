//! joist-sim: a discrete-event simulator of joist's provisioning and disruption on a virtual
//! clock.
//!
//! A scenario file ([`scenario::load`]) is run by [`engine::run`]: pending pods are batched and
//! handed to [`joist_core::scheduling::solve`], NodeClaims are launched by an in-memory AWS
//! provider ([`provider::Provider`]) priced from the embedded catalog (zones from the
//! EC2NodeClass's subnets, reserved offerings from the reservations it selects, declared
//! insufficient capacity), nodes register (DaemonSet pods appear) and initialize after the
//! scenario's delays, and a kube-scheduler stand-in ([`kube`]) binds pods. A 10 s disruption poll
//! runs [`engine::DisruptionDriver`]s (emptiness, drift, multi- and single-node consolidation from
//! `joist_core::disruption`); nodes are deleted with a drain that
//! honours PDBs, expire after `expireAfter`, are interrupted by steps and drained before a
//! capacity block ends; static NodePools are kept at `replicas`. The [`report::Report`]
//! describes the end state and the timeline.
//!
//! Pure: no I/O, no wall clock; the same scenario and seed give the same report.
//!
//! Not simulated yet: drift other than AMI drift (NodePool hash, requirements, subnets, security
//! groups), StaticDrift, node repair, kubelet settings in instance-type overhead, pod
//! (anti-)affinity and topology spread in the kube-scheduler stand-in (the solver honours them),
//! and pods' own termination grace periods (an eviction is immediate).

#![deny(missing_docs)]

pub mod engine;
pub mod kube;
pub mod provider;
pub mod report;
pub mod scenario;

pub use engine::{DisruptionDriver, Progress, RunOptions, SimError, run, run_with};
pub use report::Report;
pub use scenario::{LoadError, Scenario, load};
