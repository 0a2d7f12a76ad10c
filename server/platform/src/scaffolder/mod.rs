//! Golden paths: Backstage-compatible software templates (`scaffolder.backstage.io/v1beta3`)
//! and the engine that runs them.
//!
//! `template.rs` reads a template entity and checks it statically; `params.rs` validates answers
//! against its parameter pages; `expr.rs` and `filters.rs` evaluate `${{ … }}` expressions;
//! `engine.rs` runs steps through the actions of `actions/` over an in-memory `workspace.rs`,
//! reading skeletons from the template's `source.rs`. [`Scaffolder`] is the door every adapter
//! (REST, portal, CLI) calls.

pub mod access;
pub mod actions;
pub mod cleanup;
pub mod engine;
pub mod expr;
pub mod filters;
pub mod fleet;
pub mod params;
mod policies;
pub mod runs;
pub mod source;
pub mod task;
pub mod template;
pub mod upgrade;
pub mod versions;
pub mod workspace;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, Problem};
use crate::identity::Principal;
use crate::{Error, Result};

pub use engine::{Engine, Run, StepStatus};
pub use source::Source;
pub use template::Template;
pub use workspace::{FileEntry, Workspace};

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The step it belongs to; `None` for the run as a whole.
    pub step: Option<String>,
    pub message: String,
}

/// A step as a dry run saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepResult {
    pub id: String,
    pub name: String,
    pub action: String,
    /// `completed`, `skipped`, `failed` or `pending` (not reached).
    pub status: &'static str,
}

/// What a dry run produced.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub log: Vec<LogLine>,
    pub files: Workspace,
    pub output: Value,
    pub steps: Vec<StepResult>,
    /// Why the run stopped early, when it did.
    pub error: Option<String>,
}

/// What a request to run or dry-run a template carries.
#[derive(Debug, Clone)]
pub struct Request {
    pub values: Value,
    pub secrets: Map<String, Value>,
}

/// What running templates as tasks needs beyond the engine.
#[derive(Debug, Clone)]
pub struct Services {
    pub tasks: crate::tasks::Tasks,
    pub runs: runs::Runs,
    /// Each service's upgrades to newer template versions.
    pub upgrades: fleet::records::UpgradeRecords,
    pub audit: crate::audit::AuditLog,
    pub directory: crate::identity::Directory,
    /// The platform team's template policies.
    pub guardrails: crate::guardrails::Guardrails,
    /// Every version of a template that was run, read by the catalog or published.
    pub versions: versions::VersionTable,
}

/// The template engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Scaffolder {
    engine: Engine,
    catalog: Option<Catalog>,
    services: Option<Services>,
    /// Where services' repositories are (the embedded host's directory and the configured git
    /// hosts), for upgrades; the publish actions are given the same settings.
    git: Option<actions::GitSettings>,
    /// The least time between the starts of two services in an upgrade task (`fleet/task.rs`).
    upgrade_pace: std::time::Duration,
}

impl Scaffolder {
    /// An engine with the actions that need nothing beyond the workspace, and, when given, the
    /// catalog the pickers are checked against.
    pub fn new(catalog: Option<Catalog>) -> Self {
        Self {
            engine: Engine {
                templater: Arc::new(expr::Templater::new()),
                actions: Arc::new(actions::Registry::builtin()),
            },
            catalog,
            services: None,
            git: None,
            upgrade_pace: fleet::DEFAULT_PACE,
        }
    }

    /// An engine whose upgrade tasks start at most one service per `pace`, so that a fleet-wide
    /// upgrade reaches the git server at most once per `pace`.
    pub fn with_upgrade_pace(mut self, pace: std::time::Duration) -> Self {
        self.upgrade_pace = pace;
        self
    }

    /// An engine that also upgrades services in their repositories, on the hosts `settings`
    /// names.
    pub fn with_git(mut self, settings: actions::GitSettings) -> Self {
        self.git = Some(settings);
        self
    }

    /// An engine that also runs templates as tasks.
    pub fn with_services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Adds actions (those that need services the domain builds elsewhere, such as the
    /// provisioning engine).
    pub fn with_actions(mut self, actions: Vec<Arc<dyn actions::Action>>) -> Self {
        let mut registry = (*self.engine.actions).clone();
        for action in actions {
            registry.add(action);
        }
        self.engine.actions = Arc::new(registry);
        self
    }

    fn services(&self) -> Result<&Services> {
        self.services.as_ref().ok_or_else(|| {
            Error::invalid(
                "templateRef",
                "this Causeway cannot run templates, only dry-run them",
            )
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The actions, described.
    pub fn actions(&self) -> Vec<&actions::ActionSpec> {
        self.engine.actions.specs().collect()
    }

    /// Reads and checks a template entity; every problem is listed, each naming its field. For
    /// templates the catalog holds and for the author's own machine (`causeway template
    /// dry-run`); a template sent to the server is loaded with [`Scaffolder::load_sent`], which
    /// asks who sent it.
    pub fn load(&self, entity: &Value, source: Source) -> Result<Template> {
        let name = entity
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("template");
        let reject = |findings: Vec<template::Finding>| {
            Error::Rejected(
                findings
                    .into_iter()
                    .map(|f| Problem::new(name, None, &f.field, f.message))
                    .collect(),
            )
        };
        let template = Template::from_entity(entity, source).map_err(reject)?;
        let problems = template.check(
            |id| self.engine.actions.contains(id),
            &self.engine.templater,
        );
        if !problems.is_empty() {
            return Err(reject(problems));
        }
        Ok(template)
    }

    /// A template held by the catalog, with its files read from the location it was registered
    /// from.
    pub fn catalog_template(&self, entity_ref: &str) -> Result<Template> {
        let catalog = self
            .catalog
            .as_ref()
            .ok_or_else(|| Error::NotFound(entity_ref.to_owned()))?;
        let (entity, location_key) = {
            let index = catalog.index();
            let stored = index
                .by_ref(entity_ref)
                .ok_or_else(|| Error::NotFound(entity_ref.to_owned()))?;
            (index.body_value(stored), stored.location_key.clone())
        };
        if entity.get("kind").and_then(Value::as_str) != Some("Template") {
            return Err(Error::NotFound(format!("template {entity_ref}")));
        }
        self.load(&entity, catalog_source(&entity, &location_key))
    }

    /// Where the catalog template `entity_ref` reads its files now (see [`catalog_source`]);
    /// nowhere once the catalog no longer holds it.
    pub(crate) fn stored_source(&self, entity_ref: &str) -> Source {
        let Some(catalog) = &self.catalog else {
            return Source::Unreadable(format!("{entity_ref} is not in the catalog"));
        };
        let index = catalog.index();
        match index.by_ref(entity_ref) {
            Some(stored) => catalog_source(&index.body_value(stored), &stored.location_key),
            None => Source::Unreadable(format!("{entity_ref} is no longer in the catalog")),
        }
    }

    /// The requester's `User` entity, or null when the catalog has none.
    fn user_entity(&self, principal: &Principal) -> Value {
        let Some(catalog) = &self.catalog else {
            return Value::Null;
        };
        let index = catalog.index();
        index
            .by_ref(&principal.entity_ref)
            .map(|e| index.body_value(e))
            .unwrap_or(Value::Null)
    }

    /// The template's parameter pages as Backstage's `parameter-schema` endpoint serves them.
    pub fn parameter_schema(&self, template: &Template) -> Value {
        json!({
            "title": template.title,
            "description": template.description,
            "steps": template.pages.iter().map(|page| {
                let mut schema = page.schema.clone();
                if let (Some(map), Some(when)) = (schema.as_object_mut(), &page.when) {
                    map.insert("when".to_owned(), when.clone());
                }
                json!({ "title": page.title, "description": page.description, "schema": schema })
            }).collect::<Vec<_>>(),
        })
    }

    /// Moves answers to `ui:field: Secret` properties into the secrets, leaving a mask in the
    /// values, and checks the answers; every problem is listed.
    pub fn prepare_answers(
        &self,
        template: &Template,
        request: &mut Request,
        principal: &Principal,
    ) -> Result<()> {
        if !request.values.is_object() {
            if request.values.is_null() {
                request.values = json!({});
            } else {
                return Err(Error::invalid("values", "must be an object of answers"));
            }
        }
        for name in template.secret_fields() {
            // A value of only `*` is the mask the portal leaves; the secret itself is in secrets.
            if let Some(map) = request.values.as_object_mut()
                && let Some(value) = map.remove(&name)
                && !value.as_str().is_some_and(|s| s.chars().all(|c| c == '*'))
                && !request.secrets.contains_key(&name)
            {
                request.secrets.insert(name.clone(), value);
            }
        }
        drop_hidden_answers(template, &mut request.values, &self.engine.templater);
        let lookup = CatalogLookup {
            catalog: self.catalog.as_ref(),
            principal,
        };
        params::validate(
            template,
            &request.values,
            &request.secrets,
            &lookup,
            &self.engine.templater,
        )
        .map_err(|findings| {
            Error::Rejected(
                findings
                    .into_iter()
                    .map(|f| Problem::new("values", None, &f.field, f.message))
                    .collect(),
            )
        })
    }

    /// Renders the template without side effects: actions that cannot dry-run are skipped and
    /// report their example output.
    pub async fn dry_run(
        &self,
        template: Template,
        mut request: Request,
        principal: &Principal,
    ) -> Result<DryRun> {
        self.prepare_answers(&template, &mut request, principal)?;
        self.check_policies(&template, &request.values, principal)
            .await?;
        let template_version = versions::version_of(&template).await?;
        let template = Arc::new(template);
        let run = Run {
            template_version,
            template: template.clone(),
            values: request.values,
            secrets: request.secrets,
            user_ref: principal.entity_ref.clone(),
            user_entity: self.user_entity(principal),
            task_id: format!("dry-run-{}", uuid::Uuid::new_v4()),
            dry_run: true,
        };
        let mut workspace = Workspace::new();
        let mut steps = Map::new();
        let mut log = Vec::new();
        let mut results: Vec<StepResult> = template
            .steps
            .iter()
            .map(|s| StepResult {
                id: s.id.clone(),
                name: s.name.clone(),
                action: s.action.clone(),
                status: "pending",
            })
            .collect();
        let mut error = None;
        #[allow(clippy::needless_range_loop)] // The engine runs steps by position.
        for index in 0..template.steps.len() {
            let id = template.steps[index].id.clone();
            log.push(LogLine {
                step: Some(id.clone()),
                message: format!("Beginning step {}", template.steps[index].name),
            });
            match self
                .engine
                .step(&run, index, &mut steps, &mut workspace)
                .await
            {
                Ok(report) => {
                    log.extend(report.logs.into_iter().map(|message| LogLine {
                        step: Some(id.clone()),
                        message,
                    }));
                    results[index].status = match report.status {
                        StepStatus::Completed => "completed",
                        StepStatus::Skipped => "skipped",
                    };
                }
                Err(failure) => {
                    log.extend(failure.logs.into_iter().map(|message| LogLine {
                        step: Some(id.clone()),
                        message,
                    }));
                    log.push(LogLine {
                        step: Some(id),
                        message: failure.error.message.clone(),
                    });
                    results[index].status = "failed";
                    error = Some(failure.error.message);
                    break;
                }
            }
        }
        let output = if error.is_none() {
            match self.engine.output(&run, &steps) {
                Ok(output) => output,
                Err(message) => {
                    error = Some(run.redact(&message));
                    json!({})
                }
            }
        } else {
            json!({})
        };
        Ok(DryRun {
            log,
            files: workspace,
            output,
            steps: results,
            error,
        })
    }
}

/// Removes the answers that only hidden pages (`when:` falsy) ask for, as Backstage does.
fn drop_hidden_answers(template: &Template, values: &mut Value, templater: &expr::Templater) {
    let snapshot = values.clone();
    let shown: Vec<bool> = (0..template.pages.len())
        .map(|i| params::page_shown(template, i, &snapshot, templater))
        .collect();
    let names = |page: &template::Page| -> Vec<String> {
        page.schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let visible: std::collections::BTreeSet<String> = template
        .pages
        .iter()
        .zip(&shown)
        .filter(|(_, shown)| **shown)
        .flat_map(|(page, _)| names(page))
        .collect();
    if let Some(map) = values.as_object_mut() {
        for (page, shown) in template.pages.iter().zip(&shown) {
            if !shown {
                for name in names(page) {
                    if !visible.contains(&name) {
                        map.remove(&name);
                    }
                }
            }
        }
    }
}

/// A template's version as it is now: `sha256:` and the hash of its canonical entity and every
/// file of its source (see `versions/content.rs`), read without storing anything.
pub async fn version_of(template: &Template) -> Result<String> {
    versions::version_of(template).await
}

/// Where a template the catalog holds reads its files: as [`source_of`] says, when the catalog
/// read it from a location (one a platform admin registered, or the operator's `causeway catalog
/// import` of a file), whose annotations the catalog wrote itself. A template stored from
/// anywhere else — an upload, whose annotations its uploader wrote — reads no files, whatever
/// directory it claims.
pub fn catalog_source(entity: &Value, location_key: &str) -> Source {
    if ["file:", "url:", "git:"]
        .iter()
        .any(|kind| location_key.starts_with(kind))
    {
        source_of(entity)
    } else {
        Source::Unreadable(
            "the template was uploaded, not registered from a location, so it has no files"
                .to_owned(),
        )
    }
}

/// Where a catalog template's files are, from its `backstage.io/managed-by-location`.
pub fn source_of(entity: &Value) -> Source {
    let location = entity
        .pointer("/metadata/annotations/backstage.io~1managed-by-location")
        .and_then(Value::as_str)
        .unwrap_or("");
    let origin = entity
        .pointer("/metadata/annotations/backstage.io~1managed-by-origin-location")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(path) = location.strip_prefix("file:") {
        let file = PathBuf::from(path);
        let dir = file.parent().map(PathBuf::from).unwrap_or_default();
        // Reads stay below the registered location's directory, as the catalog's own do.
        let root = origin
            .strip_prefix("file:")
            .and_then(|p| PathBuf::from(p).parent().map(PathBuf::from))
            .filter(|root| dir.starts_with(root))
            .unwrap_or_else(|| dir.clone());
        return Source::Dir { dir, root };
    }
    Source::Unreadable(if location.is_empty() {
        "the template was uploaded, not registered from a location, so it has no files".to_owned()
    } else {
        format!(
            "files of templates from {location} cannot be read yet; register the template from a file location"
        )
    })
}

/// The pickers' view of the catalog and the requester.
struct CatalogLookup<'a> {
    catalog: Option<&'a Catalog>,
    principal: &'a Principal,
}

impl params::Lookup for CatalogLookup<'_> {
    fn entity(&self, entity_ref: &str) -> Option<Value> {
        let catalog = self.catalog?;
        let index = catalog.index();
        index.by_ref(entity_ref).map(|e| index.body_value(e))
    }

    fn my_groups(&self) -> Vec<String> {
        self.principal
            .teams
            .iter()
            .map(|t| t.entity_ref.clone())
            .collect()
    }

    fn my_identities(&self) -> Vec<String> {
        let mut ids = self.my_groups();
        ids.push(self.principal.entity_ref.clone());
        ids
    }
}
