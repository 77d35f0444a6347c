{{/* The release's name for its objects: release-chart, at most 63 characters. */}}
{{- define "egresslab.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "egresslab.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "egresslab.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "egresslab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "egresslab.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "egresslab.secretName" -}}
{{- .Values.auth.existingSecret | default (include "egresslab.fullname" .) -}}
{{- end -}}

{{/* Postgres: the bundled dev instance when enabled, else database.url. */}}
{{- define "egresslab.databaseURL" -}}
{{- if .Values.dev.postgres.enabled -}}
{{- printf "postgres://egresslab:%s@%s-postgres:5432/egresslab" .Values.dev.postgres.password (include "egresslab.fullname" .) -}}
{{- else -}}
{{- .Values.database.url -}}
{{- end -}}
{{- end -}}

{{- define "egresslab.redisURL" -}}
{{- if .Values.dev.redis.enabled -}}
{{- printf "redis://%s-redis:6379" (include "egresslab.fullname" .) -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}
