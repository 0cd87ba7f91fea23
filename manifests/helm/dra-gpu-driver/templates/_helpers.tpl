{{/*
Names. Kubernetes names and label values are at most 63 characters: the full name is
truncated to 63, and names built from it with a suffix truncate it first so the whole
stays within 63.
*/}}
{{- define "dra-gpu-driver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dra-gpu-driver.fullname" -}}
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

{{/* <fullname>-<suffix>, at most 63 characters in all. */}}
{{- define "dra-gpu-driver.suffixed" -}}
{{- $root := index . 0 }}{{- $suffix := index . 1 }}
{{- $max := sub 62 (len $suffix) | int }}
{{- printf "%s-%s" (include "dra-gpu-driver.fullname" $root | trunc $max | trimSuffix "-") $suffix }}
{{- end }}

{{- define "dra-gpu-driver.kubeletPluginName" -}}
{{- include "dra-gpu-driver.suffixed" (list . "kubelet-plugin") }}
{{- end }}

{{- define "dra-gpu-driver.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dra-gpu-driver.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dra-gpu-driver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dra-gpu-driver.labels" -}}
helm.sh/chart: {{ include "dra-gpu-driver.chart" . }}
{{ include "dra-gpu-driver.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* One ServiceAccount per release (two releases never share or collide on it). */}}
{{- define "dra-gpu-driver.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dra-gpu-driver.kubeletPluginName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "dra-gpu-driver.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Device-plugin coexistence (NVIDIA's chart has the same guard, gpuResourcesEnabledOverride).
A DeviceClass with extendedResourceName lets pods that ask for nvidia.com/gpu be served by
DRA. If NVIDIA's device plugin also runs on these nodes, both hand out the same GPUs.
*/}}
{{- define "dra-gpu-driver.checkCoexistence" -}}
{{- if and .Values.deviceClasses.enabled .Values.deviceClasses.extendedResourceName (not .Values.devicePluginAbsentOverride) }}
{{- fail "deviceClasses.extendedResourceName=true maps nvidia.com/gpu to this driver's GPUs; if NVIDIA's device plugin may run on the same nodes both would hand out the same GPUs. Keep the device plugin off these nodes and set devicePluginAbsentOverride=true to confirm" }}
{{- end }}
{{- end }}

{{/* featureGates {A: true, B: false} as the plugin's --feature-gates "A=true,B=false" (sorted). */}}
{{- define "dra-gpu-driver.featureGates" -}}
{{- $parts := list }}
{{- range $name, $on := . }}
{{- $parts = append $parts (printf "%s=%t" $name $on) }}
{{- end }}
{{- join "," $parts }}
{{- end }}

{{/* nodeAllocatableOverhead {gpu: {memory: {perPod: 256Mi}}} as "gpu.memory.perPod=256Mi" (sorted). */}}
{{- define "dra-gpu-driver.nodeAllocatableOverhead" -}}
{{- $parts := list }}
{{- range $type, $resources := . }}
{{- range $resource, $fields := $resources }}
{{- range $field, $q := $fields }}
{{- $parts = append $parts (printf "%s.%s.%s=%v" $type $resource $field $q) }}
{{- end }}
{{- end }}
{{- end }}
{{- join "," $parts }}
{{- end }}
