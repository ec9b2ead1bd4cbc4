{{/* Chart name, truncated to a DNS label. */}}
{{- define "scriptsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. Kept to 52 characters: StatefulSet pods add a hash label
(controller-revision-hash) built from the name, and Job names add "-dlq-replay-<revision>".
*/}}
{{- define "scriptsync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "scriptsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object. */}}
{{- define "scriptsync.labels" -}}
helm.sh/chart: {{ include "scriptsync.chart" . }}
app.kubernetes.io/name: {{ include "scriptsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scriptsync
{{- end }}

{{/* Selector of the worker pods (not the DLQ replay Job's pods). */}}
{{- define "scriptsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scriptsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end }}

{{- define "scriptsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the pods run as: the created one, an existing one, or none (""). */}}
{{- define "scriptsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scriptsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scriptsync.configPath" -}}
/etc/scriptsync/config.toml
{{- end }}

{{/* Grace period: the value, else the drain timeout + 10 s; never at or below the drain. */}}
{{- define "scriptsync.terminationGracePeriodSeconds" -}}
{{- $drain := int64 .Values.shutdown.drainTimeoutSeconds }}
{{- $grace := add $drain 10 }}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
{{- $grace = int64 .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- if le $grace $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above shutdown.drainTimeoutSeconds (%d)" $grace $drain) }}
{{- end }}
{{- $grace }}
{{- end }}

{{/* Path of a secret file: (list $ ref) -> <secretsMountPath>/<name>/<key>. */}}
{{- define "scriptsync.secretFile" -}}
{{- $root := index . 0 }}
{{- $ref := index . 1 }}
{{- printf "%s/%s/%s" (trimSuffix "/" $root.Values.secretsMountPath) $ref.name $ref.key }}
{{- end }}

{{/* Every Secret name the config references, each once, as a JSON list. */}}
{{- define "scriptsync.secretNames" -}}
{{- $names := list }}
{{- with .Values.broker.passwordSecretRef }}{{ if .name }}{{ $names = append $names .name }}{{ end }}{{ end }}
{{- range .Values.tenants }}
{{- with .genesys }}{{ $names = append $names .clientSecretRef.name }}{{ end }}
{{- with .servicenow }}
{{- with .clientSecretRef }}{{ $names = append $names .name }}{{ end }}
{{- with .passwordSecretRef }}{{ $names = append $names .name }}{{ end }}
{{- end }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}

{{/* Volume name of a referenced Secret (names can be longer than a volume name may be). */}}
{{- define "scriptsync.secretVolume" -}}
{{- printf "secret-%s" (sha256sum . | trunc 16) }}
{{- end }}

{{/* Volume name of a tenant Secret (one per tenant, mounted under the tenants directory). */}}
{{- define "scriptsync.tenantVolume" -}}
{{- printf "tenant-%s" (sha256sum . | trunc 16) }}
{{- end }}

{{/* A CA bundle source is set: (dict "ca" .Values.broker.ca). */}}
{{- define "scriptsync.caSet" -}}
{{- if and .secretName .configMapName }}
{{- fail "a CA bundle takes secretName or configMapName, not both" }}
{{- end }}
{{- if or .secretName .configMapName }}true{{ end }}
{{- end }}

{{/* Pod volumes shared by the worker and the DLQ replay Job. */}}
{{- define "scriptsync.volumes" -}}
- name: config
  configMap:
    name: {{ include "scriptsync.fullname" . }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- range (include "scriptsync.secretNames" . | fromJsonArray) }}
- name: {{ include "scriptsync.secretVolume" . }}
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.tenantSecrets }}
{{- with .secretName }}
- name: tenants
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- range .secretNames }}
- name: {{ include "scriptsync.tenantVolume" . }}
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- range $which := list "broker" "http" }}
{{- $ca := (index $.Values $which).ca }}
{{- if include "scriptsync.caSet" $ca }}
- name: ca-{{ $which }}
  {{- if $ca.secretName }}
  secret:
    secretName: {{ $ca.secretName }}
    defaultMode: 0444
  {{- else }}
  configMap:
    name: {{ $ca.configMapName }}
    defaultMode: 0444
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Container volume mounts shared by the worker and the DLQ replay Job. */}}
{{- define "scriptsync.volumeMounts" -}}
- name: config
  mountPath: /etc/scriptsync
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- range (include "scriptsync.secretNames" . | fromJsonArray) }}
- name: {{ include "scriptsync.secretVolume" . }}
  mountPath: {{ printf "%s/%s" (trimSuffix "/" $.Values.secretsMountPath) . }}
  readOnly: true
{{- end }}
{{- with .Values.tenantSecrets }}
{{- $root := trimSuffix "/" .mountPath }}
{{- /* Whole volumes, never subPath: the kubelet updates only those in place. */}}
{{- if .secretName }}
- name: tenants
  mountPath: {{ $root }}
  readOnly: true
{{- end }}
{{- range .secretNames }}
- name: {{ include "scriptsync.tenantVolume" . }}
  mountPath: {{ printf "%s/%s" $root . }}
  readOnly: true
{{- end }}
{{- end }}
{{- range $which := list "broker" "http" }}
{{- if include "scriptsync.caSet" (index $.Values $which).ca }}
- name: ca-{{ $which }}
  mountPath: {{ printf "%s/%s" (trimSuffix "/" $.Values.caMountPath) $which }}
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{/* Container environment shared by the worker and the DLQ replay Job. */}}
{{- define "scriptsync.env" -}}
# The replica id: [replica] id is not set, so scriptsync uses POD_NAME.
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A TOML string (JSON string escapes are valid TOML basic-string escapes). */}}
{{- define "scriptsync.tomlString" -}}
{{- toJson (toString .) }}
{{- end }}
