{{/* Names: <release>-dvcr, or the release name when it already says dvcr. */}}
{{- define "dvcr.fullname" -}}
{{- if contains "dvcr" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-dvcr" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dvcr.labels" -}}
app.kubernetes.io/name: dvcr
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dvcr.selectorLabels" -}}
app.kubernetes.io/name: dvcr
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The claim holding the data root; never renamed, so an upgrade never makes a new one. */}}
{{- define "dvcr.claimName" -}}
{{- .Values.storage.persistentVolumeClaim.existingClaim | default (printf "%s-data" (include "dvcr.fullname" .)) -}}
{{- end -}}

{{- define "dvcr.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Where the Secrets are mounted (whole directories, so rotated Secrets reach the pod). */}}
{{- define "dvcr.secretsDir" -}}/etc/dvcr/secrets{{- end -}}

{{/* In-cluster base URL of this release's Service (scheme, DNS name, port). */}}
{{- define "dvcr.serviceURL" -}}
{{ include "dvcr.scheme" . | lower }}://{{ include "dvcr.fullname" . }}.{{ .Release.Namespace }}.svc{{ if ne (int .Values.service.port) 80 }}:{{ .Values.service.port }}{{ end }}
{{- end -}}

{{/* Where imagePullSecrets are mounted: <dir>/<namespace>/<name>/.dockerconfigjson. */}}
{{- define "dvcr.pullSecretsDir" -}}/etc/dvcr/pull-secrets{{- end -}}
