//! joist's Kubernetes runtime: watches into an index, the provisioner, the NodeClaim lifecycle,
//! node termination and the kwok cloud provider (see `docs/controller.md`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod index;
pub mod objects;
pub mod provider;
pub mod settings;
pub mod conditions;
pub mod provisioner;
pub mod lifecycle;
pub mod controller;
pub mod health;
pub mod nodepool;
pub mod events;
pub mod leader;
pub mod metrics;
pub mod termination;

pub use controller::{RunningController, StartError, start};
