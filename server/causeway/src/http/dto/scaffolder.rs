//! The scaffolder API's wire format, in the shapes of Backstage's `/api/scaffolder/v2` so that
//! its clients work unchanged.

use base64::Engine as _;
use causeway_platform::scaffolder::{self, DryRun, FileEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An example step using an action.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionExample {
    pub description: String,
    /// YAML.
    pub example: String,
}

/// An action's input and output JSON Schemas.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionSchema {
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
}

/// An action a template step may name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Action {
    pub id: String,
    pub description: String,
    pub examples: Vec<ActionExample>,
    pub schema: ActionSchema,
    /// Whether a dry run executes it (otherwise it is skipped with its example output).
    #[serde(rename = "supportsDryRun")]
    pub supports_dry_run: bool,
}

impl From<&scaffolder::actions::ActionSpec> for Action {
    fn from(spec: &scaffolder::actions::ActionSpec) -> Self {
        Self {
            id: spec.id.to_owned(),
            description: spec.description.to_owned(),
            examples: spec
                .examples
                .iter()
                .map(|(description, example)| ActionExample {
                    description: (*description).to_owned(),
                    example: (*example).to_owned(),
                })
                .collect(),
            schema: ActionSchema {
                input: spec.input.clone(),
                output: spec.output.clone(),
            },
            supports_dry_run: spec.dry_run,
        }
    }
}

/// A file sent with or returned by a dry run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    /// Relative to the template (request) or to the workspace (answer).
    pub path: String,
    pub base64_content: String,
    #[serde(default)]
    pub executable: bool,
}

/// `POST /api/scaffolder/v2/dry-run`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunRequest {
    /// The template entity (`scaffolder.backstage.io/v1beta3`).
    #[schema(value_type = Object)]
    pub template: Value,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub values: Value,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
    /// The template's files (its skeletons), which relative `url:` inputs read.
    #[serde(default)]
    pub directory_contents: Vec<DirectoryEntry>,
}

impl DryRunRequest {
    /// The files, decoded; the error names the entry.
    pub fn files(&self) -> Result<std::collections::BTreeMap<String, FileEntry>, String> {
        let mut files = std::collections::BTreeMap::new();
        for (index, entry) in self.directory_contents.iter().enumerate() {
            let path = scaffolder::workspace::normalise(&entry.path)
                .map_err(|e| format!("directoryContents[{index}].path: {e}"))?;
            let content = base64::engine::general_purpose::STANDARD
                .decode(entry.base64_content.trim())
                .map_err(|e| format!("directoryContents[{index}].base64Content: {e}"))?;
            files.insert(
                path,
                FileEntry {
                    content,
                    executable: entry.executable,
                },
            );
        }
        Ok(files)
    }
}

/// A log line's body, as in Backstage's task events.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
}

/// A log line of a dry run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    pub body: LogBody,
}

/// A step of a dry run and how it ended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunStep {
    pub id: String,
    pub name: String,
    pub action: String,
    /// `completed`, `skipped`, `failed` or `pending`.
    pub status: String,
}

/// What a dry run produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunResponse {
    pub log: Vec<LogEntry>,
    pub directory_contents: Vec<DirectoryEntry>,
    #[schema(value_type = Object)]
    pub output: Value,
    pub steps: Vec<DryRunStep>,
}

impl From<&DryRun> for DryRunResponse {
    fn from(run: &DryRun) -> Self {
        Self {
            log: run
                .log
                .iter()
                .map(|line| LogEntry {
                    body: LogBody {
                        message: line.message.clone(),
                        step_id: line.step.clone(),
                    },
                })
                .collect(),
            directory_contents: run
                .files
                .files()
                .map(|(path, file)| DirectoryEntry {
                    path: path.clone(),
                    base64_content: base64::engine::general_purpose::STANDARD.encode(&file.content),
                    executable: file.executable,
                })
                .collect(),
            output: run.output.clone(),
            steps: run
                .steps
                .iter()
                .map(|s| DryRunStep {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    action: s.action.clone(),
                    status: s.status.to_owned(),
                })
                .collect(),
        }
    }
}

/// One parameter page of a template.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParameterStep {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shown only when this renders truthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub when: Option<Value>,
    /// The page's JSON Schema with its `ui:*` keys.
    #[schema(value_type = Object)]
    pub schema: Value,
}

/// A template's parameter pages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParameterSchema {
    pub title: String,
    pub description: String,
    pub steps: Vec<ParameterStep>,
}

impl From<&scaffolder::Template> for ParameterSchema {
    fn from(template: &scaffolder::Template) -> Self {
        Self {
            title: template.title.clone(),
            description: template.description.clone(),
            steps: template
                .pages
                .iter()
                .map(|page| ParameterStep {
                    title: if page.title.is_empty() {
                        "Please enter the following information".to_owned()
                    } else {
                        page.title.clone()
                    },
                    description: page.description.clone(),
                    when: page.when.clone(),
                    schema: page.schema.clone(),
                })
                .collect(),
        }
    }
}

/// `POST /api/scaffolder/v2/tasks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    /// The template, e.g. `template:default/service` (the kind may be left out).
    pub template_ref: String,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub values: Value,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
}

/// The id of a created task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskId {
    pub id: String,
}

/// A template run in Backstage's shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaffolderTask {
    pub id: String,
    /// What ran: `apiVersion`, `steps`, `output`, `parameters` (secrets removed), `user`,
    /// `templateInfo`.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// `open`, `processing`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<String>,
    pub created_by: String,
}

impl From<&causeway_platform::tasks::Task> for ScaffolderTask {
    fn from(task: &causeway_platform::tasks::Task) -> Self {
        let input = &task.input;
        let template = input.get("template").cloned().unwrap_or(Value::Null);
        let steps: Vec<Value> = template
            .pointer("/spec/steps")
            .and_then(Value::as_array)
            .map(|steps| {
                steps
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        let mut step = step.clone();
                        if let Some(map) = step.as_object_mut() {
                            let action = map.get("action").cloned().unwrap_or(Value::Null);
                            map.entry("id")
                                .or_insert_with(|| Value::String(format!("step-{}", i + 1)));
                            map.entry("name").or_insert(action);
                        }
                        step
                    })
                    .collect()
            })
            .unwrap_or_default();
        let spec = serde_json::json!({
            "apiVersion": template.get("apiVersion"),
            "steps": steps,
            "output": template.pointer("/spec/output").cloned().unwrap_or(serde_json::json!({})),
            "parameters": input.get("values"),
            "user": { "ref": task.requester, "entity": input.get("user_entity") },
            "templateInfo": {
                "entityRef": input.get("template_ref"),
                "entity": { "metadata": template.get("metadata") },
            },
        });
        Self {
            id: task.id.clone(),
            spec,
            status: task.status.as_str().to_owned(),
            created_at: causeway_platform::time::iso(task.created_at_millis),
            last_heartbeat_at: task.started_at_millis.map(causeway_platform::time::iso),
            created_by: task.requester.clone(),
        }
    }
}

/// `GET /api/scaffolder/v2/tasks`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    pub tasks: Vec<ScaffolderTask>,
    pub total_tasks: usize,
}

/// An event's body.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// On a completion: the run's output.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// On a failed completion: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// Why a run failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventError {
    pub name: String,
    pub message: String,
}

/// A task event in Backstage's shape: `log` lines, then one `completion`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaffolderEvent {
    pub id: i64,
    pub task_id: String,
    pub body: EventBody,
    /// `log` or `completion`.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
}

impl From<&causeway_platform::tasks::Event> for ScaffolderEvent {
    fn from(event: &causeway_platform::tasks::Event) -> Self {
        Self {
            id: event.id,
            task_id: event.task_id.clone(),
            body: EventBody {
                message: event.message.clone(),
                step_id: event.step.clone(),
                output: None,
                error: None,
            },
            kind: "log".to_owned(),
            created_at: causeway_platform::time::iso(event.at_millis),
        }
    }
}

impl ScaffolderEvent {
    /// The completion of a finished task, numbered after its last event.
    pub fn completion(task: &causeway_platform::tasks::Task, id: i64) -> Self {
        let status = task.status.as_str();
        Self {
            id,
            task_id: task.id.clone(),
            body: EventBody {
                message: format!("Run completed with status: {status}"),
                step_id: None,
                output: (task.status == causeway_platform::tasks::TaskStatus::Completed)
                    .then(|| task.output.clone().unwrap_or(serde_json::json!({}))),
                error: task.error.as_ref().map(|message| EventError {
                    name: "Error".to_owned(),
                    message: message.clone(),
                }),
            },
            kind: "completion".to_owned(),
            created_at: causeway_platform::time::iso(
                task.finished_at_millis.unwrap_or(task.created_at_millis),
            ),
        }
    }
}

/// `POST /api/scaffolder/v2/tasks/{id}/cancel`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancelResponse {
    pub status: String,
}
