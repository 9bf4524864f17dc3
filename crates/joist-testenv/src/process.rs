//! One component process: started in its own process group with its output in a log
//! file, and killed with its whole group.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::orphans::{OWNER_ENV, RUN_ENV};
use crate::{Component, TestEnvError};

/// How much of the end of a log file goes into an error.
const TAIL_BYTES: u64 = 6 * 1024;

/// A running component. Dropping it kills its process group and reaps it.
#[derive(Debug)]
pub(crate) struct Process {
    component: Component,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program` with `args` in a new process group (so that everything it forks
    /// dies with it), stdin closed, stdout+stderr appended to `log`, and marked as
    /// belonging to this test process and `run_dir` (see [`crate::orphans`]).
    pub(crate) fn spawn(
        component: Component,
        program: &Path,
        args: &[String],
        run_dir: &Path,
        log: PathBuf,
    ) -> Result<Self, TestEnvError> {
        let open_log = || {
            File::options()
                .create(true)
                .append(true)
                .open(&log)
                .map_err(|source| TestEnvError::io(format!("opening {}", log.display()), source))
        };
        let stdout = open_log()?;
        let stderr = open_log()?;
        let child = Command::new(program)
            .args(args)
            .env(OWNER_ENV, std::process::id().to_string())
            .env(RUN_ENV, run_dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| TestEnvError::Spawn {
                component,
                program: program.to_owned(),
                source,
            })?;
        Ok(Self {
            component,
            child,
            log,
        })
    }

    /// Which component this is.
    pub(crate) fn component(&self) -> Component {
        self.component
    }

    /// The process id, which is also its process-group id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status if the process has exited.
    pub(crate) fn exit_status(&mut self) -> Result<Option<ExitStatus>, TestEnvError> {
        self.child.try_wait().map_err(|source| {
            TestEnvError::io(
                format!("checking whether {} is running", self.component),
                source,
            )
        })
    }

    /// Kills the process group with SIGKILL and reaps the leader. Nothing is kept from a
    /// run, so there is no point in a graceful shutdown; the group is signalled before
    /// the leader is reaped, so its id cannot have been reused yet.
    pub(crate) fn kill(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // ESRCH (group already gone) is the only expected error and means done.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        // The leader was just sent SIGKILL, so this returns promptly; an error means it
        // was reaped already.
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of a log file (about [`TAIL_BYTES`]), or why it could not be read.
pub(crate) fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // Drop the first, probably partial, line when the file was cut.
        Ok(match (start > 0, text.split_once('\n')) {
            (true, Some((_, rest))) => rest.to_owned(),
            _ => text,
        })
    };
    read().unwrap_or_else(|err| format!("(could not read {}: {err})", path.display()))
}

/// The tails of every process's log, each under a header naming the file.
pub(crate) fn log_tails(processes: &[Process]) -> String {
    processes
        .iter()
        .map(|process| {
            format!(
                "==> {} <==\n{}",
                process.log().display(),
                log_tail(process.log())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_log_is_returned_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        std::fs::write(&log, "one\ntwo\n").unwrap();
        assert_eq!(log_tail(&log), "one\ntwo\n");
    }

    #[test]
    fn a_long_log_keeps_only_whole_lines_of_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, &text).unwrap();
        let tail = log_tail(&log);
        assert!(tail.ends_with("line 1999\n"));
        assert!(tail.starts_with("line "), "{}", &tail[..20]);
        assert!(tail.len() as u64 <= TAIL_BYTES);
        assert!(!tail.contains("line 0\n"));
    }

    #[test]
    fn a_missing_log_says_so() {
        assert!(log_tail(Path::new("/nonexistent/joist.log")).contains("could not read"));
    }

    #[test]
    fn kill_takes_the_whole_process_group_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        // The shell forks a sleeping grandchild, records its pid, and waits.
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let mut process = Process::spawn(
            Component::Etcd,
            Path::new("/bin/sh"),
            &["-c".to_owned(), script],
            dir.path(),
            dir.path().join("sh.log"),
        )
        .unwrap();
        let grandchild = wait_for_pid(&pid_file);
        assert!(Path::new(&format!("/proc/{grandchild}")).exists());

        process.kill();

        assert!(process.exit_status().unwrap().is_some());
        // The grandchild is reaped by init once killed; give that a moment.
        for _ in 0..100 {
            if !is_alive(grandchild) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("grandchild {grandchild} survived the group kill");
    }

    fn wait_for_pid(path: &Path) -> i32 {
        for _ in 0..250 {
            if let Some(pid) = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("{} never appeared", path.display());
    }

    /// Alive and not a zombie.
    fn is_alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                !stat
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }
}
