//! Configuration: built-in defaults, then an optional TOML file (`CAUSEWAY_CONFIG`), then
//! `CAUSEWAY_*` environment variables, which win. Every key has one parser, used for both sources,
//! and every error names the key (and the variable or file it came from).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

pub mod oidc;

/// The variable naming the configuration file; it is not itself a configuration key.
pub const CONFIG_FILE_VAR: &str = "CAUSEWAY_CONFIG";

/// How users sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `POST /auth/dev/sign-in` signs in as any known user; loopback addresses only.
    Dev,
    /// OpenID Connect with the provider the `oidc_*` keys name; any address.
    Oidc,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Pretty when standard error is a terminal, JSON otherwise.
    Auto,
    Pretty,
    Json,
}

/// Where environments are provisioned, as [`Config::cluster`] decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAccess {
    /// The cluster of this kubeconfig file, named by the `kubeconfig` key.
    Kubeconfig(PathBuf),
    /// The cluster this process runs in as a pod, reached with the pod's service account.
    InCluster,
    /// No cluster: environments are committed to the repository at `gitops_dir`.
    Gitops,
}

/// The service account token Kubernetes mounts into a pod; with `KUBERNETES_SERVICE_HOST`, it
/// shows that the process runs inside a cluster.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub auth_mode: AuthMode,
    /// The address users reach Causeway at; used for CSRF origin checks and secure cookies.
    pub public_url: Url,
    /// Directory holding `pkg/` with the browser bundle and stylesheet.
    pub site_root: PathBuf,
    pub log_format: LogFormat,
    /// A `tracing` filter directive such as `info` or `causeway=debug,sqlx=warn`.
    pub log_filter: String,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub session_ttl: Duration,
    /// Group references whose members are platform admins.
    pub admin_teams: Vec<String>,
    /// Hosts that URL locations may be read from.
    pub catalog_allowed_hosts: Vec<String>,
    /// How often registered locations are read again.
    pub catalog_refresh: Duration,
    /// Whether entities that vanished from their location are deleted (else kept as orphans).
    pub catalog_delete_orphans: bool,
    /// The kubeconfig environments are provisioned with, from `CAUSEWAY_KUBECONFIG` or the file's
    /// `kubeconfig` key only. kubectl's `KUBECONFIG` is ignored on purpose: it usually names a
    /// developer's own cluster, which a server must never write to unless told so explicitly.
    pub kubeconfig: Option<PathBuf>,
    /// Where environments are written when no cluster is configured.
    pub gitops_dir: PathBuf,
    /// Where the platform configuration (clusters, environments, policies) is read from: a file,
    /// a directory, a git location, or empty for the embedded default.
    pub platform_config: String,
    /// How often the platform configuration is read again.
    pub platform_config_refresh: Duration,
    /// Where the embedded git host `local` keeps the repositories templates publish.
    pub git_dir: PathBuf,
    /// The git hosts templates may publish to.
    pub git_integrations: Vec<causeway_platform::scaffolder::actions::integrations::GitIntegration>,
    /// Lease of a claimed task (see `task_lease_secs`).
    pub task_lease: Duration,
    pub task_workers: usize,
    /// The least time between the starts of two services of an upgrade task.
    pub upgrade_pace: Duration,
    /// How long a stopping server keeps serving with `/readyz` at 503 (see `shutdown_delay_secs`).
    pub shutdown_delay: Duration,
    /// The longest lifetime an API token may be given, in days (see `token_max_days`).
    pub token_max_days: i64,
    /// Whether anyone may read `/metrics` (see `metrics_public`).
    pub metrics_public: bool,
    /// The file holding the bearer secret that reads `/metrics` (see `metrics_token_file`).
    pub metrics_token_file: Option<PathBuf>,
    /// The secret read from `metrics_token_file` when the configuration was loaded.
    metrics_token: Option<Secret>,
    /// The files holding the push webhooks' secrets (see `github_webhook_secret_file`).
    pub github_webhook_secret_file: Option<PathBuf>,
    pub gitea_webhook_secret_file: Option<PathBuf>,
    /// The secrets read from them when the configuration was loaded.
    github_webhook_secret: Option<Secret>,
    gitea_webhook_secret: Option<Secret>,
    /// The identity provider and matching rule of `auth_mode = "oidc"` (the `oidc_*` keys).
    pub oidc: oidc::OidcSettings,
    /// Whether `public_url` was set explicitly (otherwise it follows `listen`).
    public_url_set: bool,
    /// Whether this process runs in a Kubernetes pod with a service account token.
    in_pod: bool,
}

/// A configuration problem, naming the key and where its value came from.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`{source_note}: {message}")]
pub struct ConfigError {
    pub key: String,
    source_note: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, origin: &Origin<'_>, message: impl Into<String>) -> Self {
        let source_note = match origin {
            Origin::Env(var) => format!(" (from environment variable {var})"),
            Origin::File(path) => format!(" (in {})", path.display()),
            Origin::Check => String::new(),
        };
        Self {
            key: key.to_owned(),
            source_note,
            message: message.into(),
        }
    }
}

enum Origin<'a> {
    Env(&'a str),
    File(&'a Path),
    Check,
}

/// Every key of the configuration: [`KEYS`], then the OpenID Connect keys ([`oidc::KEYS`]).
pub fn all_keys()
-> impl Iterator<Item = &'static (&'static str, &'static str, &'static str, &'static str)> {
    KEYS.iter().chain(oidc::KEYS)
}

/// Every key, its environment variable and its meaning: the README's table is this list, followed
/// by [`oidc::KEYS`].
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "database_url",
        "CAUSEWAY_DATABASE_URL",
        "sqlite://var/causeway.db",
        "`sqlite://PATH` (file and directory created) or `postgres://…`",
    ),
    (
        "listen",
        "CAUSEWAY_LISTEN",
        "127.0.0.1:3000",
        "address and port to serve on",
    ),
    (
        "auth_mode",
        "CAUSEWAY_AUTH_MODE",
        "dev",
        "`dev`: development sign-in, loopback addresses only; `oidc`: OpenID Connect with the provider the `oidc_*` keys name",
    ),
    (
        "public_url",
        "CAUSEWAY_PUBLIC_URL",
        "http://<listen>",
        "external URL; its origin is the only one allowed to post forms, `https` makes cookies Secure",
    ),
    (
        "site_root",
        "CAUSEWAY_SITE_ROOT",
        "target/site",
        "directory with `pkg/` (browser bundle, stylesheet)",
    ),
    (
        "log_format",
        "CAUSEWAY_LOG_FORMAT",
        "auto",
        "`auto` (pretty on a terminal, JSON otherwise), `pretty` or `json`",
    ),
    (
        "log_filter",
        "CAUSEWAY_LOG_FILTER",
        "info",
        "tracing filter, e.g. `info,causeway=debug`",
    ),
    (
        "request_timeout_secs",
        "CAUSEWAY_REQUEST_TIMEOUT_SECS",
        "30",
        "requests taking longer get 408",
    ),
    (
        "body_limit_bytes",
        "CAUSEWAY_BODY_LIMIT_BYTES",
        "8388608",
        "larger request bodies get 413",
    ),
    (
        "session_ttl_hours",
        "CAUSEWAY_SESSION_TTL_HOURS",
        "12",
        "lifetime of a portal session",
    ),
    (
        "admin_teams",
        "CAUSEWAY_ADMIN_TEAMS",
        "group:default/platform",
        "groups whose members are platform admins (TOML list, or comma-separated in the variable)",
    ),
    (
        "catalog_allowed_hosts",
        "CAUSEWAY_CATALOG_ALLOWED_HOSTS",
        "",
        "hosts URL locations may be read from (`example.com`, `*.example.com`); others are refused without a request",
    ),
    (
        "catalog_refresh_secs",
        "CAUSEWAY_CATALOG_REFRESH_SECS",
        "300",
        "how often registered locations are read again",
    ),
    (
        "catalog_orphans",
        "CAUSEWAY_CATALOG_ORPHANS",
        "keep",
        "entities gone from their location: `keep` (annotated `backstage.io/orphan`) or `delete`",
    ),
    (
        "kubeconfig",
        "CAUSEWAY_KUBECONFIG",
        "",
        "kubeconfig of the cluster that serves `dev`, `staging` and `prod` (context `causeway` when it has one); `$KUBECONFIG` is ignored; without it, the pod's own cluster when running in Kubernetes, else `gitops_dir`",
    ),
    (
        "gitops_dir",
        "CAUSEWAY_GITOPS_DIR",
        "var/gitops",
        "the git repository environments are written to when no cluster is configured",
    ),
    (
        "platform_config",
        "CAUSEWAY_PLATFORM_CONFIG",
        "",
        "the platform configuration (clusters, environments, approvals, policies, waivers as `causeway.dev/v1alpha1` documents): a file, a directory of .yaml files, or a git location `<url>#<branch>:<path>`; empty for the embedded default (`causeway platform export` prints it)",
    ),
    (
        "platform_config_refresh_secs",
        "CAUSEWAY_PLATFORM_CONFIG_REFRESH_SECS",
        "30",
        "how often the platform configuration is read again; an invalid revision never replaces the one serving",
    ),
    (
        "git_dir",
        "CAUSEWAY_GIT_DIR",
        "var/git",
        "where the embedded git host `local` keeps the repositories templates publish (`local?owner=o&repo=r` is `<git_dir>/o/r.git`)",
    ),
    (
        "git_integrations",
        "CAUSEWAY_GIT_INTEGRATIONS",
        "",
        "git hosts templates publish to, as a JSON list: `[{\"host\", \"type\": \"gitea\"|\"git\", \"clone_url\", \"api_url\"?, \"web_url\"?, \"username\", \"token_file\"|\"token_env\"}]`",
    ),
    (
        "upgrade_pace_ms",
        "CAUSEWAY_UPGRADE_PACE_MS",
        "100",
        "the least time between the starts of two services when a task upgrades services to a new template version (a service that takes longer adds no wait), so that a fleet-wide upgrade reaches the git server at most once per this many milliseconds; `0` for no limit",
    ),
    (
        "task_lease_secs",
        "CAUSEWAY_TASK_LEASE_SECS",
        "15",
        "how long a worker holds a task without renewing its lease; a task whose worker died is taken over after this",
    ),
    (
        "task_workers",
        "CAUSEWAY_TASK_WORKERS",
        "4",
        "tasks this process runs at once",
    ),
    (
        "shutdown_delay_secs",
        "CAUSEWAY_SHUTDOWN_DELAY_SECS",
        "5",
        "after SIGTERM, how long `/readyz` answers 503 while requests are still served, so that load balancers stop sending any; `0` stops at once",
    ),
    (
        "token_max_days",
        "CAUSEWAY_TOKEN_MAX_DAYS",
        "365",
        "the longest lifetime an API token may be given (`expiresInDays`, `--expires-in-days`); new tokens last 90 days unless asked otherwise, never longer than this",
    ),
    (
        "metrics_public",
        "CAUSEWAY_METRICS_PUBLIC",
        "false",
        "`true` lets anyone read `/metrics` (for a scraper that cannot send a credential, behind a network that keeps others out); `false` requires `Authorization: Bearer <the secret in metrics_token_file>`, and without that file `/metrics` answers 401 to everyone",
    ),
    (
        "metrics_token_file",
        "CAUSEWAY_METRICS_TOKEN_FILE",
        "",
        "a file whose content (surrounding whitespace ignored) is the bearer secret Prometheus sends to read `/metrics` (its `authorization.credentials_file`); read at start",
    ),
    (
        "github_webhook_secret_file",
        "CAUSEWAY_GITHUB_WEBHOOK_SECRET_FILE",
        "",
        "a file whose content (surrounding whitespace ignored) is the secret of GitHub's push webhook: `POST /api/events/github` signed with it (`X-Hub-Signature-256`) is recorded by the platform itself; without it that endpoint takes only API tokens; read at start",
    ),
    (
        "gitea_webhook_secret_file",
        "CAUSEWAY_GITEA_WEBHOOK_SECRET_FILE",
        "",
        "the same for Gitea's push webhook (`POST /api/events/gitea`, `X-Gitea-Signature`)",
    ),
];

impl Default for Config {
    fn default() -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], 3000));
        Self {
            database_url: "sqlite://var/causeway.db".to_owned(),
            listen,
            auth_mode: AuthMode::Dev,
            public_url: url_for(listen),
            site_root: PathBuf::from("target/site"),
            log_format: LogFormat::Auto,
            log_filter: "info".to_owned(),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 8 * 1024 * 1024,
            session_ttl: Duration::from_secs(12 * 3600),
            admin_teams: vec!["group:default/platform".to_owned()],
            catalog_allowed_hosts: Vec::new(),
            catalog_refresh: Duration::from_secs(300),
            catalog_delete_orphans: false,
            kubeconfig: None,
            gitops_dir: PathBuf::from("var/gitops"),
            platform_config: String::new(),
            platform_config_refresh: Duration::from_secs(30),
            git_dir: PathBuf::from("var/git"),
            git_integrations: Vec::new(),
            task_lease: Duration::from_secs(15),
            task_workers: 4,
            upgrade_pace: Duration::from_millis(100),
            shutdown_delay: Duration::from_secs(5),
            token_max_days: causeway_platform::identity::TOKEN_DEFAULT_MAX_DAYS,
            metrics_public: false,
            metrics_token_file: None,
            metrics_token: None,
            github_webhook_secret_file: None,
            gitea_webhook_secret_file: None,
            github_webhook_secret: None,
            gitea_webhook_secret: None,
            oidc: oidc::OidcSettings::default(),
            public_url_set: false,
            in_pod: false,
        }
    }
}

fn url_for(listen: SocketAddr) -> Url {
    // A socket address always forms a valid URL authority.
    Url::parse(&format!("http://{listen}"))
        .unwrap_or_else(|_| Url::parse("http://127.0.0.1/").expect("static URL"))
}

impl Config {
    /// Loads the configuration from the process environment (and the file it names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(std::env::vars())
    }

    /// Loads the configuration from `vars`: the file named by `CAUSEWAY_CONFIG`, if any, then the
    /// other `CAUSEWAY_*` variables. Any unknown key or variable is an error.
    pub fn load(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        Self::load_in(vars, Path::new(SERVICE_ACCOUNT_TOKEN))
    }

    /// [`Config::load`], with the path of the pod's service account token given, so that tests
    /// can stand in for a pod.
    pub(crate) fn load_in(
        vars: impl IntoIterator<Item = (String, String)>,
        service_account_token: &Path,
    ) -> Result<Self, ConfigError> {
        let mut service_host = false;
        // Variables outside `CAUSEWAY_*` are no keys, but `oidc_client_secret_env` may name one.
        let mut others = std::collections::HashMap::new();
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, v)| {
                if !k.starts_with("CAUSEWAY_") {
                    others.insert(k.clone(), v.clone());
                }
                // Kubernetes sets this variable in every container; with the mounted token it
                // means the process can reach its own cluster.
                if k == "KUBERNETES_SERVICE_HOST" && !v.trim().is_empty() {
                    service_host = true;
                }
                k.starts_with("CAUSEWAY_")
            })
            .collect();
        let mut config = Self::default();
        if let Some((_, path)) = vars.iter().find(|(k, _)| k == CONFIG_FILE_VAR) {
            config.apply_file(Path::new(path))?;
        }
        for (var, value) in &vars {
            if var == CONFIG_FILE_VAR {
                continue;
            }
            let key = all_keys()
                .find(|(_, env, _, _)| env == var)
                .map(|(key, ..)| *key);
            match key {
                Some(key) => config.set(key, value, &Origin::Env(var))?,
                None => {
                    return Err(ConfigError::new(
                        &var.trim_start_matches("CAUSEWAY_").to_ascii_lowercase(),
                        &Origin::Env(var),
                        format!(
                            "unknown variable {var}; known variables are {}",
                            known_vars()
                        ),
                    ));
                }
            }
        }
        config.in_pod = service_host && service_account_token.is_file();
        config.check()?;
        if config.auth_mode == AuthMode::Oidc {
            config
                .oidc
                .check(&others)
                .map_err(|(key, message)| ConfigError::new(key, &Origin::Check, message))?;
        }
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_origin = Origin::File(path);
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                CONFIG_FILE_VAR,
                &Origin::Check,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let table: toml::Table = text.parse().map_err(|e| {
            ConfigError::new(
                CONFIG_FILE_VAR,
                &file_origin,
                format!("is not valid TOML: {e}"),
            )
        })?;
        for (key, value) in table {
            if !all_keys().any(|(k, ..)| *k == key) {
                return Err(ConfigError::new(
                    &key,
                    &file_origin,
                    format!(
                        "unknown key; known keys are {}",
                        all_keys().map(|k| k.0).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) if key == "metrics_public" => b.to_string(),
                toml::Value::Array(items)
                    if key == "admin_teams"
                        || key == "catalog_allowed_hosts"
                        || oidc::LIST_KEYS.contains(&key.as_str()) =>
                {
                    let mut teams = Vec::new();
                    for item in items {
                        match item {
                            toml::Value::String(s) => teams.push(s),
                            _ => {
                                return Err(ConfigError::new(
                                    &key,
                                    &file_origin,
                                    "must be a list of strings",
                                ));
                            }
                        }
                    }
                    teams.join(",")
                }
                other => {
                    return Err(ConfigError::new(
                        &key,
                        &file_origin,
                        format!(
                            "has the wrong type ({}); expected a string or an integer",
                            other.type_str()
                        ),
                    ));
                }
            };
            self.set(&key, &text, &file_origin)?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str, origin: &Origin<'_>) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::new(key, origin, message);
        let value = value.trim();
        match key {
            "database_url" => {
                causeway_platform::store::Engine::from_url(value)
                    .map_err(|_| err(format!("{value:?} is not supported; expected sqlite://PATH or postgres://USER@HOST:PORT/DB")))?;
                self.database_url = value.to_owned();
            }
            "listen" => {
                self.listen = value
                    .parse()
                    .map_err(|_| err(format!("{value:?} is not a socket address; expected HOST:PORT such as 127.0.0.1:3000")))?;
            }
            "auth_mode" => {
                self.auth_mode = match value {
                    "dev" => AuthMode::Dev,
                    "oidc" => AuthMode::Oidc,
                    other => {
                        return Err(err(format!(
                            "{other:?} is not an authentication mode; expected dev or oidc"
                        )));
                    }
                };
            }
            "public_url" => {
                let url =
                    Url::parse(value).map_err(|e| err(format!("{value:?} is not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(err(format!(
                        "{value:?} must be an http:// or https:// URL with a host"
                    )));
                }
                self.public_url = url;
                self.public_url_set = true;
            }
            "site_root" => self.site_root = PathBuf::from(value),
            "log_format" => {
                self.log_format = match value {
                    "auto" => LogFormat::Auto,
                    "pretty" => LogFormat::Pretty,
                    "json" => LogFormat::Json,
                    other => {
                        return Err(err(format!(
                            "{other:?} is not a log format; expected auto, pretty or json"
                        )));
                    }
                };
            }
            "log_filter" => {
                tracing_subscriber::EnvFilter::try_new(value)
                    .map_err(|e| err(format!("{value:?} is not a tracing filter: {e}")))?;
                self.log_filter = value.to_owned();
            }
            "request_timeout_secs" => {
                self.request_timeout = Duration::from_secs(positive(value).map_err(err)?)
            }
            "body_limit_bytes" => {
                self.body_limit_bytes = usize::try_from(positive(value).map_err(err)?)
                    .map_err(|_| err("is too large".to_owned()))?;
            }
            "session_ttl_hours" => {
                self.session_ttl =
                    Duration::from_secs(positive(value).map_err(err)?.saturating_mul(3600))
            }
            "admin_teams" => {
                self.admin_teams = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                for team in &self.admin_teams {
                    causeway_platform::entity_ref::EntityRef::parse(team, Some("group"), key)
                        .map_err(|e| err(e.to_string()))?;
                }
            }
            "catalog_allowed_hosts" => {
                self.catalog_allowed_hosts = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                for host in &self.catalog_allowed_hosts {
                    let bare = host.strip_prefix("*.").unwrap_or(host);
                    if bare.is_empty()
                        || url::Host::parse(bare).is_err()
                        || bare.contains(['/', ':'])
                    {
                        return Err(err(format!(
                            "{host:?} is not a host name; expected e.g. example.com or *.example.com"
                        )));
                    }
                }
            }
            "catalog_refresh_secs" => {
                self.catalog_refresh = Duration::from_secs(positive(value).map_err(err)?)
            }
            "task_lease_secs" => {
                self.task_lease = Duration::from_secs(positive(value).map_err(err)?)
            }
            "upgrade_pace_ms" => {
                self.upgrade_pace =
                    Duration::from_millis(value.parse::<u64>().map_err(|_| {
                        err(format!("{value:?} is not a whole number of milliseconds"))
                    })?)
            }
            "task_workers" => {
                self.task_workers = usize::try_from(positive(value).map_err(err)?)
                    .map_err(|_| err("is too large".to_owned()))?
            }
            "shutdown_delay_secs" => {
                self.shutdown_delay = Duration::from_secs(
                    value
                        .parse::<u64>()
                        .map_err(|_| err(format!("{value:?} is not a whole number of seconds")))?,
                )
            }
            "token_max_days" => {
                self.token_max_days = i64::try_from(positive(value).map_err(err)?)
                    .map_err(|_| err("is too large".to_owned()))?
                    .min(36_500);
            }
            "metrics_public" => {
                self.metrics_public = match value {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(err(format!(
                            "{other:?} is not a boolean; expected true or false"
                        )));
                    }
                };
            }
            "metrics_token_file" => {
                self.metrics_token_file = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "github_webhook_secret_file" => {
                self.github_webhook_secret_file = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "gitea_webhook_secret_file" => {
                self.gitea_webhook_secret_file = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "catalog_orphans" => {
                self.catalog_delete_orphans = match value {
                    "keep" => false,
                    "delete" => true,
                    other => {
                        return Err(err(format!(
                            "{other:?} is not an orphan policy; expected keep or delete"
                        )));
                    }
                };
            }
            "kubeconfig" => {
                self.kubeconfig = (!value.trim().is_empty()).then(|| PathBuf::from(value.trim()));
            }
            "gitops_dir" => {
                if value.trim().is_empty() {
                    return Err(err("must name a directory".to_owned()));
                }
                self.gitops_dir = PathBuf::from(value.trim());
            }
            "platform_config" => self.platform_config = value.trim().to_owned(),
            "platform_config_refresh_secs" => {
                self.platform_config_refresh = Duration::from_secs(positive(value).map_err(err)?)
            }
            "git_dir" => {
                if value.trim().is_empty() {
                    return Err(err("must name a directory".to_owned()));
                }
                self.git_dir = PathBuf::from(value.trim());
            }
            "git_integrations" => {
                self.git_integrations =
                    causeway_platform::scaffolder::actions::integrations::GitIntegration::parse_all(
                        value,
                    )
                    .map_err(err)?;
            }
            key if key.starts_with("oidc_") => self.oidc.set(key, value).map_err(err)?,
            _ => return Err(err("unknown key".to_owned())),
        }
        Ok(())
    }

    /// Rules that involve several keys.
    fn check(&mut self) -> Result<(), ConfigError> {
        self.github_webhook_secret = self
            .github_webhook_secret_file
            .as_deref()
            .map(|path| read_secret("github_webhook_secret_file", path))
            .transpose()?;
        self.gitea_webhook_secret = self
            .gitea_webhook_secret_file
            .as_deref()
            .map(|path| read_secret("gitea_webhook_secret_file", path))
            .transpose()?;
        if let Some(path) = &self.metrics_token_file {
            let key = "metrics_token_file";
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    key,
                    &Origin::Check,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let secret = text.trim();
            // A short secret could be guessed by anyone who can reach the port.
            if secret.len() < 16 || secret.chars().any(char::is_control) {
                return Err(ConfigError::new(
                    key,
                    &Origin::Check,
                    format!(
                        "{} must hold a secret of at least 16 printable characters",
                        path.display()
                    ),
                ));
            }
            self.metrics_token = Some(Secret(secret.to_owned()));
        }
        if !self.public_url_set {
            self.public_url = url_for(self.listen);
        }
        if self.auth_mode == AuthMode::Oidc
            && !self.public_url_set
            && !self.listen.ip().is_loopback()
        {
            return Err(ConfigError::new(
                "public_url",
                &Origin::Check,
                format!(
                    "is required with auth_mode = \"oidc\" on the non-loopback address {}: the identity provider sends people back to <public_url>/auth/oidc/callback",
                    self.listen
                ),
            ));
        }
        if self.auth_mode == AuthMode::Dev && !self.listen.ip().is_loopback() {
            return Err(ConfigError::new(
                "auth_mode",
                &Origin::Check,
                format!(
                    "the development sign-in lets anyone act as any user, so it is refused on the non-loopback address {}; listen on 127.0.0.1 or ::1",
                    self.listen
                ),
            ));
        }
        Ok(())
    }

    /// Where environments are provisioned: the configured kubeconfig's cluster; without one, the
    /// pod's own cluster when running in Kubernetes; otherwise the GitOps repository.
    pub fn cluster(&self) -> ClusterAccess {
        match (&self.kubeconfig, self.in_pod) {
            (Some(path), _) => ClusterAccess::Kubeconfig(path.clone()),
            (None, true) => ClusterAccess::InCluster,
            (None, false) => ClusterAccess::Gitops,
        }
    }

    /// The bearer secret that reads `/metrics`, from `metrics_token_file`.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_ref().map(|s| s.0.as_str())
    }

    /// The secret GitHub's push webhook signs with, from `github_webhook_secret_file`.
    pub fn github_webhook_secret(&self) -> Option<&str> {
        self.github_webhook_secret.as_ref().map(|s| s.0.as_str())
    }

    /// The secret Gitea's push webhook signs with, from `gitea_webhook_secret_file`.
    pub fn gitea_webhook_secret(&self) -> Option<&str> {
        self.gitea_webhook_secret.as_ref().map(|s| s.0.as_str())
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// A secret read from a file, kept out of `Debug` output (the configuration is logged).
#[derive(Clone)]
struct Secret(String);

/// The secret in the file `path` of `key`: at least 16 printable characters, since a short one
/// could be guessed by anyone who can reach the port.
fn read_secret(key: &str, path: &std::path::Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            key,
            &Origin::Check,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let secret = text.trim();
    if secret.len() < 16 || secret.chars().any(char::is_control) {
        return Err(ConfigError::new(
            key,
            &Origin::Check,
            format!(
                "{} must hold a secret of at least 16 printable characters",
                path.display()
            ),
        ));
    }
    Ok(Secret(secret.to_owned()))
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn positive(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{value:?} is not a positive whole number")),
    }
}

fn known_vars() -> String {
    let mut vars: Vec<&str> = all_keys().map(|k| k.1).collect();
    vars.push(CONFIG_FILE_VAR);
    vars.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::load(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_without_configuration() {
        let config = load(&[("PATH", "/bin")]).expect("defaults are valid");
        assert_eq!(config.database_url, "sqlite://var/causeway.db");
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:3000/");
        assert!(!config.secure_cookies());
    }

    #[test]
    fn environment_overrides_file() {
        let dir = std::env::temp_dir().join(format!("cw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("causeway.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:4000\"\nrequest_timeout_secs = 5\nadmin_teams = [\"ops\", \"group:default/sre\"]\n")
            .expect("write");
        let path = file.display().to_string();
        let config = load(&[
            ("CAUSEWAY_CONFIG", &path),
            ("CAUSEWAY_LISTEN", "127.0.0.1:4100"),
        ])
        .expect("valid");
        assert_eq!(config.listen.port(), 4100);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.admin_teams, vec!["ops", "group:default/sre"]);
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:4100/");

        std::fs::write(&file, "lisen = \"x\"\n").expect("write");
        let err = load(&[("CAUSEWAY_CONFIG", &path)]).expect_err("unknown key");
        assert!(err.starts_with("configuration key `lisen` (in "), "{err}");
        std::fs::write(&file, "request_timeout_secs = true\n").expect("write");
        let err = load(&[("CAUSEWAY_CONFIG", &path)]).expect_err("bad type");
        assert!(
            err.contains("`request_timeout_secs`") && err.contains("wrong type"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn errors_name_the_key_and_the_variable() {
        let cases = [
            (
                "CAUSEWAY_LISTEN",
                "nowhere",
                "configuration key `listen` (from environment variable CAUSEWAY_LISTEN): \"nowhere\" is not a socket address",
            ),
            (
                "CAUSEWAY_DATABASE_URL",
                "mysql://x",
                "configuration key `database_url`",
            ),
            (
                "CAUSEWAY_AUTH_MODE",
                "magic",
                "\"magic\" is not an authentication mode",
            ),
            (
                "CAUSEWAY_REQUEST_TIMEOUT_SECS",
                "-1",
                "is not a positive whole number",
            ),
            (
                "CAUSEWAY_LOG_FORMAT",
                "xml",
                "expected auto, pretty or json",
            ),
            (
                "CAUSEWAY_PUBLIC_URL",
                "ftp://x",
                "must be an http:// or https:// URL",
            ),
            (
                "CAUSEWAY_ADMIN_TEAMS",
                "a b",
                "configuration key `admin_teams`",
            ),
            ("CAUSEWAY_LISTN", "x", "unknown variable CAUSEWAY_LISTN"),
        ];
        for (var, value, expected) in cases {
            let err = load(&[(var, value)]).expect_err(var);
            assert!(err.contains(expected), "{var}={value}: {err}");
        }
        let err =
            load(&[("CAUSEWAY_CONFIG", "/nonexistent/causeway.toml")]).expect_err("missing file");
        assert!(
            err.contains("CAUSEWAY_CONFIG") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn the_shutdown_delay_may_be_zero() {
        let config = load(&[]).expect("defaults");
        assert_eq!(config.shutdown_delay, Duration::from_secs(5));
        let config = load(&[("CAUSEWAY_SHUTDOWN_DELAY_SECS", "0")]).expect("valid");
        assert_eq!(config.shutdown_delay, Duration::ZERO);
        let err = load(&[("CAUSEWAY_SHUTDOWN_DELAY_SECS", "soon")]).expect_err("refused");
        assert!(
            err.contains("`shutdown_delay_secs`") && err.contains("whole number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn dev_sign_in_is_refused_off_loopback() {
        let err = load(&[("CAUSEWAY_LISTEN", "0.0.0.0:3000")]).expect_err("refused");
        assert!(
            err.contains("`auth_mode`") && err.contains("non-loopback"),
            "{err}"
        );
        assert!(load(&[("CAUSEWAY_LISTEN", "[::1]:3000")]).is_ok());
    }

    #[test]
    fn only_an_explicit_kubeconfig_selects_a_cluster() {
        let config = load(&[("KUBECONFIG", "/home/dev/.kube/config")]).expect("valid");
        assert_eq!(config.kubeconfig, None);
        assert_eq!(config.cluster(), ClusterAccess::Gitops);

        let config = load(&[
            ("KUBECONFIG", "/home/dev/.kube/config"),
            ("CAUSEWAY_KUBECONFIG", "/etc/causeway/kubeconfig"),
        ])
        .expect("valid");
        assert_eq!(
            config.cluster(),
            ClusterAccess::Kubeconfig(PathBuf::from("/etc/causeway/kubeconfig"))
        );
    }

    #[test]
    fn a_pod_without_a_kubeconfig_uses_its_own_cluster() {
        let dir = std::env::temp_dir().join(format!("cw-pod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let token = dir.join("token");
        let vars = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let pod = [("KUBERNETES_SERVICE_HOST", "10.0.0.1")];
        // The variable alone (a token that is not mounted) is not a pod that can reach its cluster.
        let config = Config::load_in(vars(&pod), &token).expect("valid");
        assert_eq!(config.cluster(), ClusterAccess::Gitops);

        std::fs::write(&token, "token").expect("write");
        let config = Config::load_in(vars(&pod), &token).expect("valid");
        assert_eq!(config.cluster(), ClusterAccess::InCluster);
        let config = Config::load_in(vars(&[]), &token).expect("valid");
        assert_eq!(config.cluster(), ClusterAccess::Gitops);
        // `make run` empties the variable, so that a developer's run inside a pod never writes to
        // the cluster the pod runs in.
        let config =
            Config::load_in(vars(&[("KUBERNETES_SERVICE_HOST", "")]), &token).expect("valid");
        assert_eq!(config.cluster(), ClusterAccess::Gitops);
        // An explicit kubeconfig wins inside a pod too.
        let mut explicit = vars(&pod);
        explicit.push(("CAUSEWAY_KUBECONFIG".into(), "/etc/kubeconfig".into()));
        let config = Config::load_in(explicit, &token).expect("valid");
        assert_eq!(
            config.cluster(),
            ClusterAccess::Kubeconfig(PathBuf::from("/etc/kubeconfig"))
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let config =
            load(&[("CAUSEWAY_PUBLIC_URL", "https://causeway.example.com")]).expect("valid");
        assert!(config.secure_cookies());
    }
}
