//! Command lines of etcd, kube-apiserver, kube-controller-manager and kube-scheduler:
//! everything on 127.0.0.1, state in the run's directory, authentication by the run's
//! certificates, and the defaults a kubeadm cluster would have where they matter to
//! joist (RBAC+Node authorization, service-account tokens, node lifecycle).

use std::path::{Path, PathBuf};

use crate::pki::Pki;

/// The ports of one run, all on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    /// etcd's client port.
    pub(crate) etcd_client: u16,
    /// etcd's peer port (etcd insists on one even for a single member).
    pub(crate) etcd_peer: u16,
    /// kube-apiserver's secure port.
    pub(crate) apiserver: u16,
    /// kube-controller-manager's health/metrics port.
    pub(crate) controller_manager: u16,
    /// kube-scheduler's health/metrics port.
    pub(crate) scheduler: u16,
    /// kwok's health/metrics port.
    pub(crate) kwok: u16,
}

impl Ports {
    /// Six distinct free ports.
    pub(crate) fn allocate() -> Result<Self, crate::TestEnvError> {
        let ports = crate::probe::free_ports(6)?;
        Ok(Self {
            etcd_client: ports[0],
            etcd_peer: ports[1],
            apiserver: ports[2],
            controller_manager: ports[3],
            scheduler: ports[4],
            kwok: ports[5],
        })
    }
}

/// The issuer of service-account tokens, as a kubeadm cluster names it.
pub(crate) const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The Service CIDR; its first address is [`crate::pki::KUBERNETES_SERVICE_IP`].
const SERVICE_CIDR: &str = "10.96.0.0/16";

/// Where the files of one run are.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The run's directory.
    pub(crate) root: PathBuf,
}

impl Layout {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The log file of a component.
    pub(crate) fn log(&self, component: crate::Component) -> PathBuf {
        self.path(&format!("{}.log", component.name()))
    }

    /// The kubeconfig a component (or the admin) uses.
    pub(crate) fn kubeconfig(&self, user: &str) -> PathBuf {
        self.path(&format!("{user}.kubeconfig"))
    }
}

fn flag(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

fn path_flag(name: &str, value: &Path) -> String {
    flag(name, value.display())
}

/// A single etcd member. `--unsafe-no-fsync`: the data is thrown away with the run, and
/// fsync on a shared disk is what makes etcd slow in tests.
pub(crate) fn etcd(layout: &Layout, ports: Ports) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    vec![
        flag("name", "joist-testenv"),
        path_flag("data-dir", &layout.path("etcd")),
        flag("listen-client-urls", &client),
        flag("advertise-client-urls", &client),
        flag("listen-peer-urls", &peer),
        flag("initial-advertise-peer-urls", &peer),
        flag("initial-cluster", format!("joist-testenv={peer}")),
        flag("unsafe-no-fsync", true),
        flag("log-level", "warn"),
    ]
}

/// kube-apiserver with TLS from the run's CA, client-certificate and service-account
/// token authentication, and Node+RBAC authorization.
pub(crate) fn apiserver(layout: &Layout, ports: Ports, pki: &Pki) -> Vec<String> {
    vec![
        flag(
            "etcd-servers",
            format!("http://127.0.0.1:{}", ports.etcd_client),
        ),
        flag("bind-address", "127.0.0.1"),
        flag("advertise-address", "127.0.0.1"),
        flag("secure-port", ports.apiserver),
        path_flag("cert-dir", &layout.path("kube-apiserver")),
        path_flag("tls-cert-file", &pki.serving.cert),
        path_flag("tls-private-key-file", &pki.serving.key),
        path_flag("client-ca-file", &pki.ca.cert),
        // The aggregation layer, as kubeadm sets it up: without it every component that
        // reads extension-apiserver-authentication logs errors about a missing CA.
        path_flag("requestheader-client-ca-file", &pki.front_proxy_ca.cert),
        flag(
            "requestheader-allowed-names",
            crate::pki::FRONT_PROXY_CLIENT,
        ),
        flag("requestheader-username-headers", "X-Remote-User"),
        flag("requestheader-group-headers", "X-Remote-Group"),
        flag("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        path_flag("proxy-client-cert-file", &pki.front_proxy_client.cert),
        path_flag("proxy-client-key-file", &pki.front_proxy_client.key),
        flag("authorization-mode", "Node,RBAC"),
        flag("enable-admission-plugins", "NodeRestriction"),
        flag("service-account-issuer", SERVICE_ACCOUNT_ISSUER),
        path_flag("service-account-key-file", &pki.service_account_public_key),
        path_flag("service-account-signing-key-file", &pki.service_account_key),
        flag("service-cluster-ip-range", SERVICE_CIDR),
        flag("allow-privileged", true),
        flag("profiling", false),
        flag("v", 1),
    ]
}

/// kube-controller-manager: every default controller, each with its own service-account
/// credentials (as kubeadm runs it, so RBAC is exercised), signing CSRs with the run's
/// CA, without leader election (it is alone).
pub(crate) fn controller_manager(layout: &Layout, ports: Ports, pki: &Pki) -> Vec<String> {
    let kubeconfig = layout.kubeconfig("kube-controller-manager");
    let mut args = secure_serving(
        layout,
        "kube-controller-manager",
        ports.controller_manager,
        pki,
    );
    args.extend([
        path_flag("kubeconfig", &kubeconfig),
        path_flag("authentication-kubeconfig", &kubeconfig),
        path_flag("authorization-kubeconfig", &kubeconfig),
        flag("leader-elect", false),
        flag("use-service-account-credentials", true),
        path_flag("service-account-private-key-file", &pki.service_account_key),
        path_flag("root-ca-file", &pki.ca.cert),
        path_flag("cluster-signing-cert-file", &pki.ca.cert),
        path_flag("cluster-signing-key-file", &pki.ca.key),
        flag("profiling", false),
        flag("v", 1),
    ]);
    args
}

/// kube-scheduler with its default profile, without leader election.
pub(crate) fn scheduler(layout: &Layout, ports: Ports, pki: &Pki) -> Vec<String> {
    let kubeconfig = layout.kubeconfig("kube-scheduler");
    let mut args = secure_serving(layout, "kube-scheduler", ports.scheduler, pki);
    args.extend([
        path_flag("kubeconfig", &kubeconfig),
        path_flag("authentication-kubeconfig", &kubeconfig),
        path_flag("authorization-kubeconfig", &kubeconfig),
        flag("leader-elect", false),
        flag("profiling", false),
        flag("v", 1),
    ]);
    args
}

/// A client rate for kube-controller-manager or kube-scheduler: `qps` requests a second
/// sustained, bursts of twice that.
pub(crate) fn client_rate(qps: u32) -> Vec<String> {
    vec![
        flag("kube-api-qps", qps),
        flag("kube-api-burst", u64::from(qps) * 2),
    ]
}

/// The health/metrics endpoint of the controller-manager and scheduler, served with the
/// run's serving certificate so a client trusting the run's CA can probe it.
fn secure_serving(layout: &Layout, name: &str, port: u16, pki: &Pki) -> Vec<String> {
    vec![
        flag("bind-address", "127.0.0.1"),
        flag("secure-port", port),
        path_flag("cert-dir", &layout.path(name)),
        path_flag("tls-cert-file", &pki.serving.cert),
        path_flag("tls-private-key-file", &pki.serving.key),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_rate_sets_qps_and_twice_the_burst() {
        assert_eq!(
            client_rate(200),
            ["--kube-api-qps=200", "--kube-api-burst=400"]
        );
    }
}
