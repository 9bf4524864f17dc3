//! The consolidation scheduling simulation (§4.9 `SimulateScheduling`; §9.2 items 63, 79).

use super::*;
use crate::rng::SeededRng;
use crate::scheduling::SchedulingSettings;
use crate::testing::fake_settings;

/// A 4-CPU managed node of `pool` (the fake `default-instance-type`, on-demand).
fn sized(name: &str, pool: &str) -> NodeBuilder {
    managed(name, pool).cpu("4").memory("4Gi").pods(10)
}

/// A running ReplicaSet pod of `cpu` cores bound to `node`.
fn web(name: &str, node: &str, cpu: &str) -> PodBuilder {
    bound(name, node)
        .cpu(cpu)
        .owner("apps/v1", "ReplicaSet", "web")
}

fn simulate(f: &Fixture, candidates: &[&str]) -> Result<SimulationResult, SimulationError> {
    let settings: SchedulingSettings = fake_settings();
    let mut simulator = Simulator::new(f.input(), &settings);
    simulator.simulate(candidates, &mut SeededRng::new(7))
}

#[test]
fn item_79_pods_that_fit_elsewhere_land_on_existing_nodes() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "1"))
        .pod(web("p1", "a-n1", "1"));
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert!(result.new_nodeclaims.is_empty());
    assert!(result.all_non_pending_scheduled());
    assert_eq!(result.placements.len(), 1);
    assert_eq!(result.placements[0].key, "default/p0");
    assert_eq!(result.placements[0].node, "a-n1");
    assert_eq!(result.destinations(), vec!["a-n1"]);
}

#[test]
fn pods_without_room_need_a_new_nodeclaim_with_priced_options() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "3"))
        .pod(web("p1", "a-n1", "3"));
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert_eq!(result.new_nodeclaims.len(), 1);
    let options = &result.new_nodeclaims[0].options;
    assert!(!options.is_empty());
    assert!(
        options.windows(2).all(|w| w[0].price <= w[1].price),
        "options are cheapest first: {options:?}"
    );
    assert!(options.iter().all(|o| o.worst_launch_price >= o.price));
    assert_eq!(result.new_nodeclaims[0].nodeclaim.pods.len(), 1);
}

#[test]
fn pending_pods_are_part_of_the_simulation_and_never_block() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "1"))
        .pod(pod().name("huge").uid("huge").cpu("100"));
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    let huge = result
        .failures
        .iter()
        .find(|f| f.key == "default/huge")
        .expect("the pending pod was simulated");
    assert!(huge.pending);
    assert!(result.all_non_pending_scheduled());
    assert!(result.non_pending_errors().is_empty());
}

#[test]
fn a_candidate_already_deleting_is_refused() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a").marked_for_deletion())
        .node(sized("a-n1", "a"));
    let f = Fixture::new(builder);
    assert_eq!(
        simulate(&f, &["a-n0"]),
        Err(SimulationError::CandidateDeleting)
    );
    assert_eq!(
        simulate(&f, &["nope"]),
        Err(SimulationError::UnknownNode {
            node: "nope".into()
        })
    );
}

#[test]
fn item_79_destinations_inside_their_consolidate_after_window_are_not_used() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a"))
        .pod(web("p0", "a-n0", "1"));
    let mut f = Fixture::new(builder);
    f.node_state("a-n1").consolidatable = false;
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert!(result.placements.is_empty(), "a-n1 is still in its window");
    assert_eq!(result.new_nodeclaims.len(), 1);
    // consolidateAfter: Never leaves the destination usable.
    f.pools.entry("a".into()).or_default().consolidate_after = NillableDuration::never();
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert_eq!(result.destinations(), vec!["a-n1"]);
}

#[test]
fn item_79_no_consolidation_onto_uninitialized_nodes() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("a-n1", "a").initialized(false))
        .pod(web("p0", "a-n0", "1"));
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert!(!result.all_non_pending_scheduled());
    assert_eq!(
        result.non_pending_errors(),
        vec!["default/p0 => would schedule against uninitialized nodeclaim/a-n1, node/a-n1"]
    );
    assert_eq!(
        result.unschedulable_message(),
        "Not all pods would schedule, default/p0 => would schedule against uninitialized \
         nodeclaim/a-n1, node/a-n1 "
    );
}

#[test]
fn item_63_pods_of_deleting_nodes_may_use_uninitialized_nodes() {
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .node(sized("old", "a").marked_for_deletion())
        .node(sized("fresh", "a").initialized(false))
        .pod(web("moving", "old", "3"));
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert!(result.all_non_pending_scheduled());
    assert!(
        result.placements.iter().any(|p| p.key == "default/moving"),
        "the deleting node's pod is simulated too: {result:?}"
    );
}

#[test]
fn fully_blocked_pods_are_not_rescheduled() {
    let blocking = crate::snapshot::PodDisruptionBudget {
        namespace: "default".into(),
        name: "db".into(),
        selector: Some(LabelSelector::from_labels([("app", "db")])),
        min_available: None,
        max_unavailable: Some(crate::snapshot::IntOrString::Int(0)),
    };
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .node(sized("a-n0", "a"))
        .pod(web("db", "a-n0", "3").label("app", "db"))
        .pdb(blocking);
    let f = Fixture::new(builder);
    let result = simulate(&f, &["a-n0"]).unwrap();
    assert!(result.new_nodeclaims.is_empty(), "{result:?}");
    assert!(result.failures.is_empty());
}
