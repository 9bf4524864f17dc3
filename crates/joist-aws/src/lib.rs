//! The AWS model for joist: the embedded EC2 catalog turned into provider-neutral
//! [`joist_core::instancetype::InstanceType`]s exactly as Karpenter's AWS provider computes them
//! (well-known labels, capacity, overhead, allocatable, offerings and prices).
//!
//! * [`catalog`]: the embedded EC2 data, typed and validated, parsed once.
//! * [`settings`]: the explicit inputs (AMI family, BDMs, kubelet, controller options).
//! * [`capacity`] and [`overhead`]: spec aws §3.2 and §3.3 as pure functions; together they
//!   reproduce Karpenter's published AL2023 allocatable for every catalog type (the oracle test).
//! * [`labels`]: well-known labels (spec aws §2), EKS Auto Mode twins, `WellKnownLabels` and
//!   `LabelAliases` for AWS.
//! * [`pricing`] and [`offerings`]: on-demand and spot prices, zones, reserved offerings.
//! * [`instancetype`]: [`instancetype::build_instance_types`] ties it all together.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capacity;
pub mod catalog;
pub mod instancetype;
pub mod labels;
pub mod offerings;
pub mod overhead;
pub mod pricing;
pub mod settings;

#[cfg(test)]
mod oracle_tests;
