//! Pods of nodes being deleted (spec core §9.2 item 47).

use super::support::*;
use crate::labels::DO_NOT_DISRUPT;
use crate::snapshot::{IntOrString, LabelSelector, PodDisruptionBudget, PodPhase};
use crate::testing::*;

fn deleting_node() -> NodeBuilder {
    node("old").nodepool("default").cpu("4").memory("4Gi").pods(10).marked_for_deletion()
}

fn pdb(name: &str, max_unavailable: Option<IntOrString>, min_available: Option<IntOrString>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        namespace: "default".into(),
        name: name.into(),
        selector: Some(LabelSelector::from_labels([("app", "db")])),
        min_available,
        max_unavailable,
    }
}

#[test]
fn active_pods_are_reprovisioned_and_others_are_not() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .node(deleting_node())
        .pod(pod().name("active").node_name("old"))
        .pod(pod().name("done").node_name("old").phase(PodPhase::Succeeded))
        .pod(pod().name("daemon").node_name("old").owner("apps/v1", "DaemonSet", "ds"))
        .pod(pod().name("rs-terminating").node_name("old").owner("apps/v1", "ReplicaSet", "rs").terminating())
        .pod(pod().name("sts-terminating").node_name("old").owner("apps/v1", "StatefulSet", "sts").terminating())
        .pod(pod().name("protected").node_name("old").annotation(DO_NOT_DISRUPT, "true"))
        .build();
    let plan = run(&s);
    let moved: Vec<&str> = plan.new_nodeclaims[0]
        .pods
        .iter()
        .map(|&p| s.pods[p].name.as_str())
        .collect();
    assert_eq!(moved, ["active", "sts-terminating"]);
}

#[test]
fn fully_blocking_budgets_keep_pods_in_place() {
    let blocked = [
        vec![pdb("zero", Some(IntOrString::Int(0)), None)],
        vec![pdb("zero-percent", Some(IntOrString::String("0%".into())), None)],
        vec![pdb("all", None, Some(IntOrString::String("100%".into())))],
        vec![
            pdb("a", Some(IntOrString::Int(1)), None),
            pdb("b", Some(IntOrString::Int(1)), None),
        ],
    ];
    for pdbs in blocked {
        let mut b = snapshot()
            .nodepool(nodepool("default"))
            .node(deleting_node())
            .pod(pod().label("app", "db").node_name("old"));
        for p in pdbs.clone() {
            b = b.pdb(p);
        }
        let plan = run(&b.build());
        assert!(plan.new_nodeclaims.is_empty(), "{pdbs:?}");
    }
    let allowing = snapshot()
        .nodepool(nodepool("default"))
        .node(deleting_node())
        .pod(pod().label("app", "db").node_name("old"))
        .pdb(pdb("one", Some(IntOrString::Int(1)), None))
        .build();
    assert_eq!(run(&allowing).new_nodeclaims.len(), 1);
}
