//! Who sees which template runs: a run holds the answers to its template's questions, so it is
//! shown to the person who started it and to platform admins, never to everyone signed in. Every
//! door (REST, portal) asks here.

use super::Scaffolder;
use super::task::RUN;
use crate::identity::{Principal, Role};
use crate::tasks::{Filter, Task, TaskStatus};
use crate::{Error, Result};

impl Scaffolder {
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
