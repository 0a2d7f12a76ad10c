//! Ephemeral environments: an environment whose configuration has an expiry gets one when it is
//! first applied, its owning team may extend it up to the configured maximum, and the reaper
//! destroys it once it has expired, after reminding the team.
//!
//! The reaper runs in one replica at a time (the named lease `environment-reaper`). A reminder is
//! recorded before it is sent, in a statement only one caller can win, so it goes out once; an
//! environment is reaped no earlier than the pass after its reminder, so a team is always told
//! first, even when the reaper was not running when the reminder was due. Reaping is a destroy
//! task submitted as `system:reaper`, checked like anybody's (protected environments, and
//! namespaces that are not Causeway's, are refused); protected environments are not even tried.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::config::Environment;
use super::records::{Record, Status};
use super::{Provisioner, Request, Requester};
use crate::audit::{Entry, Outcome};
use crate::catalog::refs;
use crate::identity::{Principal, Role};
use crate::notify::{Notification, Notifier};
use crate::tasks::Tasks;
use crate::time::{display, iso, now_millis};
use crate::{Error, Result};

/// The requester of the destroys the reaper submits, and the actor of its audit records.
pub const REAPER: &str = "system:reaper";

/// The notification a team gets before its environment is reaped.
pub const EXPIRING: &str = "environment.expiring";

/// The lease among replicas: only its holder reminds and reaps.
const REAPER_LEASE: &str = "environment-reaper";

/// How long the reaper waits before it tries again to destroy an environment: one whose destroy
/// it submitted (still waiting for a worker, say), could not submit, or whose last destroy
/// failed. A stuck environment then costs one audit record (and one failed task) per period
/// rather than one per pass.
const RETRY_AFTER_MILLIS: i64 = 5 * 60 * 1000;

/// When an environment of `environment` applied at `now` expires, if it expires at all.
pub fn first_expiry(environment: &Environment, now: i64) -> Option<i64> {
    environment
        .expiry
        .map(|e| now.saturating_add(seconds_to_millis(e.ttl_seconds)))
}

fn seconds_to_millis(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

/// A duration in seconds as a person reads it: `7 d`, `3 d 4 h`, `5 h 20 min`, `45 s`.
pub fn human(seconds: u64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// How long until `expires_at` from `now`, as a person reads it, or `expired`.
pub fn expires_in(expires_at: i64, now: i64) -> String {
    if expires_at <= now {
        "expired".to_owned()
    } else {
        human(u64::try_from((expires_at - now + 999) / 1000).unwrap_or(0))
    }
}

/// A request to move an environment's expiry.
#[derive(Debug, Clone, Default)]
pub struct Extension {
    /// The component's reference.
    pub service: String,
    pub environment: String,
    /// How long from now the environment should live, in seconds; the environment's time to
    /// live when `None`.
    pub ttl_seconds: Option<u64>,
    pub request_id: String,
    pub requester: Requester,
}

impl Provisioner {
    /// Who may extend `service`'s environments: its owning team and platform admins; a component
    /// no longer in the catalog has no team, so only platform admins.
    pub fn authorize_extend(&self, principal: &Principal, service: &str) -> Result<()> {
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
                "{service} is not in the catalog; only platform admins extend its environments"
            )))
        }
    }

    /// Moves the expiry of the environment `extension` names to `ttl_seconds` from now (at most
    /// the environment's `max_seconds`; never earlier than it is), clears its reminder so the new
    /// expiry is announced, and audits the change. Callers check the caller first
    /// ([`Provisioner::authorize_extend`]).
    pub async fn extend(&self, extension: &Extension) -> Result<Record> {
        let located = self.locate(&Request {
            service: extension.service.clone(),
            environment: extension.environment.clone(),
            ..Request::default()
        })?;
        let environment = &located.environment;
        let Some(expiry) = environment.expiry else {
            let config = self.config();
            let expiring: Vec<&str> = config
                .environments
                .iter()
                .filter(|e| e.expiry.is_some())
                .map(|e| e.name.as_str())
                .collect();
            return Err(Error::invalid(
                "environment",
                format!(
                    "{} does not expire; only environments with an expiry ({}) can be extended",
                    environment.name,
                    if expiring.is_empty() {
                        "none are configured".to_owned()
                    } else {
                        expiring.join(", ")
                    }
                ),
            ));
        };
        let ttl = extension.ttl_seconds.unwrap_or(expiry.ttl_seconds);
        if ttl == 0 {
            return Err(Error::invalid(
                "ttl_seconds",
                "must be at least 1 second from now",
            ));
        }
        if ttl > expiry.max_seconds {
            return Err(Error::invalid(
                "ttl_seconds",
                format!(
                    "{ttl} seconds ({}) is beyond the limit of the {} environment: it may live at most {} seconds ({}) from now",
                    human(ttl),
                    environment.name,
                    expiry.max_seconds,
                    human(expiry.max_seconds)
                ),
            ));
        }
        let namespace = &located.namespace;
        let record = self.records.get(namespace).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "the {} environment of {} (namespace {namespace})",
                environment.name, located.service_ref
            ))
        })?;
        if record.service != located.service_ref {
            return Err(Error::Conflict(format!(
                "namespace {namespace} holds the {} environment of {}; {} cannot extend it",
                record.environment, record.service, located.service_ref
            )));
        }
        let now = now_millis();
        let until = now.saturating_add(seconds_to_millis(ttl));
        match record.expires_at_millis {
            None => {
                return Err(Error::Conflict(format!(
                    "{namespace} was applied before {} environments expired, so it has no expiry to extend; apply it again to give it one",
                    environment.name
                )));
            }
            Some(current) if current <= now => {
                return Err(Error::Conflict(format!(
                    "{namespace} expired at {}; the reaper destroys it, and an apply afterwards starts a new lifetime",
                    display(current)
                )));
            }
            Some(current) if until < current => {
                return Err(Error::invalid(
                    "ttl_seconds",
                    format!(
                        "{ttl} seconds from now ({}) is before the current expiry ({}); an extension only moves the expiry later",
                        display(until),
                        display(current)
                    ),
                ));
            }
            Some(_) => {}
        }
        if record.status == Status::Destroying {
            return Err(Error::Conflict(format!("{namespace} is being destroyed")));
        }
        if !self.records.extend(namespace, until, now).await? {
            return Err(Error::Conflict(format!(
                "{namespace} expired or began to be destroyed meanwhile; it was not extended"
            )));
        }
        self.audit
            .record(Entry {
                actor: &extension.requester.entity_ref,
                action: "provision.extend",
                target: namespace,
                outcome: Outcome::Success,
                detail: json!({
                    "service": located.service_ref,
                    "environment": environment.name,
                    "ttl_seconds": ttl,
                    "from": record.expires_at_millis.map(iso),
                    "to": iso(until),
                }),
                request_id: Some(&extension.request_id),
            })
            .await?;
        self.records
            .get(namespace)
            .await?
            .ok_or_else(|| Error::NotFound(format!("the record of {namespace}")))
    }

    /// The reaper over this engine, submitting destroys to `tasks` and reminding through
    /// `notifier` (at the configuration's webhooks).
    pub fn reaper(&self, tasks: Tasks, notifier: Notifier) -> Reaper {
        Reaper {
            engine: self.clone(),
            tasks,
            notifier,
            attempted: Mutex::new(HashMap::new()),
        }
    }
}

/// What one pass of the reaper did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reaped {
    /// Namespaces whose team was reminded.
    pub reminded: Vec<String>,
    /// Namespaces whose destroy was submitted, with the task's id.
    pub destroying: Vec<(String, String)>,
    /// Namespaces whose destroy could not be submitted, with why.
    pub refused: Vec<(String, String)>,
}

/// Reminds teams of expiring environments and destroys expired ones.
#[derive(Debug)]
pub struct Reaper {
    engine: Provisioner,
    tasks: Tasks,
    notifier: Notifier,
    /// Namespaces this reaper submitted a destroy for, or tried to, and when: not tried again
    /// before [`RETRY_AFTER_MILLIS`] has passed.
    attempted: Mutex<HashMap<String, i64>>,
}

impl Reaper {
    /// One pass over every environment whose reminder is due: reminds those not yet reminded,
    /// and submits a destroy for those expired and reminded in an earlier pass.
    pub async fn pass(&self) -> Result<Reaped> {
        let engine = &self.engine;
        let now = now_millis();
        let remind_before = seconds_to_millis(engine.config().notifications.remind_before_seconds);
        let mut reaped = Reaped::default();
        self.attempted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, at| now - *at < RETRY_AFTER_MILLIS);
        for record in engine
            .records
            .expiring(now.saturating_add(remind_before))
            .await?
        {
            let Some(expires_at) = record.expires_at_millis else {
                continue;
            };
            // The configuration decides, not the record: an environment made protected, or no
            // longer ephemeral, since it was applied is left alone.
            let Some(environment) = engine
                .config()
                .environment(&record.environment)
                .filter(|e| e.expiry.is_some() && !e.protected)
                .cloned()
            else {
                continue;
            };
            if record.status == Status::Destroying {
                continue;
            }
            if record.reminded_at_millis.is_none() {
                if engine
                    .records
                    .remind(&record.namespace, expires_at, now)
                    .await?
                {
                    self.remind(&record, &environment, expires_at, now).await?;
                    reaped.reminded.push(record.namespace.clone());
                }
                continue;
            }
            if expires_at > now || self.backing_off(&record, now) {
                continue;
            }
            self.attempted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record.namespace.clone(), now);
            match self.reap(&record, expires_at).await {
                Ok(task) => reaped.destroying.push((record.namespace.clone(), task)),
                Err(error) => reaped
                    .refused
                    .push((record.namespace.clone(), error.to_string())),
            }
        }
        Ok(reaped)
    }

    /// Whether `record` was tried lately (by this reaper, or by a destroy that failed), so that
    /// it is not tried again at once.
    fn backing_off(&self, record: &Record, now: i64) -> bool {
        let attempted = self
            .attempted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&record.namespace);
        attempted
            || (record.status == Status::Failed
                && now - record.updated_at_millis < RETRY_AFTER_MILLIS)
    }

    /// Tells the configured webhooks that `record` expires at `expires_at`, and audits it.
    async fn remind(
        &self,
        record: &Record,
        environment: &Environment,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        let engine = &self.engine;
        let max_seconds = environment.expiry.map_or(0, |e| e.max_seconds);
        let notification = Notification::new(
            EXPIRING,
            &record.namespace,
            json!({
                "namespace": record.namespace,
                "service": record.service,
                "environment": record.environment,
                "owner": self.owner(&record.service),
                "expires_at": iso(expires_at),
                "expires_in_seconds": ((expires_at - now).max(0) + 999) / 1000,
                "extendable_until": iso(now.saturating_add(seconds_to_millis(max_seconds))),
            }),
        );
        let webhooks = engine.config().notifications.webhooks.clone();
        let delivered = self.notifier.send(&webhooks, &notification).await;
        tracing::info!(namespace = %record.namespace, expires_at = %iso(expires_at), delivered, "reminded of an expiring environment");
        engine
            .audit
            .record(Entry {
                actor: REAPER,
                action: "provision.remind",
                target: &record.namespace,
                outcome: Outcome::Success,
                detail: json!({
                    "service": record.service,
                    "environment": record.environment,
                    "expires_at": iso(expires_at),
                    "webhooks": webhooks.len(),
                    "delivered": delivered,
                }),
                request_id: None,
            })
            .await
    }

    /// Submits the destroy of the expired `record` as the reaper, auditing the attempt either
    /// way; returns the task's id.
    async fn reap(&self, record: &Record, expires_at: i64) -> Result<String> {
        let engine = &self.engine;
        let request = Request {
            service: record.service.clone(),
            environment: record.environment.clone(),
            request_id: format!("reap-{}", uuid::Uuid::new_v4()),
            requester: Requester {
                entity_ref: REAPER.to_owned(),
                name: "Causeway reaper".to_owned(),
                email: "causeway@localhost".to_owned(),
            },
            ..Request::default()
        };
        let submitted = engine.submit_destroy(&self.tasks, &request).await;
        let (outcome, task, error) = match &submitted {
            Ok(task) => (Outcome::Success, Some(task.id.clone()), None),
            Err(error) => (Outcome::Failed, None, Some(error.to_string())),
        };
        match &error {
            None => tracing::info!(namespace = %record.namespace, "reaping an expired environment"),
            Some(error) => {
                tracing::warn!(namespace = %record.namespace, %error, "could not reap an expired environment")
            }
        }
        engine
            .audit
            .record(Entry {
                actor: REAPER,
                action: "provision.reap",
                target: &record.namespace,
                outcome,
                detail: json!({
                    "service": record.service,
                    "environment": record.environment,
                    "expires_at": iso(expires_at),
                    "task": task,
                    "error": error,
                }),
                request_id: Some(&request.request_id),
            })
            .await?;
        submitted.map(|task| task.id)
    }

    /// The owning team of `service`, when the catalog still has it.
    fn owner(&self, service: &str) -> Option<String> {
        let entity_ref = refs::parse(service, "component", "default").ok()?;
        let index = self.engine.catalog.index();
        let entity = index.by_ref(&entity_ref)?;
        index.owners(entity).into_iter().next()
    }

    /// Runs a pass every `every` while this replica holds the reaper's lease, until the process
    /// ends (or gives its leases up, after which it reaps no more).
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Renewed at every pass, and long enough that a slow pass does not lose it.
            let length = (every * 3).max(Duration::from_secs(15));
            loop {
                match self
                    .engine
                    .leases
                    .hold(REAPER_LEASE, &self.engine.replica, length)
                    .await
                {
                    Ok(true) => match self.pass().await {
                        Ok(reaped) if reaped != Reaped::default() => {
                            tracing::debug!(?reaped, "reaper pass");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "reaper pass failed"),
                    },
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "could not renew the reaper's lease"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(45), "45 s");
        assert_eq!(human(20 * 60), "20 min");
        assert_eq!(human(3 * 3600), "3 h");
        assert_eq!(human(5 * 3600 + 20 * 60), "5 h 20 min");
        assert_eq!(human(7 * 86_400), "7 d");
        assert_eq!(human(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
        assert_eq!(expires_in(1_000, 2_000), "expired");
        assert_eq!(expires_in(61_000, 1_000), "1 min");
    }

    #[test]
    fn only_environments_with_an_expiry_get_one() {
        let config = super::super::config::ProvisionConfig::embedded(None, "g".into());
        let preview = config.environment("preview").expect("preview");
        assert_eq!(first_expiry(preview, 1_000), Some(1_000 + 72 * 3600 * 1000));
        let dev = config.environment("dev").expect("dev");
        assert_eq!(first_expiry(dev, 1_000), None);
    }
}
