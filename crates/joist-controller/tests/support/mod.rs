//! What the end-to-end tests share: the controller's RBAC (docs/controller.md lists the same
//! rules), its ServiceAccount client, the CRDs, the general-purpose example, a Deployment, and
//! starting the controller in-process with the kwok provider.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use joist_controller::objects::{EC2NodeClassObject, NodeClaimObject, NodePoolObject};
use joist_controller::provider::kwok::KwokProvider;
use joist_controller::settings::Settings;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, PodTemplateSpec, ResourceRequirements, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Generous: the machine these run on is small and often busy.
pub const WAIT: Duration = Duration::from_secs(90);

/// The controller's permissions (docs/controller.md lists the same).
pub fn rules() -> Vec<PolicyRule> {
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    vec![
        rule("", &["pods"], &["get", "list", "watch", "delete"]),
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
            "storage.k8s.io",
            &["volumeattachments"],
            &["get", "list", "watch"],
        ),
        rule(
            "karpenter.k8s.aws",
            &["ec2nodeclasses"],
            &["get", "list", "watch"],
        ),
    ]
}

pub fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

/// The controller's ServiceAccount with its RBAC, and a client configuration authenticating as
/// it (the controller builds its own clients from it).
pub async fn controller_config(control_plane: &ControlPlane) -> kube::Config {
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
    let path = control_plane
        .service_account_kubeconfig("kube-system", "joist")
        .await
        .expect("service account kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config")
}

/// A client as the controller's ServiceAccount.
pub fn controller_client(config: &kube::Config) -> Client {
    Client::try_from(config.clone()).expect("client")
}

pub async fn install_crds(client: &Client) {
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
pub async fn apply_example(client: &Client) {
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

pub fn deployment(replicas: usize) -> Deployment {
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

pub fn settings() -> Settings {
    // Port 0: any free port, so parallel tests do not collide.
    Settings {
        health_probe_port: 0,
        metrics_port: 0,
        ..Settings::default()
    }
}

pub async fn start(config: &kube::Config) -> joist_controller::RunningController {
    start_with(config, &settings()).await
}

/// Starts the controller with `settings` and the kwok provider.
pub async fn start_with(
    config: &kube::Config,
    settings: &Settings,
) -> joist_controller::RunningController {
    let provider =
        KwokProvider::with_aws_catalog(controller_client(config), "us-east-1").expect("catalog");
    joist_controller::start(config.clone(), settings, Arc::new(provider))
        .await
        .expect("controller starts")
}

pub fn condition_true(claim: &NodeClaimObject, type_: &str) -> bool {
    claim
        .0
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

pub fn running(pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count()
}

/// Lets the controller's ServiceAccount hold the leader-election Lease in `namespace` (the
/// chart's Role grants the same in the release namespace), for tests that run with leader
/// election on. Idempotent.
pub async fn grant_leader_election(admin: &Client, namespace: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let rule = PolicyRule {
        api_groups: Some(vec!["coordination.k8s.io".to_owned()]),
        resources: Some(vec!["leases".to_owned()]),
        verbs: ["get", "list", "watch", "create", "update", "patch"]
            .map(str::to_owned)
            .to_vec(),
        ..PolicyRule::default()
    };
    let role = Role {
        metadata: named("joist-leader-election"),
        rules: Some(vec![rule]),
    };
    let binding = RoleBinding {
        metadata: named("joist-leader-election"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: "joist-leader-election".to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: "joist".to_owned(),
            namespace: Some("kube-system".to_owned()),
            ..Subject::default()
        }]),
    };
    let created = |result: Result<(), kube::Error>| match result {
        Ok(()) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("leader election RBAC: {error}"),
    };
    created(
        Api::<Role>::namespaced(admin.clone(), namespace)
            .create(&PostParams::default(), &role)
            .await
            .map(drop),
    );
    created(
        Api::<RoleBinding>::namespaced(admin.clone(), namespace)
            .create(&PostParams::default(), &binding)
            .await
            .map(drop),
    );
}
