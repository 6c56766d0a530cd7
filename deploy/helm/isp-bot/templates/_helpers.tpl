{{/* Names and labels shared by every template. */}}
{{- define "isp-bot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "isp-bot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "rasa"). */}}
{{- define "isp-bot.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "isp-bot.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "isp-bot.secret" -}}
{{ required "existingSecret: name a Secret with RASA_API_TOKEN, ACTION_SERVER_TOKEN, DESK_JWT_SECRET, REDIS_PASSWORD" .Values.existingSecret }}
{{- end -}}

{{/* Environment of both components: Redis, the required secrets, then config and the whole Secret. */}}
{{- define "isp-bot.env" -}}
- name: REDIS_HOST
  value: {{ .Values.redis.host | quote }}
- name: REDIS_PORT
  value: {{ .Values.redis.port | quote }}
- name: REDIS_DB
  value: {{ .Values.redis.db | quote }}
{{- range list "REDIS_PASSWORD" "ACTION_SERVER_TOKEN" "DESK_JWT_SECRET" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "isp-bot.secret" $ }}
      key: {{ . }}
{{- end }}
{{- end -}}

{{- define "isp-bot.envFrom" -}}
- configMapRef:
    name: {{ include "isp-bot.fullname" . }}-config
- secretRef:
    name: {{ include "isp-bot.secret" . }}
{{- end -}}

{{- define "isp-bot.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
