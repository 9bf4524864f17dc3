//! The controller under test as its own process: `joist controller` with a ServiceAccount
//! kubeconfig, its readiness probe, and its resident set read from `/proc/<pid>/status`.

use std::error::Error;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running `joist controller`; dropping it kills the process.
pub struct ControllerProcess {
    child: Child,
    health_port: u16,
}

impl ControllerProcess {
    /// Starts `joist controller` as the kubeconfig's identity, without leader election (one
    /// replica), with its probe and metrics ports on free ports, logging (JSON) into `log`.
    pub fn spawn(joist: &Path, kubeconfig: &Path, log: &Path) -> Result<Self, Box<dyn Error>> {
        let health_port = free_port()?;
        let metrics_port = free_port()?;
        let stdout = File::create(log)?;
        let stderr = stdout.try_clone()?;
        let child = Command::new(joist)
            .arg("controller")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--cluster-name", "perf", "--disable-leader-election"])
            .arg(format!("--health-probe-port={health_port}"))
            .arg(format!("--metrics-port={metrics_port}"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("starting {}: {err}", joist.display()))?;
        Ok(Self { child, health_port })
    }

    /// The controller's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200 (every watch has listed), failing if the process exits
    /// or `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), Box<dyn Error>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.exited()?;
            if readyz(self.health_port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the controller was not ready within {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Fails if the controller has exited (it should run until killed).
    pub fn exited(&mut self) -> Result<(), Box<dyn Error>> {
        match self.child.try_wait()? {
            Some(status) => Err(format!("the controller exited: {status}").into()),
            None => Ok(()),
        }
    }

    /// The resident set now, MiB (`VmRSS`).
    pub fn current_rss_mb(&self) -> Option<f64> {
        status_kib(self.pid(), "VmRSS:").map(|kib| kib as f64 / 1024.0)
    }

    /// The peak resident set since the process started, MiB (`VmHWM`, the kernel's
    /// high-water mark).
    pub fn peak_rss_mb(&self) -> Option<f64> {
        status_kib(self.pid(), "VmHWM:").map(|kib| kib as f64 / 1024.0)
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        // Killing a process that already exited fails harmlessly; wait reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release `joist` binary next to this example's profile directory
/// (`<target>/release/examples/perf` → `<target>/release/joist`).
pub fn sibling_joist_binary() -> Result<PathBuf, Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} has no profile directory", exe.display()))?;
    let joist = profile_dir.join("joist");
    if joist.is_file() {
        Ok(joist)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p joist` first (same CARGO_TARGET_DIR), \
             or pass --joist <path>",
            joist.display()
        )
        .into())
    }
}

/// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether the controller's `/readyz` on `port` answers 200.
async fn readyz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        return false;
    };
    let request = b"GET /readyz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response)).await;
    matches!(read, Ok(Ok(_))) && response.starts_with(b"HTTP/1.1 200")
}

/// A `kB` field of `/proc/<pid>/status`, or `None` off Linux or once the process is gone.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
