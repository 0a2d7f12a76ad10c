//! The upgrade records (`template_upgrades`): for each service and target version, how the last
//! attempt to move the service there ended. The upgrade task writes them under its lease, so a
//! worker that lost its task writes nothing; the change-request poller moves `open` and
//! `conflict` records to `merged` or `closed`.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tasks::lease::Fence;
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// Where an upgrade stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpgradeState {
    /// Asked for; its task has not reached the service yet.
    Pending,
    /// The service already had everything the new version changes; nothing was pushed.
    Current,
    /// A change request merges cleanly.
    Open,
    /// A change request with conflicts marked in the files listed.
    Conflict,
    /// The attempt failed; the record's message says why.
    Failed,
    /// The change request was merged: the service is on the new version.
    Merged,
    /// The change request was closed without merging.
    Closed,
}

impl UpgradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Current => "current",
            Self::Open => "open",
            Self::Conflict => "conflict",
            Self::Failed => "failed",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }

    /// The state named `text`, or an error naming the field.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "pending" => Self::Pending,
            "current" => Self::Current,
            "open" => Self::Open,
            "conflict" => Self::Conflict,
            "failed" => Self::Failed,
            "merged" => Self::Merged,
            "closed" => Self::Closed,
            other => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "{other:?} is not an upgrade status; expected pending, current, open, conflict, failed, merged or closed"
                    ),
                ));
            }
        })
    }

    /// Whether a new attempt at the same version would repeat work already done: the change
    /// request exists, or nothing needed changing.
    pub fn settled(self) -> bool {
        matches!(
            self,
            Self::Current | Self::Open | Self::Conflict | Self::Merged
        )
    }

    /// Whether the git server may still change it (a change request that is open).
    pub fn awaiting_review(self) -> bool {
        matches!(self, Self::Open | Self::Conflict)
    }
}

/// One service's upgrade to one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeRecord {
    pub service: String,
    pub template: String,
    pub from_version: String,
    pub to_version: String,
    pub status: UpgradeState,
    pub branch: Option<String>,
    pub change_url: Option<String>,
    pub change_number: Option<i64>,
    pub conflicts: Vec<String>,
    pub notes: Vec<String>,
    pub message: Option<String>,
    pub task_id: Option<String>,
    pub requested_by: String,
    pub created_at_millis: i64,
    pub updated_at_millis: i64,
}

/// What an attempt found, as the task records it.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub branch: Option<String>,
    pub change_url: Option<String>,
    pub change_number: Option<i64>,
    pub conflicts: Vec<String>,
    pub notes: Vec<String>,
    pub message: Option<String>,
}

const COLUMNS: &str = "service, to_version, template, from_version, status, branch, change_url, \
     change_number, conflicts, notes, message, task_id, requested_by, created_at, updated_at";

/// The upgrade records; cheap to clone.
#[derive(Debug, Clone)]
pub struct UpgradeRecords {
    store: Store,
}

impl UpgradeRecords {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records that `service` is to move from `from_version` to `to_version` by task `task_id`.
    /// A record of an earlier attempt at the same version that failed or was closed is made
    /// pending again; a settled one is left as it is (`false`), since its change request exists.
    pub async fn ask(
        &self,
        service: &str,
        template: &str,
        from_version: &str,
        to_version: &str,
        task_id: &str,
        requested_by: &str,
    ) -> Result<bool> {
        let now = now_millis();
        let inserted = sqlx::query(&format!(
            "INSERT INTO template_upgrades ({COLUMNS}) VALUES ($1, $2, $3, $4, 'pending', NULL, NULL, \
             NULL, '[]', '[]', NULL, $5, $6, $7, $7) ON CONFLICT (service, to_version) DO NOTHING"
        ))
        .bind(service)
        .bind(to_version)
        .bind(template)
        .bind(from_version)
        .bind(task_id)
        .bind(requested_by)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        let retried = sqlx::query(
            "UPDATE template_upgrades SET status = 'pending', task_id = $1, requested_by = $2, \
             from_version = $3, message = NULL, updated_at = $4 \
             WHERE service = $5 AND to_version = $6 AND status IN ('failed', 'closed', 'pending')",
        )
        .bind(task_id)
        .bind(requested_by)
        .bind(from_version)
        .bind(now)
        .bind(service)
        .bind(to_version)
        .execute(self.store.pool())
        .await?;
        Ok(retried.rows_affected() == 1)
    }

    /// Records how the attempt of the task holding `fence` ended; `false` when the lease was
    /// lost (nothing written).
    pub async fn finish(
        &self,
        service: &str,
        to_version: &str,
        status: UpgradeState,
        attempt: &Attempt,
        fence: &Fence,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE template_upgrades SET status = $1, branch = $2, change_url = $3, \
             change_number = $4, conflicts = $5, notes = $6, message = $7, updated_at = $8 \
             WHERE service = $9 AND to_version = $10 AND {}",
            Fence::condition(11)
        );
        let query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(attempt.branch.as_deref())
            .bind(attempt.change_url.as_deref())
            .bind(attempt.change_number)
            .bind(serde_json::to_string(&attempt.conflicts).unwrap_or_default())
            .bind(serde_json::to_string(&attempt.notes).unwrap_or_default())
            .bind(attempt.message.as_deref())
            .bind(now_millis())
            .bind(service)
            .bind(to_version);
        let done = fence.bind(query).execute(self.store.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a change request's record to what the git server reports (`merged` or `closed`),
    /// only from a state awaiting review, so that two pollers agree.
    pub async fn settle(
        &self,
        service: &str,
        to_version: &str,
        status: UpgradeState,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE template_upgrades SET status = $1, updated_at = $2 \
             WHERE service = $3 AND to_version = $4 AND status IN ('open', 'conflict')",
        )
        .bind(status.as_str())
        .bind(now_millis())
        .bind(service)
        .bind(to_version)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The record of `service`'s upgrade to `to_version`.
    pub async fn get(&self, service: &str, to_version: &str) -> Result<Option<UpgradeRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM template_upgrades WHERE service = $1 AND to_version = $2"
        ))
        .bind(service)
        .bind(to_version)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Every upgrade record of `template`, newest first.
    pub async fn of_template(&self, template: &str) -> Result<Vec<UpgradeRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM template_upgrades WHERE template = $1 ORDER BY updated_at DESC"
        ))
        .bind(template)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// The records whose change request is still open (of `template` only, when given), oldest
    /// first, for the poller.
    pub async fn awaiting_review(
        &self,
        template: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UpgradeRecord>> {
        let rows =
            match template {
                Some(template) => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM template_upgrades WHERE status IN ('open', 'conflict') \
                     AND template = $1 ORDER BY updated_at LIMIT $2"
                ))
                .bind(template)
                .bind(limit)
                .fetch_all(self.store.pool())
                .await?,
                None => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM template_upgrades WHERE status IN ('open', 'conflict') \
                     ORDER BY updated_at LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.store.pool())
                .await?,
            };
        rows.iter().map(record).collect()
    }
}

fn record(row: &AnyRow) -> Result<UpgradeRecord> {
    let list = |column: &str| -> Result<Vec<String>> {
        let text: String = row.try_get(column)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    Ok(UpgradeRecord {
        service: row.try_get("service")?,
        template: row.try_get("template")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        status: UpgradeState::parse(&row.try_get::<String, _>("status")?)?,
        branch: row.try_get("branch")?,
        change_url: row.try_get("change_url")?,
        change_number: row.try_get("change_number")?,
        conflicts: list("conflicts")?,
        notes: list("notes")?,
        message: row.try_get("message")?,
        task_id: row.try_get("task_id")?,
        requested_by: row.try_get("requested_by")?,
        created_at_millis: row.try_get("created_at")?,
        updated_at_millis: row.try_get("updated_at")?,
    })
}
