use joist_core::labels::{LabelAliases, ZONE};
use joist_core::requirements::{NodeSelectorRequirement, Operator};
use joist_core::scheduling::PreferencePolicy;
use joist_core::snapshot::{
    HostPort, NodeInclusionPolicy, PodPhase, Protocol, VolumeSource, WhenUnsatisfiable,
};
use joist_core::taints::{Effect, Toleration, TolerationOperator};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::super::{ConvertError, ConvertOptions, expand_deployment, pod};
use super::{parse, resources};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {karpenter.sh/do-not-disrupt: "true"}
    spec:
      priority: 100
      overhead: {cpu: 250m, memory: 120Mi}
      nodeSelector:
        kubernetes.io/arch: arm64
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: topology.kubernetes.io/zone, operator: In, values: [us-west-2a, us-west-2b]}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            preference:
              matchExpressions:
              - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname
            matchLabelKeys: [pod-template-hash]
      tolerations:
      - {key: dedicated, value: web, effect: NoSchedule}
      - {key: gpu, operator: Exists}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: web}}
      initContainers:
      - name: setup
        image: busybox
        resources: {requests: {cpu: "1", memory: 64Mi}}
      - name: proxy
        image: envoy
        restartPolicy: Always
        resources: {requests: {cpu: 100m, memory: 128Mi}}
      containers:
      - name: app
        image: nginx
        ports:
        - {containerPort: 80, hostPort: 8080}
        - {containerPort: 53, hostPort: 53, protocol: UDP, hostIP: 10.0.0.1}
        - {containerPort: 9090}
        resources: {requests: {cpu: 500m, memory: 1Gi}}
      - name: metrics
        image: exporter
        resources: {limits: {cpu: 250m, memory: 512Mi}}
      volumes:
      - name: cache
        emptyDir: {}
      - name: scratch
        ephemeral:
          volumeClaimTemplate:
            spec:
              storageClassName: fast
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 1Gi}}
"#;

#[test]
fn a_deployment_expands_into_pods_with_kubernetes_requests_and_constraints() {
    let deployment: Deployment = parse(DEPLOYMENT);
    let options = ConvertOptions::simulation();
    let pods = expand_deployment(&deployment, &options).unwrap();
    assert_eq!(pods.len(), 3);
    let converted: Vec<_> = pods.iter().map(|p| pod(p, &options).unwrap()).collect();
    for (i, p) in converted.iter().enumerate() {
        assert_eq!(p.namespace, "shop");
        assert!(p.name.starts_with("web-") && p.name.ends_with(&format!("-{i}")));
        // containers 500m+250m (limits) + sidecar 100m = 850m < regular init 1 => 1, plus 250m
        // overhead; memory 1Gi + 512Mi + 128Mi = 1664Mi plus 120Mi overhead.
        assert_eq!(
            p.requests,
            resources(&[("cpu", "1250m"), ("memory", "1784Mi"), ("pods", "1")])
        );
        assert_eq!(p.priority, 100);
        assert!(p.unschedulable, "simulated pending pods are unschedulable");
        assert_eq!(p.phase, PodPhase::Pending);
        assert_eq!(p.do_not_disrupt(), Some("true"));
        assert_eq!(
            p.owner.as_ref().map(|o| o.kind.as_str()),
            Some("ReplicaSet")
        );
        assert!(p.labels.contains_key("pod-template-hash"));
    }
    let c = &converted[0].constraints;
    let requirements = c
        .requirements(&LabelAliases::core(), PreferencePolicy::Respect)
        .unwrap();
    assert_eq!(
        requirements
            .get("kubernetes.io/arch")
            .values()
            .collect::<Vec<_>>(),
        ["arm64"]
    );
    assert_eq!(
        requirements.get(ZONE).values().collect::<Vec<_>>(),
        ["us-west-2a", "us-west-2b"]
    );
    assert_eq!(
        requirements
            .get("karpenter.sh/capacity-type")
            .values()
            .collect::<Vec<_>>(),
        ["spot"]
    );
    assert_eq!(c.node_affinity.preferred[0].weight, 50);
    assert_eq!(
        c.pod_anti_affinity.required[0].topology_key,
        "kubernetes.io/hostname"
    );
    assert_eq!(
        c.pod_anti_affinity.required[0].match_label_keys,
        ["pod-template-hash"]
    );
    assert_eq!(
        c.tolerations,
        vec![
            Toleration::equal("dedicated", "web", Some(Effect::NoSchedule)),
            Toleration {
                key: "gpu".into(),
                operator: TolerationOperator::Exists,
                ..Toleration::default()
            },
        ]
    );
    let spread = &c.topology_spread[0];
    assert_eq!(spread.when_unsatisfiable, WhenUnsatisfiable::ScheduleAnyway);
    assert_eq!(
        spread.node_affinity_policy,
        Some(NodeInclusionPolicy::Honor)
    );
    assert_eq!(spread.node_taints_policy, Some(NodeInclusionPolicy::Ignore));
    assert_eq!(
        converted[0].host_ports,
        vec![
            HostPort {
                ip: "0.0.0.0".into(),
                port: 8080,
                protocol: Protocol::Tcp
            },
            HostPort {
                ip: "10.0.0.1".into(),
                port: 53,
                protocol: Protocol::Udp
            },
        ]
    );
    assert_eq!(converted[0].volumes[0].source, VolumeSource::Other);
    assert_eq!(
        converted[0].volumes[1].source,
        VolumeSource::Ephemeral {
            storage_class_name: Some("fast".into())
        }
    );
}

const WEB_0: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default, uid: u-1}
spec:
  containers:
  - name: app
    image: nginx
    resources:
      limits: {cpu: "2", memory: 4Gi, nvidia.com/gpu: "1"}
"#;

#[test]
fn limits_only_become_requests() {
    let p = pod(&parse::<Pod>(WEB_0), &ConvertOptions::cluster()).unwrap();
    assert_eq!(
        p.requests,
        resources(&[
            ("cpu", "2"),
            ("memory", "4Gi"),
            ("nvidia.com/gpu", "1"),
            ("pods", "1")
        ])
    );
    assert_eq!(p.uid, "u-1");
    assert!(
        !p.unschedulable,
        "cluster pods need kube-scheduler's condition"
    );
}

#[test]
fn a_bad_quantity_names_the_pod_and_the_field() {
    let yaml = WEB_0.replace(
        "limits: {cpu: \"2\", memory: 4Gi, nvidia.com/gpu: \"1\"}",
        "requests: {cpu: two}",
    );
    let err = pod(&parse::<Pod>(&yaml), &ConvertOptions::cluster()).unwrap_err();
    assert!(matches!(&err, ConvertError::Quantity { object, path, .. }
        if object == "default/web-0" && path == "spec.containers[0].resources.requests.cpu"));
    assert!(
        err.to_string()
            .starts_with("default/web-0: spec.containers[0].resources.requests.cpu: ")
    );
}

#[test]
fn an_unknown_operator_is_an_error_not_a_panic() {
    let yaml = format!(
        "{WEB_0}  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {{key: a, operator: Gte, values: [\"1\"]}}\n"
    );
    let err = pod(&parse::<Pod>(&yaml), &ConvertOptions::cluster()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "default/web-0: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: \
         Unsupported value: \"Gte\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\""
    );
}

#[test]
fn match_fields_are_kept_for_the_core_to_reject() {
    let yaml = format!(
        "{WEB_0}  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields:\n          - {{key: metadata.name, operator: In, values: [n1]}}\n"
    );
    let p = pod(&parse::<Pod>(&yaml), &ConvertOptions::cluster()).unwrap();
    assert_eq!(
        p.constraints.node_affinity.required[0].match_fields,
        vec![NodeSelectorRequirement::new(
            "metadata.name",
            Operator::In,
            ["n1"]
        )]
    );
}

#[test]
fn status_fields_are_read() {
    let yaml = r#"
metadata:
  name: p
  namespace: ns
  creationTimestamp: "2024-01-02T03:04:05Z"
  deletionTimestamp: "2024-01-02T03:05:00Z"
  ownerReferences:
  - {apiVersion: v1, kind: Node, name: n1, uid: x}
spec:
  priorityClassName: high
  containers: [{name: c, image: i}]
status:
  phase: Pending
  nominatedNodeName: n2
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable}
"#;
    let mut options = ConvertOptions::cluster();
    options.priority_classes.insert("high".into(), 1000);
    let p = pod(&parse::<Pod>(yaml), &options).unwrap();
    assert!(p.unschedulable && p.is_terminating() && p.is_mirror_pod());
    assert_eq!(p.priority, 1000);
    assert_eq!(p.nominated_node_name.as_deref(), Some("n2"));
    assert_eq!(
        p.creation_timestamp.to_rfc3339(),
        "2024-01-02T03:04:05+00:00"
    );
    assert_eq!(p.requests, resources(&[("pods", "1")]));
    let err = pod(&parse::<Pod>(yaml), &ConvertOptions::cluster()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no PriorityClass with name high was found")
    );
}

#[test]
fn resize_status_counts_the_larger_of_spec_and_allocation() {
    let yaml = r#"
metadata: {name: p}
spec:
  containers:
  - {name: c, image: i, resources: {requests: {cpu: 500m}}}
status:
  containerStatuses:
  - name: c
    image: i
    imageID: ""
    ready: true
    restartCount: 0
    allocatedResources: {cpu: "1"}
    resources: {requests: {cpu: "1"}}
"#;
    let p = pod(&parse::<Pod>(yaml), &ConvertOptions::cluster()).unwrap();
    assert_eq!(p.requests, resources(&[("cpu", "1"), ("pods", "1")]));
    assert_eq!(p.namespace, "default");
}
