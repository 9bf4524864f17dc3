//! joist's CRDs on a real kube-apiserver (v1.34.10): the CRDs `joist crds` prints are accepted
//! and Established, every example object is created for real, and for every object joist
//! rejects (the examples under `examples/invalid/` and a table of the CEL rules of spec core
//! §1.1 and spec aws §1.1) the API server's `(path, message)` errors of a strict dry-run create
//! equal the lines `joist validate` prints. The update transition rules are checked against
//! `joist_api::nodepool::validate_update`. One control plane serves the whole file.

mod crds_support;

use std::path::PathBuf;
use std::time::Duration;

use crds_support::{
    Answer, Errors, Joist, create, delete, object_id, replace_dry_run, repo_root, request,
    yaml_documents,
};
use http::{Method, StatusCode};
use joist_testenv::{ControlPlane, ControlPlaneOptions, eventually};
use serde_json::{Value, json};

/// Generous: the machine these run on is small and often busy.
const WAIT: Duration = Duration::from_secs(60);

/// One object both sides judged, and their verdicts.
#[derive(Debug)]
struct Comparison {
    source: String,
    object: String,
    joist: Errors,
    server: Errors,
}

impl Comparison {
    fn matches(&self) -> bool {
        self.joist == self.server
    }

    fn describe(&self) -> String {
        let lines = |errors: &Errors| -> String {
            errors
                .iter()
                .map(|(path, message)| format!("\n      {path}: {message}"))
                .collect()
        };
        format!(
            "{} {}\n   joist:{}\n   server:{}",
            self.source,
            self.object,
            lines(&self.joist),
            lines(&self.server)
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_enforces_joists_crds_as_joist_validate_does() {
    // cargo and the control plane start side by side; either failing fails the test.
    let joist = tokio::task::spawn_blocking(Joist::build);
    let control_plane = ControlPlane::start_with(ControlPlaneOptions {
        kwok: false,
        ..ControlPlaneOptions::default()
    })
    .await
    .unwrap_or_else(|err| panic!("control plane did not start: {err}"));
    let joist = joist.await.expect("building joist");
    let client = control_plane.client();

    install_crds(&client, &joist.crds()).await;
    create_valid_examples(&client, &joist).await;

    let mut comparisons = compare_invalid_examples(&client, &joist).await;
    let invalid_examples = comparisons.len();
    comparisons.extend(compare_cel_table(&client, &joist).await);
    comparisons.extend(compare_transitions(&client).await);

    let mismatches: Vec<String> = comparisons
        .iter()
        .filter(|c| !c.matches())
        .map(Comparison::describe)
        .collect();
    eprintln!(
        "compared {} objects ({invalid_examples} from examples/invalid, the rest built here): {} matched exactly",
        comparisons.len(),
        comparisons.len() - mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "joist and the API server disagree on {} objects:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

// === CRDs ===

/// Creates the CRDs and waits until each is Established and its resource is served.
async fn install_crds(client: &kube::Client, crds: &[Value]) {
    assert_eq!(crds.len(), 3, "joist crds prints NodePool, NodeClaim, EC2NodeClass");
    let url = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    for crd in crds {
        let (status, body) = request(client, Method::POST, url, Some(crd)).await;
        assert!(status.is_success(), "CRD {}: {status} {body}", crd["metadata"]["name"]);
    }
    for crd in crds {
        let name = crd["metadata"]["name"].as_str().expect("CRDs are named");
        eventually(&format!("CRD {name} Established"), WAIT, || async move {
            let (_, body) = request(client, Method::GET, &format!("{url}/{name}"), None).await;
            let conditions = body["status"]["conditions"].as_array()?;
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
                .then_some(())
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"));
        let served = format!(
            "/apis/{}/{}/{}",
            crd["spec"]["group"].as_str().unwrap_or_default(),
            crd["spec"]["versions"][0]["name"].as_str().unwrap_or_default(),
            crd["spec"]["names"]["plural"].as_str().unwrap_or_default()
        );
        eventually(&format!("{served} served"), WAIT, || {
            let served = served.clone();
            async move {
                let (status, _) = request(client, Method::GET, &served, None).await;
                (status == StatusCode::OK).then_some(())
            }
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    }
}

// === examples ===

fn manifests(dir: &str) -> Vec<PathBuf> {
    let dir = repo_root().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every object of `examples/*.yaml` is valid for joist and created for real by the server.
async fn create_valid_examples(client: &kube::Client, joist: &Joist) {
    let files = manifests("examples");
    assert!(files.len() >= 9, "examples are missing: {files:?}");
    for file in files {
        let verdicts = joist.validate(Some(&file), "");
        assert!(
            verdicts.iter().all(|(_, errors)| errors.is_empty()),
            "{}: {verdicts:?}",
            file.display()
        );
        for object in yaml_documents(&read(&file)) {
            let answer = create(client, &object, false).await;
            assert!(
                matches!(answer, Answer::Accepted(_)),
                "{} {}: {answer:?}",
                file.display(),
                object_id(&object)
            );
            delete(client, &object).await;
        }
    }
}

/// Dry-runs every object of `objects` and pairs the server's errors with joist's verdicts
/// (same document order).
async fn compare_objects(
    client: &kube::Client,
    source: &str,
    objects: &[Value],
    verdicts: Vec<(String, Errors)>,
) -> Vec<Comparison> {
    assert_eq!(
        objects.iter().map(object_id).collect::<Vec<_>>(),
        verdicts.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        "{source}: joist's objects are the manifest's"
    );
    let mut comparisons = Vec::new();
    for (object, (id, joist)) in objects.iter().zip(verdicts) {
        let server = create(client, object, true).await.errors();
        comparisons.push(Comparison {
            source: source.to_owned(),
            object: id,
            joist,
            server,
        });
    }
    comparisons
}

/// The files under `examples/invalid/` that joist reads (exit 1, not 2: an unreadable
/// document never reaches the server as an object), every object of them.
async fn compare_invalid_examples(client: &kube::Client, joist: &Joist) -> Vec<Comparison> {
    let mut comparisons = Vec::new();
    let mut files = 0;
    for file in manifests("examples/invalid") {
        let text = read(&file);
        if !text.lines().any(|line| line == "# expect-exit: 1") {
            continue;
        }
        files += 1;
        let verdicts = joist.validate(Some(&file), "");
        let source = file.display().to_string();
        let objects = yaml_documents(&text);
        comparisons.extend(compare_objects(client, &source, &objects, verdicts).await);
    }
    assert!(files >= 9, "only {files} invalid examples with exit 1");
    comparisons
}

// === the CEL table ===

/// Applies an RFC 7386 merge patch: objects merge, `null` removes, anything else replaces.
fn patched(mut base: Value, patch: &Value) -> Value {
    merge(&mut base, patch);
    base
}

fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// `base` named `name`, with `patch` applied.
fn named(base: Value, name: &str, patch: &Value) -> Value {
    patched(patched(base, &json!({"metadata": {"name": name}})), patch)
}

fn node_class_ref() -> Value {
    json!({"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"})
}

fn nodepool() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "base"},
        "spec": {"template": {"spec": {"requirements": [], "nodeClassRef": node_class_ref()}}}
    })
}

fn nodeclaim() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": {"name": "base"},
        "spec": {"requirements": [], "nodeClassRef": node_class_ref()}
    })
}

fn ec2nodeclass() -> Value {
    let discovery = json!([{"tags": {"karpenter.sh/discovery": "my-cluster"}}]);
    json!({
        "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "base"},
        "spec": {
            "role": "KarpenterNodeRole-my-cluster",
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": discovery, "securityGroupSelectorTerms": discovery
        }
    })
}

fn template_labels(labels: Value) -> Value {
    json!({"spec": {"template": {"metadata": {"labels": labels}}}})
}

fn requirements(requirements: Value) -> Value {
    json!({"spec": {"template": {"spec": {"requirements": requirements}}}})
}

fn requirement(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"key": key, "operator": operator, "values": values})
}

/// At least one NodePool/NodeClaim case per CEL message of spec core §1.1 (the transition
/// rules are in [`compare_transitions`]), the AWS label domain, and valid neighbours.
fn core_cases() -> Vec<Value> {
    let np = |name: &str, patch: Value| named(nodepool(), name, &patch);
    let nc = |name: &str, patch: Value| named(nodeclaim(), name, &patch);
    let budgets = |budgets: Value| json!({"spec": {"disruption": {"budgets": budgets}}});
    let one = |r: Value| requirements(json!([r]));
    vec![
        np("static-limits", json!({"spec": {"replicas": 1, "limits": {"cpu": "4"}}})),
        np("static-weight", json!({"spec": {"replicas": 1, "weight": 5}})),
        np("static-nodes-limit", json!({"spec": {"replicas": 1, "limits": {"nodes": "3"}}})),
        np("schedule-no-duration", budgets(json!([{"nodes": "1", "schedule": "@daily"}]))),
        np("duration-no-schedule", budgets(json!([{"nodes": "1", "duration": "1h"}]))),
        np("label-karpenter-sh", template_labels(json!({"karpenter.sh/team": "a"}))),
        np("label-sub-karpenter-sh", template_labels(json!({"x.karpenter.sh/team": "a"}))),
        np("label-endswith-quirk", template_labels(json!({"notkarpenter.sh/team": "a"}))),
        np("label-nodepool", template_labels(json!({"karpenter.sh/nodepool": "a"}))),
        np("label-hostname", template_labels(json!({"kubernetes.io/hostname": "a"}))),
        np("label-capacity-type", template_labels(json!({"karpenter.sh/capacity-type": "spot"}))),
        np("label-aws-domain", template_labels(json!({"karpenter.k8s.aws/team": "a"}))),
        np("label-aws-tenancy", template_labels(json!({"karpenter.k8s.aws/instance-tenancy": "default"}))),
        np("req-karpenter-sh", one(requirement("karpenter.sh/team", "Exists", &[]))),
        np("req-nodepool", one(requirement("karpenter.sh/nodepool", "In", &["a"]))),
        np("req-hostname", one(requirement("kubernetes.io/hostname", "In", &["a"]))),
        np("req-aws-domain", one(requirement("karpenter.k8s.aws/team", "Exists", &[]))),
        np("req-aws-family", one(requirement("karpenter.k8s.aws/instance-family", "In", &["m5"]))),
        np("req-in-empty", one(requirement("example.com/a", "In", &[]))),
        np("req-in-no-values", one(json!({"key": "example.com/a", "operator": "In"}))),
        np("req-gt-word", one(requirement("example.com/a", "Gt", &["a"]))),
        np("req-lt-two", one(requirement("example.com/a", "Lt", &["1", "2"]))),
        np("req-gte-negative", one(requirement("example.com/a", "Gte", &["-1"]))),
        np("req-lte-none", one(requirement("example.com/a", "Lte", &[]))),
        np("req-min-values", one(json!({"key": "example.com/a", "operator": "In", "values": ["a"], "minValues": 2}))),
        np("ref-empty", json!({"spec": {"template": {"spec": {"nodeClassRef": {"group": "", "kind": "", "name": ""}}}}})),
        nc("claim-hostname", json!({"spec": {"requirements": [requirement("kubernetes.io/hostname", "In", &["a"])]}})),
        nc("claim-nodepool", json!({"spec": {"requirements": [requirement("karpenter.sh/nodepool", "In", &["a"])]}})),
        nc("claim-in-empty", json!({"spec": {"requirements": [requirement("example.com/a", "In", &[])]}})),
        nc("claim-ref-empty", json!({"spec": {"nodeClassRef": {"group": "", "kind": "", "name": ""}}})),
    ]
}

/// spec aws §1.1: the restricted tags, the AMI alias rules and the selector-term exclusions.
fn aws_cases() -> Vec<Value> {
    let class = |name: &str, patch: Value| named(ec2nodeclass(), name, &patch);
    let tags = |key: &str| json!({"spec": {"tags": {key: "x"}}});
    let ami = |terms: Value| json!({"spec": {"amiSelectorTerms": terms}});
    let alias_with = |alias: &str, family: &str| {
        json!({"spec": {"amiSelectorTerms": [{"alias": alias}], "amiFamily": family}})
    };
    vec![
        class("tag-eks-cluster-name", tags("eks:eks-cluster-name")),
        class("tag-kubernetes-cluster", tags("kubernetes.io/cluster/my-cluster")),
        class("tag-nodepool", tags("karpenter.sh/nodepool")),
        class("tag-nodeclaim", tags("karpenter.sh/nodeclaim")),
        class("tag-ec2nodeclass", tags("karpenter.k8s.aws/ec2nodeclass")),
        class("tag-empty-key", tags("")),
        class("tag-allowed", tags("team")),
        class("alias-and-other-term", ami(json!([{"alias": "al2023@latest"}, {"id": "ami-123"}]))),
        class("alias-and-tags", ami(json!([{"alias": "al2023@latest", "tags": {"a": "b"}}]))),
        class("alias-no-version", ami(json!([{"alias": "al2023"}]))),
        class("alias-unknown-family", ami(json!([{"alias": "ubuntu@latest"}]))),
        class("alias-windows-version", ami(json!([{"alias": "windows2022@v1"}]))),
        class("alias-al2023-family-al2", alias_with("al2023@latest", "AL2")),
        class("alias-al2-family-al2023", alias_with("al2@latest", "AL2023")),
        class("alias-bottlerocket-family", alias_with("bottlerocket@latest", "AL2023")),
        class("alias-windows2019-family", alias_with("windows2019@latest", "AL2")),
        class("alias-windows2022-family", alias_with("windows2022@latest", "AL2")),
        class("alias-windows2025-family", alias_with("windows2025@latest", "AL2")),
        class("alias-custom-family", alias_with("al2023@latest", "Custom")),
        class("no-alias-no-family", ami(json!([{"id": "ami-123"}]))),
        class("ami-id-and-name", json!({"spec": {"amiSelectorTerms": [{"id": "ami-123", "name": "x"}], "amiFamily": "AL2023"}})),
        class("ami-empty-term", json!({"spec": {"amiSelectorTerms": [{}], "amiFamily": "AL2023"}})),
        class("role-and-profile", json!({"spec": {"instanceProfile": "profile"}})),
        class("no-role-no-profile", json!({"spec": {"role": null}})),
        class("subnet-id-and-tags", json!({"spec": {"subnetSelectorTerms": [{"id": "subnet-1", "tags": {"a": "b"}}]}})),
        class("sg-name-and-id", json!({"spec": {"securityGroupSelectorTerms": [{"id": "sg-1", "name": "x"}]}})),
    ]
}

/// The table, judged by `joist validate -` in one run and by the server one object at a time.
async fn compare_cel_table(client: &kube::Client, joist: &Joist) -> Vec<Comparison> {
    let objects: Vec<Value> = core_cases().into_iter().chain(aws_cases()).collect();
    let stream: String = objects.iter().map(|o| format!("---\n{o}\n")).collect();
    let verdicts = joist.validate(None, &stream);
    compare_objects(client, "CEL table", &objects, verdicts).await
}

// === update transitions ===

/// Updates of a stored NodePool: the server's errors against `validate_update`'s, plus the
/// upstream message each transition must carry.
async fn compare_transitions(client: &kube::Client) -> Vec<Comparison> {
    let group = json!({"spec": {"template": {"spec": {"nodeClassRef": {"group": "example.com"}}}}});
    let kind = json!({"spec": {"template": {"spec": {"nodeClassRef": {"kind": "OtherClass"}}}}});
    let cases = [
        ("group", json!({}), group, "nodeClassRef.group is immutable"),
        ("kind", json!({}), kind, "nodeClassRef.kind is immutable"),
        ("to-static", json!({}), json!({"spec": {"replicas": 1}}), TRANSITION),
        ("to-dynamic", json!({"spec": {"replicas": 1}}), json!({"spec": {"replicas": null}}), TRANSITION),
    ];
    let mut comparisons = Vec::new();
    for (name, old_patch, change, message) in cases {
        let old = named(nodepool(), &format!("update-{name}"), &old_patch);
        let Answer::Accepted(stored) = create(client, &old, false).await else {
            panic!("cannot create {}", object_id(&old));
        };
        let new = patched(stored.clone(), &change);
        let server = replace_dry_run(client, &new).await.errors();
        delete(client, &old).await;
        assert!(
            server.iter().any(|(_, m)| m.ends_with(message)),
            "{name}: the server's errors {server:?} lack {message:?}"
        );
        comparisons.push(Comparison {
            source: "update".to_owned(),
            object: object_id(&old),
            joist: joist_update_errors(&stored, &new),
            server,
        });
    }
    comparisons
}

/// Upstream's message for switching a NodePool between static and dynamic.
const TRANSITION: &str = "Cannot transition NodePool between static (replicas set) and dynamic (replicas unset) provisioning modes";

fn joist_update_errors(old: &Value, new: &Value) -> Errors {
    let parse = |object: &Value| -> joist_api::nodepool::NodePool {
        serde_json::from_value(object.clone()).unwrap_or_else(|err| panic!("{err}: {object}"))
    };
    let mut errors: Errors = joist_api::nodepool::validate_update(&parse(old), &parse(new))
        .into_iter()
        .map(|error| (error.path, error.message))
        .collect();
    errors.sort();
    errors
}
