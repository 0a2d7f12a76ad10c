//! The guardrails the platform team writes: platform configuration as code (clusters,
//! environments, approvals, policies, waivers), its revisions, and the policies evaluated against
//! every request.
//!
//! One [`Guardrails`] handle is shared by every service that asks a policy (provisioning, template
//! runs, catalog imports) and by every door. It holds the active revision; [`Guardrails::reload`]
//! reads the source again and swaps the revision in only when it is valid, so an invalid change
//! never replaces a working configuration: the last good revision keeps serving and the problems
//! are shown to platform admins.

pub mod cel;
pub mod documents;
pub mod evaluate;
pub mod export;
pub mod input;
pub mod policy;
mod revisions;
pub mod source;
pub mod units;
pub mod waivers;

use std::sync::{Arc, RwLock};

use serde_json::Value;

pub use self::documents::{CompiledPolicy, File, PlatformConfig};
pub use self::evaluate::{Decision, Lookup, Outcome, Verdict};
pub use self::policy::{Policy, Severity, Subject};
pub use self::revisions::{Failure, Reloaded, Revision, RevisionSummary};
pub use self::source::Source;
use self::waivers::Waivers;
use crate::audit::AuditLog;
use crate::catalog::Problem;
use crate::identity::{Principal, Role};
use crate::provision::config::ProvisionConfig;
use crate::store::Store;
use crate::{Error, Result};

/// The starter policies of the embedded default.
pub const DEFAULT_POLICIES: &str = include_str!("default-policies.yaml");

/// The embedded default for `provision` (clusters and environments built from the host's
/// settings) with the starter policies and scorecard, as files that load like any configured
/// source.
pub fn default_files(provision: &ProvisionConfig) -> Vec<File> {
    let documents = export::provision_documents(provision)
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n");
    vec![
        File {
            name: "embedded/platform.yaml".to_owned(),
            text: documents,
        },
        File {
            name: "embedded/policies.yaml".to_owned(),
            text: DEFAULT_POLICIES.to_owned(),
        },
        File {
            name: "embedded/scorecards.yaml".to_owned(),
            text: crate::scorecards::DEFAULT_SCORECARDS.to_owned(),
        },
    ]
}

/// The shared handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Guardrails {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: RwLock<Source>,
    /// What the embedded default is built from.
    embedded: RwLock<ProvisionConfig>,
    active: RwLock<Arc<Revision>>,
    failure: RwLock<Option<Failure>>,
    /// Where revisions are recorded and audited, and waivers kept; `None` for a configuration
    /// that is only evaluated (the command line's policy tests).
    services: Option<Services>,
}

#[derive(Debug, Clone)]
struct Services {
    store: Store,
    audit: AuditLog,
    waivers: Waivers,
}

impl Guardrails {
    /// The embedded default for `provision`, with nowhere to record anything.
    pub fn fixed(provision: ProvisionConfig) -> Self {
        Self::build(provision, None)
    }

    /// The embedded default for `provision`, recorded and audited in `store`; see
    /// [`Guardrails::configure`] for a configured source.
    pub fn new(provision: ProvisionConfig, store: Store, audit: AuditLog) -> Self {
        let waivers = Waivers::new(store.clone(), audit.clone());
        Self::build(
            provision,
            Some(Services {
                store,
                audit,
                waivers,
            }),
        )
    }

    fn build(provision: ProvisionConfig, services: Option<Services>) -> Self {
        let files = default_files(&provision);
        let config = documents::load(&files).unwrap_or_else(|problems| {
            // The embedded default is checked by this crate's tests; reaching this is a bug.
            panic!("the embedded platform configuration is invalid: {problems:?}")
        });
        let revision = Revision::new(&Source::Embedded, &files, config);
        Self::serving(provision, revision, services)
    }

    fn serving(provision: ProvisionConfig, revision: Revision, services: Option<Services>) -> Self {
        Self {
            inner: Arc::new(Inner {
                source: RwLock::new(Source::Embedded),
                embedded: RwLock::new(provision),
                active: RwLock::new(Arc::new(revision)),
                failure: RwLock::new(None),
                services,
            }),
        }
    }

    /// A handle over a configuration read from `files` (the command line's policy tests), with
    /// nowhere to record anything; the problems of an invalid one.
    pub fn from_files(files: &[File]) -> Result<Self, Vec<Problem>> {
        let config = documents::load(files)?;
        let provision = config.provision.clone();
        let revision = Revision::new(&Source::Embedded, files, config);
        Ok(Self::serving(provision, revision, None))
    }

    /// Reads the configuration from `source` from now on, replacing the embedded default for
    /// `provision`. A process starts only with a valid configuration: the problems of an invalid
    /// one are returned (each with its file, line and field), and the replicas already running
    /// keep their last good revision. Blocking (it reads files or clones a repository).
    pub fn configure(
        &self,
        source: Source,
        provision: ProvisionConfig,
    ) -> Result<(), Vec<Problem>> {
        let files = match &source {
            Source::Embedded => default_files(&provision),
            other => other.read().map_err(|error| {
                vec![Problem::new(
                    &other.describe(),
                    None,
                    "platform_config",
                    error.to_string(),
                )]
            })?,
        };
        let config = documents::load(&files)?;
        *write(&self.inner.active) = Arc::new(Revision::new(&source, &files, config));
        *write(&self.inner.source) = source;
        *write(&self.inner.embedded) = provision;
        Ok(())
    }

    /// Records the active revision if no replica has yet (once the store is migrated), so that
    /// the first revision a deployment runs is in the history and the audit log too.
    pub async fn record_active(&self) -> Result<()> {
        let Some(services) = &self.inner.services else {
            return Ok(());
        };
        let revision = self.current();
        let last = revisions::history(&services.store, 1).await?;
        let previous = match last.first() {
            Some(summary) if summary.hash == revision.hash => return Ok(()),
            Some(summary) => revisions::text_of(&services.store, &summary.hash)
                .await?
                .map(|text| Revision {
                    hash: summary.hash.clone(),
                    text,
                    ..(*revision).clone()
                }),
            None => None,
        };
        let previous = previous.unwrap_or_else(|| Revision {
            hash: String::new(),
            text: String::new(),
            ..(*revision).clone()
        });
        revisions::record(
            &services.store,
            &services.audit,
            "system",
            &previous,
            &revision,
        )
        .await
    }

    /// The revision in force.
    pub fn current(&self) -> Arc<Revision> {
        read(&self.inner.active).clone()
    }

    /// The provisioning part of the revision in force.
    pub fn provision(&self) -> Arc<ProvisionConfig> {
        self.current().provision.clone()
    }

    /// Why the newest read of the source was not taken, while the last good revision serves.
    pub fn failure(&self) -> Option<Failure> {
        read(&self.inner.failure).clone()
    }

    /// Where the configuration is read from.
    pub fn source(&self) -> Source {
        read(&self.inner.source).clone()
    }

    /// Waivers granted in the portal or API; `None` for a handle without a store.
    pub fn waivers(&self) -> Option<&Waivers> {
        self.inner.services.as_ref().map(|s| &s.waivers)
    }

    /// The ids of the active revision's policies.
    pub fn policy_ids(&self) -> Vec<String> {
        self.current()
            .config
            .policies
            .iter()
            .map(|p| p.policy.id.clone())
            .collect()
    }

    /// Evaluates the active revision's policies for `subject` over `input`, with the waivers in
    /// force for `lookup.service` (granted ones and those written in the configuration).
    pub async fn decide(
        &self,
        subject: Subject,
        input: &Value,
        lookup: Lookup<'_>,
    ) -> Result<Decision> {
        let revision = self.current();
        let waivers = self.waivers_for(lookup.service).await?;
        Ok(evaluate::evaluate(
            &revision.config.policies,
            subject,
            input,
            lookup,
            &waivers,
        ))
    }

    /// The waivers in force for `service`: those written in the configuration and those granted.
    pub async fn waivers_for(&self, service: Option<&str>) -> Result<Vec<waivers::Waiver>> {
        let mut waivers = self.current().config.waivers.clone();
        if let (Some(service), Some(store)) = (service, self.waivers()) {
            waivers.extend(store.active(Some(service)).await?);
        }
        Ok(waivers)
    }

    /// Every waiver in force now, for any service: those written in `revision` and every one
    /// granted, read in one query. A batch of requests (an import's entities) looks its waivers
    /// up in this list rather than asking the store once per request; [`waivers::Waiver::covers`]
    /// matches the service, so the answer is the same.
    pub async fn waivers_active_all(&self, revision: &Revision) -> Result<Vec<waivers::Waiver>> {
        let mut waivers = revision.config.waivers.clone();
        if let Some(store) = self.waivers() {
            waivers.extend(store.active(None).await?);
        }
        Ok(waivers)
    }

    /// [`Guardrails::decide`], refusing the request when a policy denies it: the error lists
    /// every denial with its field and fix. The decision (warnings included) is returned
    /// otherwise.
    pub async fn enforce(
        &self,
        subject: Subject,
        input: &Value,
        lookup: Lookup<'_>,
    ) -> Result<Decision> {
        let decision = self.decide(subject, input, lookup).await?;
        if decision.allowed() {
            Ok(decision)
        } else {
            Err(Error::PolicyDenied(decision.denials().cloned().collect()))
        }
    }

    /// Reads the source again. A valid revision that differs from the active one replaces it
    /// (recorded and audited with its diff by the first replica to load it); an invalid one is
    /// reported and the active revision kept.
    pub async fn reload(&self, actor: &str) -> Result<Reloaded> {
        let source = self.source();
        let embedded = read(&self.inner.embedded).clone();
        let read_source = source.clone();
        let files = tokio::task::spawn_blocking(move || match &read_source {
            Source::Embedded => Ok(default_files(&embedded)),
            other => other.read(),
        })
        .await
        .map_err(|e| Error::invalid("platform_config", format!("the read stopped: {e}")))?;
        let files = match files {
            Ok(files) => files,
            Err(error) => {
                let problems = vec![Problem::new(
                    &source.describe(),
                    None,
                    "platform_config",
                    error.to_string(),
                )];
                self.reject(actor, &source, "", problems.clone()).await?;
                return Ok(Reloaded::Rejected(problems));
            }
        };
        let hash = revisions::hash(&files);
        if hash == self.current().hash {
            *write(&self.inner.failure) = None;
            return Ok(Reloaded::Unchanged);
        }
        let config = match documents::load(&files) {
            Ok(config) => config,
            Err(problems) => {
                self.reject(actor, &source, &hash, problems.clone()).await?;
                return Ok(Reloaded::Rejected(problems));
            }
        };
        let revision = Arc::new(Revision::new(&source, &files, config));
        let previous = std::mem::replace(&mut *write(&self.inner.active), revision.clone());
        *write(&self.inner.failure) = None;
        if let Some(services) = &self.inner.services {
            revisions::record(
                &services.store,
                &services.audit,
                actor,
                &previous,
                &revision,
            )
            .await?;
        }
        Ok(Reloaded::Loaded(revision.summary()))
    }

    async fn reject(
        &self,
        actor: &str,
        source: &Source,
        hash: &str,
        problems: Vec<Problem>,
    ) -> Result<()> {
        let repeated = read(&self.inner.failure)
            .as_ref()
            .is_some_and(|f| f.hash == hash && f.problems == problems);
        *write(&self.inner.failure) = Some(Failure {
            hash: hash.to_owned(),
            source: source.describe(),
            at_millis: crate::time::now_millis(),
            problems: problems.clone(),
        });
        // A broken revision is audited once, not at every refresh that finds it again.
        if let (Some(services), false) = (&self.inner.services, repeated) {
            revisions::audit_rejection(&services.audit, actor, &source.describe(), hash, &problems)
                .await?;
        }
        Ok(())
    }

    /// [`Guardrails::reload`] at a platform admin's request; audited as theirs.
    pub async fn reload_by(&self, principal: &Principal) -> Result<Reloaded> {
        require_admin(principal, "reload the platform configuration")?;
        self.reload(&principal.entity_ref).await
    }

    /// Why the newest read was refused, for platform admins (others see only the revision that
    /// serves).
    pub fn failure_for(&self, principal: &Principal) -> Option<Failure> {
        (principal.role == Role::PlatformAdmin)
            .then(|| self.failure())
            .flatten()
    }

    /// The active configuration as documents: platform admins only, since it names clusters'
    /// credentials files.
    pub fn export_for(&self, principal: &Principal) -> Result<String> {
        require_admin(principal, "export the platform configuration")?;
        Ok(export::export(&self.current().config))
    }

    /// The revisions recorded so far, newest first.
    pub async fn history(&self, limit: i64) -> Result<Vec<RevisionSummary>> {
        match &self.inner.services {
            Some(services) => revisions::history(&services.store, limit).await,
            None => Ok(vec![self.current().summary()]),
        }
    }

    /// Reloads every `every` until the process ends; each replica runs one, and they converge
    /// because they read the same source.
    pub fn spawn_refresh(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match handle.reload("system").await {
                    Ok(Reloaded::Loaded(summary)) => {
                        tracing::info!(revision = %summary.hash, source = %summary.source, "platform configuration reloaded");
                    }
                    Ok(Reloaded::Rejected(problems)) => {
                        tracing::warn!(
                            problems = problems.len(),
                            "platform configuration refused; the last good revision keeps serving"
                        );
                    }
                    Ok(Reloaded::Unchanged) => {}
                    Err(error) => {
                        tracing::warn!(%error, "platform configuration could not be reloaded")
                    }
                }
            }
        })
    }
}

/// Refuses anyone but a platform admin, saying what they tried.
pub fn require_admin(principal: &Principal, what: &str) -> Result<()> {
    if principal.role == Role::PlatformAdmin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("only platform admins {what}")))
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
