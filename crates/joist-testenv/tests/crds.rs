//! joist's CRDs on a real kube-apiserver (v1.34.10): the CRDs `joist crds` prints are accepted
//! and Established, every example object is created for real, and for every object joist
//! rejects (the examples under `examples/invalid/` and a table of the CEL rules of spec core
//! §1.1 and spec aws §1.1) the API server's `(path, message)` errors of a strict dry-run create
//! equal the lines `joist validate` prints. The update transition rules are checked against
//! `joist_api::nodepool::validate_update`. One control plane serves the whole file.

mod crds_support;

use std::path::PathBuf;
use std::time::Duration;

use crds_support::cel_table::{self, VALID, named, nodepool, patched};
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
    assert_eq!(
        crds.len(),
        3,
        "joist crds prints NodePool, NodeClaim, EC2NodeClass"
    );
    let url = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    for crd in crds {
        let (status, body) = request(client, Method::POST, url, Some(crd)).await;
        assert!(
            status.is_success(),
            "CRD {}: {status} {body}",
            crd["metadata"]["name"]
        );
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
            crd["spec"]["versions"][0]["name"]
                .as_str()
                .unwrap_or_default(),
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
        verdicts
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
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
        let root = repo_root();
        let source = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let objects = yaml_documents(&text);
        comparisons.extend(compare_objects(client, &source, &objects, verdicts).await);
    }
    assert!(files >= 9, "only {files} invalid examples with exit 1");
    comparisons
}

// === the CEL table ===

/// The table, judged by `joist validate -` in one run and by the server one object at a time.
/// Each case must also meet its expectation on the server, so that a case which no longer
/// exercises its rule (both sides accepting it, say) cannot pass unnoticed.
async fn compare_cel_table(client: &kube::Client, joist: &Joist) -> Vec<Comparison> {
    let cases = cel_table::cases();
    let objects: Vec<Value> = cases.iter().map(|case| case.object.clone()).collect();
    let stream: String = objects.iter().map(|o| format!("---\n{o}\n")).collect();
    let verdicts = joist.validate(None, &stream);
    let comparisons = compare_objects(client, "CEL table", &objects, verdicts).await;
    for (comparison, case) in comparisons.iter().zip(&cases) {
        let server = &comparison.server;
        let met = if case.expect == VALID {
            server.is_empty()
        } else {
            server
                .iter()
                .any(|(_, message)| message.ends_with(case.expect))
        };
        assert!(
            met,
            "{}: expected {:?}, the server said {server:?}",
            comparison.object, case.expect
        );
    }
    comparisons
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
        (
            "to-static",
            json!({}),
            json!({"spec": {"replicas": 1}}),
            TRANSITION,
        ),
        (
            "to-dynamic",
            json!({"spec": {"replicas": 1}}),
            json!({"spec": {"replicas": null}}),
            TRANSITION,
        ),
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
