{{- /*
The values a pod cannot start without, checked before anything is rendered: a release that would
only crash-loop is refused by `helm template` and `helm install` with the value to set instead.
*/ -}}
{{- define "causeway.validate" -}}
{{- $v := .Values -}}
{{- if not $v.databaseSecret -}}
{{- fail "databaseSecret is required: the name of an existing Secret whose key databaseSecretKey (default database-url) holds the PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DB" -}}
{{- end -}}
{{- if not (and $v.oidc.issuer $v.oidc.clientId $v.oidc.clientSecret.secretName) -}}
{{- fail "no usable sign-in: set oidc.issuer, oidc.clientId and oidc.clientSecret.secretName (an existing Secret holding the client secret). In a pod Causeway signs people in through OpenID Connect only; the development sign-in lets anyone act as anyone and is refused off loopback" -}}
{{- end -}}
{{- if not $v.publicUrl -}}
{{- fail "publicUrl is required with OpenID Connect sign-in: the address people reach Causeway at; the provider sends them back to <publicUrl>/auth/oidc/callback" -}}
{{- end -}}
{{- if and $v.oidc.ca.configMap $v.oidc.ca.secret -}}
{{- fail "oidc.ca: set configMap or secret, not both" -}}
{{- end -}}
{{- if and (or $v.storage.gitops $v.storage.git) (not $v.storage.existingClaim) (gt (int $v.replicaCount) 1) -}}
{{- fail "storage: an emptyDir belongs to one pod, so each replica would keep its own GitOps or git repositories; set storage.existingClaim to a ReadWriteMany PersistentVolumeClaim, or replicaCount to 1" -}}
{{- end -}}
{{- range $key, $_ := $v.config -}}
{{- if eq $key "CAUSEWAY_AUTH_MODE" -}}
{{- fail "config.CAUSEWAY_AUTH_MODE: the chart signs people in through OpenID Connect (oidc.*); the development sign-in is refused off loopback" -}}
{{- end -}}
{{- if or (has $key (list "CAUSEWAY_LISTEN" "CAUSEWAY_DATABASE_URL" "CAUSEWAY_AUTH_MODE" "CAUSEWAY_PUBLIC_URL" "CAUSEWAY_PLATFORM_CONFIG" "CAUSEWAY_METRICS_PUBLIC" "CAUSEWAY_METRICS_TOKEN_FILE" "CAUSEWAY_GITHUB_WEBHOOK_SECRET_FILE" "CAUSEWAY_GITEA_WEBHOOK_SECRET_FILE" "CAUSEWAY_GITOPS_DIR" "CAUSEWAY_GIT_DIR")) (hasPrefix "CAUSEWAY_OIDC_" $key) -}}
{{- fail (printf "config.%s is set by the chart from its own values (containerPort, databaseSecret, publicUrl, oidc, platformConfig, metrics, webhooks, storage); set those instead" $key) -}}
{{- end -}}
{{- if eq $key "CAUSEWAY_CONFIG" -}}
{{- fail "config.CAUSEWAY_CONFIG: the chart mounts no configuration file; set each key as its CAUSEWAY_* variable in config" -}}
{{- end -}}
{{- if eq $key "CAUSEWAY_KUBECONFIG" -}}
{{- fail "config.CAUSEWAY_KUBECONFIG: the chart provisions into its own cluster with the release's ServiceAccount and ClusterRole, and mounts no kubeconfig" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "causeway.labels" -}}
app.kubernetes.io/name: causeway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
