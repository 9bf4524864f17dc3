//! Leader failover of the real `joist controller` binary: two replicas with leader election on
//! (Lease `karpenter-leader-election`, client-go timing: 15 s lease, 2 s retry) on a real control
//! plane with the kwok provider.
//!
//! Only the Lease holder acts; SIGKILLing it while it provisions lets the standby take the Lease
//! once it expires and finish the work without duplicate NodeClaims (the NodePool allows one
//! instance type, so the number of NodeClaims the pods need is known); a SIGINT makes the leader
//! release the Lease, so a standby takes over within a retry period instead of a lease duration;
//! SIGTERM (what the kubelet sends) releases it too.

#[path = "../../joist-controller/tests/support/mod.rs"]
mod support;

mod replica;

use std::time::{Duration, Instant};

use joist_core::resources::Quantity;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use nix::sys::signal::Signal;
use serde_json::json;

use replica::{
    LEASE_NAME, LEASE_NAMESPACE, Replica, ReplicaOptions, claims, pairing_problems, pods,
    provider_nodes,
};
use support::{WAIT, condition_true, running};

/// The only instance type the NodePool allows.
const INSTANCE_TYPE: &str = "m5.xlarge";
/// Pods of the first scale-up.
const FIRST: usize = 20;
/// client-go's lease duration, which the binary uses.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// A released Lease is taken at the standby's next attempt: one jittered retry period (2.4 s)
/// plus API latency on a busy machine; an expired one only a lease duration after the last
/// renewal, which is at least 13 s after the signal.
const RELEASED_TAKEOVER_BOUND: Duration = Duration::from_secs(10);
/// Per pod of `support::deployment`.
const POD_CPU: f64 = 0.5;
const POD_MEMORY: f64 = 1024.0 * 1024.0 * 1024.0;

/// Control plane, CRDs, the example NodePool reduced to one instance type and never
/// consolidated (so every NodeClaim made stays to be counted), the ServiceAccount with the
/// Lease's RBAC and its kubeconfig, namespace `e2e` and an empty Deployment.
async fn setup() -> (ControlPlane, Client, ReplicaOptions) {
    replica::cluster(
        json!({"spec": {
                "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"},
                "template": {"spec": {"requirements": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [INSTANCE_TYPE]},
                ]}},
            }}),
        true,
    )
    .await
}

/// The Lease's `holderIdentity` (empty when released or absent).
async fn holder(admin: &Client) -> String {
    Api::<Lease>::namespaced(admin.clone(), LEASE_NAMESPACE)
        .get_opt(LEASE_NAME)
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
        .unwrap_or_default()
}

/// Waits until `replica` holds the Lease (its identity is `<name>_<random>`).
async fn wait_for_holder(admin: &Client, replica: &Replica, bound: Duration) -> Duration {
    let began = Instant::now();
    let prefix = format!("{}_", replica.name);
    let what = format!("{} holds the Lease", replica.name);
    eventually(&what, bound, || {
        let (admin, prefix) = (admin.clone(), prefix.clone());
        async move { holder(&admin).await.starts_with(&prefix).then_some(()) }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", replica::tail(&replica.log_text(), 30)));
    began.elapsed()
}

/// Waits until `replica` logged that it is trying to acquire the Lease (it is up, standing by).
async fn wait_standing_by(replica: &Replica) {
    eventually(&format!("{} standing by", replica.name), WAIT, || {
        let up = replica
            .log_text()
            .contains("attempting to acquire leader lease");
        async move { up.then_some(()) }
    })
    .await
    .expect("standing by");
}

async fn scale(admin: &Client, replicas: usize) {
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scaled");
}

/// How many pods of `support::deployment` fit one NodeClaim's allocatable.
fn pods_per_node(claim: &joist_controller::objects::NodeClaimObject) -> usize {
    let allocatable = claim
        .0
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .expect("status.allocatable");
    let amount = |name: &str| {
        let text = allocatable
            .get(name)
            .and_then(|q| q.text())
            .unwrap_or_else(|| panic!("allocatable {name}"));
        Quantity::parse(&text).expect("a quantity").as_f64()
    };
    let fit = (amount("cpu") / POD_CPU)
        .min(amount("memory") / POD_MEMORY)
        .min(amount("pods"))
        .floor();
    fit as usize
}

/// Waits until `replicas` pods run on Initialized NodeClaims whose Nodes pair up with them,
/// then checks that there are exactly as many NodeClaims as the pods need.
async fn provisioned(admin: &Client, replicas: usize, leader: &mut Replica) -> usize {
    let settled = eventually("all pods Running on paired nodes", WAIT * 2, || {
        let admin = admin.clone();
        async move {
            let pods = pods(&admin).await;
            let claims = claims(&admin).await;
            let nodes = provider_nodes(&admin).await;
            let ok = pods.len() == replicas
                && running(&pods) == replicas
                && !claims.is_empty()
                && claims.iter().all(|c| condition_true(c, "Initialized"))
                && pairing_problems(&nodes, &claims).is_empty();
            ok.then_some(claims)
        }
    })
    .await;
    leader.assert_running();
    let claims = settled.unwrap_or_else(|err| {
        panic!(
            "{err}\nleader log:\n{}",
            replica::tail(&leader.log_text(), 40)
        )
    });
    let per_node = pods_per_node(&claims[0]);
    let needed = replicas.div_ceil(per_node);
    let names: Vec<&str> = claims.iter().map(|c| c.0.name()).collect();
    assert_eq!(
        claims.len(),
        needed,
        "{replicas} pods at {per_node} per {INSTANCE_TYPE} need {needed} NodeClaims, got {names:?}"
    );
    claims.len()
}

/// Every leader-only action `replica` logged came after it acquired the Lease.
fn acted_only_as_leader(replica: &Replica) -> usize {
    let actions = replica.actions();
    let early: Vec<&String> = actions
        .iter()
        .filter(|(_, leading)| !leading)
        .map(|(action, _)| action)
        .collect();
    assert!(
        early.is_empty(),
        "{} acted before it led: {early:?} ({})",
        replica.name,
        replica.log_path().display()
    );
    actions.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_after_a_sigkill_and_at_once_after_a_sigint() {
    let began = Instant::now();
    let (_control_plane, admin, options) = setup().await;
    let mut a = Replica::start("joist-a", &options);
    wait_for_holder(&admin, &a, WAIT).await;
    let mut b = Replica::start("joist-b", &options);
    wait_standing_by(&b).await;

    // The leader is SIGKILLed as soon as it has made NodeClaims, before it can launch them all.
    scale(&admin, FIRST).await;
    eventually("the leader made a NodeClaim", WAIT, || {
        let admin = admin.clone();
        async move { (!claims(&admin).await.is_empty()).then_some(()) }
    })
    .await
    .expect("a NodeClaim");
    let in_flight = claims(&admin).await;
    let launched = in_flight
        .iter()
        .filter(|c| condition_true(c, "Launched"))
        .count();
    a.sigkill().await;
    eprintln!(
        "SIGKILL joist-a with {} NodeClaims ({launched} launched)",
        in_flight.len()
    );
    b.assert_running();
    let takeover = wait_for_holder(&admin, &b, LEASE_DURATION + WAIT).await;
    eprintln!(
        "joist-b took the Lease {:.1}s after the SIGKILL",
        takeover.as_secs_f64()
    );
    let first = provisioned(&admin, FIRST, &mut b).await;
    let b_actions = acted_only_as_leader(&b);
    assert!(b_actions > 0, "joist-b finished nothing after the takeover");
    acted_only_as_leader(&a);

    // A graceful stop releases the Lease: the next standby need not wait for it to expire.
    let mut c = Replica::start("joist-c", &options);
    wait_standing_by(&c).await;
    let interrupted = Instant::now();
    let status = b.signal_and_wait(Signal::SIGINT).await;
    assert!(status.success(), "joist-b after SIGINT: {status}");
    assert!(
        b.log_text().contains("released leader lease"),
        "{}",
        replica::tail(&b.log_text(), 20)
    );
    wait_for_holder(&admin, &c, WAIT).await;
    let released_takeover = interrupted.elapsed();
    eprintln!(
        "joist-c took the released Lease {:.1}s after the SIGINT",
        released_takeover.as_secs_f64()
    );
    assert!(
        released_takeover < RELEASED_TAKEOVER_BOUND,
        "takeover after a release took {released_takeover:?}"
    );

    // The new leader provisions: one more node's worth of pods.
    let per_node = pods_per_node(&claims(&admin).await[0]);
    scale(&admin, FIRST + per_node).await;
    let second = provisioned(&admin, FIRST + per_node, &mut c).await;
    assert_eq!(second, first + 1);
    acted_only_as_leader(&c);

    // SIGTERM, what the kubelet sends a terminating pod, releases the Lease too.
    let status = c.signal_and_wait(Signal::SIGTERM).await;
    assert!(status.success(), "joist-c after SIGTERM: {status}");
    assert_eq!(holder(&admin).await, "", "the Lease is released");
    eprintln!(
        "failover: SIGKILL takeover {:.1}s, SIGINT takeover {:.1}s; e2e wall time {:.1}s",
        takeover.as_secs_f64(),
        released_takeover.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
