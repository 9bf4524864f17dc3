//! Running the real `joist controller` binary against a test control plane: replicas started,
//! SIGKILLed and interrupted, their JSON logs read back, a seeded RNG for kill points, and the
//! cluster invariants the crash and failover tests check.

#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use joist_controller::objects::NodeClaimObject;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::{Api, Client};
use serde_json::Value;
use tokio::process::{Child, Command};

/// The Lease namespace the replicas elect in.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// The Lease's name (upstream's default).
pub const LEASE_NAME: &str = "karpenter-leader-election";
/// Log messages of actions only a leader takes (the provisioner, lifecycle and disruption).
pub const LEADER_ACTIONS: [&str; 8] = [
    "computed new nodeclaim(s) to fit pod(s)",
    "created nodeclaim",
    "launched nodeclaim",
    "registered nodeclaim",
    "initialized nodeclaim",
    "deleted nodeclaim",
    "tainted node",
    "deleted node",
];

/// How a replica is started.
#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    /// Kubeconfig of the controller's ServiceAccount.
    pub kubeconfig: PathBuf,
    /// Where the replica's log file goes.
    pub log_dir: PathBuf,
    /// Leader election on (Lease in [`LEASE_NAMESPACE`]) or off.
    pub leader_election: bool,
}

/// Control plane, CRDs, the example NodePool with `nodepool_patch` merged in, the chart's RBAC
/// (whose Role also grants the leader Lease) with the ServiceAccount's kubeconfig, namespace
/// `e2e` and an empty Deployment: what the crash and failover tests start from.
pub async fn cluster(
    nodepool_patch: Value,
    leader_election: bool,
) -> (joist_testenv::ControlPlane, Client, ReplicaOptions) {
    let control_plane = joist_testenv::ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    crate::support::install_crds(&admin).await;
    crate::support::apply_example(&admin).await;
    crate::support::patch_default_nodepool(&admin, nodepool_patch).await;
    crate::support::controller_config(&control_plane).await;
    let kubeconfig = control_plane
        .service_account_kubeconfig("kube-system", "joist")
        .await
        .expect("service account kubeconfig");
    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.clone(), "e2e")
        .create(
            &kube::api::PostParams::default(),
            &crate::support::deployment(0),
        )
        .await
        .expect("deployment");
    let options = ReplicaOptions {
        kubeconfig,
        log_dir: log_dir(control_plane.dir()),
        leader_election,
    };
    (control_plane, admin, options)
}

/// Where replica logs go: `JOIST_E2E_LOG_DIR` when set (kept after the test, for debugging a
/// failure), else `default` (the control plane's directory, removed with it).
pub fn log_dir(default: &Path) -> PathBuf {
    std::env::var_os("JOIST_E2E_LOG_DIR").map_or_else(
        || default.to_owned(),
        |dir| {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("log directory");
            dir
        },
    )
}

/// One `joist controller` process.
#[derive(Debug)]
pub struct Replica {
    /// Its name: the prefix of its Lease identity (`POD_NAME`) and of its log file.
    pub name: String,
    child: Child,
    log: PathBuf,
    /// When it was started.
    pub started: Instant,
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

impl Replica {
    /// Starts `joist controller` as `name`.
    pub fn start(name: &str, options: &ReplicaOptions) -> Replica {
        let log = options.log_dir.join(format!("{name}.log"));
        let stdout = File::create(&log).expect("log file");
        let stderr = stdout.try_clone().expect("log file");
        let (metrics, health) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_joist"));
        command
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&options.kubeconfig)
            .args(["--metrics-port", &metrics.to_string()])
            .args(["--health-probe-port", &health.to_string()])
            // Short enough that scale-down fits the test's time box; emptiness still validates.
            .args(["--disruption-validation-delay", "2s"])
            .env("POD_NAME", name)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        if options.leader_election {
            command.args(["--leader-election-namespace", LEASE_NAMESPACE]);
        } else {
            command.arg("--disable-leader-election");
        }
        let child = command.spawn().expect("joist controller starts");
        Replica {
            name: name.to_owned(),
            child,
            log,
            started: Instant::now(),
        }
    }

    /// Kills the process with SIGKILL (no cleanup at all, as a node failure or OOM kill would)
    /// and reaps it.
    pub async fn sigkill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }

    /// Sends `signal` and waits for the process to exit.
    pub async fn signal_and_wait(&mut self, signal: nix::sys::signal::Signal) -> ExitStatus {
        let pid = self.child.id().expect("still running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
        nix::sys::signal::kill(pid, signal).expect("signal sent");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits after the signal")
            .expect("reaped")
    }

    /// Panics with the log's tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("status") {
            panic!(
                "{} exited ({status}):\n{}",
                self.name,
                tail(&self.log_text(), 40)
            );
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's JSON records (a line cut short by SIGKILL is skipped).
    pub fn records(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// How many times this process called the provider's `create` for each NodeClaim.
    pub fn launches(&self) -> BTreeMap<String, usize> {
        self.count_by_claim("launched nodeclaim")
    }

    /// The NodeClaims this process created (provisioner and disruption replacements).
    pub fn created(&self) -> BTreeSet<String> {
        self.count_by_claim("created nodeclaim")
            .into_keys()
            .collect()
    }

    /// How many records with `text` each NodeClaim has.
    fn count_by_claim(&self, text: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for record in self.records() {
            if message(&record) == Some(text)
                && let Some(claim) = record["NodeClaim"]["name"].as_str()
            {
                *counts.entry(claim.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The messages of leader-only actions this process logged, in order, each with whether
    /// it came after this process acquired the Lease.
    pub fn actions(&self) -> Vec<(String, bool)> {
        let mut leading = false;
        let mut actions = Vec::new();
        for record in self.records() {
            let Some(text) = message(&record) else {
                continue;
            };
            if text == "successfully acquired lease" {
                leading = true;
            } else if LEADER_ACTIONS.contains(&text) {
                actions.push((text.to_owned(), leading));
            }
        }
        actions
    }

    /// The log's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

/// The message of one log line (upstream's zap shape: `docs/controller.md`, "Logs").
fn message(record: &Value) -> Option<&str> {
    record["message"].as_str()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// === impl Rng ===

/// splitmix64: a tiny seeded generator, so a failing run's kill points can be replayed with
/// `JOIST_E2E_SEED`.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// The seed from `JOIST_E2E_SEED`, else from the clock; printed either way.
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("JOIST_E2E_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970");
                u64::try_from(now.as_nanos() % u128::from(u64::MAX)).expect("reduced")
            });
        eprintln!("kill points seed: JOIST_E2E_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration uniformly in `[low, high)` milliseconds.
    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low).max(1))
    }
}

// === cluster invariants ===

/// Every NodeClaim.
pub async fn claims(admin: &Client) -> Vec<NodeClaimObject> {
    Api::<NodeClaimObject>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

/// Every Node a provider launched (it has a providerID), joist's or leaked.
pub async fn provider_nodes(admin: &Client) -> Vec<Node> {
    Api::<Node>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| provider_id_of_node(n).is_some())
        .collect()
}

/// The pods of namespace `e2e`.
pub async fn pods(admin: &Client) -> Vec<Pod> {
    Api::<Pod>::namespaced(admin.clone(), "e2e")
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

fn provider_id_of_node(node: &Node) -> Option<&str> {
    node.spec
        .as_ref()?
        .provider_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

fn provider_id_of_claim(claim: &NodeClaimObject) -> Option<&str> {
    claim
        .0
        .status
        .as_ref()?
        .provider_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// Why Nodes and NodeClaims do not pair up one to one by providerID (empty when they do):
/// a Node without a NodeClaim is a leaked instance, a NodeClaim without a Node a lost one, two
/// Nodes with one providerID a double launch.
pub fn pairing_problems(nodes: &[Node], claims: &[NodeClaimObject]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut node_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for node in nodes {
        if let Some(id) = provider_id_of_node(node) {
            *node_ids.entry(id).or_insert(0) += 1;
        }
    }
    let mut claim_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for claim in claims {
        match provider_id_of_claim(claim) {
            Some(id) => *claim_ids.entry(id).or_insert(0) += 1,
            None => problems.push(format!("NodeClaim {} has no providerID", claim.0.name())),
        }
    }
    for (id, count) in &node_ids {
        if *count > 1 {
            problems.push(format!("{count} Nodes have providerID {id}"));
        }
        if !claim_ids.contains_key(id) {
            problems.push(format!("Node {id} has no NodeClaim (leaked)"));
        }
    }
    for (id, count) in &claim_ids {
        if *count > 1 {
            problems.push(format!("{count} NodeClaims have providerID {id}"));
        }
        if !node_ids.contains_key(id) {
            problems.push(format!("NodeClaim with providerID {id} has no Node"));
        }
    }
    problems
}

/// NodeClaims that some replica launched more than once in its lifetime.
pub fn launched_twice_by_one_process(replicas: &[Replica]) -> Vec<String> {
    replicas
        .iter()
        .flat_map(|replica| {
            replica
                .launches()
                .into_iter()
                .filter(|(_, count)| *count > 1)
                .map(|(claim, count)| format!("{} launched {claim} {count} times", replica.name))
        })
        .collect()
}

/// NodeClaims launched by more than one process: a crash between `create` and the status
/// patch, after which the restarted process asks the provider again (kwok finds the Node it
/// made and re-uses it).
pub fn relaunched_after_a_crash(replicas: &[Replica]) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for replica in replicas {
        for claim in replica.launches().into_keys() {
            *seen.entry(claim).or_insert(0) += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, processes)| *processes > 1)
        .map(|(claim, _)| claim)
        .collect()
}

/// Names of the Nodes some pod of `pods` is bound to.
pub fn used_nodes(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect()
}
