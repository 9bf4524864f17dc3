//! [`ControlPlane`]: start the components in order, wait for each to be healthy, hand out
//! clients, and tear everything down on drop.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::args::{self, Layout, Ports};
use crate::kubeconfig::{self, Credentials};
use crate::process::{self, Process};
use crate::{Binaries, Component, TestEnvError, kwok, pki, probe};

/// Set (to anything) to keep a run's directory (logs, certificates, kubeconfigs, etcd
/// data) after the control plane is dropped; its path is printed to stderr.
pub const KEEP_DIR_ENV: &str = "JOIST_TESTENV_KEEP";

/// How often startup probes a component that is not healthy yet.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneOptions {
    /// Start kwok, managing nodes labelled `kwok.x-k8s.io/node=fake` (see
    /// [`crate::FAKE_NODE_LABEL`]). Without it nodes never become Ready.
    pub kwok: bool,
    /// How long startup (after the binaries are found or built) may take before it fails
    /// with [`TestEnvError::NotReady`]. Generous by default: on a busy two-core machine
    /// the apiserver alone can take tens of seconds.
    pub startup_timeout: Duration,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            kwok: true,
            startup_timeout: Duration::from_secs(180),
        }
    }
}

/// A running control plane: etcd, kube-apiserver, kube-controller-manager,
/// kube-scheduler and (optionally) kwok, on 127.0.0.1 with random ports and all state in
/// a temporary directory. Dropping it (also while unwinding from a panic) kills every
/// process group and removes the directory.
pub struct ControlPlane {
    run: Run,
    layout: Layout,
    binaries: Binaries,
    ca_cert: PathBuf,
    server_url: String,
    client: kube::Client,
}

/// The part that must be undone: processes, then the directory. It exists before the
/// first process is spawned, so a startup that fails half-way tears down what it started.
struct Run {
    processes: Vec<Process>,
    dir: Option<TempDir>,
}

impl ControlPlane {
    /// Starts a control plane with kwok ([`ControlPlaneOptions::default`]).
    pub async fn start() -> Result<Self, TestEnvError> {
        Self::start_with(ControlPlaneOptions::default()).await
    }

    /// Starts a control plane: finds (or builds) the binaries, generates the run's PKI
    /// and kubeconfigs, then starts etcd and waits for its `/health`, kube-apiserver and
    /// waits for `/readyz`, then the controller-manager, scheduler and kwok and waits for
    /// their `/healthz`.
    pub async fn start_with(options: ControlPlaneOptions) -> Result<Self, TestEnvError> {
        let binaries = Binaries::ensure(options.kwok).await?;
        let orphans = crate::orphans::reap();
        if orphans > 0 {
            eprintln!("joist-testenv: killed {orphans} components left by dead test processes");
        }
        let started = Instant::now();
        let deadline = started + options.startup_timeout;
        let dir = tempfile::Builder::new()
            .prefix(crate::orphans::RUN_DIR_PREFIX)
            .tempdir()
            .map_err(|source| TestEnvError::io("creating the run's temporary directory", source))?;
        let layout = Layout {
            root: dir.path().to_owned(),
        };
        let mut run = Run {
            processes: Vec::new(),
            dir: Some(dir),
        };

        let pki = pki::generate(&layout.root)?;
        let ports = Ports::allocate()?;
        let server_url = format!("https://127.0.0.1:{}", ports.apiserver);
        write_kubeconfigs(&layout, &server_url, &pki)?;
        let admin_config = kubeconfig::load(&layout.kubeconfig("admin")).await?;
        let client = client_for(admin_config.clone())?;

        run.spawn(
            &binaries,
            &layout,
            Component::Etcd,
            &args::etcd(&layout, ports),
        )?;
        let apiserver_args = args::apiserver(&layout, ports, &pki);
        run.spawn(
            &binaries,
            &layout,
            Component::KubeApiserver,
            &apiserver_args,
        )?;
        let probe_client = probe_client(&admin_config, ports.apiserver)?;
        run.wait_healthy(Component::KubeApiserver, started, deadline, || {
            probe::https_get_ok(&probe_client, "/readyz")
        })
        .await?;

        start_controllers(
            &mut run,
            &binaries,
            &layout,
            ports,
            &pki,
            &admin_config,
            (started, deadline),
        )
        .await?;
        if options.kwok {
            start_kwok(&mut run, &binaries, &layout, ports, (started, deadline)).await?;
        }
        Ok(Self {
            run,
            layout,
            binaries,
            ca_cert: pki.ca.cert,
            server_url,
            client,
        })
    }

    /// A client authenticated as a cluster admin (`system:masters`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// An admin kubeconfig file (for helm, kubectl or a controller run as a process).
    pub fn kubeconfig(&self) -> PathBuf {
        self.layout.kubeconfig("admin")
    }

    /// The run's CA certificate (PEM), which every served certificate chains to.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    /// The run's directory: logs, certificates, kubeconfigs and etcd's data.
    pub fn dir(&self) -> &Path {
        &self.layout.root
    }

    /// The log file of a component (which exists only if it was started).
    pub fn log_file(&self, component: Component) -> PathBuf {
        self.layout.log(component)
    }

    /// The end of every started component's log, for test failure messages.
    pub fn log_tails(&self) -> String {
        process::log_tails(&self.run.processes)
    }

    /// The binaries this control plane runs.
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// The process ids of the components, in start order; each is also the id of the
    /// process group that dropping the control plane kills.
    pub fn pids(&self) -> Vec<(Component, u32)> {
        self.run
            .processes
            .iter()
            .map(|process| (process.component(), process.pid()))
            .collect()
    }

    /// Stops everything and removes the run's directory; the same as dropping it.
    pub fn stop(self) {
        drop(self);
    }

    /// Where a run's files go; for the other modules of this crate.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server_url", &self.server_url)
            .field("dir", &self.layout.root)
            .field("pids", &self.pids())
            .finish_non_exhaustive()
    }
}

// === impl Run ===

impl Run {
    fn spawn(
        &mut self,
        binaries: &Binaries,
        layout: &Layout,
        component: Component,
        args: &[String],
    ) -> Result<(), TestEnvError> {
        let program = binaries
            .path(component)
            .ok_or_else(|| TestEnvError::BinaryMissing {
                script: crate::binaries::build_script(),
                name: component.name().to_owned(),
                reason: "it was not asked for".to_owned(),
            })?;
        let process = Process::spawn(
            component,
            program,
            args,
            &layout.root,
            layout.log(component),
        )?;
        self.processes.push(process);
        Ok(())
    }

    /// Probes `component` until it answers healthy, failing as soon as any started
    /// process exits or at the deadline, with every log's tail in the error.
    async fn wait_healthy<F, Fut>(
        &mut self,
        component: Component,
        started: Instant,
        deadline: Instant,
        mut probe: F,
    ) -> Result<(), TestEnvError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        loop {
            self.fail_if_any_exited()?;
            let last_probe = match probe().await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                return Err(TestEnvError::NotReady {
                    component,
                    waited: started.elapsed(),
                    last_probe,
                    logs: process::log_tails(&self.processes),
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    fn fail_if_any_exited(&mut self) -> Result<(), TestEnvError> {
        for process in &mut self.processes {
            if let Some(status) = process.exit_status()? {
                let component = process.component();
                return Err(TestEnvError::ComponentExited {
                    component,
                    status: status.to_string(),
                    logs: process::log_tails(&self.processes),
                });
            }
        }
        Ok(())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Last started first: nothing is left to talk to a component that is gone.
        while let Some(mut process) = self.processes.pop() {
            process.kill();
        }
        // Unless asked to keep it, the taken `dir` is dropped here, which removes it; an
        // error there can only be ignored in drop and leaves a directory in the temp dir.
        if let Some(dir) = self.dir.take()
            && std::env::var_os(KEEP_DIR_ENV).is_some()
        {
            eprintln!("joist-testenv: kept {}", dir.keep().display());
        }
    }
}

// === startup steps ===

/// The kubeconfigs of the admin, the controller-manager and the scheduler.
fn write_kubeconfigs(layout: &Layout, server: &str, pki: &pki::Pki) -> Result<(), TestEnvError> {
    for (user, files) in [
        ("admin", &pki.admin),
        ("kube-controller-manager", &pki.controller_manager),
        ("kube-scheduler", &pki.scheduler),
    ] {
        let path = layout.kubeconfig(user);
        kubeconfig::write(&path, server, &pki.ca.cert, Credentials::Certificate(files))?;
    }
    Ok(())
}

async fn start_controllers(
    run: &mut Run,
    binaries: &Binaries,
    layout: &Layout,
    ports: Ports,
    pki: &pki::Pki,
    admin_config: &kube::Config,
    (started, deadline): (Instant, Instant),
) -> Result<(), TestEnvError> {
    let controller_manager_args = args::controller_manager(layout, ports, pki);
    run.spawn(
        binaries,
        layout,
        Component::KubeControllerManager,
        &controller_manager_args,
    )?;
    run.spawn(
        binaries,
        layout,
        Component::KubeScheduler,
        &args::scheduler(layout, ports, pki),
    )?;
    for (component, port) in [
        (Component::KubeControllerManager, ports.controller_manager),
        (Component::KubeScheduler, ports.scheduler),
    ] {
        let client = probe_client(admin_config, port)?;
        run.wait_healthy(component, started, deadline, || {
            probe::https_get_ok(&client, "/healthz")
        })
        .await?;
    }
    Ok(())
}

async fn start_kwok(
    run: &mut Run,
    binaries: &Binaries,
    layout: &Layout,
    ports: Ports,
    (started, deadline): (Instant, Instant),
) -> Result<(), TestEnvError> {
    let config = layout.path("kwok.yaml");
    kwok::write_config(&config)?;
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, ports.kwok));
    let kwok_args = kwok::args(&layout.kubeconfig("admin"), &config, server);
    run.spawn(binaries, layout, Component::Kwok, &kwok_args)?;
    run.wait_healthy(Component::Kwok, started, deadline, || {
        probe::http_get_ok(server, "/healthz")
    })
    .await
}

/// A client for a health endpoint served with the run's serving certificate on `port`:
/// the admin's configuration pointed elsewhere, without retries so a probe answers fast.
fn probe_client(admin_config: &kube::Config, port: u16) -> Result<kube::Client, TestEnvError> {
    let mut config = admin_config.clone();
    config.cluster_url = format!("https://127.0.0.1:{port}")
        .parse()
        .map_err(|err| TestEnvError::io("building a probe URL", std::io::Error::other(err)))?;
    config.default_retry = false;
    client_for(config)
}

fn client_for(config: kube::Config) -> Result<kube::Client, TestEnvError> {
    let url = config.cluster_url.to_string();
    kube::Client::try_from(config)
        .map_err(|source| TestEnvError::kube(format!("building a client for {url}"), source))
}
