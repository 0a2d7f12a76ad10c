//! Durable tasks: long actions stored in the database with their steps and an append-only event
//! log, claimed by workers under an expiring lease (see `lease.rs`) and run by the runner
//! (`runner.rs`). A worker that dies leaves its lease to expire; another worker then resumes the
//! task at its first unfinished step, which is why every step must be idempotent.

pub mod lease;
mod retry;
pub mod runner;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::Notify;

use crate::time::now_millis;
use crate::{Error, Result, Store};

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Open,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status named `text`, or an error naming the field.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "open" => Self::Open,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "{other:?} is not a task status; expected open, processing, completed, failed or cancelled"
                    ),
                ));
            }
        })
    }

    /// Whether nothing will happen to the task any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// One step of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
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

/// A task with its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub input: Value,
    pub requester: String,
    pub owner: Option<String>,
    pub status: TaskStatus,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub error: Option<String>,
    pub output: Option<Value>,
    pub created_at_millis: i64,
    pub started_at_millis: Option<i64>,
    pub finished_at_millis: Option<i64>,
    pub steps: Vec<Step>,
}

impl Task {
    /// Whether `principal` may read the task, its steps and its log: those its lists show it to
    /// (its requester, a member of the team it acts for, platform admins). A template run holds
    /// its requester's answers, so its team does not see it.
    pub fn readable_by(&self, principal: &crate::identity::Principal) -> bool {
        principal.role == crate::identity::Role::PlatformAdmin
            || self.requester == principal.entity_ref
            || (self.kind != crate::scaffolder::task::RUN
                && self.owner.as_deref().is_some_and(|o| principal.acts_for(o)))
    }

    /// Whether `principal` may cancel the task: its requester, a member of the team it acts
    /// for, or a platform admin.
    pub fn cancellable_by(&self, principal: &crate::identity::Principal) -> bool {
        principal.role == crate::identity::Role::PlatformAdmin
            || self.requester == principal.entity_ref
            || self.owner.as_deref().is_some_and(|o| principal.acts_for(o))
    }
}

/// One line of a task's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Increasing within a task; the SSE event id.
    pub id: i64,
    pub task_id: String,
    pub at_millis: i64,
    pub step: Option<String>,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
    pub worker: Option<String>,
}

/// A task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub kind: String,
    pub title: String,
    pub input: Value,
    pub requester: String,
    pub owner: Option<String>,
    /// What the task changes (a namespace): no two unfinished tasks may share one.
    pub subject: Option<String>,
    /// Step names and titles, in order.
    pub steps: Vec<(String, String)>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these requesters' tasks…
    pub requester: Option<String>,
    /// …or (with `requester`, either) tasks acting for these teams.
    pub owners: Vec<String>,
    pub status: Option<TaskStatus>,
    pub limit: i64,
}

impl Filter {
    /// The tasks `principal` may list for `scope`: `mine` (those they requested), `teams` (also
    /// those acting for their teams) or `all` (platform admins only); an empty status is any.
    pub fn scoped(
        principal: &crate::identity::Principal,
        scope: &str,
        status: &str,
        limit: i64,
    ) -> Result<Self> {
        let status = (!status.is_empty())
            .then(|| TaskStatus::parse(status))
            .transpose()?;
        let mut filter = Self {
            requester: Some(principal.entity_ref.clone()),
            owners: Vec::new(),
            status,
            limit,
        };
        match scope {
            "" | "mine" => {}
            "teams" => {
                filter.owners = principal
                    .teams
                    .iter()
                    .map(|t| t.entity_ref.clone())
                    .collect();
            }
            "all" if principal.role == crate::identity::Role::PlatformAdmin => {
                filter.requester = None;
            }
            "all" => {
                return Err(Error::Forbidden(
                    "scope=all lists every task and is for platform admins; use mine or teams"
                        .to_owned(),
                ));
            }
            other => {
                return Err(Error::invalid(
                    "scope",
                    format!("{other:?} is not a scope; expected mine, teams or all"),
                ));
            }
        }
        Ok(filter)
    }
}

/// The tasks store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Tasks {
    store: Store,
    /// Wakes this process's runner when a task is created here, so it starts at once.
    created: Arc<Notify>,
}

const TASK_COLUMNS: &str = "id, kind, title, input, requester, owner, status, attempts, \
                            cancel_requested, error, output, created_at, started_at, finished_at";

fn task(row: &AnyRow) -> Result<Task> {
    let input: String = row.try_get("input")?;
    let output: Option<String> = row.try_get("output")?;
    let status: String = row.try_get("status")?;
    let cancel: i64 = row.try_get("cancel_requested")?;
    Ok(Task {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        title: row.try_get("title")?,
        input: serde_json::from_str(&input).unwrap_or(Value::Null),
        requester: row.try_get("requester")?,
        owner: row.try_get("owner")?,
        status: TaskStatus::parse(&status)?,
        attempts: row.try_get("attempts")?,
        cancel_requested: cancel != 0,
        error: row.try_get("error")?,
        output: output.and_then(|o| serde_json::from_str(&o).ok()),
        created_at_millis: row.try_get("created_at")?,
        started_at_millis: row.try_get("started_at")?,
        finished_at_millis: row.try_get("finished_at")?,
        steps: Vec::new(),
    })
}

fn step(row: &AnyRow) -> Result<Step> {
    Ok(Step {
        position: row.try_get("position")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        started_at_millis: row.try_get("started_at")?,
        finished_at_millis: row.try_get("finished_at")?,
        message: row.try_get("message")?,
    })
}

fn event(row: &AnyRow) -> Result<Event> {
    Ok(Event {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        at_millis: row.try_get("at")?,
        step: row.try_get("step")?,
        level: row.try_get("level")?,
        message: row.try_get("message")?,
        worker: row.try_get("worker")?,
    })
}

impl Tasks {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            created: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Resolves when a task has been created in this process (or at once, if one was created
    /// since the last call).
    pub async fn created(&self) {
        self.created.notified().await;
    }

    /// Stores a new open task with its steps and a first event.
    pub async fn create(&self, new: NewTask) -> Result<Task> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO tasks (id, kind, title, input, requester, owner, subject, status, attempts, \
             cancel_requested, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', 0, 0, $8, $8)",
        )
        .bind(&id)
        .bind(&new.kind)
        .bind(&new.title)
        .bind(new.input.to_string())
        .bind(&new.requester)
        .bind(&new.owner)
        .bind(&new.subject)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => Error::Conflict(format!(
                "{} already has a task that has not finished; wait for it or cancel it",
                new.subject.as_deref().unwrap_or("this")
            )),
            _ => Error::from(e),
        })?;
        for (position, (name, title)) in new.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO task_steps (task_id, position, name, title, status, attempts) \
                 VALUES ($1, $2, $3, $4, 'pending', 0)",
            )
            .bind(&id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(name)
            .bind(title)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO task_events (task_id, at, step, level, message) VALUES ($1, $2, NULL, 'info', $3)",
        )
        .bind(&id)
        .bind(now)
        .bind(format!("{} requested by {}", new.title, new.requester))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.created.notify_one();
        self.get(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))
    }

    /// The task `id` with its steps.
    pub async fn get(&self, id: &str) -> Result<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut found = task(&row)?;
        found.steps = self.steps(id).await?;
        Ok(Some(found))
    }

    /// The steps of task `id`, in order.
    pub async fn steps(&self, id: &str) -> Result<Vec<Step>> {
        let rows = sqlx::query(
            "SELECT position, name, title, status, attempts, started_at, finished_at, message \
             FROM task_steps WHERE task_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(step).collect()
    }

    /// Tasks matching `filter`, newest first (without their steps).
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Task>> {
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut who = Vec::new();
        if let Some(requester) = &filter.requester {
            binds.push(requester.clone());
            who.push(format!("requester = ${}", binds.len()));
        }
        if !filter.owners.is_empty() {
            let mut marks = Vec::new();
            for owner in &filter.owners {
                binds.push(owner.clone());
                marks.push(format!("${}", binds.len()));
            }
            who.push(format!("owner IN ({})", marks.join(", ")));
        }
        if !who.is_empty() {
            conditions.push(format!("({})", who.join(" OR ")));
        }
        if let Some(status) = filter.status {
            binds.push(status.as_str().to_owned());
            conditions.push(format!("status = ${}", binds.len()));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks {clause} ORDER BY created_at DESC, id LIMIT {}",
            filter.limit.clamp(1, 500)
        );
        let mut query = sqlx::query(&sql);
        for bind in &binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        rows.iter().map(task).collect()
    }

    /// Events of task `id` after event `after`, oldest first, at most `limit`.
    pub async fn events(&self, id: &str, after: i64, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, task_id, at, step, level, message, worker FROM task_events \
             WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(event).collect()
    }

    /// [`Tasks::cancel`] on behalf of `principal`, if [`Task::cancellable_by`] allows it, audited
    /// (`task.cancel`) as who cancelled, with the task and its requester in the detail: the
    /// record of the task's end names its requester, who may not be the one who stopped it.
    pub async fn cancel_as(
        &self,
        principal: &crate::identity::Principal,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Task> {
        use crate::audit::{AuditLog, Entry, Outcome};
        let task = self
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))?;
        let result = if task.cancellable_by(principal) {
            self.cancel(id, &principal.entity_ref).await
        } else {
            Err(Error::Forbidden(format!(
                "task {id} acts for {}; only its requester, that team and platform admins may cancel it",
                task.owner.as_deref().unwrap_or("nobody")
            )))
        };
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(Error::Forbidden(_)) => Outcome::Denied,
            Err(_) => Outcome::Failed,
        };
        let detail = serde_json::json!({
            "task": id, "kind": task.kind, "requester": task.requester, "owner": task.owner,
            "error": result.as_ref().err().map(ToString::to_string),
        });
        let entry = Entry {
            actor: &principal.entity_ref,
            action: "task.cancel",
            target: id,
            outcome,
            detail,
            request_id,
        };
        // The cancellation has happened (or been refused) by now; a failure to audit is logged.
        if let Err(error) = AuditLog::new(self.store.clone()).record(entry).await {
            tracing::error!(%error, task = %id, "could not audit a task cancellation");
        }
        result
    }

    /// Asks for task `id` to stop. An open task is cancelled at once; a running one stops before
    /// its next step, which its worker logs. Returns the task as it now is.
    pub async fn cancel(&self, id: &str, by: &str) -> Result<Task> {
        let now = now_millis();
        let current = self
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))?;
        if current.status.is_final() {
            return Err(Error::Conflict(format!(
                "task {id} is already {}",
                current.status.as_str()
            )));
        }
        let mut tx = self.store.pool().begin().await?;
        let opened = sqlx::query(
            "UPDATE tasks SET status = 'cancelled', cancel_requested = 1, finished_at = $1, \
             updated_at = $1 WHERE id = $2 AND status = 'open'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if opened == 1 {
            sqlx::query(
                "UPDATE task_steps SET status = 'cancelled' WHERE task_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            // No worker has it, so this event cannot interleave with a worker's.
            sqlx::query(
                "INSERT INTO task_events (task_id, at, step, level, message) VALUES ($1, $2, NULL, 'warn', $3)",
            )
            .bind(id)
            .bind(now)
            .bind(format!("Cancelled by {by} before it started"))
            .execute(&mut *tx)
            .await?;
        } else {
            // The worker logs the cancellation when it honours it, so the log has one writer.
            let marked = sqlx::query(
                "UPDATE tasks SET cancel_requested = 1, updated_at = $1 \
                 WHERE id = $2 AND status = 'processing'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if marked == 0 {
                return Err(Error::Conflict(format!("task {id} has already ended")));
            }
        }
        tx.commit().await?;
        self.get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))
    }
}
