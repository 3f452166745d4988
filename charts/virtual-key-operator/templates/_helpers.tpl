{{- define "vko.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vko.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "vko.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "vko.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vko.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vko.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vko.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vko.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "vko.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vko.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vko.kekSecretName" -}}
{{- default (printf "%s-kek" (include "vko.fullname" .)) .Values.kek.existingSecret -}}
{{- end -}}

{{- define "vko.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The permissions the reconciler uses on watched namespaces. Keep in step with
src/VirtualKeys.Operator/Rbac/OperatorPermissions.cs: a test compares the two.
*/}}
{{- define "vko.watchedRules" -}}
- apiGroups: ["aigateway.dev"]
  resources: ["virtualkeys"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["aigateway.dev"]
  resources: ["virtualkeys/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["aigateway.dev"]
  resources: ["virtualkeys/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Leader election: only in the operator's own namespace. */}}
{{- define "vko.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end -}}

{{/* Comma-separated paths of the earlier KEKs listed in kek.previousKeys, inside the mounted KEK Secret. */}}
{{- define "vko.previousKekFiles" -}}
{{- $paths := list }}
{{- range .Values.kek.previousKeys }}
{{- $paths = append $paths (printf "/var/run/secrets/virtual-keys/kek/%s" .) }}
{{- end }}
{{- join "," $paths }}
{{- end }}
