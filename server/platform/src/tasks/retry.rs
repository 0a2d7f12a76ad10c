//! Retrying a task that failed or was cancelled: it is opened again and its unfinished steps run
//! from where it stopped (its finished steps are not repeated), by whichever worker claims it.

use super::{Task, Tasks};
use crate::audit::{AuditLog, Entry, Outcome};
use crate::identity::Principal;
use crate::time::now_millis;
use crate::{Error, Result};

impl Tasks {
    /// Opens task `id` again for its requester, its team or a platform admin; audited as
    /// `task.retry`.
    pub async fn retry_as(
        &self,
        principal: &Principal,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Task> {
        let task = self
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))?;
        let result = if task.cancellable_by(principal) {
            self.reopen(&task, &principal.entity_ref).await
        } else {
            Err(Error::Forbidden(format!(
                "task {id} was requested by {}; only its requester, its team and platform admins may retry it",
                task.requester
            )))
        };
        let entry = Entry {
            actor: &principal.entity_ref,
            action: "task.retry",
            target: id,
            outcome: match &result {
                Ok(_) => Outcome::Success,
                Err(Error::Forbidden(_)) => Outcome::Denied,
                Err(_) => Outcome::Failed,
            },
            detail: serde_json::json!({ "task": id, "kind": task.kind, "error": result.as_ref().err().map(ToString::to_string) }),
            request_id,
        };
        if let Err(error) = AuditLog::new(self.store.clone()).record(entry).await {
            tracing::error!(%error, task = %id, "could not audit a task retry");
        }
        result
    }

    async fn reopen(&self, task: &Task, by: &str) -> Result<Task> {
        let now = now_millis();
        let mut tx = self.store.pool().begin().await?;
        let reopened = sqlx::query(
            "UPDATE tasks SET status = 'open', attempts = 0, lease_owner = NULL, lease_expires_at = NULL, \
             cancel_requested = 0, error = NULL, output = NULL, finished_at = NULL, updated_at = $1 \
             WHERE id = $2 AND status IN ('failed', 'cancelled')",
        )
        .bind(now)
        .bind(&task.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => Error::Conflict(format!(
                "{} has another task that has not finished; wait for it or cancel it",
                task.title
            )),
            _ => Error::from(e),
        })?;
        if reopened.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "task {} is {}; only failed or cancelled tasks can be retried",
                task.id,
                task.status.as_str()
            )));
        }
        sqlx::query(
            "UPDATE task_steps SET status = 'pending', message = NULL, finished_at = NULL \
             WHERE task_id = $1 AND status <> 'completed'",
        )
        .bind(&task.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO task_events (task_id, at, step, level, message) VALUES ($1, $2, NULL, 'info', $3)",
        )
        .bind(&task.id)
        .bind(now)
        .bind(format!("Retried by {by}"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.created.notify_one();
        self.get(&task.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {}", task.id)))
    }
}
