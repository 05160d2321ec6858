{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "esm-controller.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "esm-controller.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "esm-controller.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "esm-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "esm-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "esm-controller.labels" -}}
helm.sh/chart: {{ include "esm-controller.chart" . }}
{{ include "esm-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: esm-controller
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "esm-controller.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "esm-controller.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when leader election is on: asked for, or forced by more than one replica. */}}
{{- define "esm-controller.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "esm-controller.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{- define "esm-controller.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Deployment strategy type: Recreate without leader election, RollingUpdate with it. */}}
{{- define "esm-controller.strategyType" -}}
{{- $leader := include "esm-controller.leaderElection" . }}
{{- $type := .Values.strategy.type }}
{{- if not $type }}
{{- $type = ternary "RollingUpdate" "Recreate" (eq $leader "true") }}
{{- end }}
{{- if and (eq $type "RollingUpdate") (ne $leader "true") }}
{{- fail "strategy.type RollingUpdate runs the old and the new pod at the same time: turn on leaderElection.enabled (or use Recreate) so that two pods never both write to AWS" }}
{{- end }}
{{- $type }}
{{- end }}
