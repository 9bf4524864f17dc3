//! Pieces shared by the `karpenter.sh/v1` kinds (and usable by provider kinds): wire types for
//! requirements, taints, NodeClass references and resource lists; the CRD schema builders and CEL
//! rules for them; the schema-driven OpenAPI validator and its pattern matcher; the label policy;
//! and the Rust mirror of the shared CEL and runtime checks.

pub mod check;
pub mod convert;
pub mod labels;
pub mod openapi;
pub mod pattern;
pub mod schema;
pub mod strict;
pub(crate) mod structhash;
pub mod types;

pub use check::ValidationOptions;
pub use labels::{LabelPolicy, RestrictedDomain};
pub use schema::CelRule;
pub use types::{
    Extra, NodeClassReference, NodeSelectorRequirementWithMinValues, QuantityValue, ResourceList,
    Taint,
};
