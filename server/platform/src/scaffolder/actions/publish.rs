//! `publish:git`: creates a repository with the workspace as its first commit, authored by the
//! requester. With no git integration configured, the embedded default host `local` keeps bare
//! repositories under `git_dir` (`local?owner=<o>&repo=<r>` is `<git_dir>/<o>/<r>.git`).
//!
//! Commits are made and pushed with the `git` program (gix cannot push, and libgit2 would bring
//! its own TLS stack into the binary), run with no system or user configuration, no hooks and no
//! prompts. A repository records the task that created it (`causeway.task` in its config): a run
//! resumed after a crash finds its own repository and carries on, and a repository that exists
//! for any other reason is never written to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::super::filters::RepoUrl;
use super::super::runs::Created;
use super::integrations::GitIntegration;
use super::remote;
use super::{Action, ActionContext, ActionError, ActionSpec};

/// The host name of the embedded git server.
pub const LOCAL_HOST: &str = "local";

/// Where repositories are published.
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// `git_dir`: the embedded host's `<owner>/<repo>.git` below it.
    pub root: PathBuf,
    /// The configured git hosts.
    pub integrations: Vec<GitIntegration>,
}

fn input_schema(gitea: bool) -> Value {
    let mut schema = json!({
        "type": "object",
        "required": ["repoUrl"],
        "properties": {
            "repoUrl": { "type": "string", "description": "host?owner=<owner>&repo=<repo>, e.g. local?owner=payments&repo=ledger" },
            "description": { "type": "string" },
            "defaultBranch": { "type": "string", "description": "main by default" },
            "gitCommitMessage": { "type": "string", "description": "initial commit by default" },
            "gitAuthorName": { "type": "string" },
            "gitAuthorEmail": { "type": "string" },
            "sourcePath": { "type": "string", "description": "Publish only this directory of the workspace." }
        }
    });
    if gitea
        && let Some(properties) = schema
            .pointer_mut("/properties")
            .and_then(Value::as_object_mut)
    {
        properties.insert(
            "repoVisibility".into(),
            json!({ "enum": ["private", "public"], "description": "public by default" }),
        );
    }
    schema
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "remoteUrl": { "type": "string" },
            "repoContentsUrl": { "type": "string" },
            "commitHash": { "type": "string" }
        }
    })
}

pub fn actions(settings: GitSettings) -> Vec<Arc<dyn Action>> {
    let example_output = json!({ "remoteUrl": "<example>", "repoContentsUrl": "<example>", "commitHash": "<example>" });
    vec![
        Arc::new(Publish {
            settings: settings.clone(),
            gitea_only: false,
            spec: ActionSpec {
                id: "publish:git",
                description: "Creates a repository (on the embedded `local` host, or on a configured Gitea) or fills an empty one (on a configured git host), and pushes the workspace as its first commit, authored by the requester.",
                input: input_schema(false),
                output: output_schema(),
                examples: vec![(
                    "Publish to the embedded git host",
                    "steps:\n  - id: publish\n    action: publish:git\n    input:\n      repoUrl: local?owner=${{ parameters.owner | parseEntityRef | pick('name') }}&repo=${{ parameters.name }}\n",
                )],
                dry_run: false,
                example_output: example_output.clone(),
            },
        }),
        Arc::new(Publish {
            settings,
            gitea_only: true,
            spec: ActionSpec {
                id: "publish:gitea",
                description: "Creates a repository on a configured Gitea through its API (in an organisation, or the integration's own account) and pushes the workspace as its first commit, authored by the requester.",
                input: input_schema(true),
                output: output_schema(),
                examples: vec![(
                    "Publish to Gitea",
                    "steps:\n  - id: publish\n    action: publish:gitea\n    input:\n      repoUrl: gitea.example.com?owner=golden&repo=${{ parameters.name }}\n      description: ${{ parameters.description }}\n",
                )],
                dry_run: false,
                example_output,
            },
        }),
    ]
}

struct Publish {
    settings: GitSettings,
    /// `publish:gitea`: only Gitea hosts.
    gitea_only: bool,
    spec: ActionSpec,
}

impl Action for Publish {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move { self.publish(cx).await }.boxed()
    }

    fn undo<'a>(
        &'a self,
        created: &'a Created,
        task: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        async move {
            if let Some(host) = created.detail.get("host").and_then(Value::as_str) {
                let integration = self
                    .settings
                    .integrations
                    .iter()
                    .find(|i| i.host == host)
                    .ok_or_else(|| {
                        ActionError::input(format!(
                            "git integration {host} is no longer configured"
                        ))
                    })?;
                return remote::remove(integration, created, task).await;
            }
            let bare = PathBuf::from(&created.id);
            let path = bare.clone();
            let task = task.to_owned();
            tokio::task::spawn_blocking(move || {
                if !path.exists() {
                    return Ok(format!("{} is already gone", path.display()));
                }
                let owner =
                    git(&path, &["config", "--get", "causeway.task"], &[]).unwrap_or_default();
                if owner != task {
                    return Err(ActionError::input(format!(
                        "{} was not created by this run; it is left in place",
                        path.display()
                    )));
                }
                std::fs::remove_dir_all(&path)
                    .map_err(|e| ActionError::transient(format!("{}: {e}", path.display())))?;
                Ok(format!("Deleted the repository {}", path.display()))
            })
            .await
            .map_err(|e| ActionError::transient(format!("clean-up stopped: {e}")))?
        }
        .boxed()
    }
}

/// A name git hosts accept for an owner or a repository.
fn check_name(value: &str, field: &str) -> Result<(), ActionError> {
    let valid = !value.is_empty()
        && value.len() <= 100
        && !value.starts_with('.')
        && !value.ends_with(".git")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(ActionError::input(format!(
            "input.repoUrl: {field} {value:?} must be 1 to 100 characters of a-z, A-Z, 0-9, -, _ or ., not starting with . nor ending with .git"
        )))
    }
}

impl Publish {
    async fn publish(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let repo_url = cx.string("repoUrl").unwrap_or_default();
        let parsed = RepoUrl::parse(&repo_url)
            .map_err(|e| ActionError::input(format!("input.repoUrl: {e}")))?;
        let integration = self
            .settings
            .integrations
            .iter()
            .find(|i| i.host == parsed.host)
            .cloned();
        let known = || {
            let mut hosts: Vec<String> = self
                .settings
                .integrations
                .iter()
                .map(|i| i.host.clone())
                .collect();
            if !self.gitea_only {
                hosts.insert(0, LOCAL_HOST.to_owned());
            }
            hosts.join(", ")
        };
        match &integration {
            Some(i) if self.gitea_only && i.kind != "gitea" => {
                return Err(ActionError::input(format!(
                    "input.repoUrl: {} is a {} host, not Gitea; use publish:git",
                    i.host, i.kind
                )));
            }
            None if parsed.host != LOCAL_HOST || self.gitea_only => {
                return Err(ActionError::input(format!(
                    "input.repoUrl: no git integration is configured for host {:?}; the hosts are {}",
                    parsed.host,
                    known()
                )));
            }
            _ => {}
        }
        let owner = parsed.owner.clone().unwrap_or_default();
        check_name(&owner, "owner")?;
        check_name(&parsed.repo, "repo")?;
        let branch = cx
            .string("defaultBranch")
            .unwrap_or_else(|| "main".to_owned());
        if branch.is_empty()
            || branch.starts_with('-')
            || !branch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            || branch.contains("..")
        {
            return Err(ActionError::input(format!(
                "input.defaultBranch: {branch:?} is not a branch name git accepts"
            )));
        }
        let files = cx
            .workspace
            .subtree(&cx.string("sourcePath").unwrap_or_default())
            .map_err(|e| ActionError::input(format!("input.sourcePath: {e}")))?;
        if files.is_empty() {
            return Err(ActionError::input(
                "the workspace (or input.sourcePath) holds no files to publish",
            ));
        }
        if let Some(integration) = integration {
            let request = remote::Publication {
                owner: owner.clone(),
                repo: parsed.repo.clone(),
                branch: branch.clone(),
                description: cx.string("description").unwrap_or_default(),
                private: cx.string("repoVisibility").as_deref() == Some("private"),
                message: cx
                    .string("gitCommitMessage")
                    .unwrap_or_else(|| "initial commit".to_owned()),
                author: author(cx),
                task: cx.run.task_id.clone(),
            };
            let outcome = remote::publish(&integration, &request, files).await?;
            cx.log(match &outcome.found {
                true => format!(
                    "{} was published by this run already (commit {})",
                    outcome.remote, outcome.commit
                ),
                false => format!(
                    "Pushed commit {} to {} on {branch}",
                    outcome.commit, outcome.remote
                ),
            });
            cx.created.push(Created {
            action: String::new(),
                kind: "repository".to_owned(),
                id: outcome.remote.clone(),
                detail: json!({ "repoUrl": repo_url, "host": integration.host, "owner": owner, "repo": parsed.repo, "created": outcome.created }),
            });
            cx.output
                .insert("remoteUrl".into(), Value::String(outcome.remote));
            cx.output
                .insert("repoContentsUrl".into(), Value::String(outcome.contents));
            cx.output
                .insert("commitHash".into(), Value::String(outcome.commit));
            return Ok(());
        }
        let root = std::path::absolute(&self.settings.root)
            .map_err(|e| ActionError::input(format!("git_dir: {e}")))?;
        let bare = root.join(&owner).join(format!("{}.git", parsed.repo));
        let task = cx.run.task_id.clone();
        let author = author(cx);
        let message = cx
            .string("gitCommitMessage")
            .unwrap_or_else(|| "initial commit".to_owned());
        let description = cx.string("description").unwrap_or_default();
        let bare_for_git = bare.clone();
        let branch_for_git = branch.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            publish_local(
                &bare_for_git,
                &task,
                &branch_for_git,
                &files,
                &author,
                &message,
                &description,
            )
        })
        .await
        .map_err(|e| ActionError::transient(format!("publishing stopped: {e}")))??;
        let remote = format!("file://{}", bare.display());
        match outcome {
            Published::Created(commit) => {
                cx.log(format!("Created {remote} with commit {commit} on {branch}"));
                cx.output.insert("commitHash".into(), Value::String(commit));
            }
            Published::Found(commit) => {
                cx.log(format!(
                    "{remote} was created by this run already (commit {commit})"
                ));
                cx.output.insert("commitHash".into(), Value::String(commit));
            }
        }
        cx.created.push(Created {
            action: String::new(),
            kind: "repository".to_owned(),
            id: bare.display().to_string(),
            detail: json!({ "repoUrl": repo_url }),
        });
        cx.output
            .insert("remoteUrl".into(), Value::String(remote.clone()));
        cx.output.insert(
            "repoContentsUrl".into(),
            Value::String(format!("{remote}#{branch}")),
        );
        Ok(())
    }
}

/// The commit author: the inputs, else the requester's catalog profile, else their reference.
pub(super) fn author(cx: &ActionContext<'_>) -> (String, String) {
    let profile = cx.run.user_entity.pointer("/spec/profile");
    let name = cx
        .string("gitAuthorName")
        .or_else(|| {
            profile
                .and_then(|p| p.get("displayName"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cx.run.user_ref.clone());
    let email = cx
        .string("gitAuthorEmail")
        .or_else(|| {
            profile
                .and_then(|p| p.get("email"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            format!(
                "{}@causeway.invalid",
                cx.run.user_ref.replace([':', '/'], ".")
            )
        });
    (name, email)
}

enum Published {
    Created(String),
    Found(String),
}

/// Runs `git` with no configuration but what is given, no prompts and no hooks; its standard
/// output, trimmed, or an error with its standard error when it exits with a failure.
pub(crate) fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, ActionError> {
    let output = git_output(dir, args, env)?;
    if !output.status.success() {
        return Err(ActionError::input(format!(
            "git {}: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// [`git`] without the judgement: the whole output whatever the exit status, for the commands
/// whose status is the answer (`merge-tree` exits with 1 on conflicts, `merge-base --is-ancestor`
/// with 1 for "no").
pub(crate) fn git_output(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<std::process::Output, ActionError> {
    std::process::Command::new("git")
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().copied())
        .output()
        .map_err(|e| ActionError::transient(format!("git could not be run: {e}")))
}

fn publish_local(
    bare: &Path,
    task: &str,
    branch: &str,
    files: &std::collections::BTreeMap<String, super::super::workspace::FileEntry>,
    (name, email): &(String, String),
    message: &str,
    description: &str,
) -> Result<Published, ActionError> {
    let parent = bare.parent().unwrap_or(bare);
    std::fs::create_dir_all(parent)
        .map_err(|e| ActionError::transient(format!("{}: {e}", parent.display())))?;
    if bare.exists() {
        // Only a repository this run created is touched again.
        let owner = git(bare, &["config", "--get", "causeway.task"], &[]).unwrap_or_default();
        if owner != task {
            return Err(ActionError::input(format!(
                "input.repoUrl: the repository {} already exists; choose another name",
                bare.display()
            )));
        }
        if let Ok(commit) = git(
            bare,
            &["rev-parse", "--verify", &format!("refs/heads/{branch}")],
            &[],
        ) {
            return Ok(Published::Found(commit));
        }
    } else {
        // Made beside its final path and renamed into place, so no one sees half a repository.
        let staging = parent.join(format!(".{}.{}", uuid::Uuid::new_v4().simple(), "tmp"));
        std::fs::create_dir_all(&staging)
            .map_err(|e| ActionError::transient(format!("{}: {e}", staging.display())))?;
        let made = git(
            &staging,
            &[
                "init",
                "--bare",
                "--quiet",
                &format!("--initial-branch={branch}"),
            ],
            &[],
        )
        .and_then(|_| git(&staging, &["config", "causeway.task", task], &[]));
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        let _ = std::fs::write(staging.join("description"), format!("{description}\n"));
        if let Err(e) = std::fs::rename(&staging, bare) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(ActionError::input(format!(
                "input.repoUrl: the repository {} could not be created: {e}",
                bare.display()
            )));
        }
    }
    let work = std::env::temp_dir().join(format!("causeway-publish-{}", uuid::Uuid::new_v4()));
    let result = commit_files(
        &work,
        files,
        &(name.clone(), email.clone()),
        message,
        branch,
    )
    .and_then(|commit| {
        let remote = bare.display().to_string();
        git(
            &work,
            &[
                "push",
                "--quiet",
                &remote,
                &format!("HEAD:refs/heads/{branch}"),
            ],
            &[],
        )?;
        Ok(Published::Created(commit))
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Writes `files` into a new repository at `work` (keeping executable bits) and commits them on
/// `branch`, authored by `author` and committed by Causeway; the commit's hash.
pub(super) fn commit_files(
    work: &Path,
    files: &std::collections::BTreeMap<String, super::super::workspace::FileEntry>,
    author: &(String, String),
    message: &str,
    branch: &str,
) -> Result<String, ActionError> {
    write_files(work, files)?;
    let identity = identity(author);
    git(
        work,
        &["init", "--quiet", &format!("--initial-branch={branch}")],
        &[],
    )?;
    git(work, &["add", "--all"], &[])?;
    git(
        work,
        &["commit", "--quiet", "--no-verify", "-m", message],
        &identity,
    )?;
    git(work, &["rev-parse", "HEAD"], &[])
}

/// The environment that makes `author` a commit's author and Causeway its committer.
pub(crate) fn identity((name, email): &(String, String)) -> [(&'static str, &str); 4] {
    [
        ("GIT_AUTHOR_NAME", name.as_str()),
        ("GIT_AUTHOR_EMAIL", email.as_str()),
        ("GIT_COMMITTER_NAME", "Causeway"),
        ("GIT_COMMITTER_EMAIL", "causeway@causeway.invalid"),
    ]
}

/// Writes `files` below `work` (created when missing), keeping executable bits: a tree as
/// `git add --all` will see it, so that every tree Causeway commits is made the same way.
pub(crate) fn write_files(
    work: &Path,
    files: &std::collections::BTreeMap<String, super::super::workspace::FileEntry>,
) -> Result<(), ActionError> {
    std::fs::create_dir_all(work)
        .map_err(|e| ActionError::transient(format!("{}: {e}", work.display())))?;
    for (path, file) in files {
        let target = work.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ActionError::transient(format!("{path}: {e}")))?;
        }
        std::fs::write(&target, &file.content)
            .map_err(|e| ActionError::transient(format!("{path}: {e}")))?;
        #[cfg(unix)]
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
        }
    }
    Ok(())
}
