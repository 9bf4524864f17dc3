//! Helpers of `tests/crds.rs`: the built `joist` binary (`joist crds`, `joist validate`), raw
//! requests to the API server, and both sides' errors as comparable `(path, message)` lists.

pub mod cel_table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use http::{Method, Request, StatusCode};
use serde_json::Value;

/// One object's errors as `(path, message)`, sorted: the API server and joist may list the
/// errors of one object in different orders (the server sorts unknown fields, for one), so only
/// the multiset is compared.
pub type Errors = Vec<(String, String)>;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parses every non-empty document of a YAML stream.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|err| panic!("unreadable YAML: {err}"))
        })
        .filter(|document: &Value| !document.is_null())
        .collect()
}

/// `Kind/name` of an object, as joist prints it.
pub fn object_id(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

// === impl Joist ===

/// The `joist` binary, built by cargo from this workspace.
#[derive(Debug)]
pub struct Joist {
    exe: PathBuf,
}

impl Joist {
    /// Builds `joist` (a no-op when it is up to date) and panics with cargo's output when it
    /// cannot be built: the test must not skip.
    pub fn build() -> Self {
        let output = Command::new(env!("CARGO"))
            .args(["build", "-p", "joist", "--bin", "joist"])
            .arg("--message-format=json-render-diagnostics")
            .current_dir(repo_root())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|err| panic!("cannot run cargo: {err}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo build -p joist failed:\n{stdout}"
        );
        let exe = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter(|message| message["target"]["name"] == "joist")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .unwrap_or_else(|| panic!("cargo reported no joist executable:\n{stdout}"));
        Self { exe }
    }

    /// Runs joist with `args` and `stdin`; returns its exit code and standard output.
    fn run(&self, args: &[&str], stdin: &[u8]) -> (i32, String) {
        let mut child = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.exe.display()));
        let mut input = child.stdin.take().expect("stdin is piped");
        input.write_all(stdin).expect("joist reads its input");
        drop(input);
        let output = child.wait_with_output().expect("joist runs to the end");
        let code = output.status.code().expect("joist exits, not killed");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(code <= 1, "joist {args:?} exited {code}: {stderr}");
        (code, String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The CRDs `joist crds` prints.
    pub fn crds(&self) -> Vec<Value> {
        let (code, stdout) = self.run(&["crds"], b"");
        assert_eq!(code, 0, "joist crds failed");
        yaml_documents(&stdout)
    }

    /// `joist validate` of a manifest file or, with `None`, of `stdin`: each object's `Kind/name`
    /// and errors (empty when joist prints `valid:`), in document order.
    pub fn validate(&self, file: Option<&Path>, stdin: &str) -> Vec<(String, Errors)> {
        let file = file.map_or("-".to_owned(), |path| path.display().to_string());
        let (_, stdout) = self.run(&["validate", "-f", &file], stdin.as_bytes());
        parse_validate_output(&stdout)
    }
}

/// Groups `joist validate` lines per object: `valid: K/n` is one object without errors; the
/// consecutive `K/n: <path>: <message>` lines of one object are its errors.
fn parse_validate_output(stdout: &str) -> Vec<(String, Errors)> {
    let mut objects: Vec<(String, Errors)> = Vec::new();
    let mut open = false;
    for line in stdout.lines() {
        if let Some(id) = line.strip_prefix("valid: ") {
            objects.push((id.to_owned(), Vec::new()));
            open = false;
            continue;
        }
        let (id, error) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("unexpected joist line {line:?}"));
        let (path, message) = error
            .split_once(": ")
            .unwrap_or_else(|| panic!("unexpected joist line {line:?}"));
        let error = (path.to_owned(), message.to_owned());
        match objects.last_mut() {
            Some((last, errors)) if open && last == id => errors.push(error),
            _ => objects.push((id.to_owned(), vec![error])),
        }
        open = true;
    }
    for (_, errors) in &mut objects {
        errors.sort();
    }
    objects
}

// === impl Server ===

/// What the API server answered to a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted; the stored (or, for a dry run, would-be stored) object.
    Accepted(Value),
    /// Refused with field errors.
    Refused(Errors),
}

impl Answer {
    /// The errors: none when accepted.
    pub fn errors(&self) -> Errors {
        match self {
            Self::Accepted(_) => Vec::new(),
            Self::Refused(errors) => errors.clone(),
        }
    }
}

/// The collection URL of an object's kind (all three kinds are cluster scoped).
pub fn collection_url(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let plural = match object["kind"].as_str().unwrap_or_default() {
        "NodePool" => "nodepools",
        "NodeClaim" => "nodeclaims",
        "EC2NodeClass" => "ec2nodeclasses",
        other => panic!("not a joist kind: {other}"),
    };
    format!("/apis/{api_version}/{plural}")
}

/// Sends one JSON request and returns the status code and the JSON body.
pub async fn request(
    client: &kube::Client,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let bytes = body.map_or_else(Vec::new, |body| body.to_string().into_bytes());
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .body(kube::client::Body::from(bytes))
        .expect("a well-formed request");
    let response = client
        .send(request)
        .await
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json)
}

/// Creates `object` with strict field validation, for real or as a dry run.
pub async fn create(client: &kube::Client, object: &Value, dry_run: bool) -> Answer {
    let dry_run = if dry_run { "&dryRun=All" } else { "" };
    let url = format!("{}?fieldValidation=Strict{dry_run}", collection_url(object));
    answer(request(client, Method::POST, &url, Some(object)).await)
}

/// Replaces the stored object of `object`'s name (which carries its `resourceVersion`) with
/// `object`, as a dry run.
pub async fn replace_dry_run(client: &kube::Client, object: &Value) -> Answer {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let url = format!(
        "{}/{name}?fieldValidation=Strict&dryRun=All",
        collection_url(object)
    );
    answer(request(client, Method::PUT, &url, Some(object)).await)
}

/// Deletes the object named like `object`.
pub async fn delete(client: &kube::Client, object: &Value) {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let url = format!("{}/{name}", collection_url(object));
    let (status, body) = request(client, Method::DELETE, &url, None).await;
    assert!(status.is_success(), "DELETE {url}: {status} {body}");
}

fn answer((status, body): (StatusCode, Value)) -> Answer {
    if status.is_success() {
        Answer::Accepted(body)
    } else {
        Answer::Refused(status_errors(status, &body))
    }
}

/// The field errors of a refusal (`metav1.Status`).
///
/// - `422 Invalid`: one `details.causes` entry per error, `field` and `message` as joist prints
///   them (a cause without a field is the `<nil>` path, as Go prints a nil field path).
/// - `400 BadRequest` from strict decoding: the server checks nothing else and lists the unknown
///   fields only inside its message (`strict decoding error: unknown field "a", unknown field
///   "b"`); joist prints one `<path>: unknown field "<path>"` line per field, so each is turned
///   into that pair. This is the one documented difference of shape.
/// - Anything else is kept whole as a `?` path so that it shows in the comparison.
fn status_errors(status: StatusCode, body: &Value) -> Errors {
    let message = body["message"].as_str().unwrap_or_default();
    let mut errors: Errors = if let Some(causes) = body["details"]["causes"].as_array()
        && status == StatusCode::UNPROCESSABLE_ENTITY
    {
        causes
            .iter()
            .map(|cause| {
                let field = cause["field"].as_str().filter(|field| !field.is_empty());
                (
                    field.unwrap_or("<nil>").to_owned(),
                    cause["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    } else if let Some((_, fields)) = message.split_once("strict decoding error: ") {
        fields
            .split(", ")
            .map(|field| {
                let path = field
                    .strip_prefix("unknown field \"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .unwrap_or(field);
                (path.to_owned(), field.to_owned())
            })
            .collect()
    } else {
        vec![("?".to_owned(), format!("{status}: {message}"))]
    };
    errors.sort();
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joist_lines_group_per_object_in_order() {
        let stdout =
            "valid: A/x\nB/y: spec: one\nB/y: <nil>: Invalid value: null: two\nvalid: B/y\n";
        assert_eq!(
            parse_validate_output(stdout),
            vec![
                ("A/x".to_owned(), vec![]),
                (
                    "B/y".to_owned(),
                    vec![
                        ("<nil>".to_owned(), "Invalid value: null: two".to_owned()),
                        ("spec".to_owned(), "one".to_owned()),
                    ]
                ),
                ("B/y".to_owned(), vec![]),
            ]
        );
    }

    #[test]
    fn strict_decoding_errors_become_one_error_per_unknown_field() {
        let body = serde_json::json!({"message":
            "NodePool in version \"v1\" cannot be handled as a NodePool: strict decoding error: unknown field \"spec.b\", unknown field \"spec.a\""});
        assert_eq!(
            status_errors(StatusCode::BAD_REQUEST, &body),
            vec![
                ("spec.a".to_owned(), "unknown field \"spec.a\"".to_owned()),
                ("spec.b".to_owned(), "unknown field \"spec.b\"".to_owned()),
            ]
        );
    }
}
