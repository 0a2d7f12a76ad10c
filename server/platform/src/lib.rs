//! Causeway's domain. Every door into Causeway (portal, REST API, CLI, workers) is a thin adapter
//! over the functions in this crate, which is why it must not know about HTTP, axum or Leptos.

pub mod audit;
pub mod catalog;
pub mod delivery;
pub mod entity_ref;
pub mod error;
pub mod guardrails;
pub mod identity;
pub mod leases;
pub mod notify;
pub mod org;
pub mod provision;
pub mod scaffolder;
pub mod scorecards;
pub mod store;
pub mod tasks;
pub mod time;

pub use error::{Error, Result};
pub use store::Store;

use std::time::Duration;

/// Settings the domain needs from the host's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Group references whose members are platform admins.
    pub admin_teams: Vec<String>,
    /// How long a portal session lasts.
    pub session_ttl: Duration,
}

/// Every domain service, built over one store; the handle the adapters share.
#[derive(Debug, Clone)]
pub struct Platform {
    pub store: Store,
    pub directory: identity::Directory,
    pub sessions: identity::Sessions,
    pub tokens: identity::Tokens,
    pub audit: audit::AuditLog,
    pub catalog: catalog::Catalog,
    pub tasks: tasks::Tasks,
    /// The platform team's configuration and policies.
    pub guardrails: guardrails::Guardrails,
    /// Software templates, checked against the catalog.
    pub scaffolder: scaffolder::Scaffolder,
    /// Deployments, changes and incidents per service, and the DORA measures drawn from them.
    pub delivery: delivery::Delivery,
    /// The platform team's scorecards and every entity's results.
    pub scorecards: scorecards::Scorecards,
}

impl Platform {
    /// Builds the services; fails only on invalid settings (the error names the setting). Nothing
    /// is read from the database yet: call [`Platform::load`] once it is migrated.
    pub fn new(store: Store, settings: &Settings) -> Result<Self> {
        let principals = identity::PrincipalCache::default();
        let catalog =
            catalog::Catalog::new(store.clone()).clearing_on_identity_change(principals.clone());
        let directory = identity::Directory::new(store.clone(), &settings.admin_teams, principals)?;
        let tasks = tasks::Tasks::new(store.clone());
        let audit = audit::AuditLog::new(store.clone());
        // The embedded default until the host configures a source (`Guardrails::configure`);
        // every service holds the same handle, so they all see the configured revision.
        let guardrails = guardrails::Guardrails::new(
            provision::config::ProvisionConfig::embedded(None, "var/gitops".into()),
            store.clone(),
            audit.clone(),
        );
        // The catalog hands the templates it stores to their versions' table, which only writes
        // rows (it holds no catalog), so the two do not refer to each other.
        let versions = scaffolder::versions::VersionTable::new(store.clone());
        let catalog = catalog
            .with_guardrails(guardrails.clone())
            .with_audit(audit.clone())
            .with_template_watcher(std::sync::Arc::new(versions.clone()));
        let scaffolder = scaffolder::Scaffolder::new(Some(catalog.clone())).with_services(
            scaffolder::Services {
                tasks: tasks.clone(),
                runs: scaffolder::runs::Runs::new(store.clone()),
                upgrades: scaffolder::fleet::records::UpgradeRecords::new(store.clone()),
                audit: audit.clone(),
                directory: directory.clone(),
                guardrails: guardrails.clone(),
                versions,
            },
        );
        let tokens = identity::Tokens::new(store.clone(), directory.clone());
        let delivery = delivery::Delivery::new(store.clone(), catalog.clone());
        let scorecards = scorecards::Scorecards::new(
            store.clone(),
            catalog.clone(),
            guardrails.clone(),
            delivery.clone(),
        );
        Ok(Self {
            scorecards,
            delivery,
            directory,
            sessions: identity::Sessions::new(store.clone(), settings.session_ttl),
            tokens,
            audit,
            guardrails,
            scaffolder,
            catalog,
            tasks,
            store,
        })
    }

    /// Migrates the database and loads the catalog index.
    pub async fn load(&self) -> Result<()> {
        self.store.migrate().await?;
        self.catalog.reload().await
    }
}
