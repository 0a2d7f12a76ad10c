//! Who may upgrade a service, and what the engine believes about it: the catalog's copy of the
//! service and its owners, whatever the caller sent.

use serde_json::Value;

use super::super::Scaffolder;
use super::entity_ref;
use crate::identity::{Principal, Role};
use crate::{Error, Result};

impl Scaffolder {
    /// The catalog's copy of `entity`: the owner and the repository are read from what the
    /// catalog knows, whatever the caller sent, so that no one directs an upgrade to a repository
    /// by sending an entity of their own making. Only an engine without a catalog (the command
    /// line's) takes the entity as given.
    pub(super) fn catalog_copy(&self, entity: &Value) -> Result<Value> {
        let Some(catalog) = &self.catalog else {
            return Ok(entity.clone());
        };
        let entity_ref = entity_ref(entity);
        let index = catalog.index();
        index
            .by_ref(&entity_ref)
            .map(|stored| index.body_value(stored))
            .ok_or_else(|| Error::NotFound(entity_ref))
    }

    /// The service's owners: the catalog's `ownedBy` relations, or its `spec.owner` when the
    /// catalog does not hold it.
    pub(super) fn owners(&self, service_ref: &str, service: &Value) -> Vec<String> {
        if let Some(catalog) = &self.catalog {
            let index = catalog.index();
            if let Some(stored) = index.by_ref(service_ref) {
                return index.owners(stored);
            }
        }
        service
            .pointer("/spec/owner")
            .and_then(Value::as_str)
            .and_then(|owner| crate::catalog::refs::parse(owner, "group", "default").ok())
            .into_iter()
            .collect()
    }

    /// The rule of who upgrades a service: its owning team and platform admins, as for its
    /// environments (`provision/access.rs`) and its catalog entry (`catalog/rules.rs`).
    pub(super) fn authorize_upgrade(
        &self,
        principal: &Principal,
        service_ref: &str,
        service: &Value,
    ) -> Result<()> {
        if principal.role == Role::PlatformAdmin {
            return Ok(());
        }
        let owners = self.owners(service_ref, service);
        if owners.iter().any(|o| principal.acts_for(o)) {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "{service_ref} is owned by {}; only its team (or platform admins) may upgrade it",
            if owners.is_empty() {
                "nobody".to_owned()
            } else {
                owners.join(", ")
            }
        )))
    }

    /// The person the service was created for, as its run saw them (the run's requester and
    /// their catalog entity then), so that `user.ref` and `user.entity` render in both versions
    /// as they did at creation; the person upgrading when the run is no longer kept.
    pub(super) async fn creator(&self, task_id: &str, fallback: &Principal) -> Result<Creator> {
        if let Some(services) = &self.services
            && let Some(task) = services.tasks.get(task_id).await?
            && task.kind == super::super::task::RUN
        {
            return Ok(Creator {
                user_entity: task.input.get("user_entity").cloned().unwrap_or_default(),
                user_ref: task.requester,
            });
        }
        Ok(Creator {
            user_ref: fallback.entity_ref.clone(),
            user_entity: self.user_entity(fallback),
        })
    }
}

/// Who a service was created for.
#[derive(Debug, Clone)]
pub(super) struct Creator {
    pub user_ref: String,
    pub user_entity: Value,
}
