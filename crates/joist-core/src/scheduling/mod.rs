//! The provisioning solver (spec core §2): which new NodeClaims to launch and which pods to
//! nominate onto existing or in-flight nodes, as a pure function of a [`Snapshot`](crate::snapshot::Snapshot).

mod settings;

pub use settings::{
    MAX_INSTANCE_TYPES, MinValuesPolicy, PreferencePolicy, ReservedOfferingMode, SchedulingSettings,
};
