//! Behaviour tests from spec core §9.2 (items 1–47, 55, 59, 61, 62; the other topology and
//! preference items live in `topology::tests`), one file per area. Each asserts the outcome the
//! checklist states.

mod support;

mod basics;
mod daemonsets;
mod default_spread;
mod deleting;
mod existing_nodes;
mod instance_selection;
mod labels_taints;
mod limits_weights;
mod minvalues;
mod nodepool_filtering;
mod preferences;
mod requirements;
mod reservations;
mod scale;
mod stats;
mod volumes;
