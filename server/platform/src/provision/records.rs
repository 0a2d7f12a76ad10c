//! What Causeway remembers about the environments it provisioned: the last accepted request for
//! each (which the drift reconciler renders again) and the drift seen in them.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tasks::lease::Fence;
use crate::time::now_millis;
use crate::{Result, Store};

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A change is being applied; the reconciler leaves it alone.
    Applying,
    /// Applied completely; the reconciler keeps it as recorded.
    Ready,
    /// The last apply left some objects unapplied (see `message`).
    Failed,
    /// Written to a GitOps repository; a controller there applies it.
    Committed,
    /// Being removed; the reconciler must not restore it.
    Destroying,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applying => "applying",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Committed => "committed",
            Self::Destroying => "destroying",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            "committed" => Self::Committed,
            "destroying" => Self::Destroying,
            _ => Self::Applying,
        }
    }
}

/// One provisioned environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub namespace: String,
    /// The component's entity reference.
    pub service: String,
    pub environment: String,
    /// The cluster's name, or `git:<cluster>` for a GitOps target.
    pub target: String,
    pub parameters: BTreeMap<String, String>,
    pub request_id: String,
    pub requested_by: String,
    pub status: Status,
    pub message: Option<String>,
    /// The task that last took the record (an apply's or a destroy's), when a task did.
    pub task_id: Option<String>,
    pub created_at_millis: i64,
    pub updated_at_millis: i64,
    /// When the reaper destroys it, for an environment whose configuration has an expiry.
    pub expires_at_millis: Option<i64>,
    /// When its team was reminded of the current expiry, once they were.
    pub reminded_at_millis: Option<i64>,
}

/// One difference between an environment and its record, found by the reconciler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub id: i64,
    pub namespace: String,
    /// `Kind/name`.
    pub object: String,
    /// `modified`, `deleted` or `conflict` (a field now owned by another manager).
    pub change: String,
    /// The fields that differed, or the API server's message.
    pub detail: serde_json::Value,
    /// `restored`, `reported` or `failed`.
    pub action: String,
    pub at_millis: i64,
}

/// The environments table and its drift log.
#[derive(Debug, Clone)]
pub struct Records {
    store: Store,
}

const COLUMNS: &str = "namespace, service, environment, target, parameters, request_id, \
                       requested_by, status, message, task_id, created_at, updated_at, \
                       expires_at, reminded_at";

/// The condition a write adds for `fence` (its values bound from placeholder `first` on), or
/// none for a write made outside any task.
fn fenced(fence: Option<&Fence>, first: usize) -> String {
    match fence {
        Some(_) => format!("AND {}", Fence::condition(first)),
        None => String::new(),
    }
}

fn bind_fence<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    fence: Option<&'q Fence>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match fence {
        Some(fence) => fence.bind(query),
        None => query,
    }
}

fn record(row: &AnyRow) -> Result<Record> {
    let parameters: String = row.try_get("parameters")?;
    let status: String = row.try_get("status")?;
    Ok(Record {
        namespace: row.try_get("namespace")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        target: row.try_get("target")?,
        parameters: serde_json::from_str(&parameters).unwrap_or_default(),
        request_id: row.try_get("request_id")?,
        requested_by: row.try_get("requested_by")?,
        status: Status::parse(&status),
        message: row.try_get("message")?,
        task_id: row.try_get("task_id")?,
        created_at_millis: row.try_get("created_at")?,
        updated_at_millis: row.try_get("updated_at")?,
        expires_at_millis: row.try_get("expires_at")?,
        reminded_at_millis: row.try_get("reminded_at")?,
    })
}

impl Records {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records a request about to be carried out (status `applying`), keeping the creation time of
    /// an existing record. Within a task, `fence` makes the write conditional on the task's lease
    /// and the record names the task; `false` when the lease was lost and nothing was written.
    ///
    /// An expiry that has not passed is kept (with its reminder): applying again neither renews
    /// an ephemeral environment nor announces it twice. A new environment, or one whose expiry
    /// has passed, takes `record.expires_at_millis`; an environment whose configuration no longer
    /// expires loses its expiry.
    pub async fn begin(&self, record: &Record, fence: Option<&Fence>) -> Result<bool> {
        let now = now_millis();
        // `WHERE 1 = 1` keeps SQLite from reading `ON CONFLICT` as part of a join.
        let sql = format!(
            "INSERT INTO environments ({COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $10, $11, NULL WHERE 1 = 1 {} \
             ON CONFLICT (namespace) DO UPDATE SET service = excluded.service, \
             environment = excluded.environment, target = excluded.target, \
             parameters = excluded.parameters, request_id = excluded.request_id, \
             requested_by = excluded.requested_by, status = excluded.status, message = NULL, \
             task_id = excluded.task_id, updated_at = excluded.updated_at, \
             expires_at = CASE WHEN excluded.expires_at IS NULL THEN NULL \
               WHEN environments.expires_at > $10 THEN environments.expires_at \
               ELSE excluded.expires_at END, \
             reminded_at = CASE WHEN excluded.expires_at IS NOT NULL \
               AND environments.expires_at > $10 THEN environments.reminded_at ELSE NULL END",
            fenced(fence, 12)
        );
        let query = sqlx::query(&sql)
            .bind(&record.namespace)
            .bind(&record.service)
            .bind(&record.environment)
            .bind(&record.target)
            .bind(serde_json::to_string(&record.parameters).unwrap_or_else(|_| "{}".to_owned()))
            .bind(&record.request_id)
            .bind(&record.requested_by)
            .bind(Status::Applying.as_str())
            .bind(fence.map(|f| f.task.clone()))
            .bind(now)
            .bind(record.expires_at_millis);
        let done = bind_fence(query, fence).execute(self.store.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets the status (and an explanation) of the environment in `namespace`; `false` when
    /// `fence`'s lease was lost (or the record is gone) and nothing was written.
    pub async fn set_status(
        &self,
        namespace: &str,
        status: Status,
        message: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE environments SET status = $1, message = $2, updated_at = $3 \
             WHERE namespace = $4 {}",
            fenced(fence, 5)
        );
        let query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(message)
            .bind(now_millis())
            .bind(namespace);
        let done = bind_fence(query, fence).execute(self.store.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the record for the task of `fence` (a destroy, which records no new request) and
    /// marks it `status`; `false` when the lease was lost.
    pub async fn take(&self, namespace: &str, status: Status, fence: &Fence) -> Result<bool> {
        let sql = format!(
            "UPDATE environments SET status = $1, message = NULL, task_id = $2, updated_at = $3 \
             WHERE namespace = $4 {}",
            fenced(Some(fence), 5)
        );
        let query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(&fence.task)
            .bind(now_millis())
            .bind(namespace);
        let done = fence.bind(query).execute(self.store.pool()).await?;
        // No record (an environment only the cluster still has) is not a lost lease.
        Ok(done.rows_affected() == 1 || self.still_held(Some(fence)).await?)
    }

    /// Sets the status of `namespace`'s record only while it is still the record task `task`
    /// took: a task that ends leaves alone a record that a later task has taken, or that it
    /// never took (stopped before it got that far).
    pub async fn set_status_if_taken_by(
        &self,
        namespace: &str,
        task: &str,
        status: Status,
        message: Option<&str>,
        fence: &Fence,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE environments SET status = $1, message = $2, updated_at = $3 \
             WHERE namespace = $4 AND task_id = $5 {}",
            fenced(Some(fence), 6)
        );
        let query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(message)
            .bind(now_millis())
            .bind(namespace)
            .bind(task);
        let done = fence.bind(query).execute(self.store.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets the environment in `namespace` (its drift log stays, as history); `false` when
    /// `fence`'s lease was lost.
    pub async fn remove(&self, namespace: &str, fence: Option<&Fence>) -> Result<bool> {
        let sql = format!(
            "DELETE FROM environments WHERE namespace = $1 {}",
            fenced(fence, 2)
        );
        let query = sqlx::query(&sql).bind(namespace);
        let done = bind_fence(query, fence).execute(self.store.pool()).await?;
        // Already gone is what was wanted; only a lost lease is a refusal.
        Ok(done.rows_affected() == 1 || self.still_held(fence).await?)
    }

    /// Whether `fence` (if any) still holds its task: tells a write that found nothing to change
    /// from one its lost lease refused.
    async fn still_held(&self, fence: Option<&Fence>) -> Result<bool> {
        let Some(fence) = fence else {
            return Ok(true);
        };
        let sql = format!("SELECT 1 AS held WHERE {}", Fence::condition(1));
        let row = fence
            .bind(sqlx::query(&sql))
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.is_some())
    }

    pub async fn get(&self, namespace: &str) -> Result<Option<Record>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM environments WHERE namespace = $1"
        ))
        .bind(namespace)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Every environment, by namespace.
    pub async fn list(&self) -> Result<Vec<Record>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM environments ORDER BY namespace"
        ))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// Appends a drift event.
    pub async fn drifted(
        &self,
        namespace: &str,
        object: &str,
        change: &str,
        detail: &serde_json::Value,
        action: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO drift_events (namespace, object, change, detail, action, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(namespace)
        .bind(object)
        .bind(change)
        .bind(detail.to_string())
        .bind(action)
        .bind(now_millis())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` drift events of `namespace`, newest first.
    pub async fn drift(&self, namespace: &str, limit: i64) -> Result<Vec<Drift>> {
        let rows = sqlx::query(
            "SELECT id, namespace, object, change, detail, action, at FROM drift_events \
             WHERE namespace = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(namespace)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(Drift {
                    id: r.try_get("id")?,
                    namespace: r.try_get("namespace")?,
                    object: r.try_get("object")?,
                    change: r.try_get("change")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    action: r.try_get("action")?,
                    at_millis: r.try_get("at")?,
                })
            })
            .collect()
    }
}

/// The expiry of ephemeral environments (see `expiry.rs`): what the reaper reads, what an
/// extension and a reminder write. None of these writes is made within a task, so none is fenced.
impl Records {
    /// Every environment with an expiry at or before `until`, soonest first.
    pub async fn expiring(&self, until: i64) -> Result<Vec<Record>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM environments \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, namespace"
        ))
        .bind(until)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// Moves the expiry of `namespace` to `expires_at` and clears its reminder, so that the new
    /// expiry is announced in its turn. Only an environment that has an expiry, has not expired
    /// by `now` and is not being destroyed is changed: the reaper may already have acted on one
    /// that has. `false` when nothing was changed.
    pub async fn extend(&self, namespace: &str, expires_at: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE environments SET expires_at = $1, reminded_at = NULL \
             WHERE namespace = $2 AND expires_at IS NOT NULL AND expires_at > $3 \
             AND status <> $4",
        )
        .bind(expires_at)
        .bind(namespace)
        .bind(now)
        .bind(Status::Destroying.as_str())
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the team of `namespace` was reminded, at `now`, of the expiry `expires_at`;
    /// `false` when it already was (or the expiry has moved since it was read), so that the one
    /// caller that gets `true` sends the reminder and nobody sends it twice.
    pub async fn remind(&self, namespace: &str, expires_at: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE environments SET reminded_at = $1 \
             WHERE namespace = $2 AND expires_at = $3 AND reminded_at IS NULL",
        )
        .bind(now)
        .bind(namespace)
        .bind(expires_at)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
