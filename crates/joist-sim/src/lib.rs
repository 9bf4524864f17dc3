//! joist-sim: a discrete-event simulator of joist's provisioning on a virtual clock.
//!
//! A scenario file ([`scenario::load`]) is run by [`engine::run`]: pending pods are batched and
//! handed to [`joist_core::scheduling::solve`], NodeClaims are launched by an in-memory AWS
//! provider ([`provider::Provider`]) priced from the embedded catalog, nodes register and
//! initialize after the scenario's delays, and a kube-scheduler stand-in ([`kube`]) binds pods.
//! The [`report::Report`] describes the end state and the timeline.
//!
//! Pure: no I/O, no wall clock; the same scenario and seed give the same report.
//!
//! Not simulated yet: disruption (consolidation, drift, expiry, emptiness), spot interruptions
//! and insufficient-capacity errors, `apply`/`delete`/`interrupt` steps (refused by name),
//! feature gates (refused), zones from the EC2NodeClass's subnets (the region's default zones are
//! offered), EC2NodeClass settings (AMI family, kubelet) in instance-type overhead, Node objects in
//! scenarios, and DaemonSet pods on nodes (the solver reserves their overhead; the report does not
//! list them). Nodes are priced from launch; a node the solver no longer needs stays until the end.

#![deny(missing_docs)]

pub mod engine;
pub mod kube;
pub mod provider;
pub mod report;
pub mod scenario;

pub use engine::{RunOptions, SimError, run};
pub use report::Report;
pub use scenario::{LoadError, Scenario, load};
