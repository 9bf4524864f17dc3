//! DaemonSet overhead (spec core §9.2 item 38).

use super::support::*;
use crate::labels::{ARCH, HOSTNAME};
use crate::requirements::{NodeSelectorRequirement, Operator};
use crate::taints::Effect;
use crate::testing::*;

fn with_daemon(pool: NodePoolBuilder, ds: PodBuilder, p: PodBuilder) -> crate::scheduling::Plan {
    let s = snapshot()
        .nodepool(pool)
        .daemonset(daemonset("ds").template(ds))
        .pod(p)
        .build();
    run(&s)
}

fn first_type(plan: &crate::scheduling::Plan) -> Option<&str> {
    plan.new_nodeclaims.first().map(|nc| nc.instance_types[0].as_str())
}

#[test]
fn daemon_requests_reduce_usable_capacity() {
    let without = snapshot().nodepool(nodepool("default")).pod(pod().cpu("1")).build();
    assert_eq!(first_type(&run(&without)), Some("small-instance-type"));
    let plan = with_daemon(nodepool("default"), pod().cpu("2").memory("2Gi"), pod().cpu("1"));
    assert_eq!(first_type(&plan), Some("default-instance-type"));
}

#[test]
fn daemons_too_large_for_every_type_block_the_pod() {
    let plan = with_daemon(nodepool("default"), pod().cpu("17"), pod().cpu("1"));
    assert!(plan.new_nodeclaims.is_empty());
    let message = &plan.explanation_of(0).unwrap().message;
    assert!(message.starts_with("no instance type has enough resources"), "{message}");
    assert!(message.contains(r#""cpu":"18""#), "DaemonSet overhead is in the resources: {message}");
}

#[test]
fn daemon_host_ports_conflict_only_where_the_daemon_runs() {
    let plan = with_daemon(nodepool("default"), pod().host_port(80), pod().host_port(80));
    assert!(plan.new_nodeclaims.is_empty());
    let arm_only = pod().host_port(80).node_selector(ARCH, "arm64");
    let plan = with_daemon(nodepool("default"), arm_only, pod().host_port(80));
    assert_eq!(first_type(&plan), Some("small-instance-type"));
}

#[test]
fn startup_taints_need_no_daemon_toleration_but_taints_do() {
    let startup = nodepool("default").startup_taint("example.com/init:NoSchedule");
    let plan = with_daemon(startup, pod().cpu("2"), pod().cpu("1"));
    assert_eq!(first_type(&plan), Some("default-instance-type"));
    let tainted = nodepool("default").taint("dedicated=x:NoSchedule");
    let tolerant = pod().cpu("1").tolerate("dedicated", "x", Effect::NoSchedule);
    let plan = with_daemon(tainted, pod().cpu("2"), tolerant);
    assert_eq!(first_type(&plan), Some("small-instance-type"), "intolerant DaemonSet ignored");
}

#[test]
fn prefer_no_schedule_taints_never_exclude_daemons() {
    let pool = nodepool("default").taint("soft=x:PreferNoSchedule");
    let tolerant = pod().cpu("1").tolerate("soft", "x", Effect::PreferNoSchedule);
    let plan = with_daemon(pool, pod().cpu("2"), tolerant);
    assert_eq!(first_type(&plan), Some("default-instance-type"));
}

#[test]
fn the_live_pod_is_preferred_over_the_template() {
    let s = snapshot()
        .nodepool(nodepool("default"))
        .daemonset(
            daemonset("ds")
                .template(pod().cpu("100m"))
                .live_pod(pod().cpu("2").node_name("some-node").node_requirement(
                    HOSTNAME,
                    Operator::In,
                    &["some-node"],
                )),
        )
        .pod(pod().cpu("1"))
        .build();
    let plan = run(&s);
    assert_eq!(first_type(&plan), Some("default-instance-type"));
}

#[test]
fn daemon_selectors_filter_by_template_and_instance_type() {
    let plan = with_daemon(
        nodepool("default").label("team", "a"),
        pod().cpu("2").node_selector("team", "a"),
        pod().cpu("1"),
    );
    assert_eq!(first_type(&plan), Some("default-instance-type"), "matching custom label counts");
    let plan = with_daemon(nodepool("default"), pod().cpu("2").node_selector("team", "a"), pod().cpu("1"));
    assert_eq!(first_type(&plan), Some("small-instance-type"), "undefined custom key: ignored");
    let plan = with_daemon(
        nodepool("default"),
        pod().cpu("2").node_requirement("team", Operator::NotIn, &["b"]),
        pod().cpu("1"),
    );
    assert_eq!(first_type(&plan), Some("default-instance-type"), "NotIn on an unknown key counts");
    let plan = with_daemon(
        nodepool("default"),
        pod().cpu("2").node_selector(ARCH, "arm64"),
        pod().cpu("1").node_selector(ARCH, "amd64"),
    );
    assert_eq!(first_type(&plan), Some("small-instance-type"), "arm64-only daemon skips amd64 types");
}

#[test]
fn later_required_terms_are_tried() {
    let daemon = pod().cpu("2").required_term(vec![NodeSelectorRequirement::new(
        "team",
        Operator::In,
        ["b"],
    )]);
    let daemon = daemon.required_term(vec![NodeSelectorRequirement::new(ARCH, Operator::In, ["amd64"])]);
    let plan = with_daemon(nodepool("default"), daemon, pod().cpu("1"));
    assert_eq!(first_type(&plan), Some("default-instance-type"));
}

#[test]
fn daemon_preferences_are_ignored() {
    let daemon = pod().cpu("2").preferred(100, ARCH, Operator::In, &["arm64"]);
    let plan = with_daemon(nodepool("default"), daemon, pod().cpu("1").node_selector(ARCH, "amd64"));
    assert_eq!(first_type(&plan), Some("default-instance-type"));
}
