//! Claiming tasks and everything a worker writes while it holds one. A claim sets the task's
//! `lease_owner` to a holder unique to that claim (the worker's name and a fresh token) and
//! `lease_expires_at`; the worker renews the lease while it runs, and every write it makes is
//! conditional on its holder still owning the task. A worker that lost its lease (paused, cut
//! off), even one that later claimed the same task again, cannot overwrite the progress of the
//! claim that took over.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use super::Tasks;
use crate::Result;
use crate::store::Engine;
use crate::time::now_millis;

/// A task a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    /// This claim's holder (`worker/token`): what every later write names.
    pub holder: String,
    pub kind: String,
    pub input: Value,
    pub requester: String,
    /// Including this claim.
    pub attempts: i64,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `WHERE` condition of every write a worker makes: it still holds the task.
const HELD: &str = "EXISTS (SELECT 1 FROM tasks t WHERE t.id = $1 AND t.lease_owner = $2 \
                    AND t.status = 'processing')";

/// One claim of one task, carried into writes outside the task tables (an environment's record,
/// for one) so that they too land only while the claim still holds the task. A worker that was
/// paused past its lease then finds its late writes refused instead of overwriting the progress
/// of the worker that took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub task: String,
    pub holder: String,
}

impl Fence {
    /// The SQL condition that holds while this claim owns the task, with the task id bound at
    /// `$first` and the holder at the placeholder after it (see [`Fence::bind`]).
    pub fn condition(first: usize) -> String {
        format!(
            "EXISTS (SELECT 1 FROM tasks t WHERE t.id = ${first} AND t.lease_owner = ${} \
             AND t.status = 'processing')",
            first + 1
        )
    }

    /// Binds the task id and the holder, in the order [`Fence::condition`] expects.
    pub fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        query.bind(&self.task).bind(&self.holder)
    }
}

impl Tasks {
    /// Claims the oldest task that is open or whose worker's lease has expired.
    ///
    /// On PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so concurrent
    /// workers pick different tasks without waiting for each other. SQLite runs one write at a
    /// time, which makes the single `UPDATE … WHERE id = (SELECT …)` atomic there as it is.
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>> {
        self.claim_where(worker, lease, None, &[]).await
    }

    /// [`Tasks::claim`], of these kinds only (a worker leaves kinds it cannot run to others).
    pub async fn claim_kinds(
        &self,
        worker: &str,
        lease: Duration,
        kinds: &[String],
    ) -> Result<Option<Claimed>> {
        self.claim_where(worker, lease, None, kinds).await
    }

    /// Claims task `id` if it is open or its worker's lease has expired.
    pub async fn claim_task(
        &self,
        worker: &str,
        lease: Duration,
        id: &str,
    ) -> Result<Option<Claimed>> {
        self.claim_where(worker, lease, Some(id), &[]).await
    }

    async fn claim_where(
        &self,
        worker: &str,
        lease: Duration,
        only: Option<&str>,
        kinds: &[String],
    ) -> Result<Option<Claimed>> {
        let now = now_millis();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let holder = format!("{worker}/{}", &token[..12]);
        // Kinds are bound like every other value: $5, $6, …
        let kind_filter = if kinds.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
            format!("AND kind IN ({})", marks.join(", "))
        };
        let lock = match self.store().engine() {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE tasks SET status = 'processing', lease_owner = $1, lease_expires_at = $2, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
             WHERE id = (SELECT id FROM tasks WHERE (status = 'open' \
                         OR (status = 'processing' AND lease_expires_at < $3)) \
                         AND ($4 = '' OR id = $4) {kind_filter} \
                         ORDER BY created_at, id LIMIT 1 {lock}) \
             RETURNING id, kind, input, requester, attempts"
        );
        let mut query = sqlx::query(&sql)
            .bind(&holder)
            .bind(now + millis(lease))
            .bind(now)
            .bind(only.unwrap_or(""));
        for kind in kinds {
            query = query.bind(kind);
        }
        let row = query.fetch_optional(self.store().pool()).await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let input: String = row.try_get("input")?;
        Ok(Some(Claimed {
            holder,
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            input: serde_json::from_str(&input).unwrap_or(Value::Null),
            requester: row.try_get("requester")?,
            attempts: row.try_get("attempts")?,
        }))
    }

    /// Extends the lease; `false` when `holder` no longer holds the task.
    pub async fn heartbeat(&self, id: &str, holder: &str, lease: Duration) -> Result<bool> {
        let now = now_millis();
        let done = sqlx::query(
            "UPDATE tasks SET lease_expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
        )
        .bind(id)
        .bind(holder)
        .bind(now + millis(lease))
        .bind(now)
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether `fence`'s claim still holds its task; checked just before a write that cannot be
    /// made conditional (a call to a cluster, a git commit).
    pub async fn holds(&self, fence: &Fence) -> Result<bool> {
        let sql = format!("SELECT 1 AS held WHERE {}", Fence::condition(1));
        let row = fence
            .bind(sqlx::query(&sql))
            .fetch_optional(self.store().pool())
            .await?;
        Ok(row.is_some())
    }

    /// Whether someone asked for the task to stop.
    pub async fn cancel_requested(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT cancel_requested FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(self.store().pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>("cancel_requested")? != 0,
            None => false,
        })
    }

    /// Marks step `position` running (one more attempt); `false` when the lease is lost.
    pub async fn step_started(&self, id: &str, holder: &str, position: i64) -> Result<bool> {
        let now = now_millis();
        let done = sqlx::query(&format!(
            "UPDATE task_steps SET status = 'running', attempts = attempts + 1, \
             started_at = COALESCE(started_at, $4), message = NULL \
             WHERE task_id = $1 AND position = $3 AND {HELD}"
        ))
        .bind(id)
        .bind(holder)
        .bind(position)
        .bind(now)
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends step `position` with `status` (`completed`, `failed`, `cancelled`).
    pub async fn step_finished(
        &self,
        id: &str,
        holder: &str,
        position: i64,
        status: &str,
        message: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE task_steps SET status = $4, finished_at = $5, message = $6 \
             WHERE task_id = $1 AND position = $3 AND {HELD}"
        ))
        .bind(id)
        .bind(holder)
        .bind(position)
        .bind(status)
        .bind(now_millis())
        .bind(message)
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends a line to the task's log, as `holder`; nothing when the lease is lost.
    pub async fn log(
        &self,
        id: &str,
        holder: &str,
        step: Option<&str>,
        level: &str,
        message: &str,
    ) -> Result<bool> {
        let done = sqlx::query(&format!(
            "INSERT INTO task_events (task_id, at, step, level, message, worker) \
             SELECT $1, $3, $4, $5, $6, $2 WHERE {HELD}"
        ))
        .bind(id)
        .bind(holder)
        .bind(now_millis())
        .bind(step)
        .bind(level)
        .bind(message)
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends the task: its status, error and output, and (for a cancelled task) its remaining
    /// steps. `false` when the lease is lost.
    pub async fn finish(
        &self,
        id: &str,
        holder: &str,
        status: super::TaskStatus,
        error: Option<&str>,
        output: Option<&Value>,
    ) -> Result<bool> {
        let now = now_millis();
        let mut tx = self.store().pool().begin().await?;
        if status == super::TaskStatus::Cancelled {
            sqlx::query(&format!(
                "UPDATE task_steps SET status = 'cancelled' WHERE task_id = $1 \
                 AND status IN ('pending', 'running') AND {HELD}"
            ))
            .bind(id)
            .bind(holder)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query(
            "UPDATE tasks SET status = $3, error = $4, output = $5, finished_at = $6, \
             updated_at = $6, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
        )
        .bind(id)
        .bind(holder)
        .bind(status.as_str())
        .bind(error)
        .bind(output.map(Value::to_string))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
