//! Running a template's steps: the render context, `if:` and `each:`, input rendering and
//! checking, the dry-run rule (actions that cannot dry-run are skipped with their example
//! output), the run's output, and secrets kept out of every log line.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::actions::{ActionContext, ActionError, Registry, check_input};
use super::expr::{Templater, is_truthy};
use super::template::Template;
use super::workspace::Workspace;

/// One run of a template: what it was asked with.
#[derive(Debug, Clone)]
pub struct Run {
    pub template: Arc<Template>,
    /// The answers, secrets masked.
    pub values: Value,
    /// `ui:field: Secret` answers and `secrets` sent with the request.
    pub secrets: Map<String, Value>,
    pub user_ref: String,
    /// The requester's catalog entity, when there is one.
    pub user_entity: Value,
    pub task_id: String,
    pub dry_run: bool,
    /// The template's content hash.
    pub template_version: String,
}

impl Run {
    /// The answers without any secret field: what provenance records.
    pub fn public_values(&self) -> Value {
        let mut values = self.values.clone();
        if let Some(map) = values.as_object_mut() {
            for name in self.template.secret_fields() {
                map.remove(&name);
            }
        }
        values
    }

    /// `text` with every secret value replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in self.secrets.values() {
            let secret = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Very short secrets would blank out ordinary words; they are refused at submission.
            if secret.len() >= 3 {
                out = out.replace(&secret, "***");
            }
        }
        out
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Completed,
    Skipped,
}

/// A step's log lines (already redacted) and how it ended.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub status: StepStatus,
    pub logs: Vec<String>,
    /// What the step created outside the workspace, for clean-up.
    pub created: Vec<super::runs::Created>,
}

/// A failed step: its log so far and the error, redacted.
#[derive(Debug, Clone)]
pub struct StepFailure {
    pub logs: Vec<String>,
    pub error: ActionError,
}

/// Runs steps with a registry of actions.
#[derive(Clone)]
pub struct Engine {
    pub templater: Arc<Templater>,
    pub actions: Arc<Registry>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("actions", &self.actions)
            .finish()
    }
}

impl Engine {
    /// What expressions see: `parameters`, `steps.<id>.output`, `user.entity`/`user.ref`,
    /// `context.task.id`; `secrets` only where Backstage shows them (a step's `input`, `each:`
    /// and the per-iteration `if:`), and `each.key`/`each.value` inside an iteration.
    pub fn context(
        &self,
        run: &Run,
        steps: &Map<String, Value>,
        each: Option<&Value>,
        with_secrets: bool,
    ) -> Value {
        let mut context = json!({
            "parameters": run.values,
            "steps": steps,
            "user": { "entity": run.user_entity, "ref": run.user_ref },
            "context": { "task": { "id": run.task_id } },
        });
        if let Some(map) = context.as_object_mut() {
            if with_secrets {
                map.insert("secrets".to_owned(), Value::Object(run.secrets.clone()));
            }
            if let Some(each) = each {
                map.insert("each".to_owned(), each.clone());
            }
        }
        context
    }

    /// Runs step `index`, recording its output in `steps`.
    pub async fn step(
        &self,
        run: &Run,
        index: usize,
        steps: &mut Map<String, Value>,
        workspace: &mut Workspace,
    ) -> Result<StepReport, StepFailure> {
        let template = run.template.clone();
        let spec = &template.steps[index];
        let mut logs = Vec::new();
        let fail = |logs: Vec<String>, error: ActionError| StepFailure {
            logs: logs.iter().map(|l| run.redact(l)).collect(),
            error: ActionError {
                transient: error.transient,
                message: run.redact(&format!("step {:?}: {}", spec.id, error.message)),
            },
        };
        let context = self.context(run, steps, None, false);
        // With `each:`, `if:` is decided per iteration instead.
        if let (Some(condition), None) = (&spec.condition, &spec.each) {
            let value = self
                .templater
                .render_value(condition, &context)
                .map_err(|e| fail(Vec::new(), ActionError::input(format!("if: {e}"))))?;
            if !is_truthy(value.as_ref()) {
                logs.push(format!(
                    "Skipping step {} because its if condition was false",
                    spec.id
                ));
                return Ok(StepReport {
                    status: StepStatus::Skipped,
                    logs,
                    created: Vec::new(),
                });
            }
        }
        let Some(action) = self.actions.get(&spec.action) else {
            return Err(fail(
                logs,
                ActionError::input(format!(
                    "the action {:?} is not registered; GET /api/scaffolder/v2/actions lists those that are",
                    spec.action
                )),
            ));
        };
        let iterations: Vec<Option<Value>> = match &spec.each {
            None => vec![None],
            Some(each) => {
                let context = self.context(run, steps, None, true);
                let value = self
                    .templater
                    .render_value(each, &context)
                    .map_err(|e| fail(Vec::new(), ActionError::input(format!("each: {e}"))))?;
                match value {
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| Some(json!({ "key": i.to_string(), "value": v })))
                        .collect(),
                    Some(Value::Object(map)) => map
                        .into_iter()
                        .map(|(k, v)| Some(json!({ "key": k, "value": v })))
                        .collect(),
                    other => {
                        return Err(fail(
                            logs,
                            ActionError::input(format!(
                                "each: must render to an array or an object, not {}",
                                other.map_or("nothing".to_owned(), |v| v.to_string())
                            )),
                        ));
                    }
                }
            }
        };
        let spec_action = action.spec();
        // Render and check every iteration's input before running any, as Backstage does.
        let mut inputs = Vec::new();
        for each in &iterations {
            let context = self.context(run, steps, each.as_ref(), true);
            if let (Some(condition), Some(each)) = (&spec.condition, each) {
                let value = self
                    .templater
                    .render_value(condition, &context)
                    .map_err(|e| fail(logs.clone(), ActionError::input(format!("if: {e}"))))?;
                if !is_truthy(value.as_ref()) {
                    logs.push(format!("Skipping step each: {each}"));
                    continue;
                }
            }
            let input = self
                .templater
                .render_value(&spec.input, &context)
                .map_err(|e| fail(logs.clone(), ActionError::input(format!("input: {e}"))))?
                .unwrap_or(json!({}));
            check_input(spec_action, &input).map_err(|e| {
                let key = each
                    .as_ref()
                    .and_then(|e| e.get("key"))
                    .map(|k| format!("[{}]", k.as_str().unwrap_or_default()))
                    .unwrap_or_default();
                fail(
                    logs.clone(),
                    ActionError::input(format!(
                        "invalid input passed to action {}{key}: {e}",
                        spec_action.id
                    )),
                )
            })?;
            inputs.push((each.clone(), input));
        }
        if run.dry_run && !spec_action.dry_run {
            logs.push(format!(
                "Skipping because {} does not support dry-run",
                spec_action.id
            ));
            steps.insert(
                spec.id.clone(),
                json!({ "output": spec_action.example_output.clone() }),
            );
            return Ok(StepReport {
                status: StepStatus::Skipped,
                logs: logs.iter().map(|l| run.redact(l)).collect(),
                created: Vec::new(),
            });
        }
        let mut output = Map::new();
        let mut created = Vec::new();
        for (each, input) in inputs {
            if let Some(each) = &each {
                logs.push(format!("Running step each: {each}"));
            }
            let mut cx = ActionContext {
                step_id: &spec.id,
                input,
                run,
                workspace: &mut *workspace,
                templater: &self.templater,
                output: Map::new(),
                logs: Vec::new(),
                created: Vec::new(),
            };
            let result = action.run(&mut cx).await;
            logs.append(&mut cx.logs);
            for mut item in cx.created.drain(..) {
                item.action = spec_action.id.to_owned();
                created.push(item);
            }
            let produced = std::mem::take(&mut cx.output);
            result.map_err(|e| fail(logs.clone(), e))?;
            for (name, value) in produced {
                // With `each:`, every output name collects one value per iteration.
                if spec.each.is_some() {
                    let slot = output.entry(name).or_insert_with(|| json!([]));
                    if let Some(items) = slot.as_array_mut() {
                        items.push(value);
                    }
                } else {
                    output.insert(name, value);
                }
            }
        }
        steps.insert(spec.id.clone(), json!({ "output": output }));
        Ok(StepReport {
            status: StepStatus::Completed,
            logs: logs.iter().map(|l| run.redact(l)).collect(),
            created,
        })
    }

    /// The template's `output`, rendered; `links` and `text` entries whose `if:` is falsy are
    /// left out.
    pub fn output(&self, run: &Run, steps: &Map<String, Value>) -> Result<Value, String> {
        let context = self.context(run, steps, None, false);
        let mut output = Map::new();
        let Some(spec) = run.template.output.as_object() else {
            return Ok(Value::Object(output));
        };
        for (key, value) in spec {
            let rendered = if matches!(key.as_str(), "links" | "text") {
                let mut kept = Vec::new();
                for (index, entry) in value.as_array().into_iter().flatten().enumerate() {
                    let mut entry = entry.clone();
                    let condition = entry.as_object_mut().and_then(|m| m.remove("if"));
                    if let Some(condition) = condition {
                        let shown = self
                            .templater
                            .render_value(&condition, &context)
                            .map_err(|e| format!("output.{key}[{index}].if: {e}"))?;
                        // An `if:` that renders to nothing was dropped before the test in
                        // Backstage, which keeps the entry.
                        if shown.is_some() && !is_truthy(shown.as_ref()) {
                            continue;
                        }
                    }
                    if let Some(rendered) = self
                        .templater
                        .render_value(&entry, &context)
                        .map_err(|e| format!("output.{key}[{index}]: {e}"))?
                    {
                        kept.push(rendered);
                    }
                }
                Some(Value::Array(kept))
            } else {
                self.templater
                    .render_value(value, &context)
                    .map_err(|e| format!("output.{key}: {e}"))?
            };
            if let Some(rendered) = rendered {
                output.insert(key.clone(), rendered);
            }
        }
        Ok(Value::Object(output))
    }
}
