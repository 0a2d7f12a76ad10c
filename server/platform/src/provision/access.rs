//! Who may see and change which environments. Every door (REST, portal, CLI, tasks) asks here
//! before it acts, so that a rule is written once: members of a service's owning team and
//! platform admins change its environments; platform admins see every environment, everyone
//! else the environments of the services their teams own.

use super::records::Record;
use super::{Provisioner, Request};
use crate::catalog::refs;
use crate::identity::{Principal, Role};
use crate::{Error, Result};

impl Provisioner {
    /// Only platform admins and members of the service's owning team change its environments; an
    /// unknown service is left for [`Provisioner::prepare`] to report, field and rule included.
    pub fn authorize(&self, principal: &Principal, service: &str) -> Result<()> {
        if principal.role == Role::PlatformAdmin {
            return Ok(());
        }
        let Ok(entity_ref) = refs::parse(service, "component", "default") else {
            return Ok(());
        };
        let index = self.catalog.index();
        let Some(entity) = index.by_ref(&entity_ref) else {
            return Ok(());
        };
        let owners = index.owners(entity);
        if owners.iter().any(|o| principal.acts_for(o)) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{entity_ref} is owned by {}; only its team (or platform admins) may change its environments",
                if owners.is_empty() {
                    "nobody".to_owned()
                } else {
                    owners.join(", ")
                }
            )))
        }
    }

    /// [`Provisioner::authorize`] for a whole request: adopting a namespace Causeway did not
    /// create is for platform admins only, whatever team owns the service.
    pub fn authorize_request(&self, principal: &Principal, request: &Request) -> Result<()> {
        self.authorize(principal, &request.service)?;
        if request.adopt && principal.role != Role::PlatformAdmin {
            return Err(Error::Forbidden(
                "adopt: only platform admins adopt an existing namespace into Causeway".to_owned(),
            ));
        }
        Ok(())
    }

    /// The environments `principal` may list: every one for platform admins (the platform
    /// overview), and for anyone else those of the services their teams own. A record whose
    /// service the catalog no longer holds is an admin's to see, since no team owns it any more.
    pub async fn environments_for(&self, principal: &Principal) -> Result<Vec<Record>> {
        let records = self.records().list().await?;
        if principal.role == Role::PlatformAdmin {
            return Ok(records);
        }
        let index = self.catalog.index();
        Ok(records
            .into_iter()
            .filter(|record| {
                index.by_ref(&record.service).is_some_and(|entity| {
                    index.owners(entity).iter().any(|o| principal.acts_for(o))
                })
            })
            .collect())
    }
}
