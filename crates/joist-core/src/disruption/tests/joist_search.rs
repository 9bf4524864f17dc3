//! joist's search beyond upstream (issue 5): the whole budget-walked batch, N → M replacements
//! with M > N, the waste ordering and the per-node churn floor, each against what upstream does
//! and against budgets, PDBs and do-not-disrupt.

use super::consolidation::{app, machine, multi, nodes_of, open, priced, settings, single};
use super::*;

fn joist() -> ConsolidationSettings {
    settings(SearchMode::Joist)
}

fn upstream() -> ConsolidationSettings {
    settings(SearchMode::Upstream)
}

/// One `big` node (8 CPU, $2.00) running two 3-CPU pods; a `four` (4 CPU, $0.50) holds one.
/// Greedy packing keeps both pods on one NodeClaim, which only `big` holds.
fn one_big() -> SnapshotBuilder {
    let types = vec![priced("four", 4, 0.5, None), priced("big", 8, 2.0, None)];
    snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(machine("b0", "a", "big", "on-demand", 8))
        .pod(app("p0", "b0", "3"))
        .pod(app("p1", "b0", "3"))
}

#[test]
fn joist_replaces_one_node_by_two_cheaper_ones_where_upstream_finds_nothing() {
    let f = open(one_big());
    assert!(single(&f, &upstream()).command.is_none());
    let command = single(&f, &joist()).command.expect("two fours for one big");
    assert_eq!(nodes_of(&command), vec!["b0"]);
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.replacements.len(), 2);
    assert!(
        command
            .replacements
            .iter()
            .all(|r| r.options[0].name == "four")
    );
    assert!(
        (command.savings - 1.0).abs() < 1e-9,
        "{}",
        command.explanation
    );
}

/// `count` `medium` nodes (4 CPU, $1.00) of pool `a`, each running a 0.5-CPU pod: any seven of
/// them fit on one.
fn idle_mediums(count: usize) -> SnapshotBuilder {
    let types = vec![priced("medium", 4, 1.0, None)];
    (0..count).fold(
        snapshot().nodepool(nodepool("a")).instance_types(types),
        |s, i| {
            let name = format!("m{i}");
            s.node(machine(&name, "a", "medium", "on-demand", 4))
                .pod(app(&format!("p{i}"), &name, "0.5"))
        },
    )
}

#[test]
fn the_whole_batch_is_one_move_but_never_beyond_the_budget() {
    let f = open(idle_mediums(6)).budgets("a", vec![Budget::new("3")]);
    let command = multi(&f, &joist()).command.expect("three go at once");
    assert_eq!(command.candidates.len(), 3, "{}", command.explanation);
    assert_eq!(command.decision, Decision::Delete);
    let capped = ConsolidationSettings {
        joist_max_candidates: 2,
        ..joist()
    };
    let command = multi(&f, &capped).command.expect("two go at once");
    assert_eq!(command.candidates.len(), 2);
}

#[test]
fn pdb_blocked_and_do_not_disrupt_nodes_never_join_the_batch() {
    let blocked_pod = app("guarded", "m1", "0.5").label("app", "web");
    let builder = idle_mediums(4)
        .pod(blocked_pod)
        .pod(app("pinned", "m2", "0.5").annotation(crate::labels::DO_NOT_DISRUPT, "true"))
        .pdb(crate::snapshot::PodDisruptionBudget {
            namespace: "default".into(),
            name: "web".into(),
            selector: Some(LabelSelector::from_labels([("app", "web")])),
            min_available: None,
            max_unavailable: Some(crate::snapshot::IntOrString::Int(1)),
        });
    let mut f = open(builder);
    f.pdb_status
        .insert(("default".into(), "web".into()), PdbStatus::default());
    let command = multi(&f, &joist()).command.expect("m0 and m3 merge");
    let nodes = nodes_of(&command);
    assert!(!nodes.contains(&"m1"), "PDB-blocked: {nodes:?}");
    assert!(!nodes.contains(&"m2"), "do-not-disrupt: {nodes:?}");
    assert!(!nodes.is_empty());
}

#[test]
fn the_churn_floor_is_per_disrupted_node() {
    // Two nodes whose pods fit one `large`: the merge saves $0.015/h, above a $0.01 floor for
    // one node but below it for two.
    let types = vec![
        priced("medium", 4, 1.0, None),
        priced("large", 8, 1.985, None),
    ];
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(machine("m0", "a", "medium", "on-demand", 4))
        .node(machine("m1", "a", "medium", "on-demand", 4))
        .pod(app("p0", "m0", "3"))
        .pod(app("p1", "m1", "3"));
    let f = open(builder);
    let upstream = multi(&f, &upstream())
        .command
        .expect("upstream merges for 1.5 cents");
    assert!((upstream.savings - 0.015).abs() < 1e-9);
    assert!(multi(&f, &joist()).command.is_none());
    let lower = ConsolidationSettings {
        min_savings: 0.007,
        ..joist()
    };
    assert!(multi(&f, &lower).command.is_some(), "0.015 >= 2 x 0.007");
}

#[test]
fn the_walk_looks_first_at_the_node_with_the_most_to_give() {
    // `x` (an `xl`, 8 CPU, $2.00) runs a 6-CPU pod: upstream's price-per-disruption order puts
    // it first, and its best move is an `eight` ($1.60) replacement saving $0.40. `y` (a
    // `medium`, $1.00) runs a 0.25-CPU pod that fits beside it: deleting `y` saves $1.00.
    let types = vec![
        priced("medium", 4, 1.0, None),
        priced("eight", 8, 1.6, None),
        priced("xl", 8, 2.0, None),
    ];
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(machine("x", "a", "xl", "on-demand", 8))
        .node(machine("y", "a", "medium", "on-demand", 4))
        .pod(app("px", "x", "6"))
        .pod(app("py", "y", "0.25"));
    let f = open(builder);
    let upstream = single(&f, &upstream())
        .command
        .expect("upstream replaces x");
    assert_eq!(nodes_of(&upstream), vec!["x"]);
    assert!((upstream.savings - 0.4).abs() < 1e-9);
    let joist = single(&f, &joist()).command.expect("joist deletes y");
    assert_eq!(nodes_of(&joist), vec!["y"]);
    assert_eq!(joist.decision, Decision::Delete);
    assert!((joist.savings - 1.0).abs() < 1e-9);
}
