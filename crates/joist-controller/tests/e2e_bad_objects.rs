//! End to end on a real control plane, the controller running with the chart's RBAC: bad
//! objects give clear conditions and events and never take the controller down.
//!
//! * NodePool `orphan` names an EC2NodeClass that does not exist: `NodeClassReady=False`
//!   (`NodeClassNotFound`), `Ready=False`, nothing launched for it, its pods get
//!   `FailedScheduling`; NodePool `default` keeps provisioning.
//! * NodePool `impossible` allows only an instance type that does not exist: a Warning
//!   `NoCompatibleInstanceTypes` event on it (spec core §2.3 step 8).
//! * Pods asking for more CPU than any instance type has: `FailedScheduling` with upstream's
//!   message (spec core §2.13).
//! * An EC2NodeClass and a NodePool the API server rejects by CEL: its message comes back.
//!
//! The controller runs as `joist controller` does, behind a Lease election (the chart's Role
//! grants the Lease). `/healthz` answers 200 throughout, and no controller task ends.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use joist_controller::RunningController;
use joist_controller::leader::{LeaderElectionConfig, LeaderElector, LeaderHandle};
use joist_controller::objects::{EC2NodeClassObject, NodeClaimObject, NodePoolObject};
use joist_controller::provider::kwok::KwokProvider;
use joist_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use support::{
    RELEASE_NAMESPACE, WAIT, apply_example, assert_healthy, controller_client, controller_config,
    create_nodepool, deployment, events_about, install_crds, running, settings,
};

fn nodepool(name: &str, class: &str, requirements: &serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "requirements": requirements,
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": class},
        }}},
    })
}

/// `support::deployment` renamed to `name` (pods labelled `app=<name>`), with `cpu` requested
/// and, if given, a nodeSelector on `karpenter.sh/nodepool`.
fn workload(name: &str, replicas: usize, cpu: &str, nodepool: Option<&str>) -> Deployment {
    let mut workload = deployment(replicas);
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    workload.metadata.name = Some(name.to_owned());
    let spec = workload.spec.as_mut().expect("spec");
    spec.selector.match_labels = Some(labels.clone());
    spec.template.metadata.as_mut().expect("metadata").labels = Some(labels);
    let pod = spec.template.spec.as_mut().expect("pod");
    pod.node_selector = nodepool
        .map(|pool| BTreeMap::from([("karpenter.sh/nodepool".to_owned(), pool.to_owned())]));
    pod.containers[0]
        .resources
        .as_mut()
        .and_then(|r| r.requests.as_mut())
        .expect("requests")
        .insert("cpu".to_owned(), Quantity(cpu.to_owned()));
    workload
}

fn pool_condition(pool: &NodePoolObject, type_: &str) -> Option<(String, String)> {
    let condition = pool
        .0
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((condition.status.clone(), condition.reason.clone()))
}

/// The first `FailedScheduling` event of a pod of `app`, once there is one.
async fn failed_scheduling(client: &Client, app: &str) -> Event {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "e2e");
    eventually(
        &format!("FailedScheduling for a pod of {app}"),
        WAIT,
        || {
            let (client, pods) = (client.clone(), pods.clone());
            async move {
                let params = ListParams::default().labels(&format!("app={app}"));
                for pod in pods.list(&params).await.ok()?.items {
                    let name = pod.metadata.name.unwrap_or_default();
                    let events = events_about(&client, "e2e", &name, "FailedScheduling").await;
                    if let Some(event) = events.into_iter().find(|e| {
                        e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("karpenter")
                    }) {
                        return Some(event);
                    }
                }
                None
            }
        },
    )
    .await
    .expect("a FailedScheduling event from karpenter")
}

/// The API server's refusal of `object`, as text.
async fn rejection<K>(api: &Api<K>, object: &K) -> String
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    match api.create(&PostParams::default(), object).await {
        Ok(created) => panic!("the API server accepted {created:?}"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Starts the controller as `joist controller` runs it: gated by the Lease
/// `karpenter-leader-election` in the release namespace, which the chart's Role lets the
/// ServiceAccount take. Returns once it leads.
async fn start_leading(config: &kube::Config) -> (RunningController, LeaderHandle) {
    let mut elector = LeaderElector::new(
        controller_client(config),
        LeaderElectionConfig::new("karpenter-leader-election", RELEASE_NAMESPACE),
    )
    .expect("valid timing")
    .spawn();
    let provider =
        KwokProvider::with_aws_catalog(controller_client(config), "us-east-1").expect("catalog");
    let controller = joist_controller::start_gated(
        config.clone(),
        &settings(),
        Arc::new(provider),
        elector.is_leader(),
    )
    .await
    .expect("controller starts");
    let leads = tokio::time::timeout(WAIT, elector.wait_for_leadership()).await;
    assert_eq!(
        leads.ok(),
        Some(true),
        "the ServiceAccount never took the Lease"
    );
    (controller, elector)
}

/// The orphaned NodePool says why it is not used: `NodeClassReady=False/NodeClassNotFound`,
/// `Ready=False`.
async fn assert_orphan_not_ready(admin: &Client) {
    let pools: Api<NodePoolObject> = Api::all(admin.clone());
    eventually("orphan NodeClassReady=False, Ready=False", WAIT, || {
        let pools = pools.clone();
        async move {
            let pool = pools.get("orphan").await.ok()?;
            let class = pool_condition(&pool, "NodeClassReady")?;
            let ready = pool_condition(&pool, "Ready")?;
            (class == ("False".to_owned(), "NodeClassNotFound".to_owned()) && ready.0 == "False")
                .then_some(())
        }
    })
    .await
    .expect("orphan conditions");
}

/// `FailedScheduling` with upstream's messages on the pods no NodePool can take.
async fn assert_failed_scheduling(admin: &Client) {
    let huge = failed_scheduling(admin, "huge").await;
    let message = huge.message.as_deref().unwrap_or_default();
    assert_eq!(huge.type_.as_deref(), Some("Warning"));
    assert!(
        message.starts_with("Failed to schedule pod, ")
            && message.contains("no instance type has enough resources")
            && message.contains("resources={\"cpu\":\"1k\""),
        "{message}"
    );
    let orphaned = failed_scheduling(admin, "orphaned").await;
    let message = orphaned.message.as_deref().unwrap_or_default();
    // `orphan` is not Ready, so only `default` was tried, and it is not the selected pool.
    assert!(
        message.starts_with("Failed to schedule pod, incompatible requirements")
            && message.contains("karpenter.sh/nodepool In [orphan]"),
        "{message}"
    );
}

/// `NoCompatibleInstanceTypes` on NodePool `impossible`.
async fn assert_no_compatible_instance_types(admin: &Client) {
    let impossible = eventually("NoCompatibleInstanceTypes on impossible", WAIT, || {
        let admin = admin.clone();
        async move {
            let events =
                events_about(&admin, "default", "impossible", "NoCompatibleInstanceTypes").await;
            events.into_iter().next()
        }
    })
    .await
    .expect("NoCompatibleInstanceTypes");
    assert_eq!(impossible.type_.as_deref(), Some("Warning"));
    assert_eq!(
        impossible.message.as_deref(),
        Some("NodePool requirements filtered out all compatible available instance types")
    );
    assert_eq!(impossible.involved_object.kind.as_deref(), Some("NodePool"));
}

/// Every NodeClaim belongs to `default`: nothing was launched for `orphan` or `impossible`.
async fn assert_only_default_launched(admin: &Client) {
    let claims = Api::<NodeClaimObject>::all(admin.clone())
        .list(&ListParams::default())
        .await
        .expect("claims")
        .items;
    assert!(!claims.is_empty());
    for claim in &claims {
        let pool = claim
            .0
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("karpenter.sh/nodepool"))
            .map(String::as_str);
        assert_eq!(pool, Some("default"), "{}", claim.0.name());
    }
}

/// CEL: the API server refuses an EC2NodeClass with both `role` and `instanceProfile`, and a
/// NodePool requiring the restricted `karpenter.sh/nodepool`, with upstream's messages.
async fn assert_cel_rejections(admin: &Client) {
    let mut both = serde_json::to_value(
        Api::<EC2NodeClassObject>::all(admin.clone())
            .get("default")
            .await
            .expect("the example's EC2NodeClass")
            .0
            .spec,
    )
    .expect("spec");
    both["instanceProfile"] = json!("KarpenterNodeInstanceProfile");
    let class: EC2NodeClassObject = serde_json::from_value(json!({
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "both"},
        "spec": both,
    }))
    .expect("an EC2NodeClass");
    let message = rejection(&Api::all(admin.clone()), &class).await;
    assert!(
        message.contains("must specify exactly one of ['role', 'instanceProfile']"),
        "{message}"
    );
    let restricted = json!([
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["other"]},
    ]);
    let pool: NodePoolObject =
        serde_json::from_value(nodepool("restricted", "default", &restricted)).expect("a NodePool");
    let message = rejection(&Api::all(admin.clone()), &pool).await;
    assert!(
        message.contains("label \"karpenter.sh/nodepool\" is restricted"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_get_conditions_and_events_and_the_controller_keeps_serving() {
    let began = Instant::now();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let control_plane = ControlPlane::start()
        .await
        .unwrap_or_else(|err| panic!("control plane: {err}"));
    let admin = control_plane.client();
    install_crds(&admin).await;
    apply_example(&admin).await;
    let category_c = json!([
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c"]},
    ]);
    create_nodepool(&admin, nodepool("orphan", "missing", &category_c)).await;
    let no_such_type = json!([
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["x9.nonexistent"]},
    ]);
    create_nodepool(&admin, nodepool("impossible", "default", &no_such_type)).await;
    let config = controller_config(&control_plane).await;
    let (controller, elector) = start_leading(&config).await;
    assert_healthy(&controller, "at start").await;
    assert_orphan_not_ready(&admin).await;

    control_plane
        .create_namespace("e2e")
        .await
        .expect("namespace");
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "e2e");
    for bad in [
        workload("orphaned", 2, "500m", Some("orphan")),
        workload("huge", 2, "1000", None),
        workload("web", 3, "500m", None),
    ] {
        deployments
            .create(&PostParams::default(), &bad)
            .await
            .expect("deployment");
    }
    // The good pool keeps serving.
    let pods_api: Api<Pod> = Api::namespaced(admin.clone(), "e2e");
    eventually("the web pods Running", WAIT, || {
        let pods_api = pods_api.clone();
        async move {
            let params = ListParams::default().labels("app=web");
            let pods = pods_api.list(&params).await.ok()?.items;
            (pods.len() == 3 && running(&pods) == 3).then_some(())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));
    assert_healthy(&controller, "after provisioning the good pool").await;

    assert_failed_scheduling(&admin).await;
    assert_no_compatible_instance_types(&admin).await;
    assert_only_default_launched(&admin).await;
    assert_cel_rejections(&admin).await;

    assert_healthy(&controller, "after the rejected objects").await;
    // No controller task ended (one that panicked or returned would end `wait`).
    let ended = tokio::time::timeout(Duration::from_secs(3), controller.wait()).await;
    assert!(ended.is_err(), "a controller task ended");
    // Renewals kept it leading throughout; releasing writes the Lease once more.
    assert!(*elector.is_leader().borrow(), "leadership was lost");
    elector.release().await.expect("the Lease is released");
    eprintln!("e2e wall time {:.1}s", began.elapsed().as_secs_f64());
}
