{{/*
Names and labels. The chart keeps to a small template subset (values,
release and chart fields, include, if/else, toYaml, quote, nindent) so that
scripts/helm_subset.py can render it without helm (scripts/check-deploy.py).
*/}}
{{- define "cls-site-agent.fullname" -}}
{{ .Release.Name }}-site-agent
{{- end }}

{{- define "cls-site-agent.selectorLabels" -}}
app.kubernetes.io/name: cls-site-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cls-site-agent.labels" -}}
{{ include "cls-site-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: site-agent
app.kubernetes.io/part-of: cls
helm.sh/chart: cls-site-agent-{{ .Chart.Version }}
{{- end }}
