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
