//! Rendering one version of a template for an upgrade: the engine's dry run (steps that cannot
//! dry-run are skipped with their example output) with the answers the service was created with,
//! as the run that created it — its task id, its requester and the version in question — so that
//! `catalog:write` stamps the descriptor the way the repository holds it. What the upgrade
//! compares is what the template's publish step would push: the workspace, or its `sourcePath`,
//! as it stood when that step was reached.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::engine::Run;
use super::super::template::Template;
use super::super::workspace::{FileEntry, Workspace};
use super::super::{Scaffolder, StepStatus};
use super::access::Creator;
use crate::{Error, Result};

/// What a version renders to.
#[derive(Debug, Clone)]
pub(super) struct Rendered {
    /// The files the publish step would push, by path in the repository.
    pub files: BTreeMap<String, FileEntry>,
    /// The publish step's `defaultBranch` (`main` when it gives none).
    pub default_branch: Option<String>,
}

impl Scaffolder {
    /// Renders `template` (the request's `field`, `base` or `target`) at `version` with `values`
    /// and `secrets`, as the run `task_id` for `creator`.
    #[allow(clippy::too_many_arguments)] // One rendering's whole identity; a struct would only rename them.
    pub(super) async fn render_version(
        &self,
        field: &str,
        template: &Template,
        values: Value,
        secrets: Map<String, Value>,
        task_id: &str,
        version: &str,
        creator: &Creator,
    ) -> Result<Rendered> {
        let run = Run {
            template: Arc::new(template.clone()),
            values,
            secrets,
            user_ref: creator.user_ref.clone(),
            user_entity: creator.user_entity.clone(),
            task_id: task_id.to_owned(),
            dry_run: true,
            template_version: version.to_owned(),
        };
        let mut workspace = Workspace::new();
        let mut steps = Map::new();
        let mut published = None;
        for (index, spec) in run.template.steps.iter().enumerate() {
            let before = steps.clone();
            let report = self
                .engine
                .step(&run, index, &mut steps, &mut workspace)
                .await
                .map_err(|failure| {
                    Error::invalid(
                        format!("{field}.spec.steps[{index}]"),
                        format!(
                            "version {version} of {} cannot be rendered with the service's answers: {}",
                            template.entity_ref, failure.error.message
                        ),
                    )
                })?;
            // A publish step a dry run reached was skipped with its example output recorded; one
            // whose `if:` was false recorded nothing and published nothing.
            let reached = report.status == StepStatus::Completed || steps.contains_key(&spec.id);
            if published.is_none() && spec.action.starts_with("publish:") && reached {
                let context = self.engine.context(&run, &before, None, true);
                let input = self
                    .engine
                    .templater
                    .render_value(&spec.input, &context)
                    .map_err(|e| {
                        Error::invalid(format!("{field}.spec.steps[{index}].input"), e.to_string())
                    })?
                    .unwrap_or_default();
                let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
                let files = workspace
                    .subtree(&text("sourcePath").unwrap_or_default())
                    .map_err(|e| {
                        Error::invalid(format!("{field}.spec.steps[{index}].input.sourcePath"), e)
                    })?;
                published = Some(Rendered {
                    files,
                    default_branch: text("defaultBranch"),
                });
            }
        }
        published.ok_or_else(|| {
            Error::invalid(
                format!("{field}.spec.steps"),
                format!(
                    "version {version} of {} publishes no repository (no publish step runs with the service's answers), so there is nothing to merge",
                    template.entity_ref
                ),
            )
        })
    }
}
