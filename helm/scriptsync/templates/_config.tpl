{{/*
The scriptsync configuration file (TOML), rendered from the values. Secrets are never in it:
each secret setting is a `*_file` path to a key of an existing Secret mounted under
secretsMountPath. A key left out here takes scriptsync's default.
*/}}

{{- define "scriptsync.tomlFloat" -}}
{{- $s := toString . }}
{{- if or (contains "." $s) (contains "e" $s) }}{{ $s }}{{ else }}{{ $s }}.0{{ end }}
{{- end }}

{{- define "scriptsync.config" -}}
{{- $q := "scriptsync.tomlString" -}}
# scriptsync configuration rendered by the Helm chart {{ include "scriptsync.chart" . }}
# (release {{ .Release.Name }}). Edit the chart values, not this file.
{{- with .Values.tenantSecrets }}{{ if or .secretName .secretNames }}

# Tenants from the Secrets mounted here, followed while the worker runs.
tenants_dir = {{ include $q .mountPath }}
tenants_rescan = {{ include $q .rescan }}
{{- end }}{{ end }}

[broker]
{{- if .Values.broker.urls }}
urls = [{{ range $i, $u := .Values.broker.urls }}{{ if $i }}, {{ end }}{{ include $q $u }}{{ end }}]
{{- else }}
url = {{ include $q .Values.broker.url }}
{{- end }}
{{- with .Values.broker.passwordSecretRef }}{{ if .name }}
password_file = {{ include $q (include "scriptsync.secretFile" (list $ .)) }}
{{- end }}{{ end }}
prefix = {{ include $q .Values.broker.prefix }}
queue_type = {{ include $q .Values.broker.queueType }}
dlq_queue_type = {{ include $q .Values.broker.dlqQueueType }}
prefetch = {{ int64 .Values.broker.prefetch }}
max_inflight = {{ int64 .Values.broker.maxInflight }}
confirm_timeout = {{ include $q .Values.broker.confirmTimeout }}
consumer_timeout = {{ include $q .Values.broker.consumerTimeout }}
max_message_bytes = {{ int64 .Values.broker.maxMessageBytes }}
{{- if include "scriptsync.caSet" .Values.broker.ca }}
ca_file = {{ include $q (printf "%s/broker/%s" (trimSuffix "/" .Values.caMountPath) .Values.broker.ca.key) }}
{{- end }}

[batch]
max_changes = {{ int64 .Values.batch.maxChanges }}
linger = {{ include $q .Values.batch.linger }}

[retry]
initial = {{ include $q .Values.retry.initial }}
factor = {{ include "scriptsync.tomlFloat" .Values.retry.factor }}
max_delay = {{ include $q .Values.retry.maxDelay }}
max_attempts = {{ int64 .Values.retry.maxAttempts }}
max_elapsed = {{ include $q .Values.retry.maxElapsed }}
max_retry_after = {{ include $q .Values.retry.maxRetryAfter }}

[http]
timeout = {{ include $q .Values.http.timeout }}
connect_timeout = {{ include $q .Values.http.connectTimeout }}
{{- if include "scriptsync.caSet" .Values.http.ca }}
ca_file = {{ include $q (printf "%s/http/%s" (trimSuffix "/" .Values.caMountPath) .Values.http.ca.key) }}
{{- end }}

[admin]
# All interfaces, so the kubelet's probes and Prometheus reach it.
listen = {{ include $q (printf "0.0.0.0:%d" (int64 .Values.admin.port)) }}

[replica]
# id is not set: each pod's POD_NAME (its StatefulSet name and ordinal) is its id.
heartbeat = {{ include $q .Values.replica.heartbeat }}

[shutdown]
drain_timeout = {{ include $q (printf "%ds" (int64 .Values.shutdown.drainTimeoutSeconds)) }}

[log]
{{- with .Values.log.level }}
level = {{ include $q . }}
{{- end }}
format = {{ include $q .Values.log.format }}

[telemetry]
{{- with .Values.telemetry.otlpEndpoint }}
otlp_endpoint = {{ include $q . }}
{{- end }}
metrics_interval = {{ include $q .Values.telemetry.metricsInterval }}
service_name = {{ include $q .Values.telemetry.serviceName }}
per_tenant_series = {{ .Values.telemetry.perTenantSeries }}
{{- $ids := list }}
{{- range .Values.tenants }}
{{- if has .id $ids }}
{{- fail (printf "tenant id %q appears twice in tenants" .id) }}
{{- end }}
{{- $ids = append $ids .id }}
{{- if not (or .genesys .servicenow) }}
{{- fail (printf "tenant %q: give genesys and/or servicenow" .id) }}
{{- end }}

[[tenants]]
id = {{ include $q .id }}
{{- if not (kindIs "invalid" .prefetch) }}
prefetch = {{ int64 .prefetch }}
{{- end }}
{{- with .genesys }}

[tenants.genesys]
{{- with .region }}
region = {{ include $q . }}
{{- end }}
{{- with .apiBase }}
api_base = {{ include $q . }}
{{- end }}
{{- with .loginBase }}
login_base = {{ include $q . }}
{{- end }}
client_id = {{ include $q .clientId }}
client_secret_file = {{ include $q (include "scriptsync.secretFile" (list $ .clientSecretRef)) }}
datatable_id = {{ include $q .datatableId }}
{{- if not (kindIs "invalid" .requestsPerMinute) }}
requests_per_minute = {{ int64 .requestsPerMinute }}
{{- end }}
{{- with .window }}
window = {{ include $q . }}
{{- end }}
{{- if not (kindIs "invalid" .headroom) }}
headroom = {{ include "scriptsync.tomlFloat" .headroom }}
{{- end }}
{{- if not (kindIs "invalid" .publishScripts) }}
publish_scripts = {{ .publishScripts }}
{{- end }}
{{- if not (kindIs "invalid" .maxConcurrency) }}
max_concurrency = {{ int64 .maxConcurrency }}
{{- end }}
{{- if not (kindIs "invalid" .maxRows) }}
max_rows = {{ int64 .maxRows }}
{{- end }}
{{- with .limitsNamespace }}
limits_namespace = {{ include $q . }}
{{- end }}
{{- end }}
{{- with .servicenow }}

[tenants.servicenow]
instance_url = {{ include $q .instanceUrl }}
auth = {{ include $q .auth }}
{{- with .clientId }}
client_id = {{ include $q . }}
{{- end }}
{{- with .clientSecretRef }}
client_secret_file = {{ include $q (include "scriptsync.secretFile" (list $ .)) }}
{{- end }}
{{- with .username }}
username = {{ include $q . }}
{{- end }}
{{- with .passwordSecretRef }}
password_file = {{ include $q (include "scriptsync.secretFile" (list $ .)) }}
{{- end }}
staging_table = {{ include $q .stagingTable }}
{{- with .mode }}
mode = {{ include $q . }}
{{- end }}
{{- if not (kindIs "invalid" .requestsPerHour) }}
requests_per_hour = {{ int64 .requestsPerHour }}
{{- end }}
{{- with .window }}
window = {{ include $q . }}
{{- end }}
{{- if not (kindIs "invalid" .headroom) }}
headroom = {{ include "scriptsync.tomlFloat" .headroom }}
{{- end }}
{{- if not (kindIs "invalid" .maxConcurrency) }}
max_concurrency = {{ int64 .maxConcurrency }}
{{- end }}
{{- end }}
{{- end }}
{{ end }}
