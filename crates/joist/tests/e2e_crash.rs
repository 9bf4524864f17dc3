//! Crash safety of the real `joist controller` binary (kwok provider, leader election off) on a
//! real control plane: it is SIGKILLed at seeded random points while a Deployment scales up and
//! while it scales to zero, and restarted each time. Afterwards Nodes and NodeClaims pair up one
//! to one (nothing leaked, nothing lost), no process called the provider's `create` twice for a
//! NodeClaim, every pod runs after the scale-up and every joist Node is gone after scale to zero.
//!
//! Replay a run's kill points with `JOIST_E2E_SEED=<seed printed by the test>`.

#[path = "../../joist-controller/tests/support/mod.rs"]
mod support;

mod replica;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use joist_controller::objects::NodeClaimObject;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use replica::{
    Replica, ReplicaOptions, Rng, claims, launched_twice_by_one_process, pairing_problems, pods,
    provider_nodes, relaunched_after_a_crash, used_nodes,
};
use support::{WAIT, condition_true, running};

/// Pods of the first scale-up, then of the second.
const FIRST: usize = 30;
const SECOND: usize = 50;

/// The replicas started so far, the current one last, and the options to start more.
struct Crashes {
    options: ReplicaOptions,
    replicas: Vec<Replica>,
    rng: Rng,
    kills: Vec<String>,
}

impl Crashes {
    fn current(&mut self) -> &mut Replica {
        self.replicas.last_mut().expect("a replica runs")
    }

    fn start(&mut self) {
        let name = format!("joist-{}", self.replicas.len());
        self.replicas.push(Replica::start(&name, &self.options));
    }

    /// SIGKILLs the current replica `delay` from now, records the cluster's state at that
    /// moment under `what`, and starts a new one.
    async fn kill_and_restart(&mut self, admin: &Client, what: &str, delay: Duration) {
        tokio::time::sleep(delay).await;
        self.current().assert_running();
        self.current().sigkill().await;
        let claims = claims(admin).await;
        let launched = claims
            .iter()
            .filter(|c| condition_true(c, "Launched"))
            .count();
        let deleting = claims
            .iter()
            .filter(|c| c.0.metadata.deletion_timestamp.is_some())
            .count();
        let nodes = provider_nodes(admin).await.len();
        let point = format!(
            "{what} (+{}ms): {} NodeClaims ({launched} launched, {deleting} deleting), {nodes} Nodes",
            delay.as_millis(),
            claims.len()
        );
        eprintln!("SIGKILL {}: {point}", self.current().name);
        self.kills.push(point);
        self.start();
    }
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

/// Control plane, CRDs, the example NodePool with 4-vCPU instances (several nodes for the pods)
/// and emptied quickly (`consolidateAfter: 0s`, every node at once), the ServiceAccount's
/// kubeconfig, namespace `e2e` and an empty Deployment.
async fn setup() -> (ControlPlane, Client, ReplicaOptions) {
    replica::cluster(
        json!({"spec": {
                "disruption": {"consolidateAfter": "0s", "budgets": [{"nodes": "100%"}]},
                "template": {"spec": {"requirements": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]},
                    {"key": "karpenter.k8s.aws/instance-cpu", "operator": "In", "values": ["4"]},
                ]}},
            }}),
        false,
    )
    .await
}

/// Waits until `replicas` pods run, every NodeClaim is Initialized, Nodes and NodeClaims pair up
/// and every Node runs a pod (a NodeClaim launched twice for the same pods would be left empty
/// and consolidated away, so this also waits for that).
async fn settled_with(admin: &Client, replicas: usize, crashes: &mut Crashes) {
    let settled = eventually("all pods Running on paired, used nodes", WAIT * 2, || {
        let admin = admin.clone();
        async move {
            let pods = pods(&admin).await;
            let claims = claims(&admin).await;
            let nodes = provider_nodes(&admin).await;
            let used = used_nodes(&pods);
            let ok = pods.len() == replicas
                && running(&pods) == replicas
                && claims.iter().all(|c| condition_true(c, "Initialized"))
                && pairing_problems(&nodes, &claims).is_empty()
                && nodes
                    .iter()
                    .all(|n| used.contains(n.metadata.name.as_deref().unwrap_or_default()));
            ok.then_some(nodes.len())
        }
    })
    .await;
    crashes.current().assert_running();
    match settled {
        Ok(nodes) => eprintln!("{replicas} pods Running on {nodes} paired nodes"),
        Err(err) => {
            let (nodes, claims) = (provider_nodes(admin).await, claims(admin).await);
            panic!(
                "{err}\npairing: {:?}\nkills: {:#?}",
                pairing_problems(&nodes, &claims),
                crashes.kills
            );
        }
    }
}

/// Waits until some NodeClaim matches `pick`.
async fn first_claim(admin: &Client, what: &str, pick: impl Fn(&NodeClaimObject) -> bool) {
    let pick = &pick;
    eventually(what, WAIT, || {
        let admin = admin.clone();
        async move { claims(&admin).await.iter().any(pick).then_some(()) }
    })
    .await
    .expect(what);
}

fn name_set(claims: &[NodeClaimObject]) -> BTreeSet<String> {
    claims.iter().map(|c| c.0.name().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_launch_and_termination_leaks_nothing_and_launches_once() {
    let began = Instant::now();
    let (_control_plane, admin, options) = setup().await;
    let mut crashes = Crashes {
        options,
        replicas: Vec::new(),
        rng: Rng::from_env_or_clock(),
        kills: Vec::new(),
    };
    crashes.start();

    // Scale-up: killed once NodeClaims exist (some launched, some not yet), then again while
    // the restarted process resyncs and launches the rest.
    scale(&admin, FIRST).await;
    first_claim(&admin, "a NodeClaim for the first pods", |_| true).await;
    // Launch follows NodeClaim creation within ~100 ms: short delays hit it.
    let delay = crashes.rng.millis(0, 600);
    crashes.kill_and_restart(&admin, "launching", delay).await;
    let delay = crashes.rng.millis(500, 5000);
    crashes
        .kill_and_restart(&admin, "after restart", delay)
        .await;
    settled_with(&admin, FIRST, &mut crashes).await;

    let before = name_set(&claims(&admin).await);
    scale(&admin, SECOND).await;
    first_claim(&admin, "a NodeClaim for the added pods", |c| {
        !before.contains(c.0.name())
    })
    .await;
    let delay = crashes.rng.millis(0, 600);
    crashes
        .kill_and_restart(&admin, "launching more", delay)
        .await;
    settled_with(&admin, SECOND, &mut crashes).await;
    let scaled_up = began.elapsed();

    // Scale to zero: killed once disruption started deleting NodeClaims, then again while
    // the restarted process drains and finalizes.
    scale(&admin, 0).await;
    first_claim(&admin, "a NodeClaim being deleted", |c| {
        c.0.metadata.deletion_timestamp.is_some()
    })
    .await;
    let delay = crashes.rng.millis(0, 1500);
    crashes.kill_and_restart(&admin, "terminating", delay).await;
    let delay = crashes.rng.millis(500, 6000);
    crashes
        .kill_and_restart(&admin, "terminating after restart", delay)
        .await;
    let emptied = eventually("every joist Node and NodeClaim gone", WAIT * 2, || {
        let admin = admin.clone();
        async move {
            (claims(&admin).await.is_empty() && provider_nodes(&admin).await.is_empty())
                .then_some(())
        }
    })
    .await;
    crashes.current().assert_running();
    if let Err(err) = emptied {
        let (nodes, claims) = (provider_nodes(&admin).await, claims(&admin).await);
        panic!(
            "{err}\n{} Nodes, {} NodeClaims left; pairing: {:?}\nkills: {:#?}",
            nodes.len(),
            claims.len(),
            pairing_problems(&nodes, &claims),
            crashes.kills
        );
    }

    let twice = launched_twice_by_one_process(&crashes.replicas);
    assert!(twice.is_empty(), "double launches: {twice:?}");
    let relaunched = relaunched_after_a_crash(&crashes.replicas);
    let launches: usize = crashes.replicas.iter().map(|r| r.launches().len()).sum();
    // The double-launch check reads the logs: it proves something only if they were read.
    assert!(
        launches > 0,
        "no `launched nodeclaim` log line was recognised"
    );
    // A restarted provisioner may add NodeClaims for pods still being bound; consolidation
    // removes the surplus. Printed, not asserted: it is the provisioner's behaviour.
    let created: BTreeSet<String> = crashes.replicas.iter().flat_map(Replica::created).collect();
    eprintln!(
        "kill points: {:#?}\n{} NodeClaims created, {launches} launches by {} processes, {} re-asked after a crash (instance re-used): {relaunched:?}\nscale-up done after {:.1}s, e2e wall time {:.1}s",
        crashes.kills,
        created.len(),
        crashes.replicas.len(),
        relaunched.len(),
        scaled_up.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
