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
            &["volumeattachments", "storageclasses", "csinodes"],
            &["get", "list", "watch"],
        ),
        rule(
            "",
            &["persistentvolumes", "persistentvolumeclaims"],
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

// === disruption e2e helpers (e2e_drift, e2e_expiration, e2e_blocking) ===

/// Lets the controller's ServiceAccount write Events (the chart grants it; the minimal
/// [`rules`] above do not), so tests can assert on what the controller publishes.
pub async fn grant_events(admin: &Client) {
    let rule = PolicyRule {
        api_groups: Some(vec![String::new(), "events.k8s.io".to_owned()]),
        resources: Some(vec!["events".to_owned()]),
        verbs: vec!["create".to_owned(), "patch".to_owned()],
        ..PolicyRule::default()
    };
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ClusterRole {
                metadata: named("joist-events"),
                rules: Some(vec![rule]),
                ..ClusterRole::default()
            },
        )
        .await
        .expect("events role");
    let binding = ClusterRoleBinding {
        metadata: named("joist-events"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: "joist-events".to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: "joist".to_owned(),
            namespace: Some("kube-system".to_owned()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("events binding");
}

/// Merge-patches NodePool `default`.
pub async fn patch_default_nodepool(admin: &Client, patch: serde_json::Value) {
    Api::<NodePoolObject>::all(admin.clone())
        .patch(
            "default",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
        .expect("nodepool patched");
}

/// Requirements that allow only 4-vCPU on-demand amd64 c/m/r instances: a pod requesting
/// 3 CPUs gets a node of its own.
pub fn four_cpu_requirements() -> serde_json::Value {
    serde_json::json!([
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]},
        {"key": "karpenter.k8s.aws/instance-cpu", "operator": "In", "values": ["4"]},
    ])
}

/// A Deployment `name` (label `app: name`) of `replicas` pods requesting `cpu` each, with
/// `annotations` on its pods.
pub fn sized_deployment(
    name: &str,
    replicas: usize,
    cpu: &str,
    annotations: &[(&str, &str)],
) -> Deployment {
    let mut deployment = deployment(replicas);
    deployment.metadata.name = Some(name.to_owned());
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    if let Some(spec) = deployment.spec.as_mut() {
        spec.selector.match_labels = Some(labels.clone());
        let template = &mut spec.template;
        let metadata = template.metadata.get_or_insert_with(ObjectMeta::default);
        metadata.labels = Some(labels);
        metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        for container in template
            .spec
            .iter_mut()
            .flat_map(|s| s.containers.iter_mut())
        {
            if let Some(requests) = container
                .resources
                .as_mut()
                .and_then(|r| r.requests.as_mut())
            {
                requests.insert("cpu".to_owned(), Quantity(cpu.to_owned()));
            }
        }
    }
    deployment
}

/// Every NodeClaim.
pub async fn nodeclaims(admin: &Client) -> Vec<NodeClaimObject> {
    Api::<NodeClaimObject>::all(admin.clone())
        .list(&kube::api::ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

/// Every Node a NodePool launched.
pub async fn managed_nodes(admin: &Client) -> Vec<k8s_openapi::api::core::v1::Node> {
    Api::<k8s_openapi::api::core::v1::Node>::all(admin.clone())
        .list(&kube::api::ListParams::default().labels("karpenter.sh/nodepool"))
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

/// The pods of `namespace` with label `app=app`.
pub async fn app_pods(admin: &Client, namespace: &str, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(admin.clone(), namespace)
        .list(&kube::api::ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

/// Events in `namespace` (cluster-scoped objects' events are in `default`) with `reason`.
pub async fn events_with_reason(
    admin: &Client,
    namespace: &str,
    reason: &str,
) -> Vec<k8s_openapi::api::core::v1::Event> {
    Api::<k8s_openapi::api::core::v1::Event>::namespaced(admin.clone(), namespace)
        .list(&kube::api::ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

/// Whether a Node is being disrupted: tainted `karpenter.sh/disrupted` or deleting.
pub fn is_disrupting(node: &k8s_openapi::api::core::v1::Node) -> bool {
    node.metadata.deletion_timestamp.is_some()
        || node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .any(|t| t.key == "karpenter.sh/disrupted")
}

/// The reason of the NodeClaim's condition `type_` when it is `True`.
pub fn true_condition_reason(claim: &NodeClaimObject, type_: &str) -> Option<String> {
    claim
        .0
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| c.reason.clone())
}

/// Waits until the `app` pods in `namespace` number `count`, all Running on Nodes none of
/// which is in `old_nodes`, and no NodeClaim in `old_claims` exists; the Nodes they run on.
pub async fn replaced(
    admin: &Client,
    namespace: &str,
    app: &str,
    count: usize,
    old_nodes: &std::collections::BTreeSet<String>,
    old_claims: &std::collections::BTreeSet<String>,
    wait: Duration,
) -> std::collections::BTreeSet<String> {
    eventually(
        &format!("{app} pods moved off the old nodes"),
        wait,
        || async move {
            let pods = app_pods(admin, namespace, app).await;
            let claims = nodeclaims(admin).await;
            let on: std::collections::BTreeSet<String> = pods
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                .collect();
            let old_claim_left = claims.iter().any(|c| old_claims.contains(c.0.name()));
            (pods.len() == count
                && running(&pods) == count
                && on.is_disjoint(old_nodes)
                && !old_claim_left)
                .then_some(on)
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"))
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
