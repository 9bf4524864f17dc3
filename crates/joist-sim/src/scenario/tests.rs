use std::time::Duration;

use joist_api::common::ValidationOptions;
use joist_aws::labels::{label_aliases, well_known_labels};

use super::*;

/// Core label policy with AWS's well-known labels, enough for the AWS requirement keys used here.
pub(crate) fn options() -> ValidationOptions {
    ValidationOptions {
        well_known: well_known_labels(),
        aliases: label_aliases(),
        ..ValidationOptions::default()
    }
}

pub(crate) const NODEPOOL: &str = "\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    spec:
      requirements:
        - key: karpenter.sh/capacity-type
          operator: In
          values: [on-demand]
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
";

pub(crate) const NODECLASS: &str = "\
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: node-role
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: c}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: c}}]
";

/// A Deployment `web` of `replicas` × {500m, 1Gi}.
pub(crate) fn deployment(replicas: u32) -> String {
    format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: nginx
          resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}
"
    )
}

pub(crate) fn stream(documents: &[&str]) -> String {
    documents.join("---\n")
}

fn load_text(text: &str) -> Result<Scenario, LoadError> {
    load(text.as_bytes(), &options())
}

fn error_text(documents: &[&str]) -> String {
    load_text(&stream(documents))
        .expect_err("the scenario is refused")
        .to_string()
}

#[test]
fn a_scenario_loads_with_its_options_and_steps() {
    let scenario = load_text(&stream(&[
        NODEPOOL,
        NODECLASS,
        &deployment(3),
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  region: us-west-2\n  timing: {launch: 1m}\n  until: 2h\n  settings: {batchIdleDuration: 2s, preferencePolicy: Ignore}\n  steps:\n    - {at: 20m, scale: {deployment: web, replicas: 0}}\n    - {at: 5m, scale: {deployment: web, replicas: 5}}\n",
    ]))
    .expect("loads");
    assert_eq!(scenario.region, "us-west-2");
    assert_eq!(scenario.timing.launch, Duration::from_secs(60));
    assert_eq!(scenario.timing.register, Duration::from_secs(15));
    assert_eq!(scenario.batching.idle, Duration::from_secs(2));
    assert_eq!(scenario.preference_policy, PreferencePolicy::Ignore);
    assert_eq!(scenario.until, Some(Duration::from_secs(7200)));
    assert_eq!(scenario.pods.len(), 3);
    assert!(scenario.nodepools[0].ready);
    let times: Vec<u64> = scenario.steps.iter().map(|s| s.at.as_secs()).collect();
    assert_eq!(times, [300, 1200], "steps are in time order");
    assert_eq!(
        scenario.steps[0].action,
        StepAction::Scale {
            namespace: "default".into(),
            deployment: "web".into(),
            replicas: 5
        }
    );
}

#[test]
fn other_step_kinds_are_refused_by_name() {
    let text = error_text(&[
        NODEPOOL,
        NODECLASS,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps:\n    - {at: 40m, interrupt: {node: x, kind: spot}}\n",
    ]);
    assert_eq!(
        text,
        "document 3 (line 24): Scenario/s: spec.steps[0]: step \"interrupt\" is not supported yet (supported: scale)"
    );
}

#[test]
fn an_invalid_nodepool_is_refused_with_validates_message() {
    let bad = NODEPOOL.replace("operator: In", "operator: Within");
    let text = error_text(&[NODECLASS, &bad]);
    assert!(
        text.starts_with("document 2 (line 11): NodePool/general: spec.template.spec.requirements[0].operator: Unsupported value: \"Within\""),
        "{text}"
    );
}

#[test]
fn kinds_outside_the_scenario_set_are_refused() {
    let text = error_text(&[
        NODEPOOL,
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
    ]);
    assert!(
        text.starts_with("document 2 (line 14): Node/n1: v1 Node is not supported in scenarios"),
        "{text}"
    );
}

#[test]
fn scenario_fields_are_checked_with_their_paths() {
    let bad_duration = error_text(&[
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  timing: {launch: soon}\n",
    ]);
    assert!(
        bad_duration.starts_with("document 1 (line 1): Scenario/s: spec.timing.launch: "),
        "{bad_duration}"
    );
    let unknown = error_text(&[
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  regoin: eu-west-1\n",
    ]);
    assert!(
        unknown.starts_with("document 1 (line 5): spec.regoin: unknown field `regoin`"),
        "{unknown}"
    );
    let missing = error_text(&[
        NODEPOOL,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps: [{at: 1m, scale: {deployment: api, replicas: 2}}]\n",
    ]);
    assert_eq!(
        missing,
        "spec.steps[0].scale: Deployment default/api is not in the scenario"
    );
}

#[test]
fn a_second_scenario_and_conversion_errors_are_refused() {
    let scenario = "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\n";
    assert_eq!(
        error_text(&[scenario, scenario]),
        "document 2 (line 5): Scenario/s: a scenario file holds at most one Scenario object"
    );
    let bad_cpu = deployment(1).replace("500m", "lots");
    let text = error_text(&[&bad_cpu]);
    assert!(
        text.starts_with("document 1 (line 1): Deployment/web: ")
            && text.contains("resources.requests.cpu"),
        "{text}"
    );
}

#[test]
fn a_nodepool_without_its_nodeclass_is_not_ready() {
    let scenario = load_text(NODEPOOL).expect("loads");
    assert!(!scenario.nodepools[0].ready);
}
