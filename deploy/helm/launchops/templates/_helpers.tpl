{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "launchops.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "launchops.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "launchops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "launchops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "launchops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "launchops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "launchops.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "launchops.secretName" -}}
{{- .Values.secret.existingSecret | default (include "launchops.fullname" .) }}
{{- end }}

{{- define "launchops.configMapName" -}}
{{- .Values.config.existingConfigMap | default (printf "%s-config" (include "launchops.fullname" .)) }}
{{- end }}

{{/*
Environment shared by the Deployment and the migration Job. Every secret key is optional
except the database URL: without it a replica would quietly use its own SQLite file.
*/}}
{{- define "launchops.env" -}}
- name: LAUNCHOPS_HOST
  value: "0.0.0.0"
- name: LAUNCHOPS_PORT
  value: {{ .Values.containerPort | quote }}
- name: LAUNCHOPS_CONFIG_DIR
  value: /app/config
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range .Values.secret.keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "launchops.secretName" $ }}
      key: {{ . }}
      optional: {{ ne . "LAUNCHOPS_DATABASE_URL" }}
{{- end }}
{{- end }}
