//! `catalog:register`: registers the descriptor a run published as a catalog location, on behalf
//! of the requester — held to the catalog's rule that developers store only what their teams own.
//! A location registered by this run already (the run resumed after a crash) is found again.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::super::runs::Created;
use super::{Action, ActionContext, ActionError, ActionSpec};
use crate::catalog::Catalog;
use crate::catalog::locations::ReadPolicy;
use crate::identity::Directory;

use super::integrations::GitIntegration;

pub fn actions(
    catalog: Catalog,
    directory: Directory,
    policy: ReadPolicy,
    integrations: Vec<GitIntegration>,
) -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Register {
        catalog,
        directory,
        policy,
        integrations,
        spec: ActionSpec {
            id: "catalog:register",
            description: "Registers a catalog descriptor as a location: a URL (catalogInfoUrl), or a published repository and the descriptor's path in it (repoContentsUrl and catalogInfoPath).",
            input: json!({
                "type": "object",
                "properties": {
                    "catalogInfoUrl": { "type": "string", "description": "An allowed http(s) URL, or <repository>#<branch>:<path>" },
                    "repoContentsUrl": { "type": "string", "description": "A publish step's repoContentsUrl" },
                    "catalogInfoPath": { "type": "string", "description": "/catalog-info.yaml by default" },
                    "optional": { "type": "boolean", "description": "Carry on when the descriptor cannot be registered" }
                }
            }),
            output: json!({
                "type": "object",
                "properties": {
                    "entityRef": { "type": "string" },
                    "catalogInfoUrl": { "type": "string" }
                }
            }),
            examples: vec![(
                "Register what a publish step pushed",
                "steps:\n  - id: register\n    action: catalog:register\n    input:\n      repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}\n      catalogInfoPath: /catalog-info.yaml\n",
            )],
            dry_run: false,
            // A dry run skips the registration; later steps that name the entity (provisioning
            // its environment, say) still need a reference to check their input with.
            example_output: json!({ "entityRef": "<example>", "catalogInfoUrl": "<example>" }),
        },
    })]
}

struct Register {
    catalog: Catalog,
    directory: Directory,
    policy: ReadPolicy,
    integrations: Vec<GitIntegration>,
    spec: ActionSpec,
}

impl Action for Register {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn undo<'a>(
        &'a self,
        created: &'a Created,
        task: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        async move {
            let location = match self.catalog.location(&created.id).await {
                Ok(location) => location,
                Err(crate::Error::NotFound(_)) => {
                    return Ok(format!("The location {} is already gone", created.id));
                }
                Err(e) => return Err(ActionError::transient(e.to_string())),
            };
            if !(created_by(&location.target, task) || self.written_by(&location.key(), task)) {
                return Err(ActionError::input(format!(
                    "the location {} no longer holds only what this run registered; it is left in place",
                    location.target
                )));
            }
            let removed = self
                .catalog
                .unregister(&location.id)
                .await
                .map_err(|e| ActionError::transient(e.to_string()))?;
            Ok(format!(
                "Unregistered {} and removed {}",
                location.target,
                removed.join(", ")
            ))
        }
        .boxed()
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            let optional = cx.bool("optional");
            match self.register(cx).await {
                Err(error) if optional && !error.transient => {
                    cx.log(format!("Not registered (optional): {}", error.message));
                    Ok(())
                }
                other => other,
            }
        }
        .boxed()
    }
}

/// The location type and target for the inputs: a Gitea contents URL
/// (`<web>/<owner>/<repo>/src/branch/<branch>/`) of a configured host becomes a git location of
/// its repository, read with the catalog's git reader.
fn target(
    cx: &ActionContext<'_>,
    integrations: &[GitIntegration],
) -> Result<(&'static str, String), ActionError> {
    if let Some(contents) = cx.string("repoContentsUrl") {
        for integration in integrations {
            let Some(rest) = contents.strip_prefix(&format!("{}/", integration.web())) else {
                continue;
            };
            let parts: Vec<&str> = rest.trim_end_matches('/').splitn(5, '/').collect();
            if let [owner, repo, "src", "branch", branch] = parts.as_slice() {
                let path = cx
                    .string("catalogInfoPath")
                    .unwrap_or_else(|| "/catalog-info.yaml".to_owned());
                return Ok((
                    "git",
                    format!(
                        "{}#{branch}:{}",
                        integration.remote(owner, repo),
                        path.trim_start_matches('/')
                    ),
                ));
            }
        }
    }
    if let Some(url) = cx.string("catalogInfoUrl") {
        return Ok(
            if url.starts_with("http://") || url.starts_with("https://") {
                ("url", url)
            } else {
                ("git", url)
            },
        );
    }
    let Some(contents) = cx.string("repoContentsUrl") else {
        return Err(ActionError::input(
            "input: give catalogInfoUrl, or repoContentsUrl (with catalogInfoPath)",
        ));
    };
    let path = cx
        .string("catalogInfoPath")
        .unwrap_or_else(|| "/catalog-info.yaml".to_owned());
    let path = path.trim_start_matches('/');
    let (repository, branch) = contents.split_once('#').ok_or_else(|| {
        ActionError::input(format!(
            "input.repoContentsUrl: {contents:?} is not a repository contents URL (<repository>#<branch>)"
        ))
    })?;
    Ok(("git", format!("{repository}#{branch}:{path}")))
}

/// Whether the repository a git target names was created by task `task` (a local repository
/// records its creating task).
fn created_by(target: &str, task: &str) -> bool {
    let repository = target.split('#').next().unwrap_or_default();
    let Some(path) = repository.strip_prefix("file://") else {
        return false;
    };
    std::process::Command::new("git")
        .args([
            "config",
            "--file",
            &format!("{path}/config"),
            "--get",
            "causeway.task",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == task)
}

impl Register {
    /// Whether the entities of location `key` were written by task `task` (`catalog:write`
    /// stamps them).
    fn written_by(&self, key: &str, task: &str) -> bool {
        let index = self.catalog.index();
        let mut entities = index
            .all()
            .iter()
            .filter_map(|id| index.get(id))
            .filter(|e| *e.location_key == *key)
            .peekable();
        entities.peek().is_some()
            && entities.all(|e| {
                index
                    .body_value(e)
                    .pointer("/metadata/annotations/causeway.dev~1template-task")
                    .and_then(Value::as_str)
                    == Some(task)
            })
    }

    async fn register(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let (kind, target) = target(cx, &self.integrations)?;
        let principal = self
            .directory
            .principal(&cx.run.user_ref)
            .await
            .map_err(|e| ActionError::input(format!("the requester: {e}")))?;
        cx.log(format!("Registering {target} in the catalog"));
        let registered = match self
            .catalog
            .register_as(kind, &target, false, &self.policy, Some(&principal))
            .await
        {
            Ok(registered) => registered.location,
            Err(crate::Error::Conflict(message)) => {
                let existing = self
                    .catalog
                    .locations()
                    .await
                    .map_err(|e| ActionError::transient(e.to_string()))?
                    .into_iter()
                    .find(|l| l.kind == kind && l.target == target);
                match existing {
                    // The location of a repository this run created, or whose entities this run
                    // wrote, is this run's own.
                    Some(location)
                        if created_by(&target, &cx.run.task_id)
                            || self.written_by(&location.key(), &cx.run.task_id) =>
                    {
                        cx.log("This run registered the location already");
                        location
                    }
                    _ => return Err(ActionError::input(message)),
                }
            }
            Err(crate::Error::Database(e)) => return Err(ActionError::transient(e.to_string())),
            Err(e) => return Err(ActionError::input(e.to_string())),
        };
        let key = registered.key();
        let refs: Vec<String> = {
            let index = self.catalog.index();
            index
                .all()
                .iter()
                .filter_map(|id| index.get(id))
                .filter(|e| *e.location_key == *key)
                .map(|e| e.entity_ref().to_string())
                .collect()
        };
        let chosen = refs
            .iter()
            .find(|r| r.starts_with("component:") && !r.contains("/generated-"))
            .or_else(|| refs.iter().find(|r| !r.contains("/generated-")))
            .or(refs.first());
        if let Some(entity_ref) = chosen {
            cx.output
                .insert("entityRef".into(), Value::String(entity_ref.clone()));
        }
        cx.output
            .insert("catalogInfoUrl".into(), Value::String(target.clone()));
        cx.created.push(Created {
            action: String::new(),
            kind: "location".to_owned(),
            id: registered.id.clone(),
            detail: json!({ "target": target, "entities": refs }),
        });
        Ok(())
    }
}
