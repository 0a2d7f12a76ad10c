//! Who may change the catalog, and the audit record of each change, in one place: every door
//! (REST, portal, command line) calls these methods, so none can forget a check or audit a change
//! in a shape of its own.

use serde_json::{Value, json};

use super::locations::{ReadPolicy, Registered};
use super::{Catalog, IngestReport};
use crate::audit::{Entry, Outcome};
use crate::identity::{Principal, Role};
use crate::{Error, Result};

impl Catalog {
    /// Records `action` on `target` by `principal` with how `result` ended (`denied` for a refusal
    /// by a rule or policy) and `detail`; a failure to audit is logged rather than undoing the
    /// change.
    pub(super) async fn audited<T>(
        &self,
        principal: &str,
        action: &str,
        target: &str,
        result: &Result<T>,
        detail: impl FnOnce(&T) -> Value,
        request_id: Option<&str>,
    ) {
        let Some(audit) = &self.audit else {
            return;
        };
        let (outcome, detail) = match result {
            Ok(value) => (Outcome::Success, detail(value)),
            Err(error @ (Error::Forbidden(_) | Error::PolicyDenied(_))) => {
                (Outcome::Denied, json!({ "error": error.to_string() }))
            }
            Err(error) => (Outcome::Failed, json!({ "error": error.to_string() })),
        };
        if let Err(error) = audit
            .record(Entry {
                actor: principal,
                action,
                target,
                outcome,
                detail,
                request_id,
            })
            .await
        {
            tracing::error!(%error, action, "could not write an audit record");
        }
    }

    /// Deletes the entity `uid` as `principal`: members of its owning team and platform admins
    /// may. `Ok(None)` when there is no such entity (a delete of nothing, as in Backstage).
    /// Audited as `catalog.delete`.
    pub async fn delete_as(
        &self,
        principal: &Principal,
        uid: &str,
        request_id: Option<&str>,
    ) -> Result<Option<String>> {
        let entity_ref = self.index().by_uid(uid).map(|e| e.entity_ref().to_string());
        let Some(entity_ref) = entity_ref else {
            return Ok(None);
        };
        let result = if self.may_change(principal, &entity_ref) {
            self.delete_by_uid(uid).await
        } else {
            Err(Error::Forbidden(format!(
                "only members of the team that owns {entity_ref} (or platform admins) may delete it"
            )))
        };
        self.audited(
            &principal.entity_ref,
            "catalog.delete",
            &entity_ref,
            &result,
            |_| json!({ "uid": uid }),
            request_id,
        )
        .await;
        result.map(|_| Some(entity_ref))
    }

    /// Whether `principal` may change `entity_ref`: platform admins, and members of its owning
    /// team.
    pub fn may_change(&self, principal: &Principal, entity_ref: &str) -> bool {
        if principal.role == Role::PlatformAdmin {
            return true;
        }
        let index = self.index();
        index
            .by_ref(entity_ref)
            .is_some_and(|entity| index.owners(entity).iter().any(|o| principal.acts_for(o)))
    }

    /// Registers a location as `principal`, platform admins only: a location is read by the
    /// server and refreshed without anyone watching, so it can reach files on the server and its
    /// content is stored unreviewed (developers bring their entities through imports, which
    /// check ownership). Audited as `catalog.location.register` unless a dry run.
    pub async fn register_location(
        &self,
        principal: &Principal,
        kind: &str,
        target: &str,
        dry_run: bool,
        policy: &ReadPolicy,
        request_id: Option<&str>,
    ) -> Result<Registered> {
        let result = if principal.role == Role::PlatformAdmin {
            self.register_as(kind, target, dry_run, policy, Some(principal))
                .await
        } else {
            Err(Error::Forbidden(
                "only platform admins may register locations; upload descriptors with POST /api/catalog/import instead".to_owned(),
            ))
        };
        if !dry_run {
            self.audited(
                &principal.entity_ref,
                "catalog.location.register",
                &format!("{kind}:{target}"),
                &result,
                |registered| {
                    json!({
                        "location": registered.location.id,
                        "added": registered.report.added.len(),
                        "warnings": registered.report.warnings,
                    })
                },
                request_id,
            )
            .await;
        }
        result
    }

    /// Unregisters the location `id` and deletes its entities as `principal`, platform admins
    /// only; audited as `catalog.location.unregister`.
    pub async fn unregister_as(
        &self,
        principal: &Principal,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Vec<String>> {
        let result = if principal.role == Role::PlatformAdmin {
            self.unregister(id).await
        } else {
            Err(Error::Forbidden(
                "only platform admins may unregister locations".to_owned(),
            ))
        };
        self.audited(
            &principal.entity_ref,
            "catalog.location.unregister",
            id,
            &result,
            |deleted| json!({ "deleted": deleted }),
            request_id,
        )
        .await;
        result
    }

    /// [`Catalog::refresh_entity`], audited as `catalog.refresh`.
    pub async fn refresh_as(
        &self,
        principal: &Principal,
        entity_ref: &str,
        policy: &ReadPolicy,
        request_id: Option<&str>,
    ) -> Result<IngestReport> {
        let result = self.refresh_entity(principal, entity_ref, policy).await;
        self.audited(
            &principal.entity_ref,
            "catalog.refresh",
            entity_ref,
            &result,
            |report| {
                json!({
                    "added": report.added.len(),
                    "updated": report.updated.len(),
                    "orphaned": report.orphaned,
                })
            },
            request_id,
        )
        .await;
        result
    }
}
