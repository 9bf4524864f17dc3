//! The chart's RBAC. Rendered: no wildcard, every binding to the chart's ServiceAccount, and
//! rule matching (as RBAC matches) shows what is granted. Installed for real: `helm install`
//! of `charts/joist` on a real kube-apiserver (v1.34.10, RBAC authorizer), then the API server
//! itself says, through SubjectAccessReviews and calls made with the ServiceAccount's own
//! token, what the controller may do: everything it needs, and nothing it does not (secrets,
//! other Leases, creating pods, deleting NodePools). One control plane of its own, so it runs
//! beside any other test.

// Each test file compiles the shared helpers on its own; this one does not use the
// accessors of rendered environment variables.
#[allow(dead_code)]
mod helm_support;

use std::time::Duration;

use helm_support::{Helm, Rendered, chart_dir};
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
use serde_json::{Value, json};

/// Generous: the machine these run on is small and often busy.
const WAIT: Duration = Duration::from_secs(60);

/// Release and namespace of the install; the ServiceAccount is named after the release.
const NAMESPACE: &str = "joist";
const ACCOUNT: &str = "joist";

/// Renders with the defaults as release `joist` in namespace `joist`.
async fn render_defaults(helm: &Helm) -> Rendered {
    helm.template(ACCOUNT, NAMESPACE, &[]).await
}

// === rendered rules ===

#[tokio::test]
async fn no_rendered_role_uses_a_wildcard() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let roles: Vec<&Value> = rendered
        .all("ClusterRole")
        .into_iter()
        .chain(rendered.all("Role"))
        .collect();
    assert_eq!(roles.len(), 5, "{:?}", rendered.ids());
    let found: Vec<_> = roles.iter().flat_map(|role| wildcards(role)).collect();
    assert!(found.is_empty(), "wildcards: {found:?}");
}

#[tokio::test]
async fn the_cluster_roles_grant_what_the_controller_needs_and_no_more() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let core = &rendered.named("ClusterRole", "joist-core")["rules"];
    let aws = &rendered.named("ClusterRole", "joist")["rules"];
    let cluster_wide = |a| allows(core, a) || allows(aws, a);
    let granted = [
        access("karpenter.sh", "nodepools", "watch"),
        access("karpenter.sh", "nodepools/status", "patch"),
        access("karpenter.sh", "nodeclaims", "create"),
        access("karpenter.sh", "nodeclaims", "delete"),
        access("karpenter.sh", "nodeclaims/status", "update"),
        access("karpenter.k8s.aws", "ec2nodeclasses", "list"),
        access("karpenter.k8s.aws", "ec2nodeclasses", "patch"),
        access("karpenter.k8s.aws", "ec2nodeclasses/status", "patch"),
        access("", "nodes", "create"),
        access("", "nodes", "delete"),
        access("", "nodes", "patch"),
        access("", "nodes", "update"),
        access("", "pods", "watch"),
        access("", "pods/eviction", "create"),
        access("", "persistentvolumes", "list"),
        access("", "persistentvolumeclaims", "get"),
        access("apps", "daemonsets", "list"),
        access("policy", "poddisruptionbudgets", "watch"),
        access("storage.k8s.io", "storageclasses", "get"),
        access("storage.k8s.io", "csinodes", "list"),
        access("storage.k8s.io", "volumeattachments", "watch"),
        access("", "events", "create"),
        access("events.k8s.io", "events", "patch"),
        access("apiextensions.k8s.io", "customresourcedefinitions", "get"),
    ];
    for a in granted {
        assert!(cluster_wide(a), "not granted: {a:?}");
    }
    let denied = [
        access("", "secrets", "get"),
        access("", "secrets", "list"),
        access("", "configmaps", "get"),
        access("", "pods", "create"),
        access("", "pods", "update"),
        access("", "nodes/proxy", "get"),
        access("karpenter.sh", "nodepools", "create"),
        access("karpenter.sh", "nodepools", "delete"),
        access("karpenter.k8s.aws", "ec2nodeclasses", "delete"),
        access(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "update",
        ),
        access("coordination.k8s.io", "leases", "create"),
        access("rbac.authorization.k8s.io", "clusterroles", "create"),
    ];
    for a in denied {
        assert!(!cluster_wide(a), "granted cluster-wide: {a:?}");
    }
}

#[tokio::test]
async fn the_roles_grant_one_lease_and_the_kube_dns_service() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    // Leader election: only the one Lease may be written, in the release namespace.
    let role = rendered.named("Role", "joist");
    assert_eq!(role["metadata"]["namespace"], "joist");
    let lease = "karpenter-leader-election";
    let rules = &role["rules"];
    assert!(allows(
        rules,
        access("coordination.k8s.io", "leases", "create")
    ));
    assert!(allows(
        rules,
        access_named("coordination.k8s.io", "leases", "get", lease)
    ));
    assert!(allows(
        rules,
        access_named("coordination.k8s.io", "leases", "update", lease)
    ));
    assert!(!allows(
        rules,
        access_named("coordination.k8s.io", "leases", "update", "other")
    ));
    assert!(!allows(
        rules,
        access_named("coordination.k8s.io", "leases", "delete", lease)
    ));
    let dns = rendered.named("Role", "joist-dns");
    assert_eq!(dns["metadata"]["namespace"], "kube-system");
    assert!(allows(
        &dns["rules"],
        access_named("", "services", "get", "kube-dns")
    ));
    assert!(!allows(
        &dns["rules"],
        access_named("", "services", "get", "other")
    ));
}

#[tokio::test]
async fn every_binding_binds_a_rendered_role_to_the_service_account() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let account = rendered.named("ServiceAccount", "joist");
    assert_eq!(account["metadata"]["namespace"], "joist");
    let subject = json!([{"kind": "ServiceAccount", "name": "joist", "namespace": "joist"}]);
    let bindings: Vec<(&Value, &str)> = rendered
        .all("ClusterRoleBinding")
        .into_iter()
        .map(|b| (b, "ClusterRole"))
        .chain(rendered.all("RoleBinding").into_iter().map(|b| (b, "Role")))
        .collect();
    assert_eq!(bindings.len(), 4, "{:?}", rendered.ids());
    for (binding, kind) in bindings {
        assert_eq!(binding["subjects"], subject, "{binding}");
        assert_eq!(binding["roleRef"]["kind"], kind, "{binding}");
        let role = rendered.named(kind, binding["roleRef"]["name"].as_str().unwrap_or("?"));
        assert_eq!(
            role["metadata"]["namespace"], binding["metadata"]["namespace"],
            "{binding}"
        );
    }
    // The aggregated role is for people, not for the controller.
    let admin = rendered.named("ClusterRole", "joist-admin");
    assert_eq!(
        admin["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
}

// === RBAC rule matching ===

/// One request as RBAC sees it: API group, resource (with subresource), verb, object name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access<'a> {
    /// API group ("" for the core group).
    pub group: &'a str,
    /// Resource, `pods/eviction` style for a subresource.
    pub resource: &'a str,
    /// Verb.
    pub verb: &'a str,
    /// The object's name, when the request names one.
    pub name: Option<&'a str>,
}

/// An access without an object name (list, watch, create, or any verb on any object).
pub fn access<'a>(group: &'a str, resource: &'a str, verb: &'a str) -> Access<'a> {
    Access {
        group,
        resource,
        verb,
        name: None,
    }
}

/// An access to one named object.
pub fn access_named<'a>(
    group: &'a str,
    resource: &'a str,
    verb: &'a str,
    name: &'a str,
) -> Access<'a> {
    Access {
        group,
        resource,
        verb,
        name: Some(name),
    }
}

/// Whether one of `rules` (a Role's or ClusterRole's `rules`) allows `access`, by RBAC's own
/// matching: the group, resource and verb must each be listed (the chart uses no `*`, which
/// the tests check separately), and a rule with `resourceNames` allows only requests naming
/// one of them.
pub fn allows(rules: &Value, access: Access<'_>) -> bool {
    let listed = |rule: &Value, field: &str, value: &str| -> bool {
        rule[field]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item == value))
    };
    rules.as_array().into_iter().flatten().any(|rule| {
        let names = rule["resourceNames"].as_array().filter(|n| !n.is_empty());
        let name_ok = match (names, access.name) {
            (None, _) => true,
            (Some(names), Some(name)) => names.iter().any(|n| n == name),
            (Some(_), None) => false,
        };
        listed(rule, "apiGroups", access.group)
            && listed(rule, "resources", access.resource)
            && listed(rule, "verbs", access.verb)
            && name_ok
    })
}

/// Every `*` in a rule's groups, resources, verbs or names, as `(role, field)` pairs.
pub fn wildcards(role: &Value) -> Vec<(String, String)> {
    let name = role["metadata"]["name"].as_str().unwrap_or("?").to_owned();
    let mut found = Vec::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        for field in [
            "apiGroups",
            "resources",
            "verbs",
            "resourceNames",
            "nonResourceURLs",
        ] {
            let items = rule[field].as_array().into_iter().flatten();
            for item in items {
                if item.as_str().is_some_and(|s| s.contains('*')) {
                    found.push((name.clone(), format!("{field}: {item}")));
                }
            }
        }
    }
    found
}

// === on a real API server ===

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
    installed_objects_were_accepted(&control_plane).await;
    authorizer_answers_as_expected(&control_plane.client()).await;
    acts_as_the_service_account(&control_plane).await;
}

/// The API server accepted every object: the CRDs from `crds/`, the Deployment, the budget,
/// and the ReplicaSet controller's pods passed admission (priority class, ServiceAccount);
/// they stay Pending, as nothing here runs them.
async fn installed_objects_were_accepted(control_plane: &ControlPlane) {
    let admin = control_plane.client();
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
}

/// Every [`ALLOWED`] request is allowed and every [`DENIED`] one denied, all reported at once.
async fn authorizer_answers_as_expected(admin: &kube::Client) {
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
        if !allowed(admin, ask).await {
            wrong.push(format!("denied but needed: {ask:?}"));
        }
    }
    for &ask in DENIED {
        if allowed(admin, ask).await {
            wrong.push(format!("allowed but not needed: {ask:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
