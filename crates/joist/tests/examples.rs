//! The manifests under `examples/`: every valid one passes, every one under `examples/invalid/`
//! fails with exactly the lines and exit status written in its `# expect-...` header
//! (`JOIST_BLESS=1` rewrites those headers from the binary's current output).

mod support;

use std::path::Path;

use support::{joist, repo_root, yaml_files};

/// Number of objects (non-empty documents) in a manifest.
fn object_count(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("readable example");
    joist_api::document::split(&text).len()
}

#[test]
fn every_example_is_valid() {
    let files = yaml_files(&repo_root().join("examples"));
    assert!(files.len() >= 9, "examples are missing: {files:?}");
    for file in files {
        let run = joist(&["validate", "-f", file.to_str().expect("UTF-8 path")], b"");
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, ""),
            "{}: {}",
            file.display(),
            run.stdout
        );
        let lines = run.stdout_lines();
        assert_eq!(
            lines.len(),
            object_count(&file),
            "{}: {lines:?}",
            file.display()
        );
        assert!(
            lines.iter().all(|line| line.starts_with("valid: ")),
            "{}: {lines:?}",
            file.display()
        );
    }
}

#[test]
fn the_examples_directory_validates_as_a_whole() {
    let run = joist(&["validate", "-f", "examples"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("valid: NodePool/gpu\n"));
    assert!(run.stdout.contains("valid: EC2NodeClass/windows2022\n"));
    assert!(run.stdout.contains("valid: NodeClaim/default-x7k2p\n"));
}

/// The expectations written at the top of an invalid example.
#[derive(Debug, Default)]
struct Expected {
    exit: Option<i32>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn expectations(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).expect("readable example");
    let mut expected = Expected::default();
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        if let Some(code) = line.strip_prefix("# expect-exit: ") {
            expected.exit = Some(code.parse().expect("numeric exit status"));
        } else if let Some(out) = line.strip_prefix("# expect-stdout: ") {
            expected.stdout.push(out.to_owned());
        } else if let Some(err) = line.strip_prefix("# expect-stderr: ") {
            expected.stderr.push(err.to_owned());
        }
    }
    expected
}

/// Rewrites the `# expect-...` header of `path` to what the binary prints now. The header's own
/// length shifts the line numbers it quotes, so this repeats until the file stops changing.
fn bless(path: &Path) {
    for _ in 0..4 {
        let text = std::fs::read_to_string(path).expect("readable example");
        let run = joist(&["validate", "-f", path.to_str().expect("UTF-8 path")], b"");
        let comments = text.lines().take_while(|line| line.starts_with('#'));
        let mut blessed: Vec<String> = comments
            .clone()
            .filter(|line| !line.starts_with("# expect-"))
            .map(str::to_owned)
            .collect();
        blessed.push(format!("# expect-exit: {}", run.code));
        blessed.extend(
            run.stdout_lines()
                .iter()
                .map(|line| format!("# expect-stdout: {line}")),
        );
        blessed.extend(
            run.stderr_lines()
                .iter()
                .map(|line| format!("# expect-stderr: {line}")),
        );
        let body_start: usize = comments.map(|line| line.len() + 1).sum();
        let blessed = format!(
            "{}\n{}",
            blessed.join("\n"),
            &text[body_start.min(text.len())..]
        );
        if blessed == text {
            return;
        }
        std::fs::write(path, blessed).expect("write the blessed example");
    }
    panic!("{}: the expected output does not settle", path.display());
}

#[test]
fn every_invalid_example_fails_with_exactly_its_expected_lines() {
    let files = yaml_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 10, "invalid examples are missing: {files:?}");
    for file in files {
        if std::env::var_os("JOIST_BLESS").is_some() {
            bless(&file);
        }
        let expected = expectations(&file);
        let exit = expected
            .exit
            .unwrap_or_else(|| panic!("{} has no `# expect-exit:` line", file.display()));
        assert_ne!(exit, 0, "{} must fail", file.display());
        let run = joist(&["validate", "-f", file.to_str().expect("UTF-8 path")], b"");
        let bless_hint = "(after checking the new output, re-bless with `JOIST_BLESS=1 cargo test -p joist --test examples`)";
        assert_eq!(
            run.code,
            exit,
            "exit status of {} {bless_hint}",
            file.display()
        );
        assert_eq!(
            run.stdout_lines(),
            expected.stdout,
            "stdout of {} {bless_hint}",
            file.display()
        );
        assert_eq!(
            run.stderr_lines(),
            expected.stderr,
            "stderr of {} {bless_hint}",
            file.display()
        );
    }
}

#[test]
fn invalid_objects_exit_one_and_unreadable_documents_exit_two() {
    let invalid = repo_root().join("examples/invalid");
    let codes: Vec<(String, i32)> = ["static-nodepool.yaml", "duplicate-key.yaml"]
        .iter()
        .map(|name| {
            let path = invalid.join(name);
            (
                name.to_string(),
                joist(&["validate", "-f", path.to_str().expect("UTF-8 path")], b"").code,
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            ("static-nodepool.yaml".into(), 1),
            ("duplicate-key.yaml".into(), 2)
        ]
    );
}
