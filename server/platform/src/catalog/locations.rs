//! Registered locations: where descriptor files live (a file on the server, an allow-listed URL)
//! and how they are read, followed (`kind: Location` entities point at more files) and refreshed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;

use super::entity::Processed;
use super::{Catalog, IngestOptions, IngestReport, Preparer, git, yaml};
use crate::time::now_millis;
use crate::{Error, Result};

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

/// A place one text was read from, for resolving relative targets.
#[derive(Debug, Clone)]
enum Base {
    File(PathBuf),
    Url(url::Url),
}

impl Base {
    fn resolve(&self, target: &str, policy: &ReadPolicy) -> Result<Base> {
        match self {
            Base::File(path) => {
                if target.starts_with("http://") || target.starts_with("https://") {
                    return Ok(Base::Url(policy.check_url(target)?));
                }
                let dir = path.parent().unwrap_or(Path::new("."));
                Ok(Base::File(dir.join(target)))
            }
            Base::Url(url) => {
                let joined = url
                    .join(target)
                    .map_err(|e| Error::invalid("spec.target", format!("{target:?}: {e}")))?;
                Ok(Base::Url(policy.check_url(joined.as_str())?))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Base::File(p) => format!("file:{}", p.display()),
            Base::Url(u) => format!("url:{u}"),
        }
    }
}

async fn read(base: &Base) -> Result<String> {
    match base {
        Base::File(path) => {
            let meta = tokio::fs::metadata(path).await.map_err(|e| {
                Error::invalid("target", format!("cannot read {}: {e}", path.display()))
            })?;
            // Devices such as /dev/zero report length 0 and never end; only regular files are read.
            if !meta.is_file() {
                return Err(Error::invalid(
                    "target",
                    format!("{} is not a regular file", path.display()),
                ));
            }
            if meta.len() > yaml::MAX_TEXT_BYTES as u64 {
                return Err(Error::invalid(
                    "target",
                    format!(
                        "{} is larger than {} bytes",
                        path.display(),
                        yaml::MAX_TEXT_BYTES
                    ),
                ));
            }
            // Read at most one byte more than allowed, in case the file grows after the check.
            use tokio::io::AsyncReadExt as _;
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                Error::invalid("target", format!("cannot read {}: {e}", path.display()))
            })?;
            let mut bytes = Vec::new();
            file.take(yaml::MAX_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| {
                    Error::invalid("target", format!("cannot read {}: {e}", path.display()))
                })?;
            if bytes.len() > yaml::MAX_TEXT_BYTES {
                return Err(Error::invalid(
                    "target",
                    format!(
                        "{} is larger than {} bytes",
                        path.display(),
                        yaml::MAX_TEXT_BYTES
                    ),
                ));
            }
            String::from_utf8(bytes).map_err(|_| {
                Error::invalid("target", format!("{} is not UTF-8 text", path.display()))
            })
        }
        Base::Url(url) => {
            let client = reqwest::Client::builder()
                .timeout(URL_TIMEOUT)
                // Redirects could lead to hosts that are not allowed; follow none.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::invalid("target", format!("cannot create an HTTP client: {e}"))
                })?;
            let mut response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| Error::invalid("target", format!("cannot fetch {url}: {e}")))?;
            if !response.status().is_success() {
                return Err(Error::invalid(
                    "target",
                    format!("{url} answered {}", response.status()),
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| Error::invalid("target", format!("reading {url}: {e}")))?
            {
                body.extend_from_slice(&chunk);
                if body.len() > yaml::MAX_TEXT_BYTES {
                    return Err(Error::invalid(
                        "target",
                        format!("{url} is larger than {} bytes", yaml::MAX_TEXT_BYTES),
                    ));
                }
            }
            String::from_utf8(body)
                .map_err(|_| Error::invalid("target", format!("{url} is not UTF-8 text")))
        }
    }
}

/// Reads a location and every location its `kind: Location` entities point at, annotating each
/// entity with where it came from, and checks every document as it is parsed.
async fn read_tree(root: &Location, policy: &ReadPolicy) -> Result<Vec<Processed>> {
    let base = match root.kind.as_str() {
        "file" => Base::File(PathBuf::from(&root.target)),
        "url" => Base::Url(policy.check_url(&root.target)?),
        "git" => return read_git_tree(root, policy).await,
        other => {
            return Err(Error::invalid(
                "type",
                format!("{other:?} is not a location type; expected file, url or git"),
            ));
        }
    };
    let mut preparer = Preparer::default();
    let mut pending = vec![(base, 0usize)];
    while let Some((base, depth)) = pending.pop() {
        let source = base.describe();
        let text = read(&base).await?;
        let mut targets = Vec::new();
        let parsed = yaml::parse_each(&source, &text, |index, mut document| {
            if depth < MAX_DEPTH {
                targets.extend(location_targets(&document));
            }
            annotate(&mut document, &root.key(), &source);
            preparer.add(&source, index, document);
        });
        if let Err(problems) = parsed {
            preparer.fail(problems);
        }
        for target in targets {
            pending.push((base.resolve(&target, policy)?, depth + 1));
        }
    }
    preparer.finish().map_err(Error::Rejected)
}

/// The targets a `kind: Location` document points at (none for other kinds).
fn location_targets(document: &Value) -> Vec<String> {
    let is_location = document
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case("location"));
    if !is_location {
        return Vec::new();
    }
    let spec = document.get("spec");
    let mut targets: Vec<String> = spec
        .and_then(|s| s.get("targets"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    targets.extend(
        spec.and_then(|s| s.get("target"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    );
    targets
}

/// Reads a git location on a blocking thread (the git library does blocking I/O).
async fn read_git_tree(root: &Location, policy: &ReadPolicy) -> Result<Vec<Processed>> {
    let target = git::GitTarget::parse(&root.target)?;
    let policy_copy = policy.clone();
    let files = tokio::task::spawn_blocking(move || git::read(&target, &policy_copy, MAX_DEPTH))
        .await
        .map_err(|e| Error::invalid("target", format!("reading the repository failed: {e}")))??;
    let mut preparer = Preparer::default();
    for (path, text) in files {
        let source = format!(
            "git:{}#{path}",
            root.target.split('#').next().unwrap_or_default()
        );
        let parsed = yaml::parse_each(&source, &text, |index, mut document| {
            annotate(&mut document, &root.key(), &source);
            preparer.add(&source, index, document);
        });
        if let Err(problems) = parsed {
            preparer.fail(problems);
        }
    }
    preparer.finish().map_err(Error::Rejected)
}

/// Sets Backstage's provenance annotations (kept when the author set them).
fn annotate(document: &mut Value, location_key: &str, origin: &str) {
    let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations
            .entry("backstage.io/managed-by-location")
            .or_insert_with(|| Value::String(origin.to_owned()));
        annotations
            .entry("backstage.io/managed-by-origin-location")
            .or_insert_with(|| Value::String(location_key.to_owned()));
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
        let report = self
            .ingest_prepared(
                &location.key(),
                processed,
                IngestOptions {
                    replace: true,
                    dry_run,
                },
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
        let result = match read_tree(location, policy).await {
            Ok(processed) => {
                self.ingest_prepared(
                    &location.key(),
                    processed,
                    IngestOptions {
                        replace: true,
                        dry_run: false,
                    },
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
                let uid = self.index().by_ref(entity_ref).map(|e| e.uid.clone());
                if let Some(uid) = uid {
                    self.delete_by_uid(&uid).await?;
                }
            }
        }
        Ok(report)
    }

    /// Refreshes the location that provides `entity_ref`.
    pub async fn refresh_entity(
        &self,
        entity_ref: &str,
        policy: &ReadPolicy,
    ) -> Result<IngestReport> {
        let key = self
            .index()
            .by_ref(entity_ref)
            .map(|e| e.location_key.clone())
            .ok_or_else(|| Error::NotFound(format!("entity {entity_ref}")))?;
        let location = self
            .locations()
            .await?
            .into_iter()
            .find(|l| *l.key() == *key)
            .ok_or_else(|| Error::invalid("entityRef", format!("{entity_ref} was not registered through a location ({key}); nothing to refresh")))?;
        self.refresh_location(&location, policy).await
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
