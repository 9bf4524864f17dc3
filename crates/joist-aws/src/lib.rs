//! The AWS model for joist: the embedded EC2 catalog turned into provider-neutral
//! [`joist_core::instancetype::InstanceType`]s exactly as Karpenter's AWS provider computes them
//! (well-known labels, capacity, overhead, allocatable, offerings and prices).
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
