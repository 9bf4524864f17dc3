{{/*
The controller's environment: the settings of spec core §7 and spec aws §10 under the names
the controller reads (each flag has this env var as its fallback). A setting left empty is
not rendered, so the controller's own default applies.
*/}}
{{- define "joist.controllerEnv" -}}
{{- $settings := .Values.settings | default dict -}}
- name: KARPENTER_SERVICE
  value: {{ include "joist.fullname" . | quote }}
- name: METRICS_PORT
  value: {{ .Values.controller.metrics.port | quote }}
- name: HEALTH_PROBE_PORT
  value: {{ .Values.controller.healthProbe.port | quote }}
- name: SYSTEM_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- /* The Role grants the lease in the release namespace only, so say which one it is. */}}
- name: LEADER_ELECTION_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: MEMORY_LIMIT
  valueFrom:
    resourceFieldRef:
      containerName: {{ .Values.controller.containerName }}
      divisor: "0"
      resource: limits.memory
- name: FEATURE_GATES
  value: {{ include "joist.featureGates" . | quote }}
{{- include "joist.envFromSetting" (list "LOG_LEVEL" .Values.logLevel) }}
{{- with .Values.logOutputPaths }}
- name: LOG_OUTPUT_PATHS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.logErrorOutputPaths }}
- name: LOG_ERROR_OUTPUT_PATHS
  value: {{ join "," . | quote }}
{{- end }}
{{- include "joist.envFromSetting" (list "BATCH_MAX_DURATION" $settings.batchMaxDuration) }}
{{- include "joist.envFromSetting" (list "BATCH_IDLE_DURATION" $settings.batchIdleDuration) }}
{{- include "joist.envFromSetting" (list "PREFERENCE_POLICY" $settings.preferencePolicy) }}
{{- include "joist.envFromSetting" (list "MIN_VALUES_POLICY" $settings.minValuesPolicy) }}
{{- include "joist.envFromSetting" (list "IGNORE_DRA_REQUESTS" $settings.ignoreDRARequests) }}
{{- include "joist.envFromSetting" (list "DISABLE_CLUSTER_STATE_OBSERVABILITY" $settings.disableClusterStateObservability) }}
{{- with $settings.clusterName }}
- name: CLUSTER_NAME
  value: {{ tpl (toString .) $ | quote }}
{{- end }}
{{- include "joist.envFromSetting" (list "CLUSTER_ENDPOINT" $settings.clusterEndpoint) }}
{{- include "joist.envFromSetting" (list "CLUSTER_CA_BUNDLE" $settings.clusterCABundle) }}
{{- include "joist.envFromSetting" (list "ISOLATED_VPC" $settings.isolatedVPC) }}
{{- include "joist.envFromSetting" (list "EKS_CONTROL_PLANE" $settings.eksControlPlane) }}
{{- include "joist.envFromSetting" (list "VM_MEMORY_OVERHEAD_PERCENT" $settings.vmMemoryOverheadPercent) }}
{{- include "joist.envFromSetting" (list "INTERRUPTION_QUEUE" $settings.interruptionQueue) }}
{{- include "joist.envFromSetting" (list "RESERVED_ENIS" $settings.reservedENIs) }}
{{- include "joist.envFromSetting" (list "DISABLE_DRY_RUN" $settings.disableDryRun) }}
{{- end }}
