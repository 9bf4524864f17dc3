//! The chart installed for real: `helm install` of `charts/joist` on a real kube-apiserver
//! (v1.34.10, RBAC authorizer), then the API server itself says, through SubjectAccessReviews
//! and calls made with the ServiceAccount's own token, what the controller's ServiceAccount
//! may do: everything the controller needs, and nothing it does not (secrets, other Leases,
//! creating pods, deleting NodePools). One control plane of its own, so it runs beside any
//! other test.

// Each test file compiles the shared helpers on its own; this one needs only helm and the
// chart's path from them.
#[allow(dead_code)]
mod helm_support;

use std::time::Duration;

use helm_support::{Helm, chart_dir};
use joist_testenv::{ControlPlane, ControlPlaneOptions, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};

/// Generous: the machine these run on is small and often busy.
const WAIT: Duration = Duration::from_secs(60);

/// Release and namespace of the install; the ServiceAccount is named after the release.
const NAMESPACE: &str = "joist";
const ACCOUNT: &str = "joist";

/// One question for the authorizer: may the controller's ServiceAccount do this?
#[derive(Debug, Clone, Copy)]
struct Ask {
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: &'static str,
    namespace: &'static str,
    name: &'static str,
}

/// A request on a resource; `namespace` "" for cluster scope or all namespaces.
const fn ask(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: &'static str,
) -> Ask {
    Ask {
        verb,
        group,
        resource,
        subresource: "",
        namespace,
        name: "",
    }
}

impl Ask {
    const fn sub(self, subresource: &'static str) -> Self {
        Self {
            subresource,
            ..self
        }
    }

    const fn named(self, name: &'static str) -> Self {
        Self { name, ..self }
    }
}

/// What the controller must be allowed (spec core §2-§6, spec aws §1, leader election).
const ALLOWED: &[Ask] = &[
    ask("create", "karpenter.sh", "nodeclaims", ""),
    ask("delete", "karpenter.sh", "nodeclaims", ""),
    ask("patch", "karpenter.sh", "nodeclaims", "").sub("status"),
    ask("watch", "karpenter.sh", "nodepools", ""),
    ask("update", "karpenter.sh", "nodepools", "").sub("status"),
    ask("list", "karpenter.k8s.aws", "ec2nodeclasses", ""),
    ask("patch", "karpenter.k8s.aws", "ec2nodeclasses", "").sub("status"),
    ask("create", "", "pods", "default").sub("eviction"),
    ask("create", "", "pods", "kube-system").sub("eviction"),
    ask("list", "", "pods", ""),
    ask("delete", "", "pods", "default"),
    ask("create", "", "nodes", ""),
    ask("patch", "", "nodes", ""),
    ask("delete", "", "nodes", ""),
    ask("watch", "apps", "daemonsets", ""),
    ask("list", "policy", "poddisruptionbudgets", ""),
    ask("list", "", "persistentvolumeclaims", ""),
    ask("watch", "storage.k8s.io", "csinodes", ""),
    ask("create", "", "events", "default"),
    ask("patch", "events.k8s.io", "events", "kube-system"),
    ask(
        "get",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "",
    )
    .named("nodepools.karpenter.sh"),
    ask("create", "coordination.k8s.io", "leases", NAMESPACE),
    ask("update", "coordination.k8s.io", "leases", NAMESPACE).named("karpenter-leader-election"),
    ask("get", "", "services", "kube-system").named("kube-dns"),
];

/// What it must not be allowed: no secrets, no other Leases or namespaces, no pods of its
/// own, no deleting what users own, no RBAC escalation.
const DENIED: &[Ask] = &[
    ask("get", "", "secrets", NAMESPACE),
    ask("delete", "", "secrets", NAMESPACE),
    ask("list", "", "secrets", ""),
    ask("get", "", "configmaps", "kube-system"),
    ask("create", "", "pods", "default"),
    ask("update", "", "pods", "default"),
    ask("get", "", "nodes", "").sub("proxy"),
    ask("create", "karpenter.sh", "nodepools", ""),
    ask("delete", "karpenter.sh", "nodepools", ""),
    ask("delete", "karpenter.k8s.aws", "ec2nodeclasses", ""),
    ask(
        "update",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "",
    ),
    ask("create", "coordination.k8s.io", "leases", "kube-system"),
    ask("update", "coordination.k8s.io", "leases", NAMESPACE).named("someone-elses-lease"),
    ask("delete", "coordination.k8s.io", "leases", NAMESPACE).named("karpenter-leader-election"),
    ask("get", "", "services", "kube-system").named("kubernetes"),
    ask(
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "",
    ),
];

/// The authorizer's answer for `ask` about the chart's ServiceAccount.
async fn allowed(client: &kube::Client, ask: Ask) -> bool {
    let or_none = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{NAMESPACE}:{ACCOUNT}")),
            groups: Some(vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{NAMESPACE}"),
                "system:authenticated".to_owned(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(ask.verb.to_owned()),
                group: Some(ask.group.to_owned()),
                resource: Some(ask.resource.to_owned()),
                subresource: or_none(ask.subresource),
                namespace: or_none(ask.namespace),
                name: or_none(ask.name),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap_or_else(|err| panic!("SubjectAccessReview {ask:?}: {err}"));
    answer.status.is_some_and(|status| status.allowed)
}

/// `helm install joist charts/joist` into a new namespace with the admin kubeconfig.
async fn install(helm: &Helm, control_plane: &ControlPlane) {
    let chart = chart_dir();
    let kubeconfig = control_plane.kubeconfig();
    let args = [
        "install",
        ACCOUNT,
        chart.to_str().expect("a UTF-8 checkout path"),
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--kubeconfig",
        kubeconfig.to_str().expect("a UTF-8 temporary path"),
        "--set",
        "settings.clusterName=e2e",
    ];
    let output = helm.run(&args).await;
    assert!(
        output.success,
        "helm install failed:\n{}{}\n{}",
        output.stdout,
        output.stderr,
        control_plane.log_tails()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_chart_grants_the_controller_exactly_what_it_needs() {
    let (helm, control_plane) = tokio::join!(
        Helm::new(),
        ControlPlane::start_with(ControlPlaneOptions {
            kwok: false,
            ..ControlPlaneOptions::default()
        })
    );
    let control_plane =
        control_plane.unwrap_or_else(|err| panic!("control plane did not start: {err}"));
    install(&helm, &control_plane).await;
    let admin = control_plane.client();

    // The API server accepted every object: CRDs from crds/, the workload, the budget.
    for crd in [
        "nodepools.karpenter.sh",
        "nodeclaims.karpenter.sh",
        "ec2nodeclasses.karpenter.k8s.aws",
    ] {
        Api::<CustomResourceDefinition>::all(admin.clone())
            .get(crd)
            .await
            .unwrap_or_else(|err| panic!("CRD {crd}: {err}"));
    }
    let deployment = Api::<Deployment>::namespaced(admin.clone(), NAMESPACE)
        .get("joist")
        .await
        .unwrap_or_else(|err| panic!("Deployment joist: {err}"));
    assert_eq!(deployment.spec.and_then(|s| s.replicas), Some(2));
    Api::<PodDisruptionBudget>::namespaced(admin.clone(), NAMESPACE)
        .get("joist")
        .await
        .unwrap_or_else(|err| panic!("PodDisruptionBudget joist: {err}"));
    // The ReplicaSet controller's pods pass admission (priority class, ServiceAccount); they
    // stay Pending, as nothing here runs them.
    let pods = Api::<Pod>::namespaced(admin.clone(), NAMESPACE);
    let selector = ListParams::default().labels("app.kubernetes.io/name=joist");
    eventually("the controller's 2 pods", WAIT, || {
        let (pods, selector) = (pods.clone(), selector.clone());
        async move {
            let list = pods.list(&selector).await.ok()?;
            (list.items.len() == 2).then_some(list)
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", control_plane.log_tails()));

    // RBAC grants take effect once the authorizer's informers see them.
    let first = ALLOWED[0];
    eventually("the chart's RBAC to take effect", WAIT, || {
        let admin = admin.clone();
        async move { allowed(&admin, first).await.then_some(()) }
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let mut wrong = Vec::new();
    for &ask in ALLOWED {
        if !allowed(&admin, ask).await {
            wrong.push(format!("denied but needed: {ask:?}"));
        }
    }
    for &ask in DENIED {
        if allowed(&admin, ask).await {
            wrong.push(format!("allowed but not needed: {ask:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    acts_as_the_service_account(&control_plane).await;
}

/// The same grants seen from the ServiceAccount's own token: the Lease can be taken and
/// renewed, nodes listed, secrets not read.
async fn acts_as_the_service_account(control_plane: &ControlPlane) {
    let client = control_plane
        .service_account_client(NAMESPACE, ACCOUNT)
        .await
        .unwrap_or_else(|err| panic!("a client for the ServiceAccount: {err}"));
    Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|err| panic!("listing nodes: {err}"));
    let leases = Api::<Lease>::namespaced(client.clone(), NAMESPACE);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("karpenter-leader-election".to_owned()),
            ..ObjectMeta::default()
        },
        ..Lease::default()
    };
    let created = leases
        .create(&PostParams::default(), &lease)
        .await
        .unwrap_or_else(|err| panic!("creating the leader-election Lease: {err}"));
    leases
        .replace(
            "karpenter-leader-election",
            &PostParams::default(),
            &created,
        )
        .await
        .unwrap_or_else(|err| panic!("renewing the leader-election Lease: {err}"));
    match Api::<Secret>::namespaced(client, NAMESPACE)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("listing secrets must be forbidden, got {other:?}"),
    }
}
