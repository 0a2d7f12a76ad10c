//! The git hosts templates may publish to, as the platform team configures them
//! (`git_integrations`): a host name as `repoUrl` names it, its type (`gitea`, or `git` for any
//! server that accepts pushes over HTTP(S)), its URLs and where its credentials are — a file or an
//! environment variable, read when they are used, never stored in the database.

use serde::Deserialize;

/// One git host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitIntegration {
    /// As `repoUrl` names it: `gitea.example.com` in `gitea.example.com?owner=o&repo=r`.
    pub host: String,
    /// `gitea` (repositories are created through its API) or `git` (they must exist).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where repositories are cloned from: `<clone_url>/<owner>/<repo>.git`.
    pub clone_url: String,
    /// Gitea's API root (`https://gitea.example.com/api/v1` by default from `clone_url`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Where people browse repositories (`clone_url` by default).
    #[serde(default)]
    pub web_url: Option<String>,
    /// The account pushes and API calls act as.
    pub username: String,
    /// A file holding the token or password.
    #[serde(default)]
    pub token_file: Option<String>,
    /// An environment variable holding it.
    #[serde(default)]
    pub token_env: Option<String>,
}

impl GitIntegration {
    /// Parses the configuration value: a JSON list of integrations. Every problem names the
    /// entry and the field.
    pub fn parse_all(text: &str) -> Result<Vec<Self>, String> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<Self> = serde_json::from_str(text)
            .map_err(|e| format!("must be a JSON list of git integrations: {e}"))?;
        for (index, integration) in all.iter().enumerate() {
            let field = |name: &str| format!("[{index}].{name}");
            if !matches!(integration.kind.as_str(), "gitea" | "git") {
                return Err(format!("{}: must be gitea or git", field("type")));
            }
            if integration.host.is_empty() || integration.host.contains(['/', '?', '#', ' ']) {
                return Err(format!(
                    "{}: must be a host name, as repoUrl names it",
                    field("host")
                ));
            }
            for (name, url) in [
                ("clone_url", Some(&integration.clone_url)),
                ("api_url", integration.api_url.as_ref()),
                ("web_url", integration.web_url.as_ref()),
            ] {
                if let Some(url) = url
                    && !(url.starts_with("http://") || url.starts_with("https://"))
                {
                    return Err(format!(
                        "{}: must be an http:// or https:// URL",
                        field(name)
                    ));
                }
            }
            if integration.token_file.is_none() && integration.token_env.is_none() {
                return Err(format!(
                    "{}: give token_file or token_env (credentials are never written in the configuration)",
                    field("token_file")
                ));
            }
            if all[..index]
                .iter()
                .any(|other| other.host == integration.host)
            {
                return Err(format!(
                    "{}: {} is configured twice",
                    field("host"),
                    integration.host
                ));
            }
        }
        Ok(all)
    }

    /// The token, read now (so a rotated secret is picked up without a restart).
    pub fn token(&self) -> Result<String, String> {
        if let Some(path) = &self.token_file {
            return std::fs::read_to_string(path)
                .map(|t| t.trim().to_owned())
                .map_err(|e| format!("the token of git integration {} ({path}): {e}", self.host));
        }
        let var = self.token_env.as_deref().unwrap_or_default();
        std::env::var(var)
            .map(|t| t.trim().to_owned())
            .map_err(|_| {
                format!(
                    "the token of git integration {}: ${var} is not set",
                    self.host
                )
            })
    }

    fn trimmed(url: &str) -> String {
        url.trim_end_matches('/').to_owned()
    }

    pub fn api(&self) -> String {
        self.api_url
            .as_deref()
            .map(Self::trimmed)
            .unwrap_or_else(|| format!("{}/api/v1", Self::trimmed(&self.clone_url)))
    }

    pub fn web(&self) -> String {
        Self::trimmed(self.web_url.as_deref().unwrap_or(&self.clone_url))
    }

    pub fn remote(&self, owner: &str, repo: &str) -> String {
        format!("{}/{owner}/{repo}.git", Self::trimmed(&self.clone_url))
    }

    /// The host of `clone_url`, for the catalog's read policy.
    pub fn clone_host(&self) -> Option<String> {
        url::Url::parse(&self.clone_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_the_field_named() {
        let ok = GitIntegration::parse_all(
            r#"[{"host":"git.example.com","type":"gitea","clone_url":"https://git.example.com/","username":"causeway","token_env":"GITEA_TOKEN"}]"#,
        )
        .unwrap();
        assert_eq!(ok[0].api(), "https://git.example.com/api/v1");
        assert_eq!(ok[0].remote("o", "r"), "https://git.example.com/o/r.git");
        let no_secret = GitIntegration::parse_all(
            r#"[{"host":"h","type":"gitea","clone_url":"https://h","username":"u"}]"#,
        )
        .unwrap_err();
        assert!(no_secret.contains("[0].token_file"), "{no_secret}");
        let bad_type = GitIntegration::parse_all(
            r#"[{"host":"h","type":"svn","clone_url":"https://h","username":"u","token_env":"X"}]"#,
        )
        .unwrap_err();
        assert!(bad_type.contains("[0].type"), "{bad_type}");
        let clear = GitIntegration::parse_all(
            r#"[{"host":"h","type":"git","clone_url":"https://h","username":"u","token":"secret"}]"#,
        )
        .unwrap_err();
        assert!(clear.contains("token"), "{clear}");
    }
}
