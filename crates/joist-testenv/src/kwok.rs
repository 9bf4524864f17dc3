//! kwok's configuration: which nodes it plays the kubelet for, and the stages (its
//! lifecycle rules) for those nodes and their pods.

use std::net::SocketAddr;
use std::path::Path;

/// The label a Node must carry for this control plane's kwok to manage it.
pub const FAKE_NODE_LABEL: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// The pod CIDR kwok hands pod IPs out of (it never routes them).
const POD_CIDR: &str = "10.244.0.0/16";

/// The InternalIP kwok gives managed nodes that have none (nothing listens there).
const NODE_IP: &str = "10.240.0.1";

/// kwok stages, applied as strategic-merge patches of `status` so that what other
/// components wrote (the scheduler's `PodScheduled`, addresses a provider set) stays:
///
/// - `joist-node-ready`: a managed node that is not Ready becomes Ready with the usual
///   pressure conditions False, gets an InternalIP and Hostname if it has none, and keeps
///   its capacity/allocatable (or gets a large default so pods fit). Node health after
///   that comes from the node Lease, which kwok renews (`--node-lease-duration-seconds`),
///   the same signal the node lifecycle controller reads from a real kubelet.
/// - `joist-pod-running`: a pending pod bound to a managed node starts: every container
///   running and ready, init containers completed (sidecars running), IPs assigned.
/// - `joist-pod-delete`: a pod being deleted is removed at once, as a kubelet does when
///   its containers have stopped; without it drains would never finish.
const STAGES: &str = r#"apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: joist-node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    patches:
    - subresource: status
      root: status
      type: strategic
      template: |
        {{ $now := Now }}
        phase: Running
        conditions:
        - type: Ready
          status: "True"
          reason: KubeletReady
          message: kwok plays the kubelet of this node
          lastHeartbeatTime: {{ $now | Quote }}
          lastTransitionTime: {{ $now | Quote }}
        - type: MemoryPressure
          status: "False"
          reason: KubeletHasSufficientMemory
          message: kwok plays the kubelet of this node
          lastHeartbeatTime: {{ $now | Quote }}
          lastTransitionTime: {{ $now | Quote }}
        - type: DiskPressure
          status: "False"
          reason: KubeletHasNoDiskPressure
          message: kwok plays the kubelet of this node
          lastHeartbeatTime: {{ $now | Quote }}
          lastTransitionTime: {{ $now | Quote }}
        - type: PIDPressure
          status: "False"
          reason: KubeletHasSufficientPID
          message: kwok plays the kubelet of this node
          lastHeartbeatTime: {{ $now | Quote }}
          lastTransitionTime: {{ $now | Quote }}
        {{ if not .status.addresses }}
        addresses:
        - type: InternalIP
          address: {{ NodeIP | Quote }}
        - type: Hostname
          address: {{ .metadata.name | Quote }}
        {{ end }}
        {{ if not .status.capacity }}
        capacity:
          cpu: "1000"
          memory: 1Ti
          pods: "1000"
        {{ end }}
        {{ if not .status.allocatable }}
        allocatable:
        {{ with .status.capacity }}
        {{ YAML . 1 }}
        {{ else }}
          cpu: "1000"
          memory: 1Ti
          pods: "1000"
        {{ end }}
        {{ end }}
        {{ $info := .status.nodeInfo }}
        nodeInfo:
          architecture: {{ or $info.architecture "amd64" | Quote }}
          operatingSystem: {{ or $info.operatingSystem "linux" | Quote }}
          kubeletVersion: {{ or $info.kubeletVersion (printf "kwok-%s" Version) | Quote }}
          containerRuntimeVersion: {{ or $info.containerRuntimeVersion "kwok" | Quote }}
          kernelVersion: {{ or $info.kernelVersion "kwok" | Quote }}
          osImage: {{ or $info.osImage "kwok" | Quote }}
          machineID: {{ or $info.machineID "" | Quote }}
          systemUUID: {{ or $info.systemUUID "" | Quote }}
          bootID: {{ or $info.bootID "" | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: joist-pod-running
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .spec.nodeName
      operator: Exists
    - key: .status.phase
      operator: In
      values: ["Pending"]
  next:
    patches:
    - subresource: status
      root: status
      type: strategic
      template: |
        {{ $now := Now }}
        phase: Running
        startTime: {{ $now | Quote }}
        {{ with NodeIPWith .spec.nodeName }}
        hostIP: {{ . | Quote }}
        hostIPs:
        - ip: {{ . | Quote }}
        {{ end }}
        {{ with PodIPWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") }}
        podIP: {{ . | Quote }}
        podIPs:
        - ip: {{ . | Quote }}
        {{ end }}
        conditions:
        {{ range list "Initialized" "ContainersReady" "Ready" }}
        - type: {{ . | Quote }}
          status: "True"
          lastTransitionTime: {{ $now | Quote }}
        {{ end }}
        {{ range .spec.readinessGates }}
        - type: {{ .conditionType | Quote }}
          status: "True"
          lastTransitionTime: {{ $now | Quote }}
        {{ end }}
        containerStatuses:
        {{ range .spec.containers }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          imageID: ""
          ready: true
          started: true
          restartCount: 0
          state:
            running:
              startedAt: {{ $now | Quote }}
        {{ end }}
        {{ with .spec.initContainers }}
        initContainerStatuses:
        {{ range . }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          imageID: ""
          restartCount: 0
          {{ if eq (or .restartPolicy "") "Always" }}
          ready: true
          started: true
          state:
            running:
              startedAt: {{ $now | Quote }}
          {{ else }}
          ready: true
          state:
            terminated:
              exitCode: 0
              reason: Completed
              startedAt: {{ $now | Quote }}
              finishedAt: {{ $now | Quote }}
          {{ end }}
        {{ end }}
        {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: joist-pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: Exists
  next:
    delete: true
"#;

/// Writes kwok's configuration file (the stages) into `path`.
pub(crate) fn write_config(path: &Path) -> Result<(), crate::TestEnvError> {
    crate::pki::write_file(path, STAGES)
}

/// kwok's command line: manage only nodes with [`FAKE_NODE_LABEL`], serve its health
/// endpoint on `server`, and renew node leases (the heartbeat the node lifecycle
/// controller watches).
pub(crate) fn args(kubeconfig: &Path, config: &Path, server: SocketAddr) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--config={}", config.display()),
        "--manage-all-nodes=false".to_owned(),
        format!(
            "--manage-nodes-with-label-selector={}={}",
            FAKE_NODE_LABEL.0, FAKE_NODE_LABEL.1
        ),
        format!("--cidr={POD_CIDR}"),
        format!("--node-ip={NODE_IP}"),
        "--node-lease-duration-seconds=40".to_owned(),
        format!("--server-address={server}"),
    ]
}
