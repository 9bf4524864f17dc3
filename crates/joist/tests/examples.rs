//! The manifests under `examples/`: every valid one passes, every one under `examples/invalid/`
//! fails with exactly the lines and exit status written in its `# expect-...` header.

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

#[test]
fn every_invalid_example_fails_with_exactly_its_expected_lines() {
    let files = yaml_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 10, "invalid examples are missing: {files:?}");
    for file in files {
        let expected = expectations(&file);
        let exit = expected
            .exit
            .unwrap_or_else(|| panic!("{} has no `# expect-exit:` line", file.display()));
        assert_ne!(exit, 0, "{} must fail", file.display());
        let run = joist(&["validate", "-f", file.to_str().expect("UTF-8 path")], b"");
        assert_eq!(run.code, exit, "{}: {run:?}", file.display());
        assert_eq!(
            run.stdout_lines(),
            expected.stdout,
            "stdout of {}",
            file.display()
        );
        assert_eq!(
            run.stderr_lines(),
            expected.stderr,
            "stderr of {}",
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
