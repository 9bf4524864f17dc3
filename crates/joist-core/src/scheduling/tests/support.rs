//! Helpers shared by the behaviour tests.

use crate::rng::SeededRng;
use crate::scheduling::{Plan, SchedulingSettings, solve};
use crate::snapshot::Snapshot;
use crate::testing::fake_settings;

/// Solves with the fake provider's settings and seed 0.
pub(super) fn run(snapshot: &Snapshot) -> Plan {
    run_with(snapshot, &fake_settings())
}

/// Solves with `settings` and seed 0.
pub(super) fn run_with(snapshot: &Snapshot, settings: &SchedulingSettings) -> Plan {
    solve(snapshot, settings, &mut SeededRng::new(0))
}

/// The pod index of the pod named `name`.
pub(super) fn pod_named(snapshot: &Snapshot, name: &str) -> usize {
    snapshot
        .pods
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no pod {name}"))
}

/// The cheapest instance type of the NodeClaim holding pod `name`.
pub(super) fn instance_type_of<'p>(plan: &'p Plan, snapshot: &Snapshot, name: &str) -> &'p str {
    let nodeclaim = plan
        .nodeclaim_of(pod_named(snapshot, name))
        .unwrap_or_else(|| panic!("pod {name} not on a new nodeclaim: {plan:#?}"));
    &nodeclaim.instance_types[0]
}
