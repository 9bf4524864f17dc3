//! Drain against a real API server with kwok running the pods: tier by tier eviction through
//! the Eviction API, a PodDisruptionBudget refusal (429) retried until the budget goes away,
//! and critical pods evicted only after every non-critical pod is gone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use joist_controller::termination::{DrainOutcome, Drainer, EvictionTier};
use joist_testenv::{ControlPlane, FAKE_NODE_LABEL, eventually};
use k8s_openapi::api::core::v1::{Container, Node, NodeStatus, Pod, PodSpec, ServiceAccount};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

const NODE: &str = "drain-node";
const WAIT: Duration = Duration::from_secs(90);

fn node() -> Node {
    let capacity = BTreeMap::from([
        ("cpu".to_owned(), Quantity("4".to_owned())),
        ("memory".to_owned(), Quantity("16Gi".to_owned())),
        ("pods".to_owned(), Quantity("110".to_owned())),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(NODE.to_owned()),
            labels: Some(BTreeMap::from([(
                FAKE_NODE_LABEL.0.to_owned(),
                FAKE_NODE_LABEL.1.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            capacity: Some(capacity.clone()),
            allocatable: Some(capacity),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

fn pod(name: &str, namespace: &str, app: &str, priority_class: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([("app".to_owned(), app.to_owned())])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(NODE.to_owned()),
            priority_class_name: priority_class.map(str::to_owned),
            termination_grace_period_seconds: Some(0),
            containers: vec![Container {
                name: "app".to_owned(),
                image: Some("registry.invalid/app:1".to_owned()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn guarding_pdb() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some("guard".to_owned()),
            namespace: Some("default".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_owned(), "guarded".to_owned())])),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

fn names(outcome: &DrainOutcome) -> Vec<&str> {
    outcome
        .evicted
        .iter()
        .map(|pod| pod.name.as_str())
        .collect()
}

async fn is_untouched(api: &Api<Pod>, name: &str) -> bool {
    api.get_opt(name)
        .await
        .expect("get")
        .is_some_and(|pod| pod.metadata.deletion_timestamp.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_tier_by_tier_and_retries_pdb_refusals() {
    let started = Instant::now();
    let control_plane = ControlPlane::start().await.expect("control plane");
    let client = control_plane.client();
    eprintln!("control plane up after {:?}", started.elapsed());
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node())
        .await
        .expect("node");
    // Pods are admitted only once the controller-manager created the namespaces' default
    // ServiceAccounts.
    for namespace in ["default", "kube-system"] {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        eventually("default service account", WAIT, || async {
            accounts.get_opt("default").await.ok().flatten()
        })
        .await
        .expect("service account");
    }
    let default_pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let system_pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    pdbs.create(&PostParams::default(), &guarding_pdb())
        .await
        .expect("pdb");
    for (name, app) in [("app", "free"), ("guarded", "guarded")] {
        default_pods
            .create(&PostParams::default(), &pod(name, "default", app, None))
            .await
            .expect("pod");
    }
    system_pods
        .create(
            &PostParams::default(),
            &pod(
                "critical",
                "kube-system",
                "critical",
                Some("system-cluster-critical"),
            ),
        )
        .await
        .expect("critical pod");

    // Pass 1: only the non-critical tier; the guarded pod's eviction is refused by its PDB.
    let kubeconfig = Kubeconfig::read_from(control_plane.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let drainer = Drainer::from_config(config).expect("drainer");
    let first = drainer
        .drain_once(NODE, Timestamp::now(), None)
        .await
        .expect("drain");
    assert_eq!(first.tier, Some(EvictionTier::NonCriticalNonDaemon));
    assert_eq!(names(&first), vec!["app"]);
    assert_eq!(
        first
            .blocked
            .iter()
            .map(|(pod, _)| pod.name.as_str())
            .collect::<Vec<_>>(),
        vec!["guarded"]
    );
    assert_eq!(first.waiting, 3);
    assert!(
        is_untouched(&system_pods, "critical").await,
        "critical pod evicted in the first tier"
    );

    // While the PDB holds, later passes keep retrying the guarded pod and leave the critical one.
    let retried = eventually("the free pod is gone", WAIT, || async {
        let outcome = drainer
            .drain_once(NODE, Timestamp::now(), None)
            .await
            .expect("drain");
        (outcome.waiting == 2).then_some(outcome)
    })
    .await
    .expect("free pod gone");
    assert_eq!(retried.tier, Some(EvictionTier::NonCriticalNonDaemon));
    assert_eq!(retried.blocked.len(), 1, "{retried:?}");
    assert!(is_untouched(&system_pods, "critical").await);

    // Without the PDB the guarded pod goes, then the critical tier, then nothing is left.
    pdbs.delete("guard", &DeleteParams::default())
        .await
        .expect("delete pdb");
    let mut tiers = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let outcome = drainer
            .drain_once(NODE, Timestamp::now(), None)
            .await
            .expect("drain");
        if !outcome.evicted.is_empty() {
            tiers.push((
                outcome.tier,
                outcome
                    .evicted
                    .iter()
                    .map(|pod| pod.name.clone())
                    .collect::<Vec<_>>(),
            ));
        }
        if outcome.is_drained() {
            break;
        }
        assert!(Instant::now() < deadline, "not drained: {outcome:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        tiers,
        vec![
            (
                Some(EvictionTier::NonCriticalNonDaemon),
                vec!["guarded".to_owned()]
            ),
            (
                Some(EvictionTier::CriticalNonDaemon),
                vec!["critical".to_owned()]
            ),
        ]
    );
    assert!(drainer.node_pods(NODE).await.expect("pods").is_empty());
    eprintln!("drain test took {:?}", started.elapsed());
}
