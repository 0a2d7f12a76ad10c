//! Finding and removing an existing environment. Removal works from the service reference and the
//! environment alone, without the catalog lookup and guardrails a request goes through, so that an
//! environment stays removable after its component has left the catalog or the ceilings changed.
//! A namespace is only ever changed for the service whose record holds it, and only ever deleted
//! when the live namespace carries this service's marks (see `ownership.rs`).

use super::config::{Environment, Target};
use super::ownership::LiveNamespace;
use super::records::Status;
use super::{Destroyed, Provisioner, Request, author, delete_namespace, gitops, naming};
use crate::catalog::{refs, validate};
use crate::identity::{Principal, Role};
use crate::tasks::lease::Fence;
use crate::{Error, Result};

/// Where an existing environment is.
#[derive(Debug, Clone)]
pub struct Located {
    pub environment: Environment,
    pub namespace: String,
    /// The component's normalised reference, and its name.
    pub service_ref: String,
    pub service: String,
}

impl Provisioner {
    /// The environment and namespace `request` names, from configuration and naming alone.
    pub fn locate(&self, request: &Request) -> Result<Located> {
        let entity_ref = refs::parse(&request.service, "component", "default")
            .map_err(|message| Error::invalid("service", message))?;
        let environment = self
            .config()
            .environment(&request.environment)
            .cloned()
            .ok_or_else(|| {
                Error::invalid(
                    "environment",
                    format!("{:?} is not an environment", request.environment),
                )
            })?;
        let service_ref = entity_ref.to_string();
        let (kind, catalog_namespace, name) = refs::split(&service_ref);
        // The reference need not be in the catalog any more, so it is held to the catalog's own
        // rules here: a name no entity can have would otherwise still map to some namespace.
        if !kind.eq_ignore_ascii_case("component") {
            return Err(Error::invalid(
                "service",
                format!("{service_ref} is of kind {kind}; environments are for components"),
            ));
        }
        if !validate::is_valid_name(name)
            || !validate::is_valid_namespace(&catalog_namespace.to_lowercase())
        {
            return Err(Error::invalid(
                "service",
                format!(
                    "{:?} is not a component reference: its name must be sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters, and its namespace a DNS label",
                    request.service
                ),
            ));
        }
        let service = name.to_lowercase();
        Ok(Located {
            namespace: naming::namespace(&service, &environment.name),
            environment,
            service_ref,
            service,
        })
    }

    /// Refuses when `namespace` holds another service's environment. Names are shortened and
    /// normalised, so two components (in different catalog namespaces, or spelled differently)
    /// can map to one namespace; the first one recorded keeps it.
    pub async fn guard_namespace(&self, namespace: &str, service_ref: &str) -> Result<()> {
        match self.records.get(namespace).await? {
            Some(record) if record.service != service_ref => Err(Error::Conflict(format!(
                "namespace {namespace} holds the {} environment of {}; {service_ref} cannot use it",
                record.environment, record.service
            ))),
            _ => Ok(()),
        }
    }

    /// [`Provisioner::authorize`] for removal: a component no longer in the catalog has no team
    /// to act for, so only platform admins remove its environments.
    pub fn authorize_destroy(&self, principal: &Principal, service: &str) -> Result<()> {
        self.authorize(principal, service)?;
        if principal.role == Role::PlatformAdmin {
            return Ok(());
        }
        let known = refs::parse(service, "component", "default")
            .ok()
            .is_some_and(|r| self.catalog.index().by_ref(&r).is_some());
        if known {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{service} is not in the catalog; only platform admins remove its environments"
            )))
        }
    }

    /// Checks that `request` may remove its environment: not protected, the namespace is this
    /// service's in Causeway's records, and the live namespace (if any) carries its marks.
    pub async fn locate_for_removal(&self, request: &Request) -> Result<Located> {
        let located = self.locate(request)?;
        if located.environment.protected {
            return Err(Error::Forbidden(format!(
                "{} is a protected environment; its namespaces are removed by the platform team, not through Causeway",
                located.environment.name
            )));
        }
        self.guard_namespace(&located.namespace, &located.service_ref)
            .await?;
        self.live_namespace_to_remove(&located).await?;
        Ok(located)
    }

    /// The live namespace of `located`, refused when it is somebody else's; for a GitOps target,
    /// its directory is checked the same way and `Absent` returned.
    async fn live_namespace_to_remove(&self, located: &Located) -> Result<LiveNamespace> {
        if let Target::Gitops {
            repository,
            cluster,
        } = &located.environment.target
        {
            let owner = self
                .gitops_owner(&located.namespace, &located.service, &located.service_ref)
                .await?;
            gitops::Repository::new(repository.clone())
                .check(gitops::directory(cluster, &located.namespace), owner)
                .await?;
            return Ok(LiveNamespace::Absent);
        }
        let client = self.client_for(&located.environment).await?;
        let live = self
            .live_namespace(
                &client,
                &located.namespace,
                &located.service,
                &located.service_ref,
            )
            .await?;
        live.require_ours(&located.namespace, &located.service_ref)?;
        Ok(live)
    }

    /// Removes the service's environment (its namespace and everything in it) and waits until the
    /// API server has finished, or commits its removal; refused for protected environments.
    pub async fn destroy(&self, request: &Request) -> Result<Destroyed> {
        let located = self.locate_for_removal(request).await?;
        self.mark_destroying(&located, None).await?;
        let commit = self.remove_objects(&located, request).await?;
        self.records.remove(&located.namespace, None).await?;
        Ok(Destroyed {
            namespace: located.namespace,
            commit,
        })
    }

    /// From here on the reconciler leaves the environment alone, so it does not put back what is
    /// being removed. Within a task the record is taken by it (`fence`); `false` when the task's
    /// lease was lost.
    pub(crate) async fn mark_destroying(
        &self,
        located: &Located,
        fence: Option<&Fence>,
    ) -> Result<bool> {
        match fence {
            Some(fence) => {
                self.records
                    .take(&located.namespace, Status::Destroying, fence)
                    .await
            }
            None => {
                self.records
                    .set_status(&located.namespace, Status::Destroying, None, None)
                    .await?;
                Ok(true)
            }
        }
    }

    /// Deletes the namespace and waits until it is gone, or commits the removal of its directory
    /// (returning the commit). Repeating it is harmless: gone is gone. The live namespace is
    /// checked again right before, and deleted only with the uid that was checked.
    pub(crate) async fn remove_objects(
        &self,
        located: &Located,
        request: &Request,
    ) -> Result<Option<String>> {
        let namespace = &located.namespace;
        match &located.environment.target {
            Target::Gitops {
                repository,
                cluster,
            } => {
                gitops::Repository::new(repository.clone())
                    .remove(
                        gitops::directory(cluster, namespace),
                        author(&request.requester),
                        format!(
                            "Destroy {} in {} ({namespace})\n\nRequested by {}.\nRequest-Id: {}\n",
                            located.service,
                            located.environment.name,
                            request.requester.entity_ref,
                            request.request_id
                        ),
                        self.gitops_owner(namespace, &located.service, &located.service_ref)
                            .await?,
                    )
                    .await
            }
            Target::Cluster { .. } => {
                let uid = match self.live_namespace_to_remove(located).await? {
                    LiveNamespace::Ours { uid } => uid,
                    _ => return Ok(None),
                };
                let client = self.client_for(&located.environment).await?;
                delete_namespace(client, namespace, Some(&uid)).await?;
                Ok(None)
            }
        }
    }
}
