//! Publishing to a configured git host: on Gitea the repository is created through its API (in
//! the organisation `owner`, or in the integration's own account when `owner` is that account),
//! then the workspace is pushed over HTTP(S) with the `git` program, its credentials passed as a
//! header in the environment (never on a command line or in a URL).
//!
//! The first commit carries a `Causeway-Task:` trailer. A resumed run that finds the branch
//! already pushed with its own trailer carries on; a repository with any other content is never
//! written to.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use super::super::runs::Created;
use super::super::workspace::FileEntry;
use super::ActionError;
use super::integrations::GitIntegration;
use super::publish::{commit_files, git};

/// What to publish.
#[derive(Debug, Clone)]
pub struct Publication {
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub description: String,
    pub private: bool,
    pub message: String,
    pub author: (String, String),
    pub task: String,
}

/// What was published.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub remote: String,
    pub contents: String,
    pub commit: String,
    /// This run created the repository (rather than filling one that existed).
    pub created: bool,
    /// The branch was already pushed by this run.
    pub found: bool,
}

fn trailer(task: &str) -> String {
    format!("Causeway-Task: {task}")
}

/// The HTTP client for a git host's API: a deadline, and no redirects (a token is never sent on
/// to another address).
pub(crate) fn client() -> Result<reqwest::Client, ActionError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ActionError::transient(format!("HTTP client: {e}")))
}

/// A failed request: the server's fault or unreachable is worth retrying, anything else is not.
pub(crate) fn http_error(
    what: &str,
    status: Option<reqwest::StatusCode>,
    detail: String,
) -> ActionError {
    match status {
        Some(s) if s.is_server_error() => ActionError::transient(format!("{what}: {s} {detail}")),
        Some(s) => ActionError::input(format!("{what}: {s} {detail}")),
        None => ActionError::transient(format!("{what}: {detail}")),
    }
}

/// Creates the repository on Gitea unless it exists; whether this call created it.
async fn ensure_gitea_repository(
    integration: &GitIntegration,
    token: &str,
    publication: &Publication,
) -> Result<bool, ActionError> {
    let api = integration.api();
    let client = client()?;
    let auth = format!("token {token}");
    let get = |url: String| {
        let request = client.get(url).header("Authorization", auth.clone());
        async move { request.send().await }
    };
    let repository = format!("{api}/repos/{}/{}", publication.owner, publication.repo);
    let existing = get(repository.clone())
        .await
        .map_err(|e| http_error("Gitea", None, e.to_string()))?;
    match existing.status().as_u16() {
        200 => return Ok(false),
        404 => {}
        _ => {
            let status = existing.status();
            let body = existing.text().await.unwrap_or_default();
            return Err(http_error(&format!("GET {repository}"), Some(status), body));
        }
    }
    let organisation = get(format!("{api}/orgs/{}", publication.owner))
        .await
        .map_err(|e| http_error("Gitea", None, e.to_string()))?
        .status();
    let create = if organisation.is_success() {
        format!("{api}/orgs/{}/repos", publication.owner)
    } else if publication.owner == integration.username {
        format!("{api}/user/repos")
    } else {
        return Err(ActionError::input(format!(
            "input.repoUrl: {} is neither an organisation on {} nor the account Causeway publishes as ({}); create the organisation first",
            publication.owner, integration.host, integration.username
        )));
    };
    let response = client
        .post(&create)
        .header("Authorization", auth.clone())
        .header("Content-Type", "application/json")
        .body(
            json!({
                "name": publication.repo,
                "description": publication.description,
                "private": publication.private,
                "default_branch": publication.branch,
            })
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| http_error("Gitea", None, e.to_string()))?;
    match response.status().as_u16() {
        201 => Ok(true),
        // Made by someone else between the check and the create: not this run's.
        409 => Ok(false),
        _ => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Err(http_error(&format!("POST {create}"), Some(status), body))
        }
    }
}

/// The `Authorization` header git sends to `integration`: its account and token, as HTTP basic
/// authentication.
pub(crate) fn basic_header(integration: &GitIntegration, token: &str) -> String {
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{token}", integration.username))
    )
}

/// The environment that hands `header` to git as `http.extraHeader`: credentials stay out of
/// command lines (which other users of the machine can read) and out of URLs (which git may
/// print in errors).
pub(crate) fn auth_env(header: &str) -> [(&'static str, &str); 3] {
    [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "http.extraHeader"),
        ("GIT_CONFIG_VALUE_0", header),
    ]
}

/// Publishes the files; blocking git work runs on a blocking thread.
pub async fn publish(
    integration: &GitIntegration,
    publication: &Publication,
    files: BTreeMap<String, FileEntry>,
) -> Result<Outcome, ActionError> {
    let token = integration.token().map_err(ActionError::input)?;
    let created = if integration.kind == "gitea" {
        ensure_gitea_repository(integration, &token, publication).await?
    } else {
        false
    };
    let remote = integration.remote(&publication.owner, &publication.repo);
    let contents = format!(
        "{}/{}/{}/src/branch/{}/",
        integration.web(),
        publication.owner,
        publication.repo,
        publication.branch
    );
    let header = basic_header(integration, &token);
    let publication = publication.clone();
    let remote_for_git = remote.clone();
    let (commit, found) =
        tokio::task::spawn_blocking(move || push(&remote_for_git, &header, &publication, &files))
            .await
            .map_err(|e| ActionError::transient(format!("publishing stopped: {e}")))??;
    Ok(Outcome {
        remote,
        contents,
        commit,
        created,
        found,
    })
}

fn push(
    remote: &str,
    header: &str,
    publication: &Publication,
    files: &BTreeMap<String, FileEntry>,
) -> Result<(String, bool), ActionError> {
    let auth = auth_env(header);
    let work = std::env::temp_dir().join(format!("causeway-publish-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let message = format!("{}\n\n{}", publication.message, trailer(&publication.task));
        let commit = commit_files(
            &work,
            files,
            &publication.author,
            &message,
            &publication.branch,
        )?;
        let branch_ref = format!("refs/heads/{}", publication.branch);
        let heads = git(&work, &["ls-remote", "--heads", remote, &branch_ref], &auth)?;
        if !heads.trim().is_empty() {
            // The branch exists: only this run's own first commit lets it carry on.
            git(
                &work,
                &["fetch", "--quiet", "--depth=1", remote, &branch_ref],
                &auth,
            )?;
            let existing = git(&work, &["log", "-1", "--format=%H%n%B", "FETCH_HEAD"], &[])?;
            let (hash, body) = existing.split_once('\n').unwrap_or((&existing, ""));
            if body.contains(&trailer(&publication.task)) {
                return Ok((hash.to_owned(), true));
            }
            return Err(ActionError::input(format!(
                "input.repoUrl: {remote} already has commits on {}; choose another name",
                publication.branch
            )));
        }
        git(
            &work,
            &["push", "--quiet", remote, &format!("HEAD:{branch_ref}")],
            &auth,
        )?;
        Ok((commit, false))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Deletes a repository a run created on a Gitea host (after checking, live, that its branch
/// holds nothing but that run's commit); a repository the run only filled is left in place.
pub async fn remove(
    integration: &GitIntegration,
    created: &Created,
    task: &str,
) -> Result<String, ActionError> {
    let text = |key: &str| {
        created
            .detail
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (owner, repo) = (text("owner"), text("repo"));
    if created.detail.get("created") != Some(&serde_json::Value::Bool(true)) {
        return Err(ActionError::input(format!(
            "{} existed before this run; it is left in place",
            created.id
        )));
    }
    let token = integration.token().map_err(ActionError::input)?;
    let header = basic_header(integration, &token);
    let remote = integration.remote(&owner, &repo);
    let trailer_text = trailer(task);
    let remote_for_git = remote.clone();
    let ours = tokio::task::spawn_blocking(move || -> Result<bool, ActionError> {
        let auth = auth_env(&header);
        let work = std::env::temp_dir().join(format!("causeway-check-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&work).map_err(|e| ActionError::transient(e.to_string()))?;
        let result = (|| {
            git(&work, &["init", "--quiet"], &[])?;
            let heads = git(&work, &["ls-remote", "--heads", &remote_for_git], &auth)?;
            // Every branch must be this run's single commit.
            for line in heads.lines().filter(|l| !l.trim().is_empty()) {
                let branch = line.split_whitespace().nth(1).unwrap_or_default();
                git(
                    &work,
                    &["fetch", "--quiet", "--depth=2", &remote_for_git, branch],
                    &auth,
                )?;
                let log = git(&work, &["log", "--format=%B%x00", "FETCH_HEAD"], &[])?;
                let commits: Vec<&str> = log.split('\0').filter(|c| !c.trim().is_empty()).collect();
                if commits.len() != 1 || !commits[0].contains(&trailer_text) {
                    return Ok(false);
                }
            }
            Ok(true)
        })();
        let _ = std::fs::remove_dir_all(&work);
        result
    })
    .await
    .map_err(|e| ActionError::transient(format!("clean-up stopped: {e}")))??;
    if !ours {
        return Err(ActionError::input(format!(
            "{remote} has commits this run did not make; it is left in place"
        )));
    }
    let url = format!("{}/repos/{owner}/{repo}", integration.api());
    let response = client()?
        .delete(&url)
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .map_err(|e| http_error("Gitea", None, e.to_string()))?;
    match response.status().as_u16() {
        204 | 404 => Ok(format!("Deleted the repository {remote}")),
        _ => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Err(http_error(&format!("DELETE {url}"), Some(status), body))
        }
    }
}
