{{/*
Names and labels. The chart keeps to a small template subset (values,
release and chart fields, include, if/else, toYaml, quote, nindent) so that
scripts/helm_subset.py can render it without helm (scripts/check-deploy.py).
*/}}
{{- define "cls-coordinator.fullname" -}}
{{ .Release.Name }}-coordinator
{{- end }}

{{- define "cls-coordinator.selectorLabels" -}}
app.kubernetes.io/name: cls-coordinator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cls-coordinator.labels" -}}
{{ include "cls-coordinator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: coordinator
app.kubernetes.io/part-of: cls
helm.sh/chart: cls-coordinator-{{ .Chart.Version }}
{{- end }}
