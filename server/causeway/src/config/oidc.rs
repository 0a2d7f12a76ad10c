//! The `oidc_*` configuration keys: the identity provider `auth_mode = "oidc"` signs people in
//! with, and the matching rule between its claims and the catalog.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use causeway_platform::identity::oidc::{MatchRules, UnknownUsers};
use url::Url;

/// The OpenID Connect settings; checked as a whole only when `auth_mode = "oidc"`.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<Url>,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    /// The name of an environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub user_claim: String,
    /// Lowercase email domains that may sign in; empty for any.
    pub allowed_domains: Vec<String>,
    pub unknown_users: UnknownUsers,
    /// PEM certificates the provider's TLS certificate must chain to, instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// The provider's name on the sign-in button.
    pub provider_name: String,
    /// How often a signed-in person is rechecked with the provider (its refresh token); zero
    /// turns rechecks off.
    pub recheck: Duration,
    /// Read from `client_secret_file` or `client_secret_env` when the configuration is checked.
    client_secret: Option<String>,
    /// Read from `ca_file` when the configuration is checked.
    ca_pem: Option<Vec<u8>>,
}

/// The secret and the certificates are kept out of `Debug` output, since the configuration is
/// logged.
impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer.as_ref().map(Url::as_str))
            .field("client_id", &self.client_id)
            .field("client_secret_file", &self.client_secret_file)
            .field("client_secret_env", &self.client_secret_env)
            .field("scopes", &self.scopes)
            .field("groups_claim", &self.groups_claim)
            .field("user_claim", &self.user_claim)
            .field("allowed_domains", &self.allowed_domains)
            .field("unknown_users", &self.unknown_users)
            .field("ca_file", &self.ca_file)
            .field("provider_name", &self.provider_name)
            .field("recheck", &self.recheck)
            .finish_non_exhaustive()
    }
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: String::new(),
            client_secret_file: None,
            client_secret_env: None,
            scopes: ["openid", "email", "profile", "groups"]
                .map(str::to_owned)
                .to_vec(),
            groups_claim: "groups".to_owned(),
            user_claim: "email".to_owned(),
            allowed_domains: Vec::new(),
            unknown_users: UnknownUsers::Refuse,
            ca_file: None,
            provider_name: String::new(),
            recheck: Duration::from_secs(DEFAULT_RECHECK_SECS),
            client_secret: None,
            ca_pem: None,
        }
    }
}

/// `oidc_recheck_secs` unless configured: a person the provider disabled keeps no access for
/// more than a quarter of an hour, and the provider is asked about each person four times an hour.
pub const DEFAULT_RECHECK_SECS: u64 = 900;

/// The keys, for the configuration's table: key, variable, default, meaning.
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "oidc_issuer",
        "CAUSEWAY_OIDC_ISSUER",
        "",
        "with `auth_mode = \"oidc\"`: the identity provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`); `https://`, or `http://` on a loopback address",
    ),
    (
        "oidc_client_id",
        "CAUSEWAY_OIDC_CLIENT_ID",
        "",
        "the client id registered with the provider; its redirect URI is `<public_url>/auth/oidc/callback`",
    ),
    (
        "oidc_client_secret_file",
        "CAUSEWAY_OIDC_CLIENT_SECRET_FILE",
        "",
        "a file holding the client secret (surrounding whitespace ignored); read at start",
    ),
    (
        "oidc_client_secret_env",
        "CAUSEWAY_OIDC_CLIENT_SECRET_ENV",
        "",
        "the name of an environment variable holding the client secret, instead of `oidc_client_secret_file`",
    ),
    (
        "oidc_scopes",
        "CAUSEWAY_OIDC_SCOPES",
        "openid email profile groups",
        "scopes asked for (TOML list, or separated by spaces or commas); `openid` is always included",
    ),
    (
        "oidc_groups_claim",
        "CAUSEWAY_OIDC_GROUPS_CLAIM",
        "groups",
        "the ID token claim listing the person's groups; a catalog Group annotated `causeway.dev/oidc-group: <group>` adds that team for the session",
    ),
    (
        "oidc_user_claim",
        "CAUSEWAY_OIDC_USER_CLAIM",
        "email",
        "the claim that names the person: `email` matches a User's `spec.profile.email`; any other claim's value is a User's name",
    ),
    (
        "oidc_allowed_domains",
        "CAUSEWAY_OIDC_ALLOWED_DOMAINS",
        "",
        "email domains that may sign in (TOML list, or comma-separated); empty for any",
    ),
    (
        "oidc_unknown_users",
        "CAUSEWAY_OIDC_UNKNOWN_USERS",
        "refuse",
        "people no catalog User matches: `refuse` (a 403 page saying who they signed in as) or `admit` (signed in without teams)",
    ),
    (
        "oidc_ca_file",
        "CAUSEWAY_OIDC_CA_FILE",
        "",
        "PEM certificates the provider's TLS certificate must chain to, instead of the public roots; read at start",
    ),
    (
        "oidc_provider_name",
        "CAUSEWAY_OIDC_PROVIDER_NAME",
        "<issuer host>",
        "the provider's name on the sign-in page's button (\"Sign in with …\")",
    ),
    (
        "oidc_recheck_secs",
        "CAUSEWAY_OIDC_RECHECK_SECS",
        "900",
        "how often a person who signed in through the provider is rechecked with it (the refresh_token grant, with the refresh token of their sign-in, which asks for `offline_access`); a person it refuses is disabled: their sessions end and their API tokens are refused until they sign in again. An unreachable provider disables nobody. `0` turns rechecks off",
    ),
];

/// Keys whose TOML value may be a list of strings.
pub const LIST_KEYS: &[&str] = &["oidc_scopes", "oidc_allowed_domains"];

fn list(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

impl OidcSettings {
    /// Sets one `oidc_*` key; the message names the rule it breaks (the caller adds the key).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "oidc_issuer" => {
                let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
                let loopback = match url.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(d)) => d == "localhost",
                    None => false,
                };
                // Tokens and the discovery document must not be readable or replaceable on the
                // way; plain HTTP is for a provider on this machine only.
                if !(url.scheme() == "https" || url.scheme() == "http" && loopback)
                    || url.query().is_some()
                    || url.fragment().is_some()
                {
                    return Err(format!(
                        "{value:?} must be an https:// URL without query or fragment (http:// only on a loopback address)"
                    ));
                }
                self.issuer = Some(url);
            }
            "oidc_client_id" => self.client_id = value.to_owned(),
            "oidc_client_secret_file" => self.client_secret_file = path(value),
            "oidc_client_secret_env" => {
                self.client_secret_env = (!value.is_empty()).then(|| value.to_owned())
            }
            "oidc_scopes" => {
                let mut scopes = list(value);
                if !scopes.iter().any(|s| s == "openid") {
                    scopes.insert(0, "openid".to_owned());
                }
                self.scopes = scopes;
            }
            "oidc_groups_claim" | "oidc_user_claim" => {
                if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{value:?} is not a claim name"));
                }
                if key == "oidc_groups_claim" {
                    self.groups_claim = value.to_owned();
                } else {
                    self.user_claim = value.to_owned();
                }
            }
            "oidc_allowed_domains" => {
                self.allowed_domains = list(value).iter().map(|d| d.to_lowercase()).collect();
                for domain in &self.allowed_domains {
                    if url::Host::parse(domain).is_err() || domain.contains(['/', ':', '@']) {
                        return Err(format!(
                            "{domain:?} is not an email domain; expected e.g. example.com"
                        ));
                    }
                }
            }
            "oidc_unknown_users" => {
                self.unknown_users = match value {
                    "refuse" => UnknownUsers::Refuse,
                    "admit" => UnknownUsers::Admit,
                    other => {
                        return Err(format!(
                            "{other:?} is not a choice; expected refuse or admit"
                        ));
                    }
                }
            }
            "oidc_ca_file" => self.ca_file = path(value),
            "oidc_provider_name" => self.provider_name = value.to_owned(),
            "oidc_recheck_secs" => {
                self.recheck = Duration::from_secs(value.parse::<u64>().map_err(|_| {
                    format!("{value:?} is not a whole number of seconds (0 turns rechecks off)")
                })?)
            }
            _ => return Err("unknown key".to_owned()),
        }
        Ok(())
    }

    /// The checks that apply when `auth_mode = "oidc"`: the required keys are set, and the secret
    /// and the CA file are read. `vars` are the process's variables, for `oidc_client_secret_env`.
    /// An error is the key and the rule it breaks.
    pub fn check(&mut self, vars: &HashMap<String, String>) -> Result<(), (&'static str, String)> {
        let Some(issuer) = &self.issuer else {
            return Err((
                "oidc_issuer",
                "is required with auth_mode = \"oidc\"".to_owned(),
            ));
        };
        if self.provider_name.is_empty() {
            self.provider_name = issuer
                .host_str()
                .unwrap_or("your identity provider")
                .to_owned();
        }
        if self.client_id.is_empty() {
            return Err((
                "oidc_client_id",
                "is required with auth_mode = \"oidc\"".to_owned(),
            ));
        }
        let secret = match (&self.client_secret_file, &self.client_secret_env) {
            (Some(_), Some(_)) => {
                return Err((
                    "oidc_client_secret_env",
                    "set either oidc_client_secret_file or oidc_client_secret_env, not both"
                        .to_owned(),
                ));
            }
            (Some(file), None) => std::fs::read_to_string(file).map_err(|e| {
                (
                    "oidc_client_secret_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?,
            (None, Some(var)) => vars.get(var).cloned().ok_or_else(|| {
                (
                    "oidc_client_secret_env",
                    format!("the environment variable {var} is not set"),
                )
            })?,
            (None, None) => {
                return Err((
                    "oidc_client_secret_file",
                    "oidc_client_secret_file or oidc_client_secret_env is required with auth_mode = \"oidc\"".to_owned(),
                ));
            }
        };
        let secret = secret.trim();
        if secret.is_empty() {
            let key = if self.client_secret_file.is_some() {
                "oidc_client_secret_file"
            } else {
                "oidc_client_secret_env"
            };
            return Err((key, "the client secret is empty".to_owned()));
        }
        self.client_secret = Some(secret.to_owned());
        if let Some(file) = &self.ca_file {
            let pem = std::fs::read(file).map_err(|e| {
                (
                    "oidc_ca_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(certs) if !certs.is_empty() => {}
                _ => {
                    return Err((
                        "oidc_ca_file",
                        format!("{} holds no PEM certificate", file.display()),
                    ));
                }
            }
            self.ca_pem = Some(pem);
        }
        Ok(())
    }

    /// The client secret, once checked.
    pub fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    /// The provider's CA certificates (PEM), once checked.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The scopes of the authorization request: the configured ones, and `offline_access` while
    /// rechecks are on, since the provider hands out the refresh token they need only with it.
    pub fn requested_scopes(&self) -> Vec<String> {
        let mut scopes = self.scopes.clone();
        if !self.recheck.is_zero() && !scopes.iter().any(|s| s == "offline_access") {
            scopes.push("offline_access".to_owned());
        }
        scopes
    }

    /// The matching rule the domain applies.
    pub fn match_rules(&self) -> MatchRules {
        MatchRules {
            user_claim: self.user_claim.clone(),
            allowed_domains: self.allowed_domains.clone(),
            unknown_users: self.unknown_users,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{AuthMode, Config};

    fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::load(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn oidc_needs_its_keys_and_is_allowed_off_loopback() {
        let dir = std::env::temp_dir().join(format!("cw-oidc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let secret = dir.join("secret");
        std::fs::write(&secret, "s3cret\n").expect("write");
        let secret = secret.display().to_string();
        let base = [
            ("CAUSEWAY_AUTH_MODE", "oidc"),
            ("CAUSEWAY_LISTEN", "0.0.0.0:3000"),
            ("CAUSEWAY_PUBLIC_URL", "https://causeway.example.com"),
            ("CAUSEWAY_OIDC_ISSUER", "https://idp.example.com/realms/x"),
            ("CAUSEWAY_OIDC_CLIENT_ID", "causeway"),
            ("CAUSEWAY_OIDC_CLIENT_SECRET_FILE", secret.as_str()),
        ];
        let config = load(&base).expect("valid");
        assert_eq!(config.auth_mode, AuthMode::Oidc);
        assert_eq!(config.oidc.client_secret(), Some("s3cret"));
        assert_eq!(config.oidc.provider_name, "idp.example.com");
        assert_eq!(config.oidc.scopes, ["openid", "email", "profile", "groups"]);
        assert_eq!(config.oidc.recheck.as_secs(), 900);
        assert_eq!(
            config.oidc.requested_scopes(),
            ["openid", "email", "profile", "groups", "offline_access"]
        );
        let mut off = base.to_vec();
        off.push(("CAUSEWAY_OIDC_RECHECK_SECS", "0"));
        let off = load(&off).expect("rechecks off");
        assert!(off.oidc.recheck.is_zero());
        assert_eq!(
            off.oidc.requested_scopes(),
            ["openid", "email", "profile", "groups"]
        );
        let mut bad = base.to_vec();
        bad.push(("CAUSEWAY_OIDC_RECHECK_SECS", "soon"));
        assert!(
            load(&bad)
                .expect_err("seconds")
                .contains("`oidc_recheck_secs`")
        );
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "the secret is not logged"
        );

        let without = |key: &str| -> Vec<(&str, &str)> {
            base.iter().copied().filter(|(k, _)| *k != key).collect()
        };
        for (missing, named) in [
            ("CAUSEWAY_OIDC_ISSUER", "`oidc_issuer`"),
            ("CAUSEWAY_OIDC_CLIENT_ID", "`oidc_client_id`"),
            (
                "CAUSEWAY_OIDC_CLIENT_SECRET_FILE",
                "`oidc_client_secret_file`",
            ),
            ("CAUSEWAY_PUBLIC_URL", "`public_url`"),
        ] {
            let err = load(&without(missing)).expect_err(missing);
            assert!(err.contains(named), "{missing}: {err}");
        }
        let mut bad = base.to_vec();
        bad.push(("CAUSEWAY_OIDC_ISSUER", "http://idp.example.com"));
        assert!(
            load(&bad)
                .expect_err("plain http")
                .contains("`oidc_issuer`")
        );
        let mut bad = base.to_vec();
        bad.push(("CAUSEWAY_OIDC_UNKNOWN_USERS", "maybe"));
        assert!(
            load(&bad)
                .expect_err("choice")
                .contains("expected refuse or admit")
        );
        let mut bad = base.to_vec();
        bad.push(("CAUSEWAY_OIDC_CA_FILE", "/nonexistent/ca.pem"));
        assert!(load(&bad).expect_err("CA").contains("`oidc_ca_file`"));
        let mut env = without("CAUSEWAY_OIDC_CLIENT_SECRET_FILE");
        env.push(("CAUSEWAY_OIDC_CLIENT_SECRET_ENV", "IDP_SECRET"));
        assert!(
            load(&env)
                .expect_err("unset")
                .contains("IDP_SECRET is not set")
        );
        env.push(("IDP_SECRET", "from-env"));
        assert_eq!(
            load(&env).expect("valid").oidc.client_secret(),
            Some("from-env")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
