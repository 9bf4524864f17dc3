//! `karpenter.k8s.aws/v1` EC2NodeClass: the AWS node class of Karpenter v1.14.1.
//!
//! * [`EC2NodeClass`] and its parts ([`types`], [`kubelet`], [`launch`], [`status`]) read and
//!   write users' YAML/JSON losslessly: enum-like values and quantities stay raw strings (so a bad
//!   value is a validation error with a path, not a parse failure) and fields this version does
//!   not know are kept in `extra` maps.
//! * [`EC2NodeClass::with_defaults`] applies the CRD defaults (spec aws §1.1, §1.2).
//! * [`crd()`] is the CustomResourceDefinition with upstream's OpenAPI schema and CEL rules.
//! * [`validate()`] mirrors what the API server (schema + CEL) and Karpenter's decoding would
//!   reject, with the API server's field paths and messages (spec aws §13 items 1–11, 14).

mod crd;
mod defaults;
pub mod drift;
pub mod hash;
pub mod kubelet;
pub mod launch;
mod rules;
pub mod status;
#[cfg(test)]
mod tests;
pub mod types;
mod validate;

pub use crd::{crd, schema};
pub use defaults::{
    DEFAULT_HTTP_ENDPOINT, DEFAULT_HTTP_PROTOCOL_IPV6, DEFAULT_HTTP_PUT_RESPONSE_HOP_LIMIT,
    DEFAULT_HTTP_TOKENS, DEFAULT_RESERVATION_STATE, DEFAULT_RESERVATION_TYPE,
};
pub use kubelet::KubeletConfiguration;
pub use launch::{
    BlockDevice, BlockDeviceMapping, ConnectionTracking, CpuOptions, MetadataOptions,
    NetworkInterface, PlacementGroupSelector,
};
pub use status::{Ami, CapacityReservation, EC2NodeClassStatus, SecurityGroup, Subnet};
pub use types::{
    AmiFamily, AmiSelectorTerm, CapacityReservationSelectorTerm, EC2NodeClassSpec,
    SecurityGroupSelectorTerm, SubnetSelectorTerm,
};
pub use validate::validate;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The API group of the EC2NodeClass CRD.
pub const GROUP: &str = "karpenter.k8s.aws";
/// The only served (and storage) version.
pub const VERSION: &str = "v1";
/// `apiVersion` of every EC2NodeClass object.
pub const API_VERSION: &str = "karpenter.k8s.aws/v1";
/// `kind` of every EC2NodeClass object.
pub const KIND: &str = "EC2NodeClass";
/// Plural resource name (`kubectl get ec2nodeclasses`).
pub const PLURAL: &str = "ec2nodeclasses";

pub use crate::common::Extra;

/// A `karpenter.k8s.aws/v1` EC2NodeClass: how Karpenter launches EC2 instances (AMIs, subnets,
/// security groups, IAM, disks, network, kubelet overrides) for the NodePools that reference it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EC2NodeClass {
    /// Always [`API_VERSION`] for a valid object; kept as written so a wrong one can be reported.
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// Standard object metadata (cluster scoped: no namespace).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired configuration. An absent spec reads as empty, which validation rejects.
    #[serde(default)]
    pub spec: EC2NodeClassSpec,
    /// What the controller resolved; written by controllers, ignored by validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EC2NodeClassStatus>,
    /// Top-level fields this version does not know; kept so that reading and writing an object
    /// never drops what the user wrote (validation reports them as unknown fields).
    #[serde(flatten)]
    pub extra: Extra,
}

impl EC2NodeClass {
    /// A class named `name` with `spec`, the right apiVersion/kind and no status.
    pub fn new(name: impl Into<String>, spec: EC2NodeClassSpec) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
            extra: Extra::new(),
        }
    }

    /// The object's name, or `""` when it has none.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}
