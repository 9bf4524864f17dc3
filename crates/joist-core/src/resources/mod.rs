//! Kubernetes resource accounting: exact [`Quantity`] values, [`ResourceList`] arithmetic and the
//! [`fits`] check, and what a pod requests (spec core §2.7).
//!
//! * [`quantity`]: apimachinery's quantity parsing and canonical printing.
//! * [`ResourceList`]: name → quantity with Karpenter's per-key sum, difference, maximum and fit.
//! * [`names`]: the resource names joist and its providers refer to.
//! * [`pod`]: what a pod requests ([`pod_requests`]), from plain [`PodResources`] data.

pub mod names;
pub mod pod;
pub mod quantity;

mod list;

pub use list::{InsufficientResource, ResourceList, fits};
pub use pod::{
    ContainerResizeStatus, ContainerResources, InitContainerResources, PodLevelResources,
    PodResources, default_requests_from_limits, pod_requests, requests_for_pods,
};
pub use quantity::{Quantity, QuantityError, QuantityFormat};
