//! `joist validate` on standard input and on inputs no manifest should contain: the output names
//! the document and line, the exit status tells valid (0), invalid (1) and unreadable (2) apart,
//! and nothing makes the binary crash.

mod support;

use support::{joist, repo_root, validate_stdin};

const NODEPOOL: &str = "apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      requirements: []
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
";

#[test]
fn standard_input_is_read_with_dash() {
    let run = validate_stdin(NODEPOOL.as_bytes());
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "valid: NodePool/default\n", "")
    );
}

#[test]
fn field_errors_print_kind_name_path_and_message() {
    let input = NODEPOOL.replace("spec:\n  template:", "spec:\n  weight: 0\n  template:");
    let run = validate_stdin(input.as_bytes());
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout_lines(),
        vec![
            "NodePool/default: spec.weight: Invalid value: 0: spec.weight in body should be greater than or equal to 1",
        ]
    );
}

#[test]
fn the_aws_label_domain_admits_only_its_well_known_instance_labels() {
    // `joist validate` checks with the AWS provider's policy, as upstream's AWS distribution.
    let requiring = |key: &str| {
        NODEPOOL.replace(
            "requirements: []",
            &format!("requirements: [{{key: {key}, operator: Exists}}]"),
        )
    };
    let made_up = validate_stdin(requiring("karpenter.k8s.aws/foo").as_bytes());
    assert_eq!(
        (made_up.code, made_up.stdout_lines()),
        (
            1,
            vec![
                r#"NodePool/default: spec.template.spec.requirements[0].key: Invalid value: "string": label domain "karpenter.k8s.aws" is restricted"#
            ]
        )
    );
    let well_known = validate_stdin(requiring("karpenter.k8s.aws/instance-family").as_bytes());
    assert_eq!(
        (well_known.code, well_known.stdout.as_str()),
        (0, "valid: NodePool/default\n")
    );
    // v1.14 NodePools may require dedicated tenancy and exclude flex types (spec aws §13 items 21, 45).
    for key in [
        "karpenter.k8s.aws/instance-tenancy",
        "karpenter.k8s.aws/instance-capability-flex",
    ] {
        let run = validate_stdin(requiring(key).as_bytes());
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, "valid: NodePool/default\n"),
            "{key}"
        );
    }
}

#[test]
fn undeclared_fields_are_refused_like_kubectl_apply_does() {
    let input = NODEPOOL.replace("spec:\n  template:", "spec:\n  wieght: 10\n  template:");
    let run = validate_stdin(input.as_bytes());
    assert_eq!(
        (run.code, run.stdout_lines()),
        (
            1,
            vec![r#"NodePool/default: spec.wieght: unknown field "spec.wieght""#]
        )
    );
}

#[test]
fn values_of_the_wrong_type_get_the_api_servers_schema_errors() {
    // Not a decoding failure: the API server reports the type, then that it skipped the rules.
    let input = NODEPOOL.replace("requirements: []", "requirements: {}");
    let run = validate_stdin(input.as_bytes());
    assert_eq!(
        (run.code, run.stdout_lines()),
        (
            1,
            vec![
                r#"NodePool/default: spec.template.spec.requirements: Invalid value: "object": spec.template.spec.requirements in body must be of type array: "object""#,
                "NodePool/default: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ]
        )
    );
}

#[test]
fn unreadable_documents_name_document_and_line_and_exit_two() {
    let nodepool_then = |tail: &str| format!("{NODEPOOL}---\n{tail}");
    let cases: Vec<(String, &str)> = vec![
        (
            nodepool_then("apiVersion: x/v1\nkind: Foo\nmetadata: {name: a}\n"),
            "document 2 (line 11): unknown kind \"Foo\" in apiVersion \"x/v1\"; joist validates karpenter.sh/v1 NodePool, NodeClaim and karpenter.k8s.aws/v1 EC2NodeClass",
        ),
        (
            nodepool_then(&NODEPOOL.replace("  template:", "  template: {}\n  template:")),
            "document 2 (line 17): spec: duplicate key \"template\"",
        ),
        (
            nodepool_then("kind: NodePool\nmetadata: {name: x}\n"),
            "document 2 (line 11): missing apiVersion",
        ),
        (
            nodepool_then("apiVersion: karpenter.sh/v1\nkind: NodePool\nspec: {}\n"),
            "document 2 (line 11): missing metadata.name",
        ),
        (
            nodepool_then(
                "apiVersion: karpenter.k8s.aws/v1beta1\nkind: EC2NodeClass\nmetadata: {name: a}\n",
            ),
            "document 2 (line 11): karpenter.k8s.aws/v1beta1 EC2NodeClass is an older Karpenter API; joist requires karpenter.k8s.aws/v1 EC2NodeClass (see Karpenter's v1 migration guide)",
        ),
        (
            nodepool_then("# c\na: b: c\n"),
            "document 2 (line 12): invalid YAML: mapping values are not allowed in this context",
        ),
        (
            nodepool_then("a: [b\n"),
            "document 2 (line 11): invalid YAML: did not find expected ',' or ']', while parsing a flow sequence at line 11 column 4",
        ),
    ];
    for (input, expected) in cases {
        let run = validate_stdin(input.as_bytes());
        assert_eq!(run.code, 2, "{input}");
        assert_eq!(
            run.stdout_lines(),
            vec!["valid: NodePool/default"],
            "{input}"
        );
        assert_eq!(run.stderr_lines(), vec![expected], "{input}");
    }
}

/// Inputs that are not manifests at all. Each must give exit status 2 and one error line that
/// names a document and a line; none may crash the binary.
#[test]
fn garbage_never_crashes_and_always_names_document_and_line() {
    let mut garbage: Vec<(&str, Vec<u8>)> = vec![
        ("binary", (0..=255u8).cycle().take(4096).collect()),
        (
            "latin-1",
            b"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: caf\xE9}\n".to_vec(),
        ),
        (
            "tabs",
            b"apiVersion:\tkarpenter.sh/v1\n\tkind: NodePool\n\t\tmetadata:\n".to_vec(),
        ),
        ("nul bytes", b"kind: \0\0\0\n".to_vec()),
        (
            "unclosed quote",
            b"apiVersion: \"karpenter.sh/v1\nkind: NodePool\n".to_vec(),
        ),
        ("scalar", b"hello world\n".to_vec()),
        (
            "sequence",
            b"- apiVersion: karpenter.sh/v1\n  kind: NodePool\n".to_vec(),
        ),
        ("unknown anchor", b"spec: *nothing\n".to_vec()),
        (
            "custom tag",
            b"apiVersion: karpenter.sh/v1\nkind: NodePool\nspec: !Ref x\n".to_vec(),
        ),
        ("json array", b"[1, 2, 3]".to_vec()),
        ("deep nesting", "[".repeat(10_000).into_bytes()),
        ("billion laughs", billion_laughs().into_bytes()),
        (
            "windows line endings",
            b"apiVersion: karpenter.sh/v1\r\nkind: Foo\r\nmetadata: {name: a}\r\n".to_vec(),
        ),
    ];
    garbage.push(("only a BOM and junk", b"\xEF\xBB\xBF\xFF".to_vec()));
    for (name, input) in garbage {
        let run = validate_stdin(&input);
        assert_eq!(run.code, 2, "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}");
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(
            lines[0].starts_with("document 1 (line "),
            "{name}: {}",
            lines[0]
        );
    }
}

fn billion_laughs() -> String {
    let mut yaml = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        yaml.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
    }
    yaml
}

#[test]
fn empty_input_and_missing_files_are_errors() {
    let empty = validate_stdin(b"# nothing here\n---\n");
    assert_eq!(
        (empty.code, empty.stderr.as_str()),
        (2, "error: no objects found in -\n")
    );
    let missing = joist(&["validate", "-f", "does/not/exist.yaml"], b"");
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read does/not/exist.yaml: "),
        "{}",
        missing.stderr
    );
    let usage = joist(&["validate"], b"");
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("--filename"), "{}", usage.stderr);
}

#[test]
fn several_inputs_label_their_document_errors() {
    let good = repo_root().join("examples/general-purpose.yaml");
    let bad = repo_root().join("examples/invalid/v1beta1.yaml");
    let run = joist(
        &[
            "validate",
            "-f",
            good.to_str().expect("UTF-8"),
            "-f",
            "-",
            "-f",
            bad.to_str().expect("UTF-8"),
        ],
        b"kind: X\n",
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stdout_lines(),
        vec!["valid: NodePool/default", "valid: EC2NodeClass/default"]
    );
    let stderr = run.stderr_lines();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert_eq!(stderr[0], "-: document 1 (line 1): missing apiVersion");
    assert!(stderr[1].ends_with("v1beta1.yaml: document 1 (line 5): karpenter.sh/v1beta1 NodePool is an older Karpenter API; joist requires karpenter.sh/v1 NodePool (see Karpenter's v1 migration guide)"), "{}", stderr[1]);
}
