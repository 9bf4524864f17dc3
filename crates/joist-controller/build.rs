//! Stamps the binary's VCS revision (`JOIST_COMMIT`), which the logs carry as upstream's
//! `commit` key and `karpenter_build_info` as its `commit` label.

use std::process::Command;

fn main() {
    let commit = std::env::var("JOIST_COMMIT").ok().or_else(git_head);
    println!(
        "cargo:rustc-env=JOIST_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rerun-if-env-changed=JOIST_COMMIT");
    // A new commit rewrites the HEAD reflog; in a linked worktree `.git` is a file, and the
    // stamp may then lag a commit behind in incremental builds (clean builds are exact).
    let reflog = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.git/logs/HEAD");
    if std::path::Path::new(reflog).exists() {
        println!("cargo:rerun-if-changed={reflog}");
    }
}

/// `git rev-parse --short=7 HEAD`, when this is a git checkout and git is installed.
fn git_head() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?;
    let commit = commit.trim();
    (output.status.success() && !commit.is_empty()).then(|| commit.to_owned())
}
