//! Who may do what with templates. A run holds the answers to its template's questions, so it is
//! shown to the person who started it and to platform admins, never to everyone signed in.
//! Authoring — loading and dry-running a template sent with the request rather than registered in
//! the catalog — is the platform team's (Backstage calls it template management): a sent template
//! may use any action the server has, with no review. Every door (REST, portal) asks here.

use serde_json::Value;

use super::Scaffolder;
use super::task::RUN;
use super::{Source, Template};
use crate::identity::{Principal, Role};
use crate::tasks::{Filter, Task, TaskStatus};
use crate::{Error, Result};

impl Scaffolder {
    /// Refuses authoring to everyone but platform admins.
    pub fn authorize_authoring(&self, principal: &Principal) -> Result<()> {
        if principal.role == Role::PlatformAdmin {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "authoring templates (loading or dry-running one that is not in the catalog) is for platform admins"
                    .to_owned(),
            ))
        }
    }

    /// A template sent by `principal` (not registered in the catalog), checked like a registered
    /// one, for a dry run: the doors that accept a template in the request load it here, so that
    /// none can forget [`Scaffolder::authorize_authoring`].
    pub fn load_sent(
        &self,
        principal: &Principal,
        entity: &Value,
        source: Source,
    ) -> Result<Template> {
        self.authorize_authoring(principal)?;
        self.load(entity, source)
    }

    /// The run `id` as `principal` may see it; another person's run is not found (its existence
    /// is not theirs to learn).
    pub async fn run_for(&self, principal: &Principal, id: &str) -> Result<Task> {
        self.services()?
            .tasks
            .get(id)
            .await?
            .filter(|t| t.kind == RUN)
            .filter(|t| {
                t.requester == principal.entity_ref || principal.role == Role::PlatformAdmin
            })
            .ok_or_else(|| Error::NotFound(format!("task {id}")))
    }

    /// The runs `principal` may list, newest first: their own, or (platform admins) anyone's or
    /// `created_by`'s.
    pub async fn runs_for(
        &self,
        principal: &Principal,
        created_by: Option<String>,
        status: Option<TaskStatus>,
    ) -> Result<Vec<Task>> {
        let admin = principal.role == Role::PlatformAdmin;
        let requester = match created_by {
            Some(user) if admin || user == principal.entity_ref => Some(user),
            Some(_) => {
                return Err(Error::Forbidden(
                    "createdBy: only platform admins may list other people's runs".to_owned(),
                ));
            }
            None if admin => None,
            None => Some(principal.entity_ref.clone()),
        };
        let filter = Filter {
            requester,
            owners: Vec::new(),
            status,
            limit: 5000,
        };
        Ok(self
            .services()?
            .tasks
            .list(&filter)
            .await?
            .into_iter()
            .filter(|t| t.kind == RUN)
            .collect())
    }
}
