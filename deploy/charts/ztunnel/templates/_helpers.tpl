{{/* Name of the DaemonSet and its ServiceAccount: upstream's, so istiod trusts this zt as its ztunnel. */}}
{{- define "ztunnel.release-name" -}}
{{ .Values.resourceName | default "ztunnel" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "ztunnel.labels" -}}
app.kubernetes.io/name: ztunnel
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/part-of: "istio"
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Annotations on every top-level object; the revision is recorded as upstream does. */}}
{{- define "ztunnel.annotations" -}}
{{- $annos := deepCopy (.Values.annotations | default dict) }}
{{- if .Values.revision }}
{{- $_ := set $annos "istio.io/rev" .Values.revision }}
{{- end }}
{{- toYaml $annos }}
{{- end }}

{{/* The container image reference. */}}
{{- define "ztunnel.image" -}}
{{- if contains "/" .Values.image -}}
{{ .Values.image }}
{{- else -}}
{{- if not .Values.hub }}
{{- fail "zt has no public image: build deploy/Dockerfile, push it to your registry and set hub (and tag), or set image to a full reference" }}
{{- end -}}
{{ .Values.hub }}/{{ .Values.image | default "zt" }}:{{ .Values.tag }}{{ with .Values.variant }}-{{ . }}{{ end }}
{{- end }}
{{- end }}

{{/* istiod's address, from the revision and namespace unless given. */}}
{{- define "ztunnel.istiod" -}}
istiod{{ with .Values.revision }}-{{ . }}{{ end }}.{{ .Values.istioNamespace }}.svc:15012
{{- end }}

{{/* Resource requirements without empty entries (a platform may null out a limit). */}}
{{- define "ztunnel.resources" -}}
{{- range $key := list "limits" "requests" }}
{{- $set := dict }}
{{- range $name, $value := (index $ $key | default dict) }}
{{- if $value }}{{ $_ := set $set $name $value }}{{ end }}
{{- end }}
{{- if $set }}
{{ $key }}:
{{- toYaml $set | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Plain environment variables the chart sets, as a name -> value dict. Entries of .Values.env and of
meshConfig.defaultConfig.proxyMetadata replace them, so a platform's override never yields two
entries of one name.
*/}}
{{- define "ztunnel.plainEnv" -}}
{{- $v := .Values }}
{{- $env := dict
  "CA_ADDRESS" ($v.caAddress | default (include "ztunnel.istiod" .))
  "XDS_ADDRESS" ($v.xdsAddress | default (include "ztunnel.istiod" .))
  "CLUSTER_ID" (($v.multiCluster).clusterName | default "Kubernetes")
  "ISTIO_META_CLUSTER_ID" (($v.multiCluster).clusterName | default "Kubernetes")
  "TRUST_DOMAIN" ($v.trustDomain | default "cluster.local")
  "RUST_LOG" ($v.logLevel | default "info")
  "INPOD_UDS" "/var/run/ztunnel/ztunnel.sock"
  "TERMINATION_GRACE_PERIOD_SECONDS" ($v.terminationGracePeriodSeconds | toString)
}}
{{- if $v.logAsJson }}{{ $_ := set $env "LOG_FORMAT" "json" }}{{ end }}
{{- if $v.network }}{{ $_ := set $env "NETWORK" $v.network }}{{ end }}
{{- range $key, $value := ((($v.meshConfig).defaultConfig).proxyMetadata | default dict) }}
{{- $_ := set $env $key $value }}
{{- end }}
{{- if kindIs "map" $v.env }}
{{- range $key, $value := $v.env }}
{{- $_ := set $env $key $value }}
{{- end }}
{{- end }}
{{- range (include "ztunnel.listEnvNames" . | fromYamlArray) }}
{{- $_ := unset $env . }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Names given by .Values.env when it is a list of EnvVar objects, as a YAML list. */}}
{{- define "ztunnel.listEnvNames" -}}
{{- $names := list }}
{{- if kindIs "slice" .Values.env }}
{{- range .Values.env }}{{ $names = append $names .name }}{{ end }}
{{- end }}
{{- toYaml $names }}
{{- end }}
