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
    assert!(
        matches!(
            &scenario.steps[0].action,
            StepAction::Scale { namespace, deployment, replicas: 5 }
                if namespace == "default" && deployment == "web"
        ),
        "{:?}",
        scenario.steps[0].action
    );
}

#[test]
fn unknown_step_kinds_are_refused_by_name() {
    let text = error_text(&[
        NODEPOOL,
        NODECLASS,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps:\n    - {at: 40m, reboot: {node: x}}\n",
    ]);
    assert_eq!(
        text,
        "document 3 (line 24): Scenario/s: spec.steps[0]: step \"reboot\" is not supported yet (supported: scale, apply, delete, interrupt)"
    );
}

#[test]
fn apply_delete_and_interrupt_steps_are_read() {
    let scenario = load_text(&stream(&[
        NODEPOOL,
        NODECLASS,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps:\n    - {at: 1m, interrupt: {node: \"karpenter.sh/capacity-type=spot\"}}\n    - {at: 2m, delete: {kind: Deployment, name: web}}\n    - at: 3m\n      apply: {apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: p}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}}\n",
    ]))
    .expect("loads");
    assert!(matches!(
        &scenario.steps[0].action,
        StepAction::Interrupt { node: NodeSelector::Labels(labels), kind: InterruptKind::Spot }
            if labels.get("karpenter.sh/capacity-type").map(String::as_str) == Some("spot")
    ));
    assert!(matches!(
        &scenario.steps[1].action,
        StepAction::Delete { kind, name, namespace } if kind == "Deployment" && name == "web" && namespace == "default"
    ));
    let StepAction::Apply(fragment) = &scenario.steps[2].action else {
        panic!("apply step: {:?}", scenario.steps[2].action);
    };
    assert_eq!(fragment.pdbs.len(), 1);
    assert_eq!(fragment.pdbs[0].name, "p");
}

#[test]
fn a_bad_applied_object_names_the_step() {
    let text = error_text(&[
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  steps:\n    - at: 3m\n      apply: {apiVersion: karpenter.sh/v1, kind: NodePool, metadata: {name: p}, spec: {template: {spec: {requirements: [{key: a, operator: Within}], nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: d}}}}}\n",
    ]);
    assert!(
        text.starts_with("document 1 (line 1): Scenario/s: spec.steps[0].apply: document 1 (line 1): NodePool/p: spec.template.spec.requirements[0].operator: Unsupported value"),
        "{text}"
    );
}

#[test]
fn reservations_shortages_gates_and_subnet_zones_are_read() {
    let class = format!(
        "{NODECLASS}  capacityReservationSelectorTerms: [{{id: cr-1}}]\nstatus:\n  subnets:\n    - {{id: subnet-1, zone: us-east-1b, zoneID: use1-az2}}\n    - {{id: subnet-2, zone: us-east-1c}}\n"
    );
    let scenario = load_text(&stream(&[
        NODEPOOL,
        &class,
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  featureGates: {StaticCapacity: true}\n  timing: {gpuDevicePlugin: 45s}\n  capacityReservations:\n    - {id: cr-1, instanceType: p5.48xlarge, zone: us-east-1b, count: 2, type: capacity-block, end: 3h}\n  insufficientCapacity:\n    - {instanceType: g5.xlarge, capacityType: spot, until: 10m}\n",
    ]))
    .expect("loads");
    assert!(scenario.feature_gates.static_capacity);
    assert_eq!(scenario.timing.gpu_device_plugin, Duration::from_secs(45));
    let info = &scenario.node_classes["default"];
    assert_eq!(
        info.zones,
        [
            ("us-east-1b".to_owned(), "use1-az2".to_owned()),
            ("us-east-1c".to_owned(), String::new())
        ]
    );
    assert_eq!(
        scenario.reservations[0].kind,
        ReservationKind::CapacityBlock
    );
    assert!(info.selects(&scenario.reservations[0]));
    let shortage = &scenario.insufficient_capacity[0];
    assert!(shortage.applies("g5.xlarge", "us-east-1a", "spot", Duration::from_secs(60)));
    assert!(!shortage.applies(
        "g5.xlarge",
        "us-east-1a",
        "on-demand",
        Duration::from_secs(60)
    ));
    assert!(!shortage.applies("g5.xlarge", "us-east-1a", "spot", Duration::from_secs(600)));
    let block_without_end = error_text(&[
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  capacityReservations: [{id: cr-2, instanceType: p5.48xlarge, zone: us-east-1a, count: 1, type: capacity-block}]\n",
    ]);
    assert!(
        block_without_end
            .ends_with("spec.capacityReservations[0].end: Required value: a capacity block ends"),
        "{block_without_end}"
    );
    let gate = error_text(&[
        "apiVersion: joist.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  featureGates: {Teleport: true}\n",
    ]);
    assert!(
        gate.contains("spec.featureGates.Teleport: unknown feature gate"),
        "{gate}"
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
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n1}\n",
    ]);
    assert!(
        text.starts_with(
            "document 2 (line 14): ConfigMap/n1: v1 ConfigMap is not supported in scenarios"
        ),
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

#[test]
fn priority_classes_resolve_before_pods_and_nodes_load() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  priorityClassName: high\n  containers: [{name: c, image: c}]\n";
    let class = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n";
    let node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: existing\n  labels: {node.kubernetes.io/instance-type: m5.large}\nstatus:\n  allocatable: {cpu: \"2\", memory: 8Gi, pods: \"29\"}\n";
    let scenario = load_text(&stream(&[pod, class, node])).expect("loads");
    assert_eq!(scenario.pods[0].priority, 1000);
    assert_eq!(scenario.nodes.len(), 1);
    assert_eq!(scenario.nodes[0].name, "existing");
    let unknown = error_text(&[&pod.replace("high", "low")]);
    assert!(unknown.contains("spec.priorityClassName"), "{unknown}");
}
