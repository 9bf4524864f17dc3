use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;

use super::super::{
    ConvertOptions, daemonset_pod_for_node, expand_deployment, expand_job, expand_statefulset, pod,
};
use super::parse;

const STATEFULSET: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres}]
  volumeClaimTemplates:
  - metadata: {name: pgdata}
    spec:
      storageClassName: gp3
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 10Gi}}
"#;

#[test]
fn statefulset_pods_and_claims_are_named_by_ordinal() {
    let options = ConvertOptions::simulation();
    let expanded = expand_statefulset(&parse::<StatefulSet>(STATEFULSET), &options).unwrap();
    let names: Vec<_> = expanded
        .pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["db-0", "db-1"]);
    let claims: Vec<_> = expanded
        .claims
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(claims, ["pgdata-db-0", "pgdata-db-1"]);
    assert_eq!(
        expanded.claims[1].metadata.namespace.as_deref(),
        Some("data")
    );
    let converted = pod(&expanded.pods[1], &options).unwrap();
    assert!(converted.is_statefulset_pod());
    assert_eq!(
        converted.volumes[0].source,
        joist_core::snapshot::VolumeSource::PersistentVolumeClaim {
            claim_name: "pgdata-db-1".into()
        }
    );
    assert_eq!(
        converted.labels["statefulset.kubernetes.io/pod-name"],
        "db-1"
    );
}

#[test]
fn jobs_run_parallelism_pods_capped_by_completions() {
    let yaml = r#"
metadata: {name: batch}
spec:
  parallelism: 5
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: i}]
"#;
    let pods = expand_job(&parse::<Job>(yaml), &ConvertOptions::simulation()).unwrap();
    let names: Vec<_> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["batch-0", "batch-1"]);
    assert_eq!(
        pods[0].metadata.labels.as_ref().unwrap()["job-name"],
        "batch"
    );
    assert_eq!(pods[0].metadata.namespace.as_deref(), Some("default"));
}

#[test]
fn expansion_is_deterministic_and_follows_the_template() {
    let options = ConvertOptions::simulation();
    let yaml = r#"
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i}]}
"#;
    let deployment: Deployment = parse(yaml);
    let first = expand_deployment(&deployment, &options).unwrap();
    assert_eq!(first, expand_deployment(&deployment, &options).unwrap());
    assert_eq!(first.len(), 1, "unset replicas is 1");
    let changed: Deployment = parse(&yaml.replace("image: i", "image: j"));
    let other = expand_deployment(&changed, &options).unwrap();
    assert_ne!(
        first[0].metadata.name, other[0].metadata.name,
        "a new template is a new ReplicaSet"
    );
    let snapshot_a: Vec<_> = first.iter().map(|p| pod(p, &options).unwrap()).collect();
    let snapshot_b: Vec<_> = first.iter().map(|p| pod(p, &options).unwrap()).collect();
    assert_eq!(snapshot_a, snapshot_b);
}

#[test]
fn daemonset_pods_are_pinned_to_their_node() {
    let yaml = r#"
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]
      containers: [{name: c, image: i, resources: {limits: {cpu: 100m}}}]
"#;
    let options = ConvertOptions::simulation();
    let ds: DaemonSet = parse(yaml);
    let k8s_pod = daemonset_pod_for_node(&ds, "node-a", &options).unwrap();
    let p = pod(&k8s_pod, &options).unwrap();
    assert_eq!(p.name, "agent-node-a");
    assert!(p.is_daemonset_pod());
    let required = &p.constraints.node_affinity.required;
    assert_eq!(required.len(), 1);
    assert!(required[0].match_expressions.is_empty());
    assert_eq!(required[0].match_fields[0].values, ["node-a"]);
    assert!(
        p.constraints
            .tolerations
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unschedulable")
    );
    let snapshot_ds = super::super::daemonset(&ds, Some(p), &options).unwrap();
    let scheduling = snapshot_ds.scheduling_pod();
    assert_eq!(
        scheduling.constraints.node_affinity.required[0].match_expressions[0].values,
        ["linux"],
        "the template's affinity replaces the per-node one"
    );
    assert_eq!(
        snapshot_ds.template.requests,
        super::resources(&[("cpu", "100m"), ("pods", "1")])
    );
}
