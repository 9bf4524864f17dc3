use joist_core::requirements::{NodeSelectorRequirement, Operator};
use joist_core::snapshot::{IntOrString, LabelSelector, VolumeBindingMode};
use joist_core::taints::{Effect, Taint};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};

use super::super::{
    ConvertOptions, csinode_volume_limits, node, nodeclaim, nodepool, pdb, persistent_volume,
    persistent_volume_claim, storage_class,
};
use super::{parse, resources};
use crate::nodeclaim::NodeClaim;
use crate::nodepool::NodePool;

const NODECLAIM: &str = r#"
apiVersion: karpenter.sh/v1
kind: NodeClaim
metadata:
  name: default-abcde
  labels: {karpenter.sh/nodepool: default, node.kubernetes.io/instance-type: m5.large}
spec:
  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
  requirements: [{key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}]
  taints: [{key: team, value: a, effect: NoSchedule}]
  startupTaints: [{key: example.com/agent, effect: NoExecute}]
status:
  nodeName: ip-10-0-0-1
  providerID: aws:///us-west-2a/i-123
  capacity: {cpu: "2", memory: 8Gi, pods: "29"}
  allocatable: {cpu: 1930m, memory: 7Gi, pods: "29"}
  conditions:
  - {type: Launched, status: "True", reason: Launched, message: "", lastTransitionTime: "2024-01-01T00:00:00Z"}
  - {type: Registered, status: "True", reason: Registered, message: "", lastTransitionTime: "2024-01-01T00:00:00Z"}
"#;

const NODE: &str = r#"
metadata:
  name: ip-10-0-0-1
  labels:
    karpenter.sh/nodepool: default
    karpenter.sh/registered: "true"
    kubernetes.io/hostname: ip-10-0-0-1
spec:
  providerID: aws:///us-west-2a/i-123
  taints:
  - {key: example.com/agent, effect: NoExecute}
  - {key: team, value: a, effect: NoSchedule}
status:
  capacity: {cpu: "2", memory: 8Gi, pods: "29"}
  allocatable: {cpu: 1900m, memory: 7Gi, pods: "29"}
"#;

#[test]
fn a_registered_uninitialized_node_uses_its_labels_and_the_claims_resources() {
    let claim: NodeClaim = parse(NODECLAIM);
    let n = node(&parse::<Node>(NODE), Some(&claim)).unwrap();
    assert_eq!(n.name, "ip-10-0-0-1");
    assert_eq!(n.nodeclaim.as_deref(), Some("default-abcde"));
    assert_eq!(n.nodepool.as_deref(), Some("default"));
    assert!(n.registered && !n.initialized);
    assert_eq!(n.hostname(), "ip-10-0-0-1");
    assert_eq!(
        n.startup_taints,
        vec![Taint::new("example.com/agent", "", Effect::NoExecute)]
    );
    assert_eq!(
        n.scheduling_taints(),
        vec![Taint::new("team", "a", Effect::NoSchedule)]
    );
    assert_eq!(
        n.allocatable,
        resources(&[("cpu", "1930m"), ("memory", "7Gi"), ("pods", "29")]),
        "until initialized, the NodeClaim's allocatable counts"
    );
    let mut initialized: Node = parse(NODE);
    initialized
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("karpenter.sh/initialized".into(), "true".into());
    let n = node(&initialized, Some(&claim)).unwrap();
    assert!(n.initialized);
    assert_eq!(
        n.allocatable.get("cpu"),
        resources(&[("cpu", "1900m")]).get("cpu")
    );
}

#[test]
fn an_unregistered_nodeclaim_is_an_in_flight_entry() {
    let mut claim: NodeClaim = parse(NODECLAIM);
    claim
        .status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()
        .pop();
    let n = nodeclaim(&claim).unwrap();
    assert!(!n.registered && !n.initialized && n.is_managed());
    assert_eq!(n.labels["node.kubernetes.io/instance-type"], "m5.large");
    assert_eq!(n.taints, vec![Taint::new("team", "a", Effect::NoSchedule)]);
    assert_eq!(n.provider_id.as_deref(), Some("aws:///us-west-2a/i-123"));
}

#[test]
fn unmanaged_nodes_count_as_registered_and_initialized() {
    let yaml = "metadata: {name: n, labels: {a: b}}\nstatus: {allocatable: {cpu: \"4\"}}\n";
    let n = node(&parse::<Node>(yaml), None).unwrap();
    assert!(n.registered && n.initialized && !n.is_managed());
    let bad = yaml.replace("\"4\"", "four");
    let err = node(&parse::<Node>(&bad), None).unwrap_err();
    assert!(err.to_string().starts_with("n: status.allocatable.cpu: "));
}

#[test]
fn a_nodepool_becomes_the_scheduling_view() {
    let yaml = r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default, annotations: {karpenter.sh/nodepool-hash: "123"}}
spec:
  weight: 10
  limits: {cpu: 1000}
  template:
    metadata: {labels: {team: a}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements: [{key: karpenter.sh/capacity-type, operator: In, values: [spot]}]
      taints: [{key: team, value: a, effect: NoSchedule}]
"#;
    let pool: NodePool = parse(yaml);
    let simulated = nodepool(&pool, &ConvertOptions::simulation()).unwrap();
    assert!(simulated.ready);
    assert_eq!(simulated.weight, 10);
    assert_eq!(simulated.limits, resources(&[("cpu", "1000")]));
    assert_eq!(simulated.expire_after.as_deref(), Some("720h"));
    assert_eq!(
        simulated.hash,
        pool.hash(),
        "joist's own hash, not a stale (e.g. upstream's) annotation"
    );
    assert_ne!(simulated.hash, "123");
    assert_eq!(simulated.node_class_ref.name, "default");
    assert_eq!(simulated.labels["team"], "a");
    assert!(simulated.requirements.has("karpenter.sh/capacity-type"));
    assert_eq!(
        simulated.taints,
        vec![Taint::new("team", "a", Effect::NoSchedule)]
    );
    assert!(!nodepool(&pool, &ConvertOptions::cluster()).unwrap().ready);
}

#[test]
fn persistent_volume_node_affinity_and_driver() {
    let yaml = r#"
metadata: {name: pv-1}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  awsElasticBlockStore: {volumeID: vol-1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [us-west-2a]}]
"#;
    let pv = persistent_volume(&parse::<PersistentVolume>(yaml)).unwrap();
    assert_eq!(
        pv.node_affinity[0].match_expressions,
        vec![NodeSelectorRequirement::new(
            "topology.kubernetes.io/zone",
            Operator::In,
            ["us-west-2a"]
        )]
    );
    assert_eq!(pv.csi_driver.as_deref(), Some("ebs.csi.aws.com"));
    assert!(!pv.local_or_host_path);
}

#[test]
fn claims_classes_csinodes_and_pdbs() {
    let options = ConvertOptions::cluster();
    let claim = persistent_volume_claim(
        &parse::<PersistentVolumeClaim>(
            "metadata: {name: c, namespace: ns, annotations: {pv.kubernetes.io/bind-completed: \"yes\"}}\nspec: {storageClassName: gp3, volumeName: pv-1}\nstatus: {phase: Bound}\n",
        ),
        &options,
    )
    .unwrap();
    assert_eq!(claim.volume_name.as_deref(), Some("pv-1"));
    assert!(claim.bind_completed);
    let class = storage_class(
        &parse::<StorageClass>(
            "metadata: {name: gp3, annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}}\nprovisioner: ebs.csi.aws.com\nallowedTopologies:\n- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-west-2a]}]\n",
        ),
        &options,
    )
    .unwrap();
    assert_eq!(
        class.volume_binding_mode,
        VolumeBindingMode::Immediate,
        "the API default"
    );
    assert!(class.is_default);
    assert_eq!(
        class.allowed_topologies[0].match_label_expressions[0].1,
        ["us-west-2a"]
    );
    let limits = csinode_volume_limits(&parse::<CSINode>(
        "metadata: {name: n}\nspec:\n  drivers:\n  - {name: ebs.csi.aws.com, nodeID: i-1, allocatable: {count: 25}}\n  - {name: efs.csi.aws.com, nodeID: i-1}\n",
    ));
    assert_eq!(
        limits.into_iter().collect::<Vec<_>>(),
        [("ebs.csi.aws.com".to_owned(), 25)]
    );
    let budget = pdb(
        &parse::<PodDisruptionBudget>(
            "metadata: {name: b, namespace: ns}\nspec: {maxUnavailable: 0, selector: {matchLabels: {app: web}}}\n",
        ),
        &options,
    )
    .unwrap();
    assert!(budget.is_fully_blocking());
    assert_eq!(budget.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(
        budget.selector,
        Some(LabelSelector::from_labels([("app", "web")]))
    );
}
