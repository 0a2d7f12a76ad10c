//! The append-only audit log: who did what, to what, when, and how it ended. Nothing in Causeway
//! updates or deletes these rows.

use serde::Serialize;
use sqlx::Row;

use crate::time::now_millis;
use crate::{Result, Store};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// One audited action, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at_millis: i64,
    /// Entity reference of the user, or `anonymous`, or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `auth.sign-in`, `token.create`.
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
}

/// An action about to be recorded.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
    pub request_id: Option<&'a str>,
}

/// The audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Appends `entry`.
    pub async fn record(&self, entry: Entry<'_>) -> Result<()> {
        let mut conn = self.store.pool().acquire().await?;
        Self::record_in(&mut conn, entry).await
    }

    /// Appends `entry` on `conn`, which may be a transaction: the record then lands with the
    /// writes it describes, or not at all, so a reader never sees the one without the other.
    pub(crate) async fn record_in(conn: &mut sqlx::AnyConnection, entry: Entry<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, outcome, detail, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now_millis())
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.outcome.as_str())
        .bind(entry.detail.to_string())
        .bind(entry.request_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The most recent `limit` records, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, outcome, detail, request_id FROM audit_log \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    at_millis: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    outcome: r.try_get("outcome")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    request_id: r.try_get("request_id")?,
                })
            })
            .collect()
    }
}
