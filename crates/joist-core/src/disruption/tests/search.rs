//! joist's consolidation search and churn guard (beyond upstream: issue requirement), measured
//! against upstream's prefix search on constructed cases.

use super::consolidation::{app, machine, multi, nodes_of, open, priced, settings, single};
use super::*;

fn joist() -> ConsolidationSettings {
    settings(SearchMode::Joist)
}

fn upstream() -> ConsolidationSettings {
    settings(SearchMode::Upstream)
}

/// `n1` and `n3` in test-zone-1, `n2` in test-zone-2, each a `small` (2 CPU, $0.30) running a
/// 1.5-CPU pod pinned to its zone; a `quad` (4 CPU, $0.50) holds two such pods. Candidates sort
/// n1, n2, n3 (equal ratios, then name), so every prefix of two or more mixes zones and needs
/// two NodeClaims; no single node has a cheaper replacement. Upstream stops; n1 + n3 → one
/// quad saves $0.10/h.
fn zones_split() -> SnapshotBuilder {
    let types = vec![priced("small", 2, 0.3, None), priced("quad", 4, 0.5, None)];
    let zoned = |name: &str, zone: &str| machine(name, "a", "small", "on-demand", 2).zone(zone);
    snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(zoned("n1", "test-zone-1"))
        .node(zoned("n2", "test-zone-2"))
        .node(zoned("n3", "test-zone-1"))
        .pod(app("p1", "n1", "1.5").zone("test-zone-1"))
        .pod(app("p2", "n2", "1.5").zone("test-zone-2"))
        .pod(app("p3", "n3", "1.5").zone("test-zone-1"))
}

#[test]
fn upstream_prefix_search_stops_on_the_zone_split_case() {
    let f = open(zones_split());
    assert!(multi(&f, &upstream()).command.is_none());
    assert!(single(&f, &upstream()).command.is_none());
}

#[test]
fn joist_finds_a_strictly_cheaper_non_prefix_move() {
    let f = open(zones_split());
    let command = multi(&f, &joist()).command.expect("joist merges n1 and n3");
    assert_eq!(nodes_of(&command), vec!["n1", "n3"]);
    assert_eq!(command.decision, Decision::Replace);
    assert_eq!(command.replacements[0].options[0].name, "quad");
    let before = 0.9;
    let after = before - command.savings;
    assert!(
        (after - 0.8).abs() < 1e-9,
        "cluster cost falls from $0.90 to $0.80/h"
    );
}

/// Four `medium` nodes (4 CPU, $1.00) each running a 3-CPU pod; a `large` (8 CPU, $1.50) holds
/// two such pods, never three.
fn four_mediums() -> SnapshotBuilder {
    let types = vec![
        priced("medium", 4, 1.0, None),
        priced("large", 8, 1.5, None),
    ];
    (0..4).fold(
        snapshot().nodepool(nodepool("a")).instance_types(types),
        |s, i| {
            let name = format!("m{i}");
            s.node(machine(&name, "a", "medium", "on-demand", 4))
                .pod(app(&format!("p{i}"), &name, "3"))
        },
    )
}

#[test]
fn joist_packs_n_nodes_into_fewer_larger_nodes() {
    let f = open(four_mediums());
    let upstream = multi(&f, &upstream()).command.expect("upstream merges two");
    assert_eq!(upstream.candidates.len(), 2);
    assert!((upstream.savings - 0.5).abs() < 1e-9);
    let joist = multi(&f, &joist())
        .command
        .expect("joist merges four into two");
    assert_eq!(joist.candidates.len(), 4);
    assert_eq!(joist.replacements.len(), 2);
    assert!((joist.savings - 1.0).abs() < 1e-9);
    assert!(joist.summary().ends_with("-> [2 replacements]"));
}

#[test]
fn joist_keeps_upstreams_move_when_it_is_best() {
    let f = open(super::consolidation::three_mediums());
    let upstream = multi(&f, &upstream()).command.unwrap();
    let joist = multi(&f, &joist()).command.unwrap();
    assert_eq!(nodes_of(&joist), nodes_of(&upstream));
    assert!((joist.savings - upstream.savings).abs() < 1e-9);
}

#[test]
fn joist_search_respects_budgets_and_do_not_disrupt() {
    let f = open(zones_split()).budgets("a", vec![Budget::new("1")]);
    assert!(multi(&f, &joist()).command.is_none(), "one node per pass");
    let guarded =
        open(zones_split().pod(app("guard", "n3", "0.1").annotation(DO_NOT_DISRUPT, "true")));
    assert!(
        multi(&guarded, &joist()).command.is_none(),
        "n3 may not move"
    );
}

#[test]
fn churn_floor_refuses_small_savings_in_joist_mode_only() {
    let f = open(zones_split());
    let floored = ConsolidationSettings {
        min_savings: 0.2,
        ..joist()
    };
    assert!(multi(&f, &floored).command.is_none());
    let command = multi(&f, &joist())
        .command
        .expect("default floor is $0.01/h");
    assert!(command.savings >= joist().min_savings);
    // The floor's message for a single candidate.
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(vec![
            priced("a1", 4, 1.0, None),
            priced("a2", 4, 0.995, None),
        ])
        .node(machine("n0", "a", "a1", "on-demand", 4))
        .pod(app("p0", "n0", "3"));
    let f = open(builder);
    assert!(
        single(&f, &upstream()).command.is_some(),
        "upstream saves half a cent"
    );
    let decision = single(&f, &joist());
    assert!(decision.command.is_none());
    assert_eq!(
        decision.unconsolidatable,
        vec![(
            "n0".to_owned(),
            "Savings $0.0050/h are below the consolidation floor $0.0100/h".to_owned()
        )]
    );
}

#[test]
fn churn_guard_never_replaces_with_the_same_type_at_the_same_price() {
    let f = open(four_mediums());
    let command = multi(&f, &joist()).command.unwrap();
    for replacement in &command.replacements {
        assert!(replacement.options.iter().all(|o| o.name != "medium"));
    }
}

/// Pools `a` (n1, n3) and `b` (n2, n4) of `medium` nodes, each running a 2.5-CPU pod pinned to
/// its pool: candidates alternate pools, so every prefix needs a NodeClaim per pool.
fn two_pools() -> SnapshotBuilder {
    let types = vec![
        priced("medium", 4, 1.0, None),
        priced("large", 8, 1.5, None),
    ];
    [("n1", "a"), ("n2", "b"), ("n3", "a"), ("n4", "b")]
        .into_iter()
        .fold(
            snapshot()
                .nodepool(nodepool("a"))
                .nodepool(nodepool("b"))
                .instance_types(types),
            |s, (name, pool)| {
                s.node(machine(name, pool, "medium", "on-demand", 4)).pod(
                    app(&format!("{name}-p"), name, "2.5")
                        .node_selector(crate::labels::NODEPOOL, pool),
                )
            },
        )
}

#[test]
fn upstream_stalls_on_prefixes_mixing_pools_and_joist_does_not() {
    let f = open(two_pools());
    assert!(multi(&f, &upstream()).command.is_none());
    assert!(single(&f, &upstream()).command.is_none());
    let command = multi(&f, &joist())
        .command
        .expect("joist merges within pools");
    assert!(command.savings >= 1.0 - 1e-9, "{}", command.explanation);
    let pools: std::collections::BTreeSet<&str> = command
        .replacements
        .iter()
        .map(|r| r.nodeclaim.nodepool.as_str())
        .collect();
    assert_eq!(pools.len(), 2, "one large per pool");
}

#[test]
fn joist_batches_replacements_single_node_would_make_one_pass_at_a_time() {
    // Two `xl` nodes (8 CPU, $2.00) each run a 5-CPU pod; no type holds both pods, a `six`
    // (6 CPU, $1.20) holds one.
    let types = vec![priced("six", 6, 1.2, None), priced("xl", 8, 2.0, None)];
    let builder = snapshot()
        .nodepool(nodepool("a"))
        .instance_types(types)
        .node(machine("x0", "a", "xl", "on-demand", 8))
        .node(machine("x1", "a", "xl", "on-demand", 8))
        .pod(app("p0", "x0", "5"))
        .pod(app("p1", "x1", "5"));
    let f = open(builder);
    assert!(
        multi(&f, &upstream()).command.is_none(),
        "two NodeClaims for two nodes: upstream's multi-node refuses"
    );
    let one = single(&f, &upstream())
        .command
        .expect("single-node replaces one");
    assert!((one.savings - 0.8).abs() < 1e-9);
    let both = multi(&f, &joist())
        .command
        .expect("joist replaces both at once");
    assert_eq!(both.candidates.len(), 2);
    assert_eq!(both.replacements.len(), 2);
    assert!((both.savings - 1.6).abs() < 1e-9);
}
