//! End to end on a real control plane (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler, kwok): joist's controller runs in-process as its own ServiceAccount with the
//! RBAC it documents, provisions kwok nodes for a 50-pod Deployment, and a restart creates no
//! duplicate NodeClaims.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use joist_controller::objects::{EC2NodeClassObject, NodeClaimObject, NodePoolObject};
use joist_controller::provider::kwok::KwokProvider;
use joist_controller::settings::Settings;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Node, Pod, PodSpec, PodTemplateSpec, ResourceRequirements, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

/// Generous: the machine these run on is small and often busy.
const WAIT: Duration = Duration::from_secs(90);
const REPLICAS: usize = 50;

/// The controller's permissions (docs/controller.md lists the same).
fn rules() -> Vec<PolicyRule> {
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    vec![
        rule("", &["pods"], &["get", "list", "watch"]),
        rule("", &["pods/eviction"], &["create"]),
        rule(
            "",
            &["nodes"],
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        rule("apps", &["daemonsets"], &["get", "list", "watch"]),
        rule(
            "policy",
            &["poddisruptionbudgets"],
            &["get", "list", "watch"],
        ),
        rule("karpenter.sh", &["nodepools"], &["get", "list", "watch"]),
        rule("karpenter.sh", &["nodepools/status"], &["patch"]),
        rule(
            "karpenter.sh",
            &["nodeclaims"],
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        rule("karpenter.sh", &["nodeclaims/status"], &["patch"]),
        rule(
            "karpenter.k8s.aws",
            &["ec2nodeclasses"],
            &["get", "list", "watch"],
        ),
    ]
}

fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

async fn controller_client(control_plane: &ControlPlane) -> Client {
    let admin = control_plane.client();
    Api::<ServiceAccount>::namespaced(admin.clone(), "kube-system")
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: named("joist"),
                ..ServiceAccount::default()
            },
        )
        .await
        .expect("service account");
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ClusterRole {
                metadata: named("joist"),
                rules: Some(rules()),
                ..ClusterRole::default()
            },
        )
        .await
        .expect("cluster role");
    let binding = ClusterRoleBinding {
        metadata: named("joist"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: "joist".to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: "joist".to_owned(),
            namespace: Some("kube-system".to_owned()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin)
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding");
    control_plane
        .service_account_client("kube-system", "joist")
        .await
        .expect("service account client")
}

async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in joist_api::crds::all() {
        let crd: CustomResourceDefinition = serde_json::from_value(crd).expect("a CRD");
        let name = crd.metadata.name.clone().expect("named");
        api.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
        eventually(&format!("CRD {name} Established"), WAIT, || {
            let (api, name) = (api.clone(), name.clone());
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await
        .expect("established");
    }
}

/// The general-purpose example: NodePool `default` (c/m/r, on-demand, amd64) and its EC2NodeClass.
async fn apply_example(client: &Client) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/general-purpose.yaml"
    );
    let text = std::fs::read_to_string(path).expect("example");
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(document).expect("yaml");
        match value["kind"].as_str() {
            Some("NodePool") => {
                let pool: NodePoolObject = serde_json::from_value(value).expect("nodepool");
                // The API may lag the CRD's establishment by a moment.
                eventually("NodePool created", WAIT, || {
                    let (api, pool) = (Api::<NodePoolObject>::all(client.clone()), pool.clone());
                    async move {
                        api.create(&PostParams::default(), &pool)
                            .await
                            .ok()
                            .map(|_| ())
                    }
                })
                .await
                .expect("nodepool");
            }
            Some("EC2NodeClass") => {
                let class: EC2NodeClassObject = serde_json::from_value(value).expect("nodeclass");
                eventually("EC2NodeClass created", WAIT, || {
                    let (api, class) = (
                        Api::<EC2NodeClassObject>::all(client.clone()),
                        class.clone(),
                    );
                    async move {
                        api.create(&PostParams::default(), &class)
                            .await
                            .ok()
                            .map(|_| ())
                    }
                })
                .await
                .expect("nodeclass");
            }
            other => panic!("unexpected kind {other:?}"),
        }
    }
}

fn deployment(replicas: usize) -> Deployment {
    let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
    let requests = BTreeMap::from([
        ("cpu".to_owned(), Quantity("500m".to_owned())),
        ("memory".to_owned(), Quantity("1Gi".to_owned())),
    ]);
    Deployment {
        metadata: named("web"),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(replicas).expect("small")),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".to_owned(),
                        image: Some("registry.invalid/web:1".to_owned()),
                        resources: Some(ResourceRequirements {
                            requests: Some(requests),
                            ..ResourceRequirements::default()
                        }),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn settings() -> Settings {
    // Port 0: any free port, so parallel tests do not collide.
    Settings {
        health_probe_port: 0,
        metrics_port: 1,
        ..Settings::default()
    }
}

async fn start(client: &Client) -> joist_controller::RunningController {
    let provider = KwokProvider::with_aws_catalog(client.clone(), "us-east-1").expect("catalog");
    joist_controller::start(client.clone(), &settings(), Arc::new(provider))
        .await
        .expect("controller starts")
}

fn condition_true(claim: &NodeClaimObject, type_: &str) -> bool {
    claim
        .0
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

fn running(pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisions_kwok_nodes_for_a_deployment_and_restarts_without_duplicates() {
    let began = Instant::now();
    // The controller's logs, shown when the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    let client = controller_client(&control_plane).await;
    let controller = start(&client).await;

    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    Api::<Deployment>::namespaced(admin.clone(), "e2e")
        .create(&PostParams::default(), &deployment(REPLICAS))
        .await
        .expect("deployment");

    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    let all_running = eventually("all pods Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let pods = pods_api.list(&ListParams::default()).await.ok()?.items;
            (pods.len() == REPLICAS && running(&pods) == REPLICAS).then_some(())
        }
    })
    .await;
    if let Err(err) = all_running {
        let pool = Api::<NodePoolObject>::all(admin.clone())
            .get("default")
            .await
            .ok();
        panic!("{err}\nnodepool status: {:?}", pool.map(|p| p.0.status));
    }

    let claims_api: Api<NodeClaimObject> = Api::all(admin.clone());
    let claims = eventually("every NodeClaim Initialized", WAIT, || {
        let claims_api = claims_api.clone();
        async move {
            let claims = claims_api.list(&ListParams::default()).await.ok()?.items;
            claims
                .iter()
                .all(|c| condition_true(c, "Initialized") && condition_true(c, "Ready"))
                .then_some(claims)
        }
    })
    .await
    .expect("initialized");
    assert!(!claims.is_empty());

    // Every NodeClaim's Node is registered, Ready, initialized and runs some of the pods: nothing
    // was launched that the pods did not need.
    let nodes = Api::<Node>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items;
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items;
    let used: BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect();
    for claim in &claims {
        let node_name = claim
            .0
            .status
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .expect("status.nodeName");
        let node = nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(node_name))
            .expect("the claim's node");
        let labels = node.metadata.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("karpenter.sh/registered").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            labels.get("karpenter.sh/initialized").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            labels.get("karpenter.sh/nodepool").map(String::as_str),
            Some("default")
        );
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        assert!(
            taints.iter().all(|t| t.key != "karpenter.sh/unregistered"),
            "{taints:?}"
        );
        assert!(
            node.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == "karpenter.sh/termination")
        );
        assert!(
            used.contains(node_name),
            "node {node_name} runs none of the pods"
        );
        assert!(
            claim
                .0
                .metadata
                .name
                .as_deref()
                .expect("named")
                .starts_with("default-")
        );
    }
    let names: BTreeSet<String> = claims.iter().map(|c| c.0.name().to_owned()).collect();
    eprintln!("{} NodeClaims for {REPLICAS} pods: {names:?}", claims.len());

    // Restart: the new controller sees the NodeClaims (in flight or not) and launches nothing.
    drop(controller);
    let restarted = start(&client).await;
    eventually("restarted controller synced", WAIT, || {
        let index = restarted.index().clone();
        async move { index.is_ready().then_some(()) }
    })
    .await
    .expect("synced");
    // Longer than a batch window plus a solve, so a wrong round would have created its claims.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after: BTreeSet<String> = claims_api
        .list(&ListParams::default())
        .await
        .expect("claims")
        .items
        .iter()
        .map(|c| c.0.name().to_owned())
        .collect();
    assert_eq!(after, names, "a restart must not launch again");
    eprintln!("e2e wall time: {:.1}s", began.elapsed().as_secs_f64());
}
