//! The `approvals` table. Every change of an approval's status is conditional on the status it
//! had when it was read, in the same statement, so two approvers deciding at once cannot both
//! win: the second finds nothing to change and is told the approval was already decided.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::fingerprint::{Fingerprint, PlanChange};
use super::{Approval, ApprovalStatus};
use crate::provision::Requester;
use crate::time::now_millis;
use crate::{Result, Store};

const COLUMNS: &str = "id, rule, approvers, service, environment, namespace, parameters, adopt, \
    request_id, requested_by, requester_name, requester_email, plan_hash, plan, status, reason, \
    changes, decided_by, comment, task_id, created_at, decided_at";

/// Which approvals to list.
#[derive(Debug, Clone, Default)]
pub struct ApprovalFilter {
    pub status: Option<ApprovalStatus>,
    /// The component's normalised entity reference.
    pub service: Option<String>,
    pub environment: Option<String>,
    pub namespace: Option<String>,
    /// At most this many, newest first (at most 500).
    pub limit: i64,
}

/// The approvals table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    store: Store,
}

fn approval(row: &AnyRow) -> Result<Approval> {
    let text = |name: &str| -> Result<String> { Ok(row.try_get::<String, _>(name)?) };
    let status: String = row.try_get("status")?;
    let changes: Option<String> = row.try_get("changes")?;
    let adopt: i64 = row.try_get("adopt")?;
    Ok(Approval {
        id: text("id")?,
        rule: text("rule")?,
        approvers: serde_json::from_str(&text("approvers")?).unwrap_or_default(),
        service: text("service")?,
        environment: text("environment")?,
        namespace: text("namespace")?,
        parameters: serde_json::from_str::<BTreeMap<String, String>>(&text("parameters")?)
            .unwrap_or_default(),
        adopt: adopt != 0,
        request_id: text("request_id")?,
        requester: Requester {
            entity_ref: text("requested_by")?,
            name: text("requester_name")?,
            email: text("requester_email")?,
        },
        plan_hash: text("plan_hash")?,
        plan: serde_json::from_str::<Fingerprint>(&text("plan")?).map_err(|e| {
            crate::Error::Conflict(format!("the stored plan of an approval is unreadable: {e}"))
        })?,
        status: ApprovalStatus::parse(&status),
        reason: row.try_get("reason")?,
        changes: changes
            .and_then(|c| serde_json::from_str::<Vec<PlanChange>>(&c).ok())
            .unwrap_or_default(),
        decided_by: row.try_get("decided_by")?,
        comment: row.try_get("comment")?,
        task_id: row.try_get("task_id")?,
        created_at_millis: row.try_get("created_at")?,
        decided_at_millis: row.try_get("decided_at")?,
    })
}

impl Table {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }

    /// Stores `new` (pending) and voids every other pending approval of its namespace, which it
    /// supersedes, in one transaction. Returns the ids of the superseded approvals.
    pub(crate) async fn insert_superseding(&self, new: &Approval) -> Result<Vec<String>> {
        let mut tx = self.store.pool().begin().await?;
        let superseded: Vec<String> = sqlx::query(
            "SELECT id FROM approvals WHERE namespace = $1 AND status = 'pending' AND id <> $2",
        )
        .bind(&new.namespace)
        .bind(&new.id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<std::result::Result<_, _>>()?;
        let reason = format!(
            "superseded by approval {} requested by {}",
            new.id, new.requester.entity_ref
        );
        for id in &superseded {
            sqlx::query(
                "UPDATE approvals SET status = 'void', reason = $1, changes = '[]', decided_at = $2 \
                 WHERE id = $3 AND status = 'pending'",
            )
            .bind(&reason)
            .bind(now_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO approvals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, NULL, NULL, NULL, NULL, NULL, $16, NULL)"
        ))
        .bind(&new.id)
        .bind(&new.rule)
        .bind(serde_json::to_string(&new.approvers).unwrap_or_default())
        .bind(&new.service)
        .bind(&new.environment)
        .bind(&new.namespace)
        .bind(serde_json::to_string(&new.parameters).unwrap_or_default())
        .bind(i64::from(new.adopt))
        .bind(&new.request_id)
        .bind(&new.requester.entity_ref)
        .bind(&new.requester.name)
        .bind(&new.requester.email)
        .bind(&new.plan_hash)
        .bind(serde_json::to_string(&new.plan).unwrap_or_default())
        .bind(new.status.as_str())
        .bind(new.created_at_millis)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(superseded)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Approval>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(approval).transpose()
    }

    pub(crate) async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for (column, value) in [
            ("status", filter.status.map(|s| s.as_str().to_owned())),
            ("service", filter.service.clone()),
            ("environment", filter.environment.clone()),
            ("namespace", filter.namespace.clone()),
        ] {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        let condition = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM approvals {condition} ORDER BY created_at DESC, id LIMIT ${}",
            values.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for value in &values {
            query = query.bind(value);
        }
        let rows = query
            .bind(filter.limit.clamp(1, 500))
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(approval).collect()
    }

    /// Moves a pending approval to `status` with its decision; false when it was no longer
    /// pending.
    pub(crate) async fn decide(
        &self,
        id: &str,
        status: ApprovalStatus,
        decided_by: &str,
        comment: Option<&str>,
        reason: Option<&str>,
        changes: &[PlanChange],
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE approvals SET status = $1, decided_by = $2, comment = $3, reason = $4, \
             changes = $5, decided_at = $6 WHERE id = $7 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(decided_by)
        .bind(comment)
        .bind(reason)
        .bind(serde_json::to_string(changes).unwrap_or_default())
        .bind(now_millis())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the apply task an approval started.
    pub(crate) async fn set_task(&self, id: &str, task_id: &str) -> Result<()> {
        sqlx::query("UPDATE approvals SET task_id = $1 WHERE id = $2 AND status = 'approved'")
            .bind(task_id)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Puts an approval whose task could not be started back to pending, so that nothing is left
    /// approved without an apply.
    pub(crate) async fn reopen(&self, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE approvals SET status = 'pending', decided_by = NULL, comment = NULL, \
             decided_at = NULL WHERE id = $1 AND status = 'approved' AND task_id IS NULL",
        )
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}
