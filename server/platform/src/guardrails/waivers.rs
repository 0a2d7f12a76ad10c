//! Waivers: a platform admin sets one policy aside for one service, with a reason and an expiry.
//! An expired waiver stops applying by itself, because every read filters on the time.

use serde::Serialize;
use sqlx::Row;

use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::refs;
use crate::identity::{Principal, Role};
use crate::store::Store;
use crate::time::now_millis;
use crate::{Error, Result};

/// Longest a waiver may last: a year, so that every exception is looked at again.
pub const MAX_WAIVER_MILLIS: i64 = 366 * 24 * 3600 * 1000;

/// One waiver, granted in the portal or API, or written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    /// A UUID, or `config:<name>` for a waiver written in the configuration.
    pub id: String,
    pub policy: String,
    /// The component's normalised reference.
    pub service: String,
    pub reason: String,
    pub expires_at_millis: i64,
    /// Who granted it (an entity reference), or `platform configuration`.
    pub granted_by: String,
    pub granted_at_millis: i64,
}

impl Waiver {
    /// Whether it sets `policy` aside for `service` at `now`.
    pub fn covers(&self, policy: &str, service: &str, now: i64) -> bool {
        self.policy == policy && self.service == service && now < self.expires_at_millis
    }
}

/// A waiver being granted.
#[derive(Debug, Clone)]
pub struct NewWaiver {
    pub policy: String,
    pub service: String,
    pub reason: String,
    pub expires_at_millis: i64,
}

/// The waivers table.
#[derive(Debug, Clone)]
pub struct Waivers {
    store: Store,
    audit: AuditLog,
}

const COLUMNS: &str = "id, policy, service, reason, expires_at, granted_by, granted_at";

impl Waivers {
    pub fn new(store: Store, audit: AuditLog) -> Self {
        Self { store, audit }
    }

    /// Grants `waiver`: platform admins only; the policy must exist (`known`), the reason be
    /// given and the expiry lie within a year. Audited.
    pub async fn grant(
        &self,
        principal: &Principal,
        waiver: NewWaiver,
        known: &[String],
        request_id: Option<&str>,
    ) -> Result<Waiver> {
        if principal.role != Role::PlatformAdmin {
            return Err(Error::Forbidden(
                "only platform admins waive a policy".to_owned(),
            ));
        }
        if !known.iter().any(|p| p == &waiver.policy) {
            return Err(Error::invalid(
                "policy",
                format!(
                    "{:?} is not a policy of the active configuration; expected one of {}",
                    waiver.policy,
                    known.join(", ")
                ),
            ));
        }
        let service = refs::parse(&waiver.service, "component", "default")
            .map_err(|message| Error::invalid("service", message))?;
        if waiver.reason.trim().is_empty() {
            return Err(Error::invalid("reason", "is empty; a waiver says why"));
        }
        let now = now_millis();
        if waiver.expires_at_millis <= now {
            return Err(Error::invalid(
                "expires",
                "is in the past; a waiver expires later than now",
            ));
        }
        if waiver.expires_at_millis > now + MAX_WAIVER_MILLIS {
            return Err(Error::invalid(
                "expires",
                "is more than a year away; waivers last at most a year",
            ));
        }
        let granted = Waiver {
            id: uuid::Uuid::new_v4().to_string(),
            policy: waiver.policy,
            service,
            reason: waiver.reason.trim().to_owned(),
            expires_at_millis: waiver.expires_at_millis,
            granted_by: principal.entity_ref.clone(),
            granted_at_millis: now,
        };
        sqlx::query(&format!(
            "INSERT INTO policy_waivers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&granted.id)
        .bind(&granted.policy)
        .bind(&granted.service)
        .bind(&granted.reason)
        .bind(granted.expires_at_millis)
        .bind(&granted.granted_by)
        .bind(granted.granted_at_millis)
        .execute(self.store.pool())
        .await?;
        self.audit
            .record(Entry {
                actor: &principal.entity_ref,
                action: "policy.waive",
                target: &granted.service,
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "waiver": granted.id,
                    "policy": granted.policy,
                    "reason": granted.reason,
                    "expires": crate::time::iso(granted.expires_at_millis),
                }),
                request_id,
            })
            .await?;
        Ok(granted)
    }

    /// Revokes the waiver `id` now: platform admins only; audited.
    pub async fn revoke(
        &self,
        principal: &Principal,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<()> {
        if principal.role != Role::PlatformAdmin {
            return Err(Error::Forbidden(
                "only platform admins revoke a waiver".to_owned(),
            ));
        }
        let done = sqlx::query(
            "UPDATE policy_waivers SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("waiver {id}")));
        }
        self.audit
            .record(Entry {
                actor: &principal.entity_ref,
                action: "policy.waiver-revoke",
                target: id,
                outcome: Outcome::Success,
                detail: serde_json::json!({}),
                request_id,
            })
            .await?;
        Ok(())
    }

    /// The waivers in force now, for `service` (every service when `None`).
    pub async fn active(&self, service: Option<&str>) -> Result<Vec<Waiver>> {
        let now = now_millis();
        let rows = match service {
            Some(service) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM policy_waivers \
                     WHERE service = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY granted_at"
                ))
                .bind(service)
                .bind(now)
                .fetch_all(self.store.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM policy_waivers \
                     WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY granted_at"
                ))
                .bind(now)
                .fetch_all(self.store.pool())
                .await?
            }
        };
        rows.into_iter()
            .map(|row| {
                Ok(Waiver {
                    id: row.try_get("id")?,
                    policy: row.try_get("policy")?,
                    service: row.try_get("service")?,
                    reason: row.try_get("reason")?,
                    expires_at_millis: row.try_get("expires_at")?,
                    granted_by: row.try_get("granted_by")?,
                    granted_at_millis: row.try_get("granted_at")?,
                })
            })
            .collect()
    }
}
