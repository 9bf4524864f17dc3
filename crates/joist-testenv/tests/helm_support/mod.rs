//! Helpers of `tests/helm.rs` and `tests/helm_rbac.rs`: helm itself (the pinned binary from
//! `hack/controlplane/build.sh`, run with its own empty home so the user's repositories and
//! plugins play no part) and the rendered chart as JSON objects.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tempfile::TempDir;

/// The chart under test.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/joist")
}

/// Parses every non-empty document of a YAML stream.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|err| panic!("unreadable YAML: {err}\n{text}"))
        })
        .filter(|document: &Value| !document.is_null())
        .collect()
}

// === impl Helm ===

/// The helm binary and a private home (cache, config, data) for this test.
#[derive(Debug)]
pub struct Helm {
    binary: PathBuf,
    home: TempDir,
}

/// What one helm run printed.
#[derive(Debug)]
pub struct HelmOutput {
    /// Whether helm exited 0.
    pub success: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Helm {
    /// Finds (or, on a cold machine, builds) helm; panics when it cannot: the tests must not
    /// skip.
    pub async fn new() -> Self {
        let binary = joist_testenv::helm()
            .await
            .unwrap_or_else(|err| panic!("helm is not available: {err}"));
        let home = tempfile::Builder::new()
            .prefix("joist-helm-test-")
            .tempdir()
            .expect("a temporary directory for helm's home");
        Self { binary, home }
    }

    /// Runs helm with `args`.
    pub async fn run(&self, args: &[&str]) -> HelmOutput {
        let home = self.home.path();
        let output = tokio::process::Command::new(&self.binary)
            .args(args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|err| panic!("running {}: {err}", self.binary.display()));
        HelmOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Writes `text` into helm's home under `name` and returns its path (a values file).
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        path
    }

    /// `helm template <release> charts/joist --namespace <namespace> <extra>`, which must
    /// succeed, parsed.
    pub async fn template(&self, release: &str, namespace: &str, extra: &[&str]) -> Rendered {
        let chart = chart_dir();
        let chart = chart.to_str().expect("a UTF-8 checkout path");
        let mut args = vec!["template", release, chart, "--namespace", namespace];
        args.extend_from_slice(extra);
        let output = self.run(&args).await;
        assert!(
            output.success,
            "helm {}\n{}{}",
            args.join(" "),
            output.stdout,
            output.stderr
        );
        Rendered {
            objects: yaml_documents(&output.stdout),
        }
    }
}

// === impl Rendered ===

/// The objects a `helm template` printed.
#[derive(Debug)]
pub struct Rendered {
    /// Every object, in the order helm printed them.
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Every object of a kind.
    pub fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of a kind; panics unless there is exactly one.
    pub fn one(&self, kind: &str) -> &Value {
        let found = self.all(kind);
        assert_eq!(found.len(), 1, "expected one {kind}, got {found:#?}");
        found[0]
    }

    /// The object of a kind and name; panics when it is missing.
    pub fn named(&self, kind: &str, name: &str) -> &Value {
        self.all(kind)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} among {:?}", self.ids()))
    }

    /// `Kind/name` of every object.
    pub fn ids(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    /// The controller container of the one Deployment.
    pub fn controller(&self) -> &Value {
        &self.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    }

    /// The literal value of a controller environment variable, `None` when it is not set
    /// (or set from a field reference). Panics when it is set twice: which one wins would
    /// then be up to the kubelet.
    pub fn env(&self, name: &str) -> Option<String> {
        let entries: Vec<&Value> = self.controller()["env"]
            .as_array()
            .expect("the controller has an env list")
            .iter()
            .filter(|entry| entry["name"] == name)
            .collect();
        assert!(entries.len() <= 1, "{name} is set twice: {entries:?}");
        entries
            .first()
            .and_then(|entry| entry["value"].as_str())
            .map(str::to_owned)
    }

    /// The names of the controller's environment variables, in order.
    pub fn env_names(&self) -> Vec<String> {
        self.controller()["env"]
            .as_array()
            .expect("the controller has an env list")
            .iter()
            .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
            .collect()
    }
}
