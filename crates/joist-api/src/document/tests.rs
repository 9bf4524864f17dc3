//! The reader end to end with a small test-only kind, so the machinery is tested independently
//! of the real kinds' schemas.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;
use crate::validation::FieldPath;

/// A minimal kind: an optional weight with a default, and free-form labels.
#[derive(Debug, Deserialize)]
struct Widget {
    spec: WidgetSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WidgetSpec {
    weight: Option<i32>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

impl Widget {
    fn with_defaults(mut self) -> Self {
        self.spec.weight.get_or_insert(10);
        self
    }
}

fn validate_widget(widget: &Widget) -> Vec<FieldError> {
    let spec = FieldPath::root().child("spec");
    let mut errors = Vec::new();
    if let Some(weight) = widget.spec.weight.filter(|w| !(1..=100).contains(w)) {
        errors.push(FieldError::new(
            &spec.child("weight"),
            format!("{weight} is not between 1 and 100"),
        ));
    }
    for key in widget
        .spec
        .labels
        .keys()
        .filter(|k| k.starts_with("karpenter.sh/"))
    {
        errors.push(FieldError::new(
            &spec.child("labels").key(key),
            "label domain \"karpenter.sh\" is restricted",
        ));
    }
    errors
}

const TEST_KINDS: &[KindEntry] = &[
    KindEntry {
        api_version: "test.joist.dev/v1",
        kind: "Widget",
        check: |d, _| check_as(d, Widget::with_defaults, validate_widget),
    },
    KindEntry {
        api_version: "test.joist.dev/v1",
        kind: "Gadget",
        check: |d, _| check_as(d, Widget::with_defaults, validate_widget),
    },
    KindEntry {
        api_version: "other.joist.dev/v2",
        kind: "Gizmo",
        check: |d, _| check_as(d, Widget::with_defaults, validate_widget),
    },
];

/// Each document's outcome, rendered the way `joist validate` prints it.
fn outcomes(input: &str) -> Vec<String> {
    check_stream_with(input.as_bytes(), TEST_KINDS, &ValidationOptions::default())
        .into_iter()
        .map(|outcome| match outcome {
            Ok(object) if object.is_valid() => format!("valid: {}/{}", object.kind, object.name),
            Ok(object) => {
                let errors: Vec<String> = object.errors.iter().map(ToString::to_string).collect();
                format!("{}/{}: {}", object.kind, object.name, errors.join(" | "))
            }
            Err(error) => error.to_string(),
        })
        .collect()
}

const WIDGET: &str = "apiVersion: test.joist.dev/v1\nkind: Widget\nmetadata:\n  name: w\n";

#[test]
fn valid_and_invalid_objects_are_told_apart_after_defaulting() {
    let input = format!(
        "{WIDGET}spec: {{}}\n---\n{}spec:\n  weight: 0\n  labels: {{karpenter.sh/x: y}}\n",
        WIDGET.replace("name: w", "name: bad")
    );
    assert_eq!(outcomes(&input), vec![
        "valid: Widget/w".to_owned(),
        "Widget/bad: spec.weight: 0 is not between 1 and 100 | spec.labels[karpenter.sh/x]: label domain \"karpenter.sh\" is restricted".to_owned(),
    ]);
}

#[test]
fn one_broken_document_does_not_hide_the_others() {
    let input = format!("{WIDGET}spec: {{}}\n---\nkey: [unclosed\n---\n{WIDGET}spec: {{}}\n");
    let lines = outcomes(&input);
    assert_eq!(lines[0], "valid: Widget/w");
    assert_eq!(
        lines[1],
        "document 2 (line 7): invalid YAML: did not find expected ',' or ']', while parsing a flow sequence at line 7 column 6",
    );
    assert_eq!(lines[2], "valid: Widget/w");
}

#[test]
fn syntax_errors_give_input_lines_in_the_whole_message() {
    let input = "[a]\n---\n# c\nspec:\n  x: 1\n y: 2\n";
    assert_eq!(
        outcomes(input),
        vec![
            "document 1 (line 1): expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found sequence",
            "document 2 (line 6): invalid YAML: did not find expected key, while parsing a block mapping at line 4 column 1",
        ],
    );
    let tabs = "spec:\n\tweight: 1\n";
    assert_eq!(
        outcomes(tabs),
        vec![
            "document 1 (line 2): invalid YAML: found character that cannot start any token, while scanning for the next token"
        ],
    );
}

#[test]
fn duplicate_keys_are_found_at_every_depth() {
    let cases = [
        (
            "apiVersion: test.joist.dev/v1\nkind: Widget\nspec: {}\nspec: {}\n",
            "document 1 (line 4): duplicate key \"spec\"",
        ),
        (
            "apiVersion: test.joist.dev/v1\nkind: Widget\nmetadata:\n  name: a\n  labels:\n    x: \"1\"\n    x: \"2\"\n",
            "document 1 (line 7): metadata.labels: duplicate key \"x\"",
        ),
        (
            "spec:\n  list:\n  - {a: 1, b: 2, a: 3}\n",
            "document 1 (line 3): spec.list[0]: duplicate key \"a\"",
        ),
        (
            "metadata:\n  name: a\n  name: b\n",
            "document 1 (line 3): metadata: duplicate key \"name\"",
        ),
        (
            "spec:\n  1: a\n  \"1\": b\n",
            "document 1 (line 3): spec: duplicate key \"1\"",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(outcomes(input), vec![expected], "{input}");
    }
}

#[test]
fn yaml_without_a_json_meaning_is_rejected() {
    let cases = [
        (
            "spec: !Ref thing\n",
            "document 1 (line 1): spec: YAML tag \"!Ref\" is not supported",
        ),
        (
            "base: &b {a: 1}\nspec:\n  <<: *b\n",
            "document 1 (line 3): spec: YAML merge keys (<<) are not supported; write the fields out",
        ),
        (
            "spec:\n  ? [a, b]\n  : c\n",
            "document 1 (line 2): spec: mapping keys must be strings, found a sequence",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(outcomes(input), vec![expected], "{input}");
    }
}

#[test]
fn documents_must_be_objects_with_an_identity() {
    let cases = [
        (
            "- a\n- b\n",
            "document 1 (line 1): expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found sequence",
        ),
        (
            "just text\n",
            "document 1 (line 1): expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found string \"just text\"",
        ),
        (
            "kind: Widget\nmetadata: {name: a}\n",
            "document 1 (line 1): missing apiVersion",
        ),
        (
            "apiVersion: test.joist.dev/v1\nmetadata: {name: a}\n",
            "document 1 (line 1): missing kind",
        ),
        (
            "apiVersion: test.joist.dev/v1\nkind: Widget\nmetadata: {name: \"\"}\n",
            "document 1 (line 1): missing metadata.name",
        ),
        (
            "apiVersion: test.joist.dev/v1\nkind: Widget\nmetadata: [x]\n",
            "document 1 (line 1): missing metadata.name",
        ),
        (
            "# c\n\napiVersion: 3\n",
            "document 1 (line 3): apiVersion: expected a string, found integer `3`",
        ),
        (
            "apiVersion: x/v1\nkind: 170141183460469231731687303715884105727\n",
            "document 1 (line 2): kind: expected a string, found integer",
        ),
        (
            "apiVersion: test.joist.dev/v1\nkind: Widget\nmetadata: 1e400\n",
            "document 1 (line 1): missing metadata.name",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(outcomes(input), vec![expected], "{input}");
    }
}

#[test]
fn unknown_and_old_kinds_say_what_joist_accepts() {
    let unknown = "---\n---\napiVersion: x/v1\nkind: Foo\nmetadata: {name: a}\n";
    assert_eq!(
        outcomes(unknown),
        vec![
            "document 1 (line 3): unknown kind \"Foo\" in apiVersion \"x/v1\"; joist validates test.joist.dev/v1 Widget, Gadget and other.joist.dev/v2 Gizmo",
        ]
    );
    let old = "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: a}\n";
    assert_eq!(
        outcomes(old),
        vec![
            "document 1 (line 1): karpenter.sh/v1alpha5 Provisioner is an older Karpenter API; joist requires karpenter.sh/v1 NodePool (see Karpenter's v1 migration guide)",
        ]
    );
}

#[test]
fn wrong_types_name_the_field_and_line() {
    let input = format!("{WIDGET}spec:\n  labels: {{}}\n  weight: heavy\n");
    assert_eq!(
        outcomes(&input),
        vec!["document 1 (line 7): spec.weight: invalid type: string \"heavy\", expected i32",]
    );
}

#[test]
fn the_empty_table_lists_no_kinds() {
    let outcome = check_stream_with(WIDGET.as_bytes(), &[], &ValidationOptions::default());
    assert_eq!(
        outcome[0].as_ref().unwrap_err().to_string(),
        "document 1 (line 1): unknown kind \"Widget\" in apiVersion \"test.joist.dev/v1\"; joist validates no kinds",
    );
}

#[test]
fn line_number_shifting_only_touches_line_numbers() {
    assert_eq!(
        shift_line_numbers("x at line 3 column 4, y at line 10", 5),
        "x at line 8 column 4, y at line 15"
    );
    assert_eq!(
        shift_line_numbers("no numbers; line x", 5),
        "no numbers; line x"
    );
}

#[test]
fn non_utf8_input_is_one_error() {
    let outcome = check_stream_with(b"a: \xFE\n", TEST_KINDS, &ValidationOptions::default());
    assert_eq!(outcome.len(), 1);
    assert_eq!(
        outcome[0].as_ref().unwrap_err().to_string(),
        "document 1 (line 1): input is not UTF-8 text (byte 0xFE)"
    );
}

mod garbage {
    use proptest::prelude::*;

    use super::*;

    /// A NodePool and an EC2NodeClass using most fields, in the style of upstream's docs.
    const REAL_MANIFEST: &str = "apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
  labels: {team: a}
spec:
  weight: 10
  limits: {cpu: 100, memory: 100Gi}
  template:
    metadata:
      labels: {tier: web}
    spec:
      requirements:
        - key: karpenter.sh/capacity-type
          operator: In
          values: [spot]
          minValues: 1
        - key: karpenter.k8s.aws/instance-cpu
          operator: Gt
          values: ['2']
      taints:
        - key: dedicated
          value: web
          effect: NoSchedule
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      expireAfter: 720h
      terminationGracePeriod: 1h
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1m
    budgets:
      - nodes: '0'
        schedule: '0 9 * * mon-fri'
        duration: 8h
        reasons: [Underutilized]
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole
  amiFamily: AL2023
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: c}
  securityGroupSelectorTerms:
    - id: sg-0123
  blockDeviceMappings:
    - deviceName: /dev/xvda
      rootVolume: true
      ebs: {volumeSize: 100Gi, volumeType: gp3, iops: 3000, throughput: 125}
  metadataOptions: {httpEndpoint: enabled, httpPutResponseHopLimit: 2, httpTokens: required}
  kubelet:
    maxPods: 110
    evictionSoft: {memory.available: 5%}
    evictionSoftGracePeriod: {memory.available: 1m}
    imageGCHighThresholdPercent: 85
    imageGCLowThresholdPercent: 80
  tags: {team: a}
";

    #[test]
    fn the_real_manifest_is_valid() {
        let outcomes = check_stream(REAL_MANIFEST.as_bytes());
        let valid: Vec<bool> = outcomes
            .iter()
            .map(|o| o.as_ref().is_ok_and(CheckedObject::is_valid))
            .collect();
        assert_eq!(valid, vec![true, true], "{outcomes:?}");
    }

    /// `(kind/name, path: message)` lines of every outcome, or the error of a document.
    fn lines(input: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for outcome in check_stream(input.as_bytes()) {
            match outcome {
                Ok(object) if object.is_valid() => lines.push(format!("valid: {}", object.name)),
                Ok(object) => lines.extend(
                    object
                        .errors
                        .iter()
                        .map(|error| format!("{}: {error}", object.name)),
                ),
                Err(error) => lines.push(error.to_string()),
            }
        }
        lines
    }

    #[test]
    fn undeclared_fields_are_refused_alone_as_written() {
        // An unknown metadata field (the typed ObjectMeta drops it), an unknown spec field next
        // to a schema error (which the server then does not report), and a map where the
        // EC2NodeClass schema declares a list (the server prunes its keys instead of reporting a
        // type error).
        let input = REAL_MANIFEST
            .replacen(
                "  labels: {team: a}\n",
                "  labels: {team: a}\n  labelz: {b: c}\n",
                1,
            )
            .replacen("  weight: 10\n", "  weight: 1000\n  wieght: 10\n", 1)
            .replacen(
                "  amiSelectorTerms:\n    - alias: al2023@latest\n",
                "  amiSelectorTerms: {alias: al2023@latest}\n",
                1,
            );
        assert_eq!(
            lines(&input),
            [
                r#"default: metadata.labelz: unknown field "metadata.labelz""#,
                r#"default: spec.wieght: unknown field "spec.wieght""#,
                r#"default: spec.amiSelectorTerms.alias: unknown field "spec.amiSelectorTerms.alias""#,
            ]
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_schema_errors_even_when_the_types_could_read_them() {
        // serde reads `role: 5` as the text "5" and `weight: heavy` not at all; the API server
        // reports both as type errors and skips the CEL rules.
        let input = REAL_MANIFEST
            .replacen("  weight: 10\n", "  weight: heavy\n", 1)
            .replacen("  role: KarpenterNodeRole\n", "  role: 5\n", 1);
        let skipped = format!("default: <nil>: {}", crate::common::check::CEL_SKIPPED);
        assert_eq!(
            lines(&input),
            [
                r#"default: spec.weight: Invalid value: "string": spec.weight in body must be of type integer: "string""#,
                skipped.as_str(),
                r#"default: spec.role: Invalid value: "integer": spec.role in body must be of type string: "integer""#,
                skipped.as_str(),
            ]
        );
    }

    proptest! {
        /// No input makes the reader panic, and every error names a real document and line.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Every line break libyaml knows ends in one of these bytes (LF, CR, NEL, LS, PS), so
            // this bounds the number of lines from above.
            let lines = 1 + input.iter().filter(|b| matches!(b, b'\n' | b'\r' | 0x85 | 0xA8 | 0xA9)).count();
            for outcome in check_stream_with(&input, TEST_KINDS, &ValidationOptions::default()) {
                if let Err(error) = outcome {
                    let at = error.position();
                    prop_assert!(at.document >= 1 && at.line >= 1);
                    prop_assert!(at.line <= lines, "{error}");
                }
            }
        }

        /// Valid manifests of the real kinds with one value replaced by something odd: the real
        /// decoding and validation report it without panicking, one outcome per object.
        #[test]
        fn odd_values_in_real_manifests_never_panic(
            line in 0..REAL_MANIFEST.lines().count(),
            value in prop_oneof![
                Just(String::new()), Just("null".to_owned()), Just("-1".to_owned()),
                Just("99999999999999999999".to_owned()), Just("1.5e300".to_owned()), Just("[]".to_owned()),
                Just("{}".to_owned()), Just("[{}]".to_owned()), Just("\"*\"".to_owned()), Just("\"\"".to_owned()),
                Just("Never".to_owned()), Just("0s".to_owned()), Just("100%".to_owned()), Just("@every".to_owned()),
                "[a-zA-Z0-9%@*/._-]{0,20}",
            ],
        ) {
            let mutated: Vec<String> = REAL_MANIFEST
                .lines()
                .enumerate()
                .map(|(i, text)| match text.split_once(": ") {
                    Some((key, _)) if i == line => format!("{key}: {value}"),
                    _ => text.to_owned(),
                })
                .collect();
            let outcomes = check_stream(mutated.join("\n").as_bytes());
            prop_assert_eq!(outcomes.len(), 2);
        }

        /// YAML-ish text built from the characters that matter to the structure.
        #[test]
        fn yamlish_text_never_panics(input in "([-.:#%&*!|>?{}\\[\\],'\" \t\na-z0-9]|---\n|\\.\\.\\.\n|  ){0,200}") {
            for outcome in check_stream_with(input.as_bytes(), TEST_KINDS, &ValidationOptions::default()) {
                if let Err(error) = outcome {
                    prop_assert!(error.position().document >= 1);
                }
            }
        }
    }
}
