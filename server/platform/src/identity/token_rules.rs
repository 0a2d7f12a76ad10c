//! Who may see and revoke which API tokens, and who may read the audit log: decided here, so that
//! every door (REST, portal, command line) asks the same question and a revocation is audited in
//! one shape.

use serde_json::json;

use super::tokens::{ApiToken, Tokens};
use super::{Principal, Role};
use crate::audit::{AuditLog, AuditRecord, Entry, Outcome};
use crate::{Error, Result};

impl Tokens {
    /// The tokens `principal` may list: their own, or (platform admins, with `all`) everyone's.
    pub async fn list_for(&self, principal: &Principal, all: bool) -> Result<Vec<ApiToken>> {
        if all && principal.role != Role::PlatformAdmin {
            return Err(Error::Forbidden(
                "only platform admins may list every user's tokens".to_owned(),
            ));
        }
        let owner = (!all).then_some(principal.entity_ref.as_str());
        self.list(owner).await
    }

    /// Revokes the token `id` as `principal`: their own, or any for platform admins. Another
    /// person's token is answered as not found, so that tokens cannot be probed; both outcomes
    /// are audited as `token.revoke`.
    pub async fn revoke_by(
        &self,
        principal: &Principal,
        id: &str,
        audit: &AuditLog,
        request_id: Option<&str>,
    ) -> Result<ApiToken> {
        let owned = self
            .list(Some(&principal.entity_ref))
            .await?
            .iter()
            .any(|t| t.id == id);
        let result = if owned || principal.role == Role::PlatformAdmin {
            self.revoke(id).await
        } else {
            Err(Error::NotFound(format!("token {id}")))
        };
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(_) if !owned && principal.role != Role::PlatformAdmin => Outcome::Denied,
            Err(_) => Outcome::Failed,
        };
        audit
            .record(Entry {
                actor: &principal.entity_ref,
                action: "token.revoke",
                target: id,
                outcome,
                detail: json!({}),
                request_id,
            })
            .await?;
        result
    }
}

impl AuditLog {
    /// The most recent `limit` records for `principal`: platform admins only (the log names
    /// every team's actions).
    pub async fn recent_for(&self, principal: &Principal, limit: i64) -> Result<Vec<AuditRecord>> {
        if principal.role != Role::PlatformAdmin {
            return Err(Error::Forbidden(
                "only platform admins may read the audit log".to_owned(),
            ));
        }
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        self.recent(limit).await
    }
}
