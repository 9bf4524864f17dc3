//! The control plane against itself: real binaries, real scheduling, kwok's kubelet, and
//! a teardown that leaves nothing behind. These tests build the binaries through
//! `hack/controlplane/build.sh` when they are not cached (tens of minutes, once).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use joist_testenv::{Component, ControlPlane, FAKE_NODE_LABEL, eventually};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{
    Container, Event, Node, NodeStatus, Pod, PodSpec, ResourceRequirements, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};

/// Generous: the machine these run on is small and often busy.
const WAIT: Duration = Duration::from_secs(90);

async fn start() -> ControlPlane {
    match ControlPlane::start().await {
        Ok(control_plane) => control_plane,
        Err(err) => panic!("control plane did not start: {err}"),
    }
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

fn fake_node(name: &str) -> Node {
    let labels = BTreeMap::from([
        (FAKE_NODE_LABEL.0.to_owned(), FAKE_NODE_LABEL.1.to_owned()),
        ("kubernetes.io/hostname".to_owned(), name.to_owned()),
    ]);
    let capacity = BTreeMap::from([
        ("cpu".to_owned(), Quantity("4".to_owned())),
        ("memory".to_owned(), Quantity("16Gi".to_owned())),
        ("pods".to_owned(), Quantity("110".to_owned())),
    ]);
    Node {
        metadata: ObjectMeta {
            labels: Some(labels),
            ..meta(name, None)
        },
        status: Some(NodeStatus {
            capacity: Some(capacity.clone()),
            allocatable: Some(capacity),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

fn pod(name: &str, namespace: &str) -> Pod {
    Pod {
        metadata: meta(name, Some(namespace)),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".to_owned(),
                image: Some("registry.invalid/app:1".to_owned()),
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "cpu".to_owned(),
                        Quantity("500m".to_owned()),
                    )])),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn is_ready(node: &Node) -> bool {
    let conditions = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kwok_readies_a_node_and_runs_the_pod_the_scheduler_binds_to_it() {
    let control_plane = start().await;
    let client = control_plane.client();
    control_plane.create_namespace("e2e").await.unwrap();

    let nodes = Api::<Node>::all(client.clone());
    nodes
        .create(&PostParams::default(), &fake_node("kwok-a"))
        .await
        .unwrap();
    let node = eventually("node kwok-a Ready", WAIT, || {
        let nodes = nodes.clone();
        async move { nodes.get("kwok-a").await.ok().filter(is_ready) }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));
    let status = node.status.unwrap();
    assert_eq!(status.allocatable.unwrap()["cpu"], Quantity("4".to_owned()));
    assert!(
        status
            .addresses
            .unwrap()
            .iter()
            .any(|address| address.type_ == "InternalIP")
    );

    let pods = Api::<Pod>::namespaced(client.clone(), "e2e");
    pods.create(&PostParams::default(), &pod("web", "e2e"))
        .await
        .unwrap();
    let running = eventually("pod e2e/web Running", WAIT, || {
        let pods = pods.clone();
        async move {
            let pod = pods.get("web").await.ok()?;
            let phase = pod.status.as_ref()?.phase.as_deref()?;
            (phase == "Running").then_some(pod)
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));
    assert_eq!(running.spec.unwrap().node_name.as_deref(), Some("kwok-a"));
    let status = running.status.unwrap();
    assert!(status.pod_ip.is_some(), "kwok assigns a pod IP");
    assert!(status.container_statuses.unwrap()[0].ready);
    // kwok's status patch merges with the scheduler's condition instead of replacing it.
    let conditions = status.conditions.unwrap();
    for condition in ["PodScheduled", "Ready"] {
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == condition && c.status == "True"),
            "{condition} in {conditions:?}"
        );
    }

    // The binding came from kube-scheduler, which records it as an event.
    let events = Api::<Event>::namespaced(client.clone(), "e2e");
    let scheduled = eventually("the Scheduled event of e2e/web", WAIT, || {
        let events = events.clone();
        async move {
            let list = events
                .list(&ListParams::default().fields("involvedObject.name=web"))
                .await
                .ok()?;
            list.items
                .into_iter()
                .find(|event| event.reason.as_deref() == Some("Scheduled"))
        }
    })
    .await
    .unwrap();
    assert!(scheduled.message.unwrap_or_default().contains("kwok-a"));

    // kwok finishes a deletion the way a kubelet does once the containers are gone.
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("pod e2e/web deleted", WAIT, || {
        let pods = pods.clone();
        async move {
            pods.get_opt("web")
                .await
                .ok()
                .and_then(|pod| pod.is_none().then_some(()))
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_client_is_authorised_by_rbac() {
    let control_plane = start().await;
    let client = control_plane.client();
    control_plane.create_namespace("joist").await.unwrap();
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), "joist");
    accounts
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: meta("joist", None),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let sa_client = control_plane
        .service_account_client("joist", "joist")
        .await
        .unwrap();
    let review = Api::<SelfSubjectReview>::all(sa_client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:joist:joist")
    );

    let sa_nodes = Api::<Node>::all(sa_client);
    match sa_nodes.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("listing nodes without a grant must be forbidden, got {other:?}"),
    }

    let role = ClusterRole {
        metadata: meta("node-reader", None),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["nodes".to_owned()]),
            verbs: vec!["get".to_owned(), "list".to_owned()],
            ..PolicyRule::default()
        }]),
        ..ClusterRole::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding = ClusterRoleBinding {
        metadata: meta("joist-node-reader", None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: "node-reader".to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: "joist".to_owned(),
            namespace: Some("joist".to_owned()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(client)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    eventually("the node-reader grant to take effect", WAIT, || {
        let sa_nodes = sa_nodes.clone();
        async move { sa_nodes.list(&ListParams::default()).await.ok() }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_leaves_no_process_and_no_directory_behind() {
    let control_plane = start().await;
    let pids = control_plane.pids();
    let components: Vec<Component> = pids.iter().map(|(component, _)| *component).collect();
    assert_eq!(components, Component::ALL.to_vec());
    let dir = control_plane.dir().to_owned();
    assert!(control_plane.log_file(Component::KubeApiserver).is_file());

    control_plane.stop();

    assert_nothing_left(&pids, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_test_still_tears_everything_down() {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let control_plane = start().await;
        let _ = sender.send((control_plane.pids(), control_plane.dir().to_owned()));
        panic!("a failing assertion while the control plane is up");
    });
    let (pids, dir) = receiver.await.expect("the control plane started");
    let outcome = test.await;
    assert!(outcome.is_err_and(|err| err.is_panic()));

    assert_nothing_left(&pids, &dir);
}

/// No process in any of the control plane's process groups is left (zombies included),
/// and its directory is gone.
fn assert_nothing_left(pids: &[(Component, u32)], dir: &Path) {
    let groups: Vec<String> = pids.iter().map(|(_, pid)| pid.to_string()).collect();
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields
            .get(2)
            .is_some_and(|pgrp| groups.iter().any(|group| group == pgrp))
        {
            left.push(stat);
        }
    }
    assert!(left.is_empty(), "processes left behind: {left:#?}");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
