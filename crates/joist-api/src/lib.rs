//! Karpenter-compatible API types for joist.
//!
//! `karpenter.sh/v1` NodePool and NodeClaim and `karpenter.k8s.aws/v1` EC2NodeClass, with their
//! defaults, lossless serde round-trip, the CRD manifests (OpenAPI schema plus the CEL rules and
//! messages of upstream's CRDs) and a Rust mirror of that validation used by `joist validate`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod common;
pub mod convert;
pub mod crds;
pub mod document;
pub mod ec2nodeclass;
pub mod nodeclaim;
pub mod nodepool;
pub mod validation;
