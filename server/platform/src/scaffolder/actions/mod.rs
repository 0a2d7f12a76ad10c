//! The actions a step may name. Each describes itself (id, description, input and output JSON
//! Schemas, examples: served by the API and shown in the portal) and runs against a step's
//! rendered input, the run's workspace and the services it was built with. The registry refuses
//! a template that names an action it does not hold before anything runs.

mod catalog;
mod debug;
mod fetch;
mod fetch_entity;
mod fs;
pub mod integrations;
mod provision;
mod publish;
mod register;
mod remote;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::engine::Run;
use super::expr::Templater;
use super::workspace::Workspace;

pub use catalog::{SOURCE_TEMPLATE, TEMPLATE_ANSWERS, TEMPLATE_TASK, TEMPLATE_VERSION, stamp};
pub use fetch_entity::actions as catalog_fetch_actions;
pub use provision::actions as provision_actions;
pub use publish::{GitSettings, LOCAL_HOST, actions as publish_actions};
pub use register::actions as register_actions;

// The git program and the git hosts' credentials, shared with the upgrade engine
// (`scaffolder/upgrade/`), which pushes to the same repositories the publish actions create.
pub(crate) use publish::{git, git_output, identity as git_identity, write_files};
pub(crate) use remote::{auth_env, basic_header, client as http_client, http_error};

/// What an action says about itself.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub id: &'static str,
    pub description: &'static str,
    pub input: Value,
    pub output: Value,
    /// Example steps, as YAML text.
    pub examples: Vec<(&'static str, &'static str)>,
    /// Whether a dry run executes it; otherwise a dry run skips it and uses its example output.
    pub dry_run: bool,
    /// An output a dry run uses in place of running the action.
    pub example_output: Value,
}

/// Why an action failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// Worth retrying (a server was unavailable), not the input wrong.
    pub transient: bool,
    pub message: String,
}

impl ActionError {
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            transient: true,
            message: message.into(),
        }
    }
}

/// What a running action sees and changes.
pub struct ActionContext<'a> {
    pub step_id: &'a str,
    pub input: Value,
    pub run: &'a Run,
    pub workspace: &'a mut Workspace,
    pub templater: &'a Templater,
    pub output: Map<String, Value>,
    pub logs: Vec<String>,
    /// What the action created outside the workspace (a repository, a location, an
    /// environment), for clean-up.
    pub created: Vec<super::runs::Created>,
}

impl ActionContext<'_> {
    pub fn log(&mut self, message: impl Into<String>) {
        self.logs.push(message.into());
    }

    /// A string input, or `None` when absent.
    pub fn string(&self, key: &str) -> Option<String> {
        self.input
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub fn bool(&self, key: &str) -> bool {
        self.input
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The input field's name in error messages: `input.<key>`.
    pub fn field(&self, key: &str) -> String {
        format!("input.{key}")
    }
}

/// An action.
pub trait Action: Send + Sync {
    fn spec(&self) -> &ActionSpec;

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>>;

    /// Reverses something this action created for run `task` (clean-up after a failed or
    /// cancelled run), checking first that it is still that run's own; returns what was done.
    /// Actions that create nothing outside the workspace have nothing to reverse.
    fn undo<'a>(
        &'a self,
        created: &'a super::runs::Created,
        _task: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        let id = self.spec().id;
        Box::pin(async move {
            Err(ActionError::input(format!(
                "{id} cannot reverse {} {}",
                created.kind, created.id
            )))
        })
    }
}

/// The actions by id.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.actions.keys()).finish()
    }
}

impl Registry {
    /// The actions that need nothing beyond the workspace.
    pub fn builtin() -> Self {
        let mut registry = Self::default();
        for action in fetch::actions()
            .into_iter()
            .chain(fs::actions())
            .chain(debug::actions())
            .chain(catalog::offline_actions())
        {
            registry.add(action);
        }
        registry
    }

    pub fn add(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.spec().id, action);
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.actions.contains_key(id)
    }

    pub fn specs(&self) -> impl Iterator<Item = &ActionSpec> {
        self.actions.values().map(|a| a.spec())
    }
}

/// Checks a step's rendered input against the action's input schema; every problem named.
pub fn check_input(spec: &ActionSpec, input: &Value) -> Result<(), String> {
    let validator = jsonschema::draft7::options()
        .build(&spec.input)
        .map_err(|e| format!("{}: the action's input schema is invalid: {e}", spec.id))?;
    let problems: Vec<String> = validator
        .iter_errors(input)
        .map(|e| {
            let path = e.instance_path().to_string();
            let field = format!("input{}", path.replace('/', "."));
            format!("{field}: {e}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A string or a list of strings, as several inputs accept.
pub(crate) fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
