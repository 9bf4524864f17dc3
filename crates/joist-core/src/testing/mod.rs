//! Fluent builders for snapshots, pods, NodePools, instance types, nodes and DaemonSets, and the
//! fake provider's instance types (spec core §9, §9.3), for tests and benchmarks.
//!
//! Compiled for this crate's tests and, with the `testing` feature, for other crates (the
//! benchmark crate, the simulator's tests). Builders panic on malformed literals such as
//! `cpu("abc")`: they are test helpers, and a typo in a test should fail loudly.

mod fake;
mod nodes;
mod pods;
mod snapshot;

pub use fake::{
    FAKE_GPU_VENDOR_A, FAKE_GPU_VENDOR_B, FAKE_INTEGER_LABEL, FAKE_SIZE_LABEL, FAKE_SPECIAL_LABEL,
    FAKE_ZONES, InstanceTypeBuilder, fake_instance_types, fake_instance_types_n, fake_settings,
    fake_well_known_labels, instance_type,
};
pub use nodes::{DaemonSetBuilder, NodeBuilder, NodePoolBuilder, daemonset, node, nodepool};
pub use pods::{PodBuilder, pod};
pub use snapshot::{SnapshotBuilder, snapshot};

use crate::resources::Quantity;

/// Parses a quantity literal, panicking with the literal on error (test helper).
pub fn quantity(text: &str) -> Quantity {
    match Quantity::parse(text) {
        Ok(q) => q,
        Err(e) => panic!("bad quantity {text:?} in test: {e}"),
    }
}
