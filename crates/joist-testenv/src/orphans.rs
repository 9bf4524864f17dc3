//! Cleaning up after test processes that died without dropping their control plane
//! (SIGKILL, `abort`, a CI time limit): their components would otherwise run on, holding
//! a gigabyte of memory, until the machine is recycled.
//!
//! Every component is started with two environment variables, [`OWNER_ENV`] (the test
//! process's pid) and [`RUN_ENV`] (the run's directory). A component whose owner no
//! longer exists is an orphan: it is killed and its directory removed. An owner pid that
//! was reused by an unrelated process makes its orphans look owned, which only delays
//! their cleanup; nothing without the variables is ever touched.

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Environment variable naming the pid of the test process that started a component.
pub(crate) const OWNER_ENV: &str = "JOIST_TESTENV_OWNER";

/// Environment variable naming the run directory of a component.
pub(crate) const RUN_ENV: &str = "JOIST_TESTENV_RUN";

/// Prefix of every run directory's name; only such directories are ever removed.
pub(crate) const RUN_DIR_PREFIX: &str = "joist-testenv-";

/// A process started by some control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Marked {
    pid: i32,
    owner: i32,
    run_dir: PathBuf,
}

/// Kills every component whose owning test process is gone, removes their run
/// directories, and returns how many processes were killed.
pub(crate) fn reap() -> usize {
    let own_pid = std::process::id();
    let orphans: Vec<Marked> = marked_processes()
        .into_iter()
        .filter(|marked| u32::try_from(marked.owner).is_ok_and(|owner| owner != own_pid))
        .filter(|marked| !Path::new(&format!("/proc/{}", marked.owner)).exists())
        .collect();
    for orphan in &orphans {
        // ESRCH means it is already gone, which is the goal.
        let _ = kill(Pid::from_raw(orphan.pid), Signal::SIGKILL);
    }
    for orphan in &orphans {
        let is_run_dir = orphan
            .run_dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(RUN_DIR_PREFIX));
        if is_run_dir {
            // Another reaper (a parallel test) may have removed it first.
            let _ = std::fs::remove_dir_all(&orphan.run_dir);
        }
    }
    orphans.len()
}

/// Every process carrying both variables; processes that vanish or whose environment
/// cannot be read (other users') are skipped.
fn marked_processes() -> Vec<Marked> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            parse_marks(pid, &environ)
        })
        .collect()
}

/// Reads the two variables out of a NUL-separated environment block.
fn parse_marks(pid: i32, environ: &[u8]) -> Option<Marked> {
    let mut owner = None;
    let mut run_dir = None;
    for entry in environ.split(|byte| *byte == 0) {
        let entry = String::from_utf8_lossy(entry);
        if let Some(value) = entry
            .strip_prefix(OWNER_ENV)
            .and_then(|rest| rest.strip_prefix('='))
        {
            owner = value.parse().ok();
        } else if let Some(value) = entry
            .strip_prefix(RUN_ENV)
            .and_then(|rest| rest.strip_prefix('='))
        {
            run_dir = Some(PathBuf::from(value));
        }
    }
    Some(Marked {
        pid,
        owner: owner?,
        run_dir: run_dir?,
    })
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn marks_are_read_from_an_environment_block() {
        let environ =
            b"PATH=/bin\0JOIST_TESTENV_OWNER=42\0JOIST_TESTENV_RUN=/tmp/joist-testenv-x\0";
        assert_eq!(
            parse_marks(7, environ),
            Some(Marked {
                pid: 7,
                owner: 42,
                run_dir: PathBuf::from("/tmp/joist-testenv-x")
            })
        );
        assert_eq!(parse_marks(7, b"PATH=/bin\0JOIST_TESTENV_OWNER=42\0"), None);
        assert_eq!(
            parse_marks(7, b"JOIST_TESTENV_OWNERX=1\0JOIST_TESTENV_RUN=/x\0"),
            None
        );
    }

    /// A pid that belonged to a process which has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn sleeper(owner: u32, run_dir: &Path) -> std::process::Child {
        Command::new("sleep")
            .arg("300")
            .env(OWNER_ENV, owner.to_string())
            .env(RUN_ENV, run_dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }

    #[test]
    fn an_orphan_is_killed_and_its_directory_removed_but_an_owned_process_is_not() {
        let orphan_dir = tempfile::Builder::new()
            .prefix(RUN_DIR_PREFIX)
            .tempdir()
            .unwrap()
            .keep();
        let owned_dir = tempfile::Builder::new()
            .prefix(RUN_DIR_PREFIX)
            .tempdir()
            .unwrap();
        let mut owner = Command::new("sleep").arg("300").spawn().unwrap();
        let mut orphan = sleeper(dead_pid(), &orphan_dir);
        let mut owned = sleeper(owner.id(), owned_dir.path());
        // Let both exec so /proc shows their environment.
        std::thread::sleep(std::time::Duration::from_millis(200));

        assert!(reap() >= 1);

        let orphan_status = orphan.wait().unwrap();
        assert!(!orphan_status.success(), "the orphan was killed");
        assert!(!orphan_dir.exists());
        assert!(
            owned.try_wait().unwrap().is_none(),
            "an owned component is left alone"
        );
        assert!(owned_dir.path().exists());
        for child in [&mut owned, &mut owner] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
