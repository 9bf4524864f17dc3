//! Finding (and, on a cold machine, building) the Kubernetes binaries through
//! `hack/controlplane/build.sh`, which keeps them in `~/.cache/joist/bin` keyed by version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::{Component, TestEnvError};

/// Paths of the binaries a [`crate::ControlPlane`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// etcd.
    pub etcd: PathBuf,
    /// kube-apiserver.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager.
    pub kube_controller_manager: PathBuf,
    /// kube-scheduler.
    pub kube_scheduler: PathBuf,
    /// kwok; `None` when it was not asked for.
    pub kwok: Option<PathBuf>,
}

impl Binaries {
    /// Runs the build script for the control-plane binaries (and kwok when `with_kwok`)
    /// and returns their paths. Warm, this only reads the cache; cold, it compiles
    /// Kubernetes from the Go module proxy, which takes tens of minutes on two cores
    /// (docs/testenv.md has the figures). Concurrent callers are serialised by the
    /// script's lock file.
    pub async fn ensure(with_kwok: bool) -> Result<Self, TestEnvError> {
        let mut names: Vec<&str> = Component::ALL
            .iter()
            .filter(|component| with_kwok || **component != Component::Kwok)
            .map(|component| component.name())
            .collect();
        names.sort_unstable();
        let mut paths = run_build_script(&names).await?;
        let mut take = |component: Component| take_path(&mut paths, component.name());
        Ok(Self {
            etcd: take(Component::Etcd)?,
            kube_apiserver: take(Component::KubeApiserver)?,
            kube_controller_manager: take(Component::KubeControllerManager)?,
            kube_scheduler: take(Component::KubeScheduler)?,
            kwok: if with_kwok {
                Some(take(Component::Kwok)?)
            } else {
                None
            },
        })
    }

    /// The path of a component's binary, `None` for kwok when it was not asked for.
    pub fn path(&self, component: Component) -> Option<&Path> {
        match component {
            Component::Etcd => Some(&self.etcd),
            Component::KubeApiserver => Some(&self.kube_apiserver),
            Component::KubeControllerManager => Some(&self.kube_controller_manager),
            Component::KubeScheduler => Some(&self.kube_scheduler),
            Component::Kwok => self.kwok.as_deref(),
        }
    }
}

/// Runs the build script for helm (which the control plane itself does not need) and
/// returns its path; used by tests that install joist's chart.
pub async fn helm() -> Result<PathBuf, TestEnvError> {
    let mut paths = run_build_script(&["helm"]).await?;
    take_path(&mut paths, "helm")
}

/// `hack/controlplane/build.sh` of the repository this crate was compiled from.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/controlplane/build.sh")
}

/// Runs the build script for `names` and returns the `NAME=PATH` lines it printed.
/// Its stderr (progress, compiler errors) is passed through so a cold build is visible.
async fn run_build_script(names: &[&str]) -> Result<BTreeMap<String, PathBuf>, TestEnvError> {
    let script = build_script();
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .args(names)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| TestEnvError::BuildScriptSpawn {
            script: script.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(TestEnvError::BuildFailed {
            script,
            args: names.join(" "),
            status: output.status,
        });
    }
    Ok(parse_build_output(&String::from_utf8_lossy(&output.stdout)))
}

/// Reads the script's `NAME=PATH` lines; anything else on stdout is ignored.
fn parse_build_output(stdout: &str) -> BTreeMap<String, PathBuf> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, path)| (name.trim().to_owned(), PathBuf::from(path.trim())))
        .collect()
}

/// Removes `name` from the script's answer, checking the file is there.
fn take_path(paths: &mut BTreeMap<String, PathBuf>, name: &str) -> Result<PathBuf, TestEnvError> {
    let missing = |reason: String| TestEnvError::BinaryMissing {
        script: build_script(),
        name: name.to_owned(),
        reason,
    };
    let path = paths
        .remove(name)
        .ok_or_else(|| missing("no NAME=PATH line for it".to_owned()))?;
    if !path.is_file() {
        return Err(missing(format!("{} is not a file", path.display())));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_lines_map_names_to_paths() {
        let paths = parse_build_output(
            "etcd=/cache/etcd-v3.6.4\nnoise without equals\nkwok=/cache/kwok-v0.8.0\n",
        );
        assert_eq!(paths.len(), 2);
        assert_eq!(paths["etcd"], PathBuf::from("/cache/etcd-v3.6.4"));
        assert_eq!(paths["kwok"], PathBuf::from("/cache/kwok-v0.8.0"));
    }

    #[test]
    fn a_name_the_script_did_not_print_is_an_error() {
        let mut paths = parse_build_output("etcd=/cache/etcd\n");
        let err = take_path(&mut paths, "kube-apiserver").unwrap_err();
        assert!(
            matches!(&err, TestEnvError::BinaryMissing { name, .. } if name == "kube-apiserver"),
            "{err}"
        );
    }

    #[test]
    fn a_path_that_is_not_a_file_is_an_error() {
        let mut paths = parse_build_output("etcd=/nonexistent/joist-testenv/etcd\n");
        let err = take_path(&mut paths, "etcd").unwrap_err();
        assert!(err.to_string().contains("is not a file"), "{err}");
    }

    #[test]
    fn the_build_script_is_part_of_the_repository() {
        assert!(build_script().is_file(), "{}", build_script().display());
    }
}
