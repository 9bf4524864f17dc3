//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

use crate::Component;

/// Why the control plane (or one of its helpers) could not be built, started or used.
///
/// Startup errors carry the tails of every component's log, so a failing test shows why
/// the apiserver or etcd gave up without anyone having to keep the temporary directory.
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// `hack/controlplane/build.sh` could not be started at all.
    #[error("could not run {script}: {source}")]
    BuildScriptSpawn {
        /// Path of the build script.
        script: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// `hack/controlplane/build.sh` exited non-zero; its progress and the Go compiler's
    /// messages went to this process's stderr.
    #[error("{script} {args} failed with {status} (its output is above)")]
    BuildFailed {
        /// Path of the build script.
        script: PathBuf,
        /// The binary names it was asked for.
        args: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },

    /// The build script succeeded but did not name a binary it was asked for, or named a
    /// path that is not there.
    #[error("{script} did not produce {name}: {reason}")]
    BinaryMissing {
        /// Path of the build script.
        script: PathBuf,
        /// The binary that is missing.
        name: String,
        /// What was wrong with the script's answer.
        reason: String,
    },

    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file or address.
        context: String,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// Generating the per-run CA, certificates or service-account key failed.
    #[error("generating {what}: {source}")]
    Certificate {
        /// Which key or certificate.
        what: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },

    /// A component's process could not be started.
    #[error("could not start {component} ({program}): {source}")]
    Spawn {
        /// The component.
        component: Component,
        /// The binary that was executed.
        program: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// A component exited while the control plane was starting.
    #[error("{component} exited during startup ({status})\n{logs}")]
    ComponentExited {
        /// The component that exited.
        component: Component,
        /// Its exit status.
        status: String,
        /// The tails of every component's log.
        logs: String,
    },

    /// A component did not report healthy before the startup deadline.
    #[error("{component} was not ready after {waited:?} (last probe: {last_probe})\n{logs}")]
    NotReady {
        /// The component that was waited for.
        component: Component,
        /// How long startup had run when it gave up.
        waited: Duration,
        /// The last probe's answer or error.
        last_probe: String,
        /// The tails of every component's log.
        logs: String,
    },

    /// A kubeconfig this crate wrote could not be loaded by kube-rs.
    #[error("loading kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// kube-rs's reason.
        source: kube::config::KubeconfigError,
    },

    /// A Kubernetes API call failed.
    #[error("{context}: {source}")]
    Kube {
        /// What was being done.
        context: String,
        /// kube-rs's reason.
        source: kube::Error,
    },

    /// The TokenRequest API answered without a token.
    #[error("the token request for ServiceAccount {namespace}/{name} returned no token")]
    NoToken {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        name: String,
    },

    /// Waiting for an object to reach a state took longer than allowed.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it waited.
        waited: Duration,
    },
}

impl TestEnvError {
    /// An [`TestEnvError::Io`] naming what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A [`TestEnvError::Kube`] naming what was being done.
    pub(crate) fn kube(context: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            context: context.into(),
            source,
        }
    }
}
