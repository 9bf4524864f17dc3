//! What the end-to-end tests share: the controller's RBAC rendered from the Helm chart
//! (`charts/joist`, the same objects a `helm install` creates), its ServiceAccount client, the
//! CRDs, the general-purpose example, a Deployment, and starting the controller in-process with
//! the kwok provider.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Generous: the machine these run on is small and often busy.
pub const WAIT: Duration = Duration::from_secs(90);

/// The Helm release (and so the ServiceAccount, whose name is the chart's full name `joist`)
/// and its namespace, as upstream installs Karpenter.
pub const RELEASE: &str = "joist";
/// The release namespace: the ServiceAccount and the leader-election Role live here.
pub const RELEASE_NAMESPACE: &str = "kube-system";

pub fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

/// `helm template joist charts/joist --namespace kube-system` with the chart's defaults,
/// through joist-testenv's pinned helm (its home inside `scratch`, so the user's repositories
/// and plugins play no part): every rendered object.
pub async fn render_chart(scratch: &Path) -> Vec<serde_json::Value> {
    let helm = joist_testenv::helm()
        .await
        .unwrap_or_else(|err| panic!("helm is not available: {err}"));
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../../charts/joist");
    let home = scratch.join("helm-home");
    let run = helm.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&run)
            .args(["template", RELEASE, chart, "--namespace", RELEASE_NAMESPACE])
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("KUBECONFIG")
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .expect("helm task")
    .unwrap_or_else(|err| panic!("running {}: {err}", helm.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "helm template failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|document| serde::Deserialize::deserialize(document).expect("rendered YAML"))
        .filter(|object: &serde_json::Value| !object.is_null())
        .collect()
}

/// Creates one rendered object through `api`; returns its `Kind/name`.
async fn create_rendered<K>(api: Api<K>, object: serde_json::Value) -> String
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let object: K = serde_json::from_value(object).expect("a rendered object of its kind");
    let id = format!(
        "{}/{}",
        K::kind(&()),
        object.meta().name.as_deref().unwrap_or_default()
    );
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|err| panic!("creating {id}: {err}"));
    id
}

/// Applies the chart's ServiceAccount and RBAC (ClusterRoles, Roles and their bindings, e.g. the
/// namespaced Role for the leader Lease); the Deployment, Service and PDB are left out, the
/// controller runs in-process instead. Returns `Kind/name` of what was created.
pub async fn apply_chart_rbac(control_plane: &ControlPlane) -> Vec<String> {
    let admin = control_plane.client();
    let mut created = Vec::new();
    for object in render_chart(control_plane.dir()).await {
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or(RELEASE_NAMESPACE)
            .to_owned();
        let id = match object["kind"].as_str() {
            Some("ServiceAccount") => {
                let api = Api::<ServiceAccount>::namespaced(admin.clone(), &namespace);
                create_rendered(api, object).await
            }
            Some("Role") => {
                let api = Api::<Role>::namespaced(admin.clone(), &namespace);
                create_rendered(api, object).await
            }
            Some("RoleBinding") => {
                let api = Api::<RoleBinding>::namespaced(admin.clone(), &namespace);
                create_rendered(api, object).await
            }
            Some("ClusterRole") => {
                create_rendered(Api::<ClusterRole>::all(admin.clone()), object).await
            }
            Some("ClusterRoleBinding") => {
                create_rendered(Api::<ClusterRoleBinding>::all(admin.clone()), object).await
            }
            _ => continue,
        };
        created.push(id);
    }
    created
}

/// The controller's ServiceAccount with the chart's RBAC, and a client configuration
/// authenticating as it (the controller builds its own clients from it): every call the
/// controller makes is authorised exactly as for the chart's Deployment.
pub async fn controller_config(control_plane: &ControlPlane) -> kube::Config {
    let created = apply_chart_rbac(control_plane).await;
    assert!(
        created
            .iter()
            .any(|id| id == &format!("ServiceAccount/{RELEASE}")),
        "the chart rendered no ServiceAccount {RELEASE}: {created:?}"
    );
    let path = control_plane
        .service_account_kubeconfig(RELEASE_NAMESPACE, RELEASE)
        .await
        .expect("service account kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config")
}

/// `GET path` on `address` (the controller's probe or metrics port): the whole response.
pub async fn http_get(address: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    response
}

/// Asserts the controller's `/healthz` answers 200 (`when` says at which step, for the panic).
pub async fn assert_healthy(controller: &joist_controller::RunningController, when: &str) {
    let response = http_get(controller.health_address(), "/healthz").await;
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "/healthz {when}: {response}"
    );
}

/// The Events about the object named `name` in `namespace` with `reason`.
pub async fn events_about(
    client: &Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Vec<k8s_openapi::api::core::v1::Event> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), namespace);
    let params = kube::api::ListParams::default()
        .fields(&format!("involvedObject.name={name},reason={reason}"));
    api.list(&params)
        .await
        .map(|list| list.items)
        .unwrap_or_default()
}

/// Creates a NodePool from its JSON (retrying while the API catches up with the CRD).
pub async fn create_nodepool(client: &Client, pool: serde_json::Value) {
    let pool: NodePoolObject = serde_json::from_value(pool).expect("a NodePool");
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

/// Node name → labels, of every node.
pub async fn node_labels(client: &Client) -> BTreeMap<String, BTreeMap<String, String>> {
    Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
        .list(&kube::api::ListParams::default())
        .await
        .expect("nodes")
        .items
        .into_iter()
        .map(|node| {
            let name = node.metadata.name.clone().unwrap_or_default();
            (name, node.metadata.labels.unwrap_or_default())
        })
        .collect()
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
            // The API may lag the CRD's establishment by a moment: created with retries.
            Some("NodePool") => create_nodepool(client, value).await,
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

/// What the disruption tests start from: a control plane with the CRDs, the general-purpose
/// example with `nodepool_patch` merged into NodePool `default`, namespace `e2e`, and the
/// controller running with the chart's RBAC and a 1 s validation delay.
pub struct DisruptionCluster {
    /// Owns the processes; dropped last.
    pub control_plane: ControlPlane,
    /// An admin client.
    pub admin: Client,
    /// The controller's configuration (its ServiceAccount), for restarts.
    pub config: kube::Config,
    /// The running controller.
    pub controller: joist_controller::RunningController,
}

/// Settings of the disruption tests: [`settings`] with a 1 s validation delay (upstream's 15 s
/// would only make them slower).
pub fn disruption_settings() -> Settings {
    Settings {
        disruption_validation_delay: Duration::from_secs(1),
        ..settings()
    }
}

/// Starts a [`DisruptionCluster`].
pub async fn disruption_cluster(nodepool_patch: serde_json::Value) -> DisruptionCluster {
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    patch_default_nodepool(&admin, nodepool_patch).await;
    let config = controller_config(&control_plane).await;
    let controller = start_with(&config, &disruption_settings()).await;
    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    DisruptionCluster {
        control_plane,
        admin,
        config,
        controller,
    }
}

/// Waits until Deployment `e2e/web`'s `replicas` pods run on as many initialized NodeClaims;
/// returns the NodeClaims' and the managed Nodes' names.
pub async fn one_initialized_node_per_pod(
    admin: &Client,
    replicas: usize,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let claims: BTreeSet<String> = eventually("one initialized node per pod", WAIT, || {
        let admin = admin.clone();
        async move {
            let pods = app_pods(&admin, "e2e", "web").await;
            let claims = nodeclaims(&admin).await;
            (running(&pods) == replicas
                && claims.len() == replicas
                && claims.iter().all(|c| condition_true(c, "Initialized")))
            .then(|| claims.iter().map(|c| c.0.name().to_owned()).collect())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let nodes = managed_nodes(admin)
        .await
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    (claims, nodes)
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
