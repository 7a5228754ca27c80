{{- define "tsbpf-exporter.labels" -}}
app.kubernetes.io/name: tsbpf-exporter
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: tsbpf
{{- end }}

{{- define "tsbpf-exporter.selector" -}}
app.kubernetes.io/name: tsbpf-exporter
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
