//! Test-only: a real Kubernetes control plane for joist's end-to-end tests.
//!
//! [`ControlPlane::start`] runs etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler and kwok as child processes on 127.0.0.1 with random ports, a fresh CA,
//! serving and client certificates and service-account signing key per run, RBAC+Node
//! authorization, and all state in a temporary directory; it returns once each component
//! is healthy, with an admin [`kube::Client`]. Dropping the [`ControlPlane`] (also while a
//! test panics) kills every process group and removes the directory; components left
//! by a test process that was killed outright are reaped by the next start.
//!
//! The binaries are the real upstream ones, compiled from the Go module proxy by
//! `hack/controlplane/build.sh` (versions pinned in `hack/controlplane/**/go.mod`) and
//! cached in `~/.cache/joist/bin`; the first run on a machine builds them. kwok plays the
//! kubelet of every Node labelled [`FAKE_NODE_LABEL`]: such a node becomes Ready and the
//! pods the scheduler binds to it become Running. See `docs/testenv.md`.
#![deny(missing_docs)]

mod accounts;
mod args;
mod binaries;
mod component;
mod controlplane;
mod error;
mod kubeconfig;
mod kwok;
mod orphans;
mod pki;
mod probe;
mod process;
mod wait;

pub use binaries::{Binaries, build_script, helm};
pub use component::Component;
pub use controlplane::{ControlPlane, ControlPlaneOptions, KEEP_DIR_ENV};
pub use error::TestEnvError;
pub use kwok::FAKE_NODE_LABEL;
pub use wait::eventually;
