{{/*
Chart name, or nameOverride; at most 63 characters (a label value).
*/}}
{{- define "joist.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the objects: fullnameOverride, else the release name when it already contains the
chart name, else "<release>-<chart>". At most 63 characters (a DNS label).
*/}}
{{- define "joist.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "joist.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Labels that select the controller's pods; they never change across upgrades.
*/}}
{{- define "joist.selectorLabels" -}}
app.kubernetes.io/name: {{ include "joist.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "joist.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "joist.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The metadata lines every object shares: labels and the additional annotations.
*/}}
{{- define "joist.metadata" -}}
labels:
  {{- include "joist.labels" . | nindent 2 }}
{{- with .Values.additionalAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the controller runs as.
*/}}
{{- define "joist.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "joist.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The controller image: repository:tag, pinned by @digest when one is given. The tag defaults
to the chart's appVersion.
*/}}
{{- define "joist.image" -}}
{{- $image := .Values.controller.image }}
{{- $reference := printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- if $image.digest }}
{{- $reference = printf "%s@%s" $reference $image.digest }}
{{- end }}
{{- $reference }}
{{- end }}

{{/*
Lease the replicas elect their leader with; the controller's default
(LEADER_ELECTION_NAME), named here so the Role can be limited to it.
*/}}
{{- define "joist.leaderElectionLease" -}}
karpenter-leader-election
{{- end }}

{{/*
FEATURE_GATES in upstream's order (ReservedCapacity, SpotToSpotConsolidation, NodeRepair,
NodeOverlay, StaticCapacity, then CapacityBuffer). A gate missing from
settings.featureGates keeps the controller's default instead of rendering as "<no value>".
*/}}
{{- define "joist.featureGates" -}}
{{- $gates := .Values.settings.featureGates | default dict -}}
ReservedCapacity={{ dig "reservedCapacity" true $gates }}
{{- printf ",SpotToSpotConsolidation=%v" (dig "spotToSpotConsolidation" false $gates) }}
{{- printf ",NodeRepair=%v" (dig "nodeRepair" false $gates) }}
{{- printf ",NodeOverlay=%v" (dig "nodeOverlay" false $gates) }}
{{- printf ",StaticCapacity=%v" (dig "staticCapacity" false $gates) }}
{{- printf ",CapacityBuffer=%v" (dig "capacityBuffer" false $gates) }}
{{- end }}

{{/*
One environment variable from a setting: rendered when the setting is given (not null, not
an empty string), so an unset setting leaves the controller's default. Unlike a plain `with`,
false and 0 are rendered: `vmMemoryOverheadPercent: 0` must reach the controller as 0.
Arguments: (list NAME VALUE).
*/}}
{{- define "joist.envFromSetting" -}}
{{- $name := index . 0 }}
{{- $value := index . 1 }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}

{{/*
Adds a labelSelector matching the controller's pods to a pod-affinity term that has none,
so anti-affinity and spread constraints count the right pods without the user spelling the
labels out. Arguments: (dict "term" TERM "root" $).
*/}}
{{- define "joist.defaultLabelSelector" -}}
{{- if not (hasKey .term "labelSelector") }}
{{- $labels := include "joist.selectorLabels" .root | fromYaml }}
{{- $_ := set .term "labelSelector" (dict "matchLabels" $labels) }}
{{- end }}
{{- end }}

{{/*
.Values.affinity with default label selectors in its pod (anti-)affinity terms. Works on a
copy, so the values themselves are left as given.
*/}}
{{- define "joist.affinity" -}}
{{- $root := . }}
{{- $affinity := deepCopy .Values.affinity }}
{{- range $kind := list "podAffinity" "podAntiAffinity" }}
{{- $podAffinity := get $affinity $kind | default dict }}
{{- range $term := get $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- include "joist.defaultLabelSelector" (dict "term" $term "root" $root) }}
{{- end }}
{{- range $weighted := get $podAffinity "preferredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- include "joist.defaultLabelSelector" (dict "term" $weighted.podAffinityTerm "root" $root) }}
{{- end }}
{{- end }}
{{- toYaml $affinity }}
{{- end }}

{{/*
.Values.topologySpreadConstraints with default label selectors, on a copy.
*/}}
{{- define "joist.topologySpreadConstraints" -}}
{{- $root := . }}
{{- $constraints := deepCopy .Values.topologySpreadConstraints }}
{{- range $constraint := $constraints }}
{{- include "joist.defaultLabelSelector" (dict "term" $constraint "root" $root) }}
{{- end }}
{{- toYaml $constraints }}
{{- end }}
