//! The Helm chart `charts/joist`, rendered by the pinned helm (v4.3.1): it lints, and
//! `helm template` with the default values and with a values file written for upstream's
//! karpenter chart gives the Deployment, environment, probes, RBAC, PodDisruptionBudget,
//! Service and ServiceAccount the chart promises (docs/helm.md). The RBAC rules, rendered and
//! on a real API server, are in `tests/helm_rbac.rs`.

mod helm_support;

use std::collections::BTreeMap;

use helm_support::{Helm, Rendered, chart_dir};
use serde_json::json;

/// The controller's FEATURE_GATES default (spec core §7), which the chart's defaults must equal.
const SPEC_DEFAULT_GATES: &str = "NodeRepair=false,ReservedCapacity=true,SpotToSpotConsolidation=false,NodeOverlay=false,StaticCapacity=false,CapacityBuffer=false";

/// A values file as a user of upstream's karpenter chart (v1.x) writes it, including keys
/// joist does not read (`webhook`, the pre-v1 `drift` gate) and leaving gates unset.
const UPSTREAM_VALUES: &str = r#"
serviceAccount:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/KarpenterControllerRole-demo
settings:
  clusterName: demo
  clusterEndpoint: https://ABCDEF0123.gr7.us-west-2.eks.amazonaws.com
  interruptionQueue: Karpenter-demo
  batchMaxDuration: 20s
  batchIdleDuration: 2s
  reservedENIs: "1"
  vmMemoryOverheadPercent: 0.1
  isolatedVPC: true
  eksControlPlane: true
  featureGates:
    spotToSpotConsolidation: true
    nodeRepair: true
    drift: true
controller:
  image:
    repository: registry.example.com/joist
    tag: 1.2.3
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  env:
    - name: AWS_REGION
      value: us-west-2
  resources:
    requests:
      cpu: 1
      memory: 1Gi
    limits:
      cpu: 1
      memory: 1Gi
logLevel: debug
replicas: 3
podDisruptionBudget:
  name: karpenter
  maxUnavailable: 1
nodeSelector:
  kubernetes.io/os: linux
  node-role: system
tolerations:
  - key: dedicated
    operator: Equal
    value: system
    effect: NoSchedule
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        team: platform
webhook:
  enabled: false
  port: 8443
serviceMonitor:
  enabled: true
  additionalLabels:
    release: prometheus
  endpointConfig:
    interval: 30s
"#;

/// Renders with the defaults as release `joist` in namespace `joist`.
async fn render_defaults(helm: &Helm) -> Rendered {
    helm.template("joist", "joist", &[]).await
}

/// Renders the upstream values file as release `karpenter` in namespace `kube-system`.
async fn render_upstream(helm: &Helm) -> Rendered {
    let values = helm.write_file("upstream-values.yaml", UPSTREAM_VALUES);
    let values = values.to_str().expect("a UTF-8 temporary path");
    helm.template("karpenter", "kube-system", &["-f", values])
        .await
}

/// `A=x,B=y` as a map, so gate sets compare whatever their order.
fn gate_map(gates: &str) -> BTreeMap<&str, &str> {
    gates
        .split(',')
        .map(|gate| gate.split_once('=').expect("Name=value"))
        .collect()
}

// === lint ===

#[tokio::test]
async fn helm_lint_finds_no_error_with_default_or_upstream_values() {
    let helm = Helm::new().await;
    let chart = chart_dir();
    let chart = chart.to_str().expect("a UTF-8 checkout path");
    let values = helm.write_file("upstream-values.yaml", UPSTREAM_VALUES);
    let values = values.to_str().expect("a UTF-8 temporary path");
    for args in [vec!["lint", chart], vec!["lint", chart, "-f", values]] {
        let output = helm.run(&args).await;
        let printed = format!("{}{}", output.stdout, output.stderr);
        assert!(output.success, "helm {}:\n{printed}", args.join(" "));
        assert!(
            !printed.contains("[ERROR]"),
            "helm {}:\n{printed}",
            args.join(" ")
        );
        assert!(
            printed.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{printed}"
        );
    }
}

// === default values ===

#[tokio::test]
async fn default_values_render_two_leader_elected_replicas_with_spec_defaults() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let deployment = rendered.named("Deployment", "joist");
    assert_eq!(deployment["metadata"]["namespace"], "joist");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "joist");
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "CriticalAddonsOnly", "operator": "Exists"}])
    );

    let controller = rendered.controller();
    assert_eq!(controller["name"], "controller");
    assert_eq!(controller["image"], "ghcr.io/joist-dev/joist:0.1.0");
    assert_eq!(controller["args"], json!(["controller"]));

    // The defaults are the controller's own (spec core §7, spec aws §10).
    let gates = rendered.env("FEATURE_GATES").expect("FEATURE_GATES is set");
    assert_eq!(
        gates,
        "ReservedCapacity=true,SpotToSpotConsolidation=false,NodeRepair=false,NodeOverlay=false,StaticCapacity=false,CapacityBuffer=false"
    );
    assert_eq!(gate_map(&gates), gate_map(SPEC_DEFAULT_GATES));
    let expected = [
        ("KARPENTER_SERVICE", Some("joist")),
        ("METRICS_PORT", Some("8080")),
        ("HEALTH_PROBE_PORT", Some("8081")),
        ("BATCH_MAX_DURATION", Some("10s")),
        ("BATCH_IDLE_DURATION", Some("1s")),
        ("LOG_LEVEL", Some("info")),
        ("PREFERENCE_POLICY", Some("Respect")),
        ("MIN_VALUES_POLICY", Some("Strict")),
        ("VM_MEMORY_OVERHEAD_PERCENT", Some("0.075")),
        ("RESERVED_ENIS", Some("0")),
        ("ISOLATED_VPC", Some("false")),
        ("EKS_CONTROL_PLANE", Some("false")),
        // Empty settings are left out, so the controller's default applies.
        ("CLUSTER_NAME", None),
        ("CLUSTER_ENDPOINT", None),
        ("INTERRUPTION_QUEUE", None),
        ("CLUSTER_CA_BUNDLE", None),
    ];
    for (name, value) in expected {
        assert_eq!(rendered.env(name).as_deref(), value, "{name}");
    }
    let env = controller["env"].as_array().expect("env");
    let from_namespace = |name: &str| {
        env.iter().any(|e| {
            e["name"] == name && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        })
    };
    assert!(from_namespace("SYSTEM_NAMESPACE"), "{env:?}");
    assert!(from_namespace("LEADER_ELECTION_NAMESPACE"), "{env:?}");
}

#[tokio::test]
async fn default_values_render_probes_ports_and_a_locked_down_container() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let controller = rendered.controller();
    assert_eq!(
        controller["ports"],
        json!([
            {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"},
            {"name": "http", "containerPort": 8081, "protocol": "TCP"},
        ])
    );
    assert_eq!(
        controller["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "http"})
    );
    assert_eq!(
        controller["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "http"})
    );
    let security = &controller["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    let pod = &rendered.one("Deployment")["spec"]["template"]["spec"];
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );

    let service = rendered.named("Service", "joist");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http-metrics", "port": 8080, "targetPort": "http-metrics", "protocol": "TCP"}])
    );
    let selector = &rendered.one("Deployment")["spec"]["selector"]["matchLabels"];
    assert_eq!(&service["spec"]["selector"], selector);
    assert!(
        rendered.all("ServiceMonitor").is_empty(),
        "{:?}",
        rendered.ids()
    );
}

#[tokio::test]
async fn default_placement_keeps_the_controller_off_managed_nodes_and_spread_out() {
    let helm = Helm::new().await;
    let rendered = render_defaults(&helm).await;
    let deployment = rendered.one("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let selector = json!({"matchLabels": deployment["spec"]["selector"]["matchLabels"]});
    assert_eq!(
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
        json!([{"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"}]}])
    );
    // A term without a selector gets one for the controller's own pods.
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!([{"topologyKey": "kubernetes.io/hostname", "labelSelector": selector}])
    );
    assert_eq!(
        pod["topologySpreadConstraints"],
        json!([{
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
        }])
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    let budget = rendered.named("PodDisruptionBudget", "joist");
    assert_eq!(budget["spec"]["maxUnavailable"], 1);
    assert!(budget["spec"].get("minAvailable").is_none(), "{budget}");
    assert_eq!(budget["spec"]["selector"], selector);
}

// === upstream values ===

#[tokio::test]
async fn upstream_values_reach_the_controller_as_its_settings() {
    let helm = Helm::new().await;
    let rendered = render_upstream(&helm).await;
    let deployment = rendered.named("Deployment", "karpenter-joist");
    assert_eq!(deployment["metadata"]["namespace"], "kube-system");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        rendered.env("FEATURE_GATES").as_deref(),
        Some(
            "ReservedCapacity=true,SpotToSpotConsolidation=true,NodeRepair=true,NodeOverlay=false,StaticCapacity=false,CapacityBuffer=false"
        )
    );
    let expected = [
        ("CLUSTER_NAME", "demo"),
        (
            "CLUSTER_ENDPOINT",
            "https://ABCDEF0123.gr7.us-west-2.eks.amazonaws.com",
        ),
        ("INTERRUPTION_QUEUE", "Karpenter-demo"),
        ("BATCH_MAX_DURATION", "20s"),
        ("BATCH_IDLE_DURATION", "2s"),
        ("RESERVED_ENIS", "1"),
        ("VM_MEMORY_OVERHEAD_PERCENT", "0.1"),
        ("ISOLATED_VPC", "true"),
        ("EKS_CONTROL_PLANE", "true"),
        ("LOG_LEVEL", "debug"),
        ("KARPENTER_SERVICE", "karpenter-joist"),
        ("AWS_REGION", "us-west-2"),
    ];
    for (name, value) in expected {
        assert_eq!(rendered.env(name).as_deref(), Some(value), "{name}");
    }
    // controller.env comes last, so a name set there overrides the chart's.
    assert_eq!(
        rendered.env_names().last().map(String::as_str),
        Some("AWS_REGION")
    );

    let controller = rendered.controller();
    assert_eq!(
        controller["image"],
        "registry.example.com/joist:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        controller["resources"],
        json!({"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "1Gi"}})
    );
}

#[tokio::test]
async fn upstream_values_shape_the_account_budget_placement_and_monitor() {
    let helm = Helm::new().await;
    let rendered = render_upstream(&helm).await;
    let account = rendered.named("ServiceAccount", "karpenter-joist");
    assert_eq!(
        account["metadata"]["annotations"],
        json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/KarpenterControllerRole-demo"})
    );
    let budget = rendered.named("PodDisruptionBudget", "karpenter");
    assert_eq!(budget["metadata"]["namespace"], "kube-system");
    assert_eq!(budget["spec"]["maxUnavailable"], 1);

    let pod = &rendered.one("Deployment")["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"],
        json!({"kubernetes.io/os": "linux", "node-role": "system"})
    );
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    // A selector the user gave is kept as given.
    assert_eq!(
        pod["topologySpreadConstraints"][0]["labelSelector"],
        json!({"matchLabels": {"team": "platform"}})
    );
    assert_eq!(
        pod["topologySpreadConstraints"][0]["whenUnsatisfiable"],
        "ScheduleAnyway"
    );

    let monitor = rendered.named("ServiceMonitor", "karpenter-joist");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        monitor["spec"]["endpoints"],
        json!([{"port": "http-metrics", "path": "/metrics", "interval": "30s"}])
    );
    assert_eq!(
        monitor["spec"]["selector"],
        rendered.one("Deployment")["spec"]["selector"]
    );
    // Values joist does not read render nothing of their own.
    assert!(
        rendered
            .ids()
            .iter()
            .all(|id| !id.to_lowercase().contains("webhook")),
        "{:?}",
        rendered.ids()
    );
}

// === edge values ===

#[tokio::test]
async fn zero_and_false_settings_are_rendered_not_dropped() {
    let helm = Helm::new().await;
    let rendered = helm
        .template(
            "joist",
            "joist",
            &[
                "--set",
                "settings.vmMemoryOverheadPercent=0",
                "--set",
                "settings.featureGates.reservedCapacity=false",
                "--set",
                "settings.featureGates.staticCapacity=true",
                "--set",
                "settings.featureGates.capacityBuffer=true",
                "--set",
                "settings.batchMaxDuration=",
            ],
        )
        .await;
    assert_eq!(
        rendered.env("VM_MEMORY_OVERHEAD_PERCENT").as_deref(),
        Some("0")
    );
    assert_eq!(
        rendered.env("FEATURE_GATES").as_deref(),
        Some(
            "ReservedCapacity=false,SpotToSpotConsolidation=false,NodeRepair=false,NodeOverlay=false,StaticCapacity=true,CapacityBuffer=true"
        )
    );
    // An emptied setting leaves the controller's default.
    assert_eq!(rendered.env("BATCH_MAX_DURATION"), None);
}

#[tokio::test]
async fn an_existing_service_account_and_min_available_are_honoured() {
    let helm = Helm::new().await;
    let rendered = helm
        .template(
            "joist",
            "ops",
            &[
                "--set",
                "serviceAccount.create=false",
                "--set",
                "serviceAccount.name=autoscaler",
                "--set",
                "podDisruptionBudget.minAvailable=1",
                "--set",
                "fullnameOverride=karpenter",
            ],
        )
        .await;
    assert!(
        rendered.all("ServiceAccount").is_empty(),
        "{:?}",
        rendered.ids()
    );
    let pod = &rendered.named("Deployment", "karpenter")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "autoscaler");
    for binding in rendered.all("ClusterRoleBinding") {
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "autoscaler", "namespace": "ops"}])
        );
    }
    let budget = rendered.named("PodDisruptionBudget", "karpenter");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert!(budget["spec"].get("maxUnavailable").is_none(), "{budget}");
}

// === upgrading a karpenter release in place ===

#[tokio::test]
async fn name_override_karpenter_keeps_upstreams_object_names_and_selector() {
    // `helm upgrade karpenter charts/joist --set nameOverride=karpenter` must patch the objects
    // upstream's chart created rather than add new ones, and the Deployment's selector (which
    // Kubernetes never lets change) must be upstream's.
    let helm = Helm::new().await;
    let rendered = helm
        .template(
            "karpenter",
            "kube-system",
            &["--set", "nameOverride=karpenter"],
        )
        .await;
    let deployment = rendered.named("Deployment", "karpenter");
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"})
    );
    for (kind, name) in [
        ("ServiceAccount", "karpenter"),
        ("Service", "karpenter"),
        ("PodDisruptionBudget", "karpenter"),
        ("ClusterRole", "karpenter-core"),
        ("ClusterRole", "karpenter"),
        ("ClusterRole", "karpenter-admin"),
        ("ClusterRoleBinding", "karpenter-core"),
        ("ClusterRoleBinding", "karpenter"),
        ("Role", "karpenter"),
        ("Role", "karpenter-dns"),
        ("RoleBinding", "karpenter"),
        ("RoleBinding", "karpenter-dns"),
    ] {
        rendered.named(kind, name);
    }
    assert_eq!(
        rendered.env("KARPENTER_SERVICE").as_deref(),
        Some("karpenter")
    );
}
