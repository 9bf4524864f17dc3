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
    /// Client QPS of kube-controller-manager and kube-scheduler (`--kube-api-qps`, with
    /// twice that as `--kube-api-burst`). `None` keeps their defaults (20/30 and 50/100),
    /// under which the ReplicaSet controller creates at most ~20 pods a second: enough for
    /// tests, the bottleneck of a benchmark that creates thousands.
    pub kube_api_qps: Option<u32>,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            kwok: true,
            startup_timeout: Duration::from_secs(180),
            kube_api_qps: None,
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
        let dir = tempfile::Builder::new()
            .prefix(crate::orphans::RUN_DIR_PREFIX)
            .tempdir()
            .map_err(|source| TestEnvError::io("creating the run's temporary directory", source))?;
        let layout = Layout {
            root: dir.path().to_owned(),
        };
        // From here on, an early return drops `run`, which kills what was started.
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

        let startup = Startup {
            binaries: &binaries,
            layout: &layout,
            ports,
            pki: &pki,
            admin_config: &admin_config,
            started,
            deadline: started + options.startup_timeout,
            kube_api_qps: options.kube_api_qps,
        };
        startup.apiserver(&mut run).await?;
        startup.controllers(&mut run).await?;
        if options.kwok {
            startup.kwok(&mut run).await?;
        }
        let ca_cert = pki.ca.cert;
        Ok(Self {
            run,
            layout,
            binaries,
            ca_cert,
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

/// What every startup step needs: the run's binaries, files, ports and deadline.
struct Startup<'a> {
    binaries: &'a Binaries,
    layout: &'a Layout,
    ports: Ports,
    pki: &'a pki::Pki,
    admin_config: &'a kube::Config,
    started: Instant,
    deadline: Instant,
    kube_api_qps: Option<u32>,
}

impl Startup<'_> {
    fn spawn(
        &self,
        run: &mut Run,
        component: Component,
        args: &[String],
    ) -> Result<(), TestEnvError> {
        let program = self
            .binaries
            .path(component)
            .ok_or_else(|| TestEnvError::BinaryMissing {
                script: crate::binaries::build_script(),
                name: component.name().to_owned(),
                reason: "it was not asked for".to_owned(),
            })?;
        let log = self.layout.log(component);
        run.processes.push(Process::spawn(
            component,
            program,
            args,
            &self.layout.root,
            log,
        )?);
        Ok(())
    }

    /// etcd, then kube-apiserver once etcd answers, then waits for `/readyz`.
    async fn apiserver(&self, run: &mut Run) -> Result<(), TestEnvError> {
        self.spawn(run, Component::Etcd, &args::etcd(self.layout, self.ports))?;
        let etcd = SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.etcd_client));
        run.wait_healthy(Component::Etcd, self.started, self.deadline, || {
            probe::http_get_ok(etcd, "/health")
        })
        .await?;
        let apiserver_args = args::apiserver(self.layout, self.ports, self.pki);
        self.spawn(run, Component::KubeApiserver, &apiserver_args)?;
        let client = probe_client(self.admin_config, self.ports.apiserver)?;
        run.wait_healthy(
            Component::KubeApiserver,
            self.started,
            self.deadline,
            || probe::https_get_ok(&client, "/readyz"),
        )
        .await
    }

    /// The controller-manager and the scheduler, started together, then their `/healthz`.
    async fn controllers(&self, run: &mut Run) -> Result<(), TestEnvError> {
        let (layout, ports, pki) = (self.layout, self.ports, self.pki);
        let rate = self.kube_api_qps.map(args::client_rate).unwrap_or_default();
        let mut controller_manager_args = args::controller_manager(layout, ports, pki);
        controller_manager_args.extend(rate.iter().cloned());
        self.spawn(
            run,
            Component::KubeControllerManager,
            &controller_manager_args,
        )?;
        let mut scheduler_args = args::scheduler(layout, ports, pki);
        scheduler_args.extend(rate);
        self.spawn(run, Component::KubeScheduler, &scheduler_args)?;
        for (component, port) in [
            (Component::KubeControllerManager, ports.controller_manager),
            (Component::KubeScheduler, ports.scheduler),
        ] {
            let client = probe_client(self.admin_config, port)?;
            run.wait_healthy(component, self.started, self.deadline, || {
                probe::https_get_ok(&client, "/healthz")
            })
            .await?;
        }
        Ok(())
    }

    /// kwok with the run's stages, then its `/healthz`.
    async fn kwok(&self, run: &mut Run) -> Result<(), TestEnvError> {
        let config = self.layout.path("kwok.yaml");
        kwok::write_config(&config)?;
        let server = SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.kwok));
        let kwok_args = kwok::args(&self.layout.kubeconfig("admin"), &config, server);
        self.spawn(run, Component::Kwok, &kwok_args)?;
        run.wait_healthy(Component::Kwok, self.started, self.deadline, || {
            probe::http_get_ok(server, "/healthz")
        })
        .await
    }
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
