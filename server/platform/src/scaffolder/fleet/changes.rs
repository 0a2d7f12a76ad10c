//! Following the upgrades' change requests until the git server says how they ended. A merged
//! one moves the service to the new version: its record becomes `merged`, and the catalog reads
//! the service's location again, so its descriptor — which the merge changed to name the new
//! version — is the catalog's; a closed one is recorded as such (asking again opens a new one).
//! The host runs [`Scaffolder::follow_changes`] every minute; the fleet page asks the same.

use serde_json::json;

use super::Scaffolder;
use super::records::UpgradeState;
use crate::Result;
use crate::audit::{Entry, Outcome};
use crate::catalog::locations::ReadPolicy;
use crate::scaffolder::upgrade::ChangeState;

/// How many change requests one pass asks about, oldest first: a large fleet is followed over
/// several passes rather than in one burst at the git server.
pub const PASS: i64 = 200;

impl Scaffolder {
    /// Asks the git server about the upgrades whose change request is still open (at most
    /// `limit`; of `template` only, when given), records those merged or closed, and has the
    /// catalog read a merged service's location again (as the upgrade's requester, who may).
    /// Returns how many changed.
    pub async fn follow_changes(
        &self,
        policy: &ReadPolicy,
        template: Option<&str>,
        limit: i64,
    ) -> Result<usize> {
        let services = self.services()?;
        let upgrades = self.upgrades()?;
        let template = template.map(super::normalise).transpose()?;
        let mut changed = 0;
        for record in upgrades.awaiting_review(template.as_deref(), limit).await? {
            let Some(catalog) = &self.catalog else {
                break;
            };
            let entity = {
                let index = catalog.index();
                index.by_ref(&record.service).map(|e| index.body_value(e))
            };
            let Some(entity) = entity else {
                continue;
            };
            let Some(branch) = record.branch.as_deref() else {
                continue;
            };
            let state = match self
                .change_state(&entity, branch, record.change_number)
                .await
            {
                Ok(state) => state,
                Err(error) => {
                    tracing::warn!(service = %record.service, %error, "could not ask about an upgrade's change request");
                    continue;
                }
            };
            let status = match state {
                ChangeState::Open => continue,
                ChangeState::Merged => UpgradeState::Merged,
                ChangeState::Closed => UpgradeState::Closed,
            };
            if !upgrades
                .settle(&record.service, &record.to_version, status)
                .await?
            {
                continue;
            }
            changed += 1;
            services
                .audit
                .record(Entry {
                    actor: "system:upgrades",
                    action: "scaffolder.upgrade-change",
                    target: &record.service,
                    outcome: Outcome::Success,
                    detail: json!({
                        "template": record.template, "to_version": record.to_version,
                        "status": status.as_str(), "change": record.change_url, "branch": record.branch,
                    }),
                    request_id: None,
                })
                .await?;
            if status == UpgradeState::Merged {
                let refreshed = match services.directory.principal(&record.requested_by).await {
                    Ok(requester) => catalog
                        .refresh_entity(&requester, &record.service, policy)
                        .await
                        .map(|_| ()),
                    Err(error) => Err(error),
                };
                if let Err(error) = refreshed {
                    // The record already says merged, and the periodic refresh reads the
                    // location in time; the fleet counts the service on the new version meanwhile.
                    tracing::warn!(service = %record.service, %error, "could not read a merged service's location again");
                }
            }
        }
        Ok(changed)
    }
}
