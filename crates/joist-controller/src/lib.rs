//! joist's Kubernetes runtime: watches into an index, the provisioner, the NodeClaim lifecycle,
//! node termination and the kwok cloud provider (see `docs/controller.md`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conditions;
pub mod controller;
pub mod disruption;
pub mod events;
pub mod garbage_collection;
pub mod health;
pub mod index;
pub mod leader;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod node_termination;
pub mod nodepool;
pub mod nodepool_counter;
pub mod nodepool_hash;
pub mod objects;
pub mod provider;
pub mod provisioner;
pub mod settings;
pub mod termination;

pub use controller::{RunningController, StartError, start, start_gated};
pub mod client;

pub use client::client;
