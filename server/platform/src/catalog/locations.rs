//! Registered locations: where descriptor files live (a file on the server, an allow-listed URL, a
//! git repository), registering them and refreshing them; `read` reads and follows them
//! (`kind: Location` entities point at more files).

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::{Catalog, IngestOptions, IngestReport};
use crate::identity::{Principal, Role};
use crate::time::now_millis;
use crate::{Error, Result};

mod read;

pub(super) use read::join_inside;
use read::read_tree;

/// How deep `kind: Location` entities may point at further locations.
const MAX_DEPTH: usize = 5;
/// How long a URL read may take.
const URL_TIMEOUT: Duration = Duration::from_secs(15);

/// A registered location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    #[serde(skip)]
    pub refreshed_at_millis: Option<i64>,
    #[serde(skip)]
    pub last_error: Option<String>,
}

impl Location {
    /// The key entities from this location carry, as in Backstage's `managed-by-location`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.target)
    }
}

/// What may be read, from where.
#[derive(Debug, Clone, Default)]
pub struct ReadPolicy {
    /// Hosts URL locations may name: exact names, or `*.example.com` for subdomains.
    pub allowed_hosts: Vec<String>,
    /// What happens to entities their location no longer provides.
    pub delete_orphans: bool,
}

impl ReadPolicy {
    /// Refuses URLs whose host is not allowed, before any request is made.
    pub fn check_url(&self, target: &str) -> Result<url::Url> {
        let url = url::Url::parse(target)
            .map_err(|e| Error::invalid("target", format!("{target:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "target",
                format!("{target:?} must be an http:// or https:// URL"),
            ));
        }
        self.check_host(url.host_str().unwrap_or_default())?;
        Ok(url)
    }

    /// Refuses hosts that are not on the allow-list.
    pub fn check_host(&self, host: &str) -> Result<()> {
        let host = host.to_lowercase();
        let allowed = self.allowed_hosts.iter().any(|pattern| {
            let pattern = pattern.to_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == pattern,
            }
        });
        if allowed {
            Ok(())
        } else {
            Err(Error::invalid(
                "target",
                format!(
                    "host {host:?} is not in catalog_allowed_hosts; ask a platform admin to allow it"
                ),
            ))
        }
    }
}

fn location_from_row(row: &sqlx::any::AnyRow) -> Result<Location> {
    Ok(Location {
        id: row.try_get("id")?,
        kind: row.try_get("type")?,
        target: row.try_get("target")?,
        refreshed_at_millis: row.try_get("refreshed_at")?,
        last_error: row.try_get("last_error")?,
    })
}

fn check_type(kind: &str, target: &str) -> Result<()> {
    if !matches!(kind, "file" | "url" | "git") {
        return Err(Error::invalid(
            "type",
            format!("{kind:?} is not a location type; expected file, url or git"),
        ));
    }
    if target.trim().is_empty() {
        return Err(Error::invalid("target", "is required"));
    }
    Ok(())
}

/// The result of registering a location.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub location: Location,
    pub report: IngestReport,
    /// Whether the location was already registered.
    pub exists: bool,
}

impl Catalog {
    /// Every registered location.
    pub async fn locations(&self) -> Result<Vec<Location>> {
        let rows = sqlx::query("SELECT id, type, target, refreshed_at, last_error FROM locations ORDER BY created_at, id")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(location_from_row).collect()
    }

    /// The location with `id`.
    pub async fn location(&self, id: &str) -> Result<Location> {
        let row = sqlx::query(
            "SELECT id, type, target, refreshed_at, last_error FROM locations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("location {id}")))?;
        location_from_row(&row)
    }

    /// Reads a location and registers it with its entities, or (with `dry_run`) only reports what
    /// it would store. A location whose files do not validate is not registered.
    pub async fn register(
        &self,
        kind: &str,
        target: &str,
        dry_run: bool,
        policy: &ReadPolicy,
    ) -> Result<Registered> {
        self.register_as(kind, target, dry_run, policy, None).await
    }

    /// [`Catalog::register`] on behalf of `actor`, held to the rule of [`Catalog::ingest_as`]:
    /// unless a platform admin, the location may provide only entities the actor's teams own (a
    /// template run registering the repository it created goes through here).
    pub async fn register_as(
        &self,
        kind: &str,
        target: &str,
        dry_run: bool,
        policy: &ReadPolicy,
        actor: Option<&Principal>,
    ) -> Result<Registered> {
        check_type(kind, target)?;
        let existing = sqlx::query("SELECT id, type, target, refreshed_at, last_error FROM locations WHERE type = $1 AND target = $2")
            .bind(kind)
            .bind(target)
            .fetch_optional(self.store.pool())
            .await?
            .map(|r| location_from_row(&r))
            .transpose()?;
        if existing.is_some() && !dry_run {
            return Err(Error::Conflict(format!(
                "location {kind}:{target} is already registered"
            )));
        }
        let location = existing.clone().unwrap_or_else(|| Location {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.to_owned(),
            target: target.to_owned(),
            refreshed_at_millis: None,
            last_error: None,
        });
        let processed = read_tree(&location, policy).await?;
        let author = match actor {
            Some(principal) => principal.entity_ref.clone(),
            None => format!("catalog registration of {}", location.key()),
        };
        let report = self
            .store_processed_by(
                &location.key(),
                processed,
                IngestOptions {
                    replace: true,
                    dry_run,
                },
                actor,
                &author,
            )
            .await?;
        if !dry_run {
            // Two registrations of one location can both pass the check above; the unique
            // constraint decides, and the loser gets the same answer as if it had come second
            // (its entities are the winner's: same location, same files).
            let inserted = sqlx::query("INSERT INTO locations (id, type, target, created_at, refreshed_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (type, target) DO NOTHING")
                .bind(&location.id)
                .bind(kind)
                .bind(target)
                .bind(now_millis())
                .execute(self.store.pool())
                .await?;
            if inserted.rows_affected() == 0 {
                return Err(Error::Conflict(format!(
                    "location {kind}:{target} is already registered"
                )));
            }
        }
        Ok(Registered {
            location,
            report,
            exists: existing.is_some(),
        })
    }

    /// Unregisters a location and deletes the entities it provided.
    pub async fn unregister(&self, id: &str) -> Result<Vec<String>> {
        let location = self.location(id).await?;
        let deleted = self.delete_location_entities(&location.key()).await?;
        sqlx::query("DELETE FROM locations WHERE id = $1")
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(deleted)
    }

    /// Reads one location again: changed entities are rewritten, vanished ones become orphans
    /// (and are deleted when the policy says so). The outcome is recorded on the location.
    pub async fn refresh_location(
        &self,
        location: &Location,
        policy: &ReadPolicy,
    ) -> Result<IngestReport> {
        let author = format!("catalog refresh of {}", location.key());
        self.refresh_location_by(location, policy, &author).await
    }

    /// [`Catalog::refresh_location`] with the author of the templates it stores (see
    /// [`super::TemplateWatcher`]): the person who asked, or the periodic refresh.
    async fn refresh_location_by(
        &self,
        location: &Location,
        policy: &ReadPolicy,
        author: &str,
    ) -> Result<IngestReport> {
        let result = match read_tree(location, policy).await {
            Ok(processed) => {
                self.store_processed_by(
                    &location.key(),
                    processed,
                    IngestOptions {
                        replace: true,
                        dry_run: false,
                    },
                    None,
                    author,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let error = result.as_ref().err().map(ToString::to_string);
        sqlx::query("UPDATE locations SET refreshed_at = $1, last_error = $2 WHERE id = $3")
            .bind(now_millis())
            .bind(error)
            .bind(&location.id)
            .execute(self.store.pool())
            .await?;
        let report = result?;
        if policy.delete_orphans && !report.orphaned.is_empty() {
            for entity_ref in &report.orphaned {
                let uid = self.index().by_ref(entity_ref).map(|e| e.uid.to_string());
                if let Some(uid) = uid {
                    self.delete_by_uid(&uid).await?;
                }
            }
        }
        Ok(report)
    }

    /// Refreshes the location that provides `entity_ref`, on behalf of `principal`: the entity's
    /// owners and platform admins may. Refreshing every location at once is the server's own
    /// periodic job ([`Catalog::refresh_all`]), which no door offers to users.
    pub async fn refresh_entity(
        &self,
        principal: &Principal,
        entity_ref: &str,
        policy: &ReadPolicy,
    ) -> Result<IngestReport> {
        let key = {
            let index = self.index();
            let entity = index
                .by_ref(entity_ref)
                .ok_or_else(|| Error::NotFound(format!("entity {entity_ref}")))?;
            // A refresh only reads again what an admin registered, but it reads a whole location
            // (possibly large, possibly remote), so it is not for everyone signed in.
            let owners = index.owners(entity);
            if principal.role != Role::PlatformAdmin
                && !owners.iter().any(|o| principal.acts_for(o))
            {
                return Err(Error::Forbidden(format!(
                    "{entity_ref} is owned by {}; only its owners (or platform admins) may refresh it",
                    if owners.is_empty() {
                        "nobody".to_owned()
                    } else {
                        owners.join(", ")
                    }
                )));
            }
            entity.location_key.clone()
        };
        let location = self
            .locations()
            .await?
            .into_iter()
            .find(|l| *l.key() == *key)
            .ok_or_else(|| Error::invalid("entityRef", format!("{entity_ref} was not registered through a location ({key}); nothing to refresh")))?;
        self.refresh_location_by(&location, policy, &principal.entity_ref)
            .await
    }

    /// Refreshes every location; failures are recorded on each location and logged.
    pub async fn refresh_all(&self, policy: &ReadPolicy) -> Result<()> {
        for location in self.locations().await? {
            if let Err(error) = self.refresh_location(&location, policy).await {
                tracing::warn!(location = %location.key(), %error, "location refresh failed");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
