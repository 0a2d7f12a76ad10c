//! The tasks API's transfer objects: tasks, their steps and their log.

use causeway_platform::tasks;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Open,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl From<tasks::TaskStatus> for TaskStatus {
    fn from(status: tasks::TaskStatus) -> Self {
        match status {
            tasks::TaskStatus::Open => Self::Open,
            tasks::TaskStatus::Processing => Self::Processing,
            tasks::TaskStatus::Completed => Self::Completed,
            tasks::TaskStatus::Failed => Self::Failed,
            tasks::TaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// One step of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskStep {
    pub position: i64,
    pub name: String,
    pub title: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub started_at_millis: Option<i64>,
    pub finished_at_millis: Option<i64>,
    pub message: Option<String>,
}

impl From<&tasks::Step> for TaskStep {
    fn from(step: &tasks::Step) -> Self {
        Self {
            position: step.position,
            name: step.name.clone(),
            title: step.title.clone(),
            status: step.status.clone(),
            attempts: step.attempts,
            started_at_millis: step.started_at_millis,
            finished_at_millis: step.finished_at_millis,
            message: step.message.clone(),
        }
    }
}

/// A task (`steps` is empty in lists).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Task {
    pub id: String,
    /// e.g. `provision.apply`, `provision.destroy`.
    pub kind: String,
    pub title: String,
    /// What the task was asked to do.
    pub input: Value,
    pub requester: String,
    /// The team it acts for.
    pub owner: Option<String>,
    pub status: TaskStatus,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub error: Option<String>,
    /// What it produced, once completed.
    pub output: Option<Value>,
    pub created_at_millis: i64,
    pub started_at_millis: Option<i64>,
    pub finished_at_millis: Option<i64>,
    pub steps: Vec<TaskStep>,
}

impl From<&tasks::Task> for Task {
    fn from(task: &tasks::Task) -> Self {
        Self {
            id: task.id.clone(),
            kind: task.kind.clone(),
            title: task.title.clone(),
            input: task.input.clone(),
            requester: task.requester.clone(),
            owner: task.owner.clone(),
            status: task.status.into(),
            attempts: task.attempts,
            cancel_requested: task.cancel_requested,
            error: task.error.clone(),
            output: task.output.clone(),
            created_at_millis: task.created_at_millis,
            started_at_millis: task.started_at_millis,
            finished_at_millis: task.finished_at_millis,
            steps: task.steps.iter().map(TaskStep::from).collect(),
        }
    }
}

/// One line of a task's log; also the data of an SSE `log` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskEvent {
    /// Increasing within a task; the SSE event id.
    pub id: i64,
    pub task_id: String,
    pub at_millis: i64,
    pub step: Option<String>,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
    /// The worker that wrote it.
    pub worker: Option<String>,
}

impl From<&tasks::Event> for TaskEvent {
    fn from(event: &tasks::Event) -> Self {
        Self {
            id: event.id,
            task_id: event.task_id.clone(),
            at_millis: event.at_millis,
            step: event.step.clone(),
            level: event.level.clone(),
            message: event.message.clone(),
            worker: event.worker.clone(),
        }
    }
}

/// `GET /api/tasks/{id}`: a task with its steps and the events after `?after`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskWithEvents {
    pub task: Task,
    pub events: Vec<TaskEvent>,
}

/// The data of the final SSE `end` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskEnd {
    pub status: TaskStatus,
    pub error: Option<String>,
}

/// One event of `GET /api/tasks/{id}/events` (`text/event-stream`): a `log` event whose `id` is
/// the event's id and whose `data` is a [`TaskEvent`] as JSON, or the final `end` event whose
/// `data` is a [`TaskEnd`] as JSON.
pub struct TaskStreamEvent;

impl PartialSchema for TaskStreamEvent {
    fn schema() -> RefOr<Schema> {
        let event = |name: &str, data: &str, with_id: bool| {
            let builder = ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "event",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([name])),
                )
                .property(
                    "data",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .content_media_type("application/json")
                        .description(Some(data)),
                )
                .required("event")
                .required("data");
            if with_id {
                builder
                    .property(
                        "id",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(
                                "The event's id; send it back as `Last-Event-ID` to resume",
                            )),
                    )
                    .required("id")
            } else {
                builder
            }
        };
        RefOr::T(Schema::OneOf(
            OneOfBuilder::new()
                .item(event("log", "A TaskEvent as JSON", true))
                .item(event(
                    "end",
                    "A TaskEnd as JSON: the task's final status",
                    false,
                ))
                .description(Some(
                    "One Server-Sent Event: `log` lines in order, then one `end`",
                ))
                .build(),
        ))
    }
}

impl ToSchema for TaskStreamEvent {}
