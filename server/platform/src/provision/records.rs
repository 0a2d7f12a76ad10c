//! What Causeway remembers about the environments it provisioned: the last accepted request for
//! each (which the drift reconciler renders again) and the drift seen in them.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

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
    pub created_at_millis: i64,
    pub updated_at_millis: i64,
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
                       requested_by, status, message, created_at, updated_at";

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
        created_at_millis: row.try_get("created_at")?,
        updated_at_millis: row.try_get("updated_at")?,
    })
}

impl Records {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records a request about to be carried out (status `applying`), keeping the creation time of
    /// an existing record.
    pub async fn begin(&self, record: &Record) -> Result<()> {
        let now = now_millis();
        sqlx::query(&format!(
            "INSERT INTO environments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $9) \
             ON CONFLICT (namespace) DO UPDATE SET service = excluded.service, \
             environment = excluded.environment, target = excluded.target, \
             parameters = excluded.parameters, request_id = excluded.request_id, \
             requested_by = excluded.requested_by, status = excluded.status, message = NULL, \
             updated_at = excluded.updated_at"
        ))
        .bind(&record.namespace)
        .bind(&record.service)
        .bind(&record.environment)
        .bind(&record.target)
        .bind(serde_json::to_string(&record.parameters).unwrap_or_else(|_| "{}".to_owned()))
        .bind(&record.request_id)
        .bind(&record.requested_by)
        .bind(Status::Applying.as_str())
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Sets the status (and an explanation) of the environment in `namespace`.
    pub async fn set_status(
        &self,
        namespace: &str,
        status: Status,
        message: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE environments SET status = $1, message = $2, updated_at = $3 WHERE namespace = $4",
        )
        .bind(status.as_str())
        .bind(message)
        .bind(now_millis())
        .bind(namespace)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Forgets the environment in `namespace` (its drift log stays, as history).
    pub async fn remove(&self, namespace: &str) -> Result<()> {
        sqlx::query("DELETE FROM environments WHERE namespace = $1")
            .bind(namespace)
            .execute(self.store.pool())
            .await?;
        Ok(())
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
