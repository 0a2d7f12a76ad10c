//! Where a service's repository is, from the location its descriptor was registered from
//! (`backstage.io/managed-by-origin-location`, `git:<repository>#<branch>:<path>`, as
//! `catalog:register` leaves it; else `backstage.io/source-location`), and which of Causeway's
//! git hosts holds it: the embedded `local` host (a bare repository below `git_dir`) or a
//! configured integration (below its `clone_url`). An upgrade writes only to those, with the
//! credentials Causeway publishes with.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::super::actions::integrations::GitIntegration;
use super::super::actions::{ActionError, GitSettings, basic_header};
use super::annotation_field;
use crate::catalog::git::GitTarget;
use crate::{Error, Result};

/// Where the catalog read the descriptor from.
const ORIGIN: &str = "backstage.io/managed-by-origin-location";
/// Where the service's code is, as the catalog reader (or the author) recorded it.
const SOURCE: &str = "backstage.io/source-location";

/// A service's repository.
#[derive(Debug, Clone)]
pub(super) struct Repository {
    /// What git fetches from and pushes to: a path on this server, or the host's clone URL.
    pub url: String,
    /// The branch the descriptor was read from: the default branch changes are proposed to.
    pub branch: Option<String>,
    /// The configured host, or `None` for the embedded `local` host.
    pub integration: Option<GitIntegration>,
    pub owner: String,
    pub repo: String,
    /// The annotation the repository was read from, as errors name it.
    field: String,
}

impl Repository {
    /// The repository of `service`; an error names the annotation when it leads nowhere
    /// Causeway may write.
    pub fn of(service: &Value, settings: &GitSettings) -> Result<Self> {
        let annotations = service.pointer("/metadata/annotations");
        let get = |name: &str| {
            annotations
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
        };
        let (name, repository, branch) = if let Some(target) =
            get(ORIGIN).and_then(|o| o.strip_prefix("git:"))
        {
            let parsed = GitTarget::parse(target)
                .map_err(|e| Error::invalid(annotation_field(ORIGIN), e.to_string()))?;
            (ORIGIN, parsed.repository, parsed.branch)
        } else if let Some(url) = get(SOURCE).and_then(|s| s.strip_prefix("url:")) {
            (SOURCE, url.trim_end_matches('/').to_owned(), None)
        } else {
            return Err(Error::invalid(
                annotation_field(ORIGIN),
                "is not a git location: the service's descriptor was not registered from a git repository, so Causeway does not know where to propose the change",
            ));
        };
        let field = annotation_field(name);
        if let Some(path) = local_path(&repository) {
            return Self::local(&path, branch, &settings.root, field);
        }
        for integration in &settings.integrations {
            let prefix = format!("{}/", integration.clone_url.trim_end_matches('/'));
            let Some(rest) = repository.strip_prefix(&prefix) else {
                continue;
            };
            let rest = rest.trim_end_matches('/');
            let rest = rest.strip_suffix(".git").unwrap_or(rest);
            if let Some((owner, repo)) = rest.split_once('/')
                && !repo.contains('/')
            {
                return Ok(Self {
                    url: integration.remote(owner, repo),
                    branch,
                    integration: Some(integration.clone()),
                    owner: owner.to_owned(),
                    repo: repo.to_owned(),
                    field,
                });
            }
        }
        Err(Error::invalid(
            field,
            format!(
                "{repository} is on no git host Causeway publishes to (the embedded local host below git_dir, or one of git_integrations)"
            ),
        ))
    }

    /// A repository of the embedded host: `<git_dir>/<owner>/<repo>.git`, and nowhere else on
    /// this server.
    fn local(path: &Path, branch: Option<String>, root: &Path, field: String) -> Result<Self> {
        let outside = || {
            Error::invalid(
                field.clone(),
                format!(
                    "{} is not a repository of the embedded git host (<git_dir>/<owner>/<repo>.git); Causeway upgrades only repositories on its own hosts",
                    path.display()
                ),
            )
        };
        let root = std::path::absolute(root)
            .and_then(|r| r.canonicalize())
            .map_err(|e| Error::invalid("git_dir", e.to_string()))?;
        let canonical = path.canonicalize().map_err(|e| {
            Error::invalid(
                field.clone(),
                format!("the repository {} cannot be read: {e}", path.display()),
            )
        })?;
        let relative = canonical.strip_prefix(&root).map_err(|_| outside())?;
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [owner, repo] = parts.as_slice() else {
            return Err(outside());
        };
        let Some(repo) = repo.strip_suffix(".git") else {
            return Err(outside());
        };
        Ok(Self {
            url: canonical.display().to_string(),
            branch,
            integration: None,
            owner: owner.clone(),
            repo: repo.to_owned(),
            field,
        })
    }

    /// Whether the host takes pull requests through Gitea's API.
    pub fn is_gitea(&self) -> bool {
        self.integration.as_ref().is_some_and(|i| i.kind == "gitea")
    }

    /// The host's token, read now.
    pub fn token(&self) -> Result<String> {
        let integration = self.integration.as_ref().ok_or_else(|| {
            Error::invalid(
                self.field.clone(),
                "the embedded git host has no API; its branches are its changes",
            )
        })?;
        integration
            .token()
            .map_err(|e| Error::invalid("git_integrations", e))
    }

    /// The header git authenticates with, for a configured host.
    pub fn git_header(&self) -> Result<Option<String>> {
        match &self.integration {
            None => Ok(None),
            Some(integration) => Ok(Some(basic_header(integration, &self.token()?))),
        }
    }

    /// A failed git command or API call as the domain's error: a server that did not answer may
    /// answer later; anything else is about this repository.
    pub fn error(&self, error: ActionError) -> Error {
        if error.transient {
            Error::Cluster(format!("the git server of {}: {}", self.url, error.message))
        } else {
            Error::invalid(self.field.clone(), error.message)
        }
    }
}

/// The path a repository names when it is on this server (a `file://` URL or an absolute path).
fn local_path(repository: &str) -> Option<PathBuf> {
    if let Some(rest) = repository.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    let path = Path::new(repository);
    path.is_absolute().then(|| path.to_path_buf())
}
