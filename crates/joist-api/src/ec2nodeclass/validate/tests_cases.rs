//! One case per behaviour of spec aws §13 items 1–11 and 14 (and each CEL rule / schema
//! constraint of the CRD), each asserting the exact list of `(path, message)` errors.

use serde_json::Value;

use super::super::crd::schema;
use super::super::*;
use super::tests::*;

/// One invalid (or deliberately valid) variation of the base class.
pub(super) struct Case {
    /// What the case shows, prefixed with its spec aws §13 item.
    name: &'static str,
    mutate: Box<dyn Fn(&mut EC2NodeClassSpec)>,
    /// Every error expected, in order.
    expected: Vec<(&'static str, String)>,
}

pub(super) fn case(
    name: &'static str,
    mutate: impl Fn(&mut EC2NodeClassSpec) + 'static,
    expected: &[(&'static str, &str)],
) -> Case {
    Case {
        name,
        mutate: Box::new(mutate),
        expected: expected
            .iter()
            .map(|(p, m)| (*p, (*m).to_owned()))
            .collect(),
    }
}

/// A case whose messages need formatting (patterns and other long texts).
pub(super) fn case_owned(
    name: &'static str,
    mutate: impl Fn(&mut EC2NodeClassSpec) + 'static,
    expected: Vec<(&'static str, String)>,
) -> Case {
    Case {
        name,
        mutate: Box::new(mutate),
        expected,
    }
}

pub(super) const NOT_CHECKED: &str = crate::common::check::CEL_SKIPPED;
const FAMILIES: &str = r#"supported values: "AL2", "AL2023", "Bottlerocket", "Custom", "Windows2019", "Windows2022", "Windows2025""#;
const XOR: &str = "must specify exactly one of ['role', 'instanceProfile']";
pub(super) const FAMILY_REQUIRED: &str =
    "must specify amiFamily if amiSelectorTerms does not contain an alias";
pub(super) const TERM_TAGS: &str = "empty tag keys or values aren't supported";
pub(super) const ALIAS_FORMAT: &str =
    "'alias' is improperly formatted, must match the format 'family@version'";
pub(super) const ALIAS_FAMILY: &str = "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', 'windows2019', 'windows2022', 'windows2025'";
pub(super) const SIGNALS: &str = "['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available']";

pub(super) fn pattern_error(
    path: &'static str,
    value: &str,
    pattern: &str,
) -> (&'static str, String) {
    (
        path,
        format!("Invalid value: \"{value}\": {path} in body should match '{pattern}'"),
    )
}

fn role_and_family_cases() -> Vec<Case> {
    vec![
        case(
            "1: role and instanceProfile",
            |s| s.instance_profile = some("p"),
            &[("spec", XOR)],
        ),
        case(
            "1: neither role nor instanceProfile",
            |s| s.role = None,
            &[("spec", XOR)],
        ),
        case(
            "1: empty role",
            |s| s.role = some(""),
            &[("spec.role", "role cannot be empty")],
        ),
        case(
            "1: empty instanceProfile",
            |s| {
                s.role = None;
                s.instance_profile = some("");
            },
            &[("spec.instanceProfile", "instanceProfile cannot be empty")],
        ),
        case(
            "2: Ubuntu family",
            |s| {
                s.ami_selector_terms = ami_id_terms();
                s.ami_family = some("Ubuntu");
            },
            &[
                (
                    "spec.amiFamily",
                    &format!(r#"Unsupported value: "Ubuntu": {FAMILIES}"#),
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "2: no family without alias",
            |s| s.ami_selector_terms = ami_id_terms(),
            &[("spec", FAMILY_REQUIRED)],
        ),
        case(
            "2: family differs from alias family",
            |s| s.ami_family = some("AL2"),
            &[(
                "spec",
                "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias",
            )],
        ),
        case(
            "2: Windows2025 family with windows2022 alias",
            |s| {
                s.ami_family = some("Windows2025");
                s.ami_selector_terms = alias_terms("windows2022@latest");
            },
            &[(
                "spec",
                "if set, amiFamily must be 'Windows2022' or 'Custom' when using a Windows2022 alias",
            )],
        ),
        case(
            "2: AL2 family with bottlerocket alias",
            |s| {
                s.ami_family = some("AL2");
                s.ami_selector_terms = alias_terms("bottlerocket@latest");
            },
            &[(
                "spec",
                "if set, amiFamily must be 'Bottlerocket' or 'Custom' when using a Bottlerocket alias",
            )],
        ),
    ]
}

fn tag_cases() -> Vec<Case> {
    let restricted = |key: &'static str, shown: &'static str| {
        case_owned(
            "3: restricted tag",
            move |s| s.tags = tags(&[(key, "value")]),
            vec![(
                "spec.tags",
                format!("tag contains a restricted tag matching {shown}"),
            )],
        )
    };
    vec![
        restricted("karpenter.sh/nodepool", "karpenter.sh/nodepool"),
        restricted("karpenter.sh/nodeclaim", "karpenter.sh/nodeclaim"),
        restricted("kubernetes.io/cluster/test", "kubernetes.io/cluster/"),
        restricted("eks:eks-cluster-name", "eks:eks-cluster-name"),
        restricted(
            "karpenter.k8s.aws/ec2nodeclass",
            "karpenter.k8s.aws/ec2nodeclass",
        ),
        case(
            "3: empty tag key",
            |s| s.tags = tags(&[("", "v")]),
            &[("spec.tags", "empty tag keys aren't supported")],
        ),
    ]
}

#[test]
fn every_case_reports_exactly_its_errors() {
    let mut cases = role_and_family_cases();
    cases.extend(tag_cases());
    cases.extend(super::tests_cases_selectors::cases());
    cases.extend(super::tests_cases_launch::cases());
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            !case.expected.is_empty(),
            "{}: a case must expect errors",
            case.name
        );
        let actual = errors_of(&class_with(&case.mutate));
        let expected: Vec<(String, String)> = case
            .expected
            .iter()
            .map(|(p, m)| ((*p).to_owned(), as_the_api_server_says(p, m)))
            .collect();
        if actual != expected {
            failures.push(format!(
                "{}\n  expected {expected:#?}\n  actual   {actual:#?}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        cases.len(),
        CASE_COUNT,
        "update CASE_COUNT (reported to the lead) when adding cases"
    );
}

/// The schema node at a field path such as `spec.subnetSelectorTerms[0].tags`.
fn schema_at(path: &str) -> Option<Value> {
    let mut node = schema();
    for step in path.split('.') {
        let (field, indexed) = match step.split_once('[') {
            Some((field, _)) => (field, true),
            None => (step, false),
        };
        node = node.get("properties")?.get(field)?.clone();
        if indexed {
            node = node.get("items")?.clone();
        }
    }
    Some(node)
}

/// The cases name a failed CEL rule by its message alone; the API server prints it as
/// `Invalid value: "<type>": <message>`, with the type of the schema node the rule sits on. This
/// adds that prefix, taking the type from the CRD rather than from the validator, and only for a
/// message that really is (or evaluates) a rule of the node at `path`.
fn as_the_api_server_says(path: &str, message: &str) -> String {
    let Some(node) = schema_at(path) else {
        return message.to_owned();
    };
    let is_rule_here = node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| rule.get("message").and_then(Value::as_str))
        .any(|rule| message == rule || message.ends_with(&format!(" evaluating rule: {rule}")));
    match node.get("type").and_then(Value::as_str) {
        Some(json_type) if is_rule_here => format!("Invalid value: {json_type:?}: {message}"),
        _ => message.to_owned(),
    }
}

/// Number of cases in the table (both files).
const CASE_COUNT: usize = 120;
