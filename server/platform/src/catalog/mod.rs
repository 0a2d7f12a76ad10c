//! The software catalog: Backstage-compatible entities, validated, related in both directions,
//! stored, indexed and queried.
//!
//! Writes go to the database in one transaction and then into the in-memory [`Index`], which
//! serves every read. An ingestion is all or nothing: one invalid document stores nothing.

pub mod entity;
pub mod git;
pub mod import;
pub mod index;
pub mod kinds;
mod load;
pub mod locations;
mod persist;
mod policies;
pub mod query;
pub mod refs;
pub mod render;
mod rules;
pub mod search;
#[cfg(test)]
mod testing;
pub mod validate;
pub mod yaml;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use serde::Serialize;
use serde_json::{Map, Value};

use self::entity::Processed;
use self::index::{Identifier, Index, Stored};
use crate::identity::{Principal, Role};
use crate::{Error, Result, Store};

/// Told about the Template entities a write stored, once it has committed: the scaffolder keeps
/// each template's versions (`scaffolder/versions/`). The catalog knows nothing of templates
/// beyond their kind, so it only hands their bodies over.
pub trait TemplateWatcher: std::fmt::Debug + Send + Sync {
    /// `templates` are the Template entities the write provided — added, changed and unchanged
    /// alike, since a template's files can change when its entity does not — `location_key` where
    /// the catalog read them, and `author` who or what wrote them (a person's entity reference,
    /// or `catalog refresh of <location>`).
    fn stored<'a>(
        &'a self,
        templates: Vec<Value>,
        location_key: &'a str,
        author: &'a str,
    ) -> futures::future::BoxFuture<'a, ()>;
}

/// The annotation marking entities whose location no longer provides them.
pub const ORPHAN_ANNOTATION: &str = "backstage.io/orphan";

/// A problem with one document of an ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// File, upload or location the document came from.
    pub source: String,
    /// Position of the document in its text, from 1.
    pub document: Option<usize>,
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(
        source: &str,
        document_index: Option<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source: source.to_owned(),
            document: document_index.map(|i| i + 1),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(document) = self.document {
            write!(f, ": document {document}")?;
        }
        write!(f, ": {}: {}", self.field, self.message)
    }
}

/// What an ingestion did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Entities of the same location that are no longer provided by it.
    pub orphaned: Vec<String>,
    /// References to entities that do not exist (kept, reported).
    pub warnings: Vec<String>,
    /// The policies' warnings and waived denials about the imported entities.
    pub policies: Vec<crate::guardrails::Verdict>,
}

/// How an ingestion treats the entities already stored for its location.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Entities of the location that are missing from this ingestion become orphans.
    pub replace: bool,
    /// Validate and report without storing anything.
    pub dry_run: bool,
}

/// The catalog service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Store,
    index: Arc<RwLock<Index>>,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The catalog version the index reflects; another replica's write makes the stored one differ.
    version: Arc<AtomicI64>,
    /// Cached principals to forget when users, teams or memberships change.
    principals: Option<crate::identity::PrincipalCache>,
    /// The policies imports on a person's behalf are held to.
    guardrails: Option<crate::guardrails::Guardrails>,
    /// Where imports are audited (`import.rs`).
    audit: Option<crate::audit::AuditLog>,
    /// Told about the templates each write stored.
    templates: Option<Arc<dyn TemplateWatcher>>,
}

/// Validates and processes documents one at a time, collecting every problem of every
/// document; a file is read into it document by document.
#[derive(Debug, Default)]
pub struct Preparer {
    processed: Vec<Processed>,
    problems: Vec<Problem>,
    seen: BTreeSet<String>,
}

impl Preparer {
    /// Checks document `index` (from 0) of `source`.
    pub fn add(&mut self, source: &str, index: usize, document: Value) {
        let kind = match validate::validate(&document) {
            Ok(kind) => kind,
            Err(violations) => {
                self.reject(source, index, violations);
                return;
            }
        };
        match entity::process(document, kind) {
            Ok(p) => {
                if !self.seen.insert(p.entity_ref.clone()) {
                    self.problems.push(Problem::new(source, Some(index), "metadata.name", format!("{} appears more than once (names are unique per kind and namespace, ignoring case)", p.entity_ref)));
                }
                self.processed.push(p);
            }
            Err(violations) => self.reject(source, index, violations),
        }
    }

    /// Records problems found outside the documents (unreadable YAML, for instance).
    pub fn fail(&mut self, mut problems: Vec<Problem>) {
        self.problems.append(&mut problems);
    }

    fn reject(&mut self, source: &str, index: usize, violations: Vec<validate::Violation>) {
        self.problems.extend(
            violations
                .into_iter()
                .map(|v| Problem::new(source, Some(index), &v.field, v.message)),
        );
    }

    /// The processed entities, or every problem.
    pub fn finish(self) -> Result<Vec<Processed>, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(self.processed)
        } else {
            Err(self.problems)
        }
    }
}

/// Validates and processes documents; every problem of every document is reported.
pub fn prepare(source: &str, documents: Vec<Value>) -> Result<Vec<Processed>, Vec<Problem>> {
    let mut preparer = Preparer::default();
    for (index, document) in documents.into_iter().enumerate() {
        preparer.add(source, index, document);
    }
    preparer.finish()
}

impl Catalog {
    /// An empty catalog over `store`; [`Catalog::reload`] fills it once the database is migrated.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            index: Arc::new(RwLock::new(Index::default())),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            version: Arc::new(AtomicI64::new(-1)),
            principals: None,
            guardrails: None,
            audit: None,
            templates: None,
        }
    }

    /// Tells `watcher` about the Template entities every write stores, after it committed.
    pub fn with_template_watcher(mut self, watcher: Arc<dyn TemplateWatcher>) -> Self {
        self.templates = Some(watcher);
        self
    }

    /// Makes identity changes clear `cache`, so a new team membership is seen at once.
    pub(crate) fn clearing_on_identity_change(
        mut self,
        cache: crate::identity::PrincipalCache,
    ) -> Self {
        self.principals = Some(cache);
        self
    }

    /// Rebuilds the index from the database (at start, and when another replica wrote).
    /// Audits imports (`Catalog::import`) in `audit`.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Holds imports made on a person's behalf to the policies of `guardrails`.
    pub fn with_guardrails(mut self, guardrails: crate::guardrails::Guardrails) -> Self {
        self.guardrails = Some(guardrails);
        self
    }

    pub async fn reload(&self) -> Result<()> {
        let _writer = self.writer.lock().await;
        self.reload_locked().await
    }

    /// [`Catalog::reload`] for a caller that holds the writer lock.
    async fn reload_locked(&self) -> Result<()> {
        let version = persist::version(&self.store).await?;
        let index = load::load(&self.store).await?;
        *self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = index;
        self.version.store(version, Ordering::Release);
        Ok(())
    }

    /// Reloads the index when another process changed the catalog; returns whether it did.
    pub async fn refresh_if_stale(&self) -> Result<bool> {
        // The comparison waits for a write in progress: this process's own commit bumps the
        // stored version before the write records it, and comparing in between would reload the
        // whole index after every large import.
        let _writer = self.writer.lock().await;
        if persist::version(&self.store).await? == self.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload_locked().await?;
        Ok(true)
    }

    /// Records the version a write produced: if it is not the next one, another process wrote in
    /// between and the index is marked stale so that the next check reloads it.
    fn advance(&self, written: i64) {
        let expected = self.version.load(Ordering::Acquire) + 1;
        self.version.store(
            if written == expected { written } else { -1 },
            Ordering::Release,
        );
    }

    /// Read access to the index.
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store this catalog writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Validates and stores `documents` from `location_key` (`upload:…`, `file:…`, `url:…`), all or
    /// nothing. Invalid input is [`Error::Rejected`] listing every problem; an entity that another
    /// location already provides is [`Error::Conflict`].
    pub async fn ingest(
        &self,
        location_key: &str,
        documents: Vec<Value>,
        options: IngestOptions,
    ) -> Result<IngestReport> {
        let processed = prepare(location_key, documents).map_err(Error::Rejected)?;
        self.store_processed(location_key, processed, options, None)
            .await
    }

    /// Like [`Catalog::ingest`], on behalf of a user: unless a platform admin, the user may only
    /// store entities owned by one of their teams (or themselves), never entities without an
    /// owner, may only change entities their teams own, and may not store User or Group entities,
    /// which grant membership and roles.
    pub async fn ingest_as(
        &self,
        principal: &Principal,
        location_key: &str,
        documents: Vec<Value>,
        options: IngestOptions,
    ) -> Result<IngestReport> {
        let processed = prepare(location_key, documents).map_err(Error::Rejected)?;
        self.store_processed(location_key, processed, options, Some(principal))
            .await
    }

    /// Stores entities already checked by a [`Preparer`]; as [`Catalog::ingest`] otherwise.
    pub async fn ingest_prepared(
        &self,
        location_key: &str,
        processed: Vec<Processed>,
        options: IngestOptions,
    ) -> Result<IngestReport> {
        self.store_processed(location_key, processed, options, None)
            .await
    }

    /// Stores `processed` for `location_key` on behalf of `actor` (held to its rights), then
    /// tells the template watcher, naming the actor as the author, or the import when nobody
    /// acted (the command line, the demo organisation).
    pub(super) async fn store_processed(
        &self,
        location_key: &str,
        processed: Vec<Processed>,
        options: IngestOptions,
        actor: Option<&Principal>,
    ) -> Result<IngestReport> {
        let author = match actor {
            Some(principal) => principal.entity_ref.clone(),
            None => format!("catalog import of {location_key}"),
        };
        self.store_processed_by(location_key, processed, options, actor, &author)
            .await
    }

    /// [`Catalog::store_processed`] with the author the template watcher is told.
    pub(super) async fn store_processed_by(
        &self,
        location_key: &str,
        processed: Vec<Processed>,
        options: IngestOptions,
        actor: Option<&Principal>,
        author: &str,
    ) -> Result<IngestReport> {
        let templates: Vec<Value> = match &self.templates {
            Some(_) if !options.dry_run => processed
                .iter()
                .filter(|p| p.kind.name == "Template")
                .filter_map(|p| serde_json::from_str(&p.body).ok())
                .collect(),
            _ => Vec::new(),
        };
        let report = self
            .store_locked(location_key, processed, options, actor)
            .await?;
        if let Some(watcher) = &self.templates
            && !templates.is_empty()
        {
            watcher.stored(templates, location_key, author).await;
        }
        Ok(report)
    }

    async fn store_locked(
        &self,
        location_key: &str,
        processed: Vec<Processed>,
        options: IngestOptions,
        actor: Option<&Principal>,
    ) -> Result<IngestReport> {
        let _writer = self.writer.lock().await;
        if let Some(principal) = actor.filter(|p| p.role != Role::PlatformAdmin) {
            let index = self.index();
            for p in &processed {
                authorize(&index, principal, p)?;
            }
        }
        let mut report = IngestReport::default();
        if let (Some(principal), Some(guardrails)) = (actor, &self.guardrails) {
            report.policies = policies::check_import(guardrails, principal, &processed).await?;
        }
        // What the location provided until now comes from the database's index on the location
        // rather than from a pass over every entity of the catalog.
        let provided_before = if options.replace {
            persist::location_refs(&self.store, location_key).await?
        } else {
            Vec::new()
        };
        let mut writes = Vec::new();
        let shared_key: Arc<str> = Arc::from(location_key);
        {
            let index = self.index();
            for p in processed {
                match index.by_ref(&p.entity_ref) {
                    Some(existing)
                        if *existing.location_key != *location_key
                            && !is_orphan(&index, existing) =>
                    {
                        return Err(Error::Conflict(format!(
                            "{} is already provided by {}; remove it there first or unregister that location",
                            p.entity_ref, existing.location_key
                        )));
                    }
                    Some(existing)
                        if *existing.location_key == *location_key
                            && *index.body(existing) == *p.body =>
                    {
                        report.unchanged.push(p.entity_ref.clone());
                    }
                    Some(existing) => {
                        let old = index.body_value(existing);
                        let new: Value = serde_json::from_str(&p.body).unwrap_or(Value::Null);
                        let generation = if old.get("spec") == new.get("spec") {
                            existing.generation
                        } else {
                            existing.generation + 1
                        };
                        report.updated.push(p.entity_ref.clone());
                        writes.push(stored(
                            p,
                            existing.uid.clone(),
                            Identifier::new_etag(),
                            generation,
                            shared_key.clone(),
                        ));
                    }
                    None => {
                        report.added.push(p.entity_ref.clone());
                        writes.push(stored(
                            p,
                            Identifier::new_uid(),
                            Identifier::new_etag(),
                            1,
                            shared_key.clone(),
                        ));
                    }
                }
            }
            if options.replace {
                let provided: BTreeSet<&str> = report
                    .added
                    .iter()
                    .chain(&report.updated)
                    .chain(&report.unchanged)
                    .map(String::as_str)
                    .collect();
                for entity_ref in &provided_before {
                    let Some(existing) = index.by_ref(entity_ref) else {
                        continue;
                    };
                    if *existing.location_key == *location_key
                        && !provided.contains(existing.entity_ref())
                        && !is_orphan(&index, existing)
                    {
                        report.orphaned.push(existing.entity_ref().to_owned());
                        writes.push(orphaned(&index, existing));
                    }
                }
            }
            let written: BTreeSet<&str> = writes.iter().map(|w| w.entity_ref()).collect();
            for write in &writes {
                for edge in index.dangling_from(write) {
                    if !written.contains(&*edge.target) {
                        report.warnings.push(format!(
                            "{}: {} refers to {}, which does not exist",
                            write.entity_ref(),
                            edge.kind(),
                            edge.target
                        ));
                    }
                }
            }
        }
        if options.dry_run || writes.is_empty() {
            return Ok(report);
        }
        let version = persist::upsert(&self.store, &writes).await?;
        let touched: Vec<String> = writes.iter().map(|w| w.entity_ref().to_owned()).collect();
        {
            let mut index = self
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // A small write patches the cached orders instead of leaving the next sorted query
            // to sort the whole catalog again.
            let held = index.hold_orders(writes.iter().map(|w| w.entity_ref()));
            for write in writes {
                index.upsert(write);
            }
            index.patch_orders(held);
        }
        self.advance(version);
        self.sync_identity(&touched).await?;
        Ok(report)
    }

    /// Deletes the entity with `uid`; returns whether it existed.
    pub async fn delete_by_uid(&self, uid: &str) -> Result<Option<String>> {
        let _writer = self.writer.lock().await;
        let Some(entity_ref) = self.index().by_uid(uid).map(|e| e.entity_ref().to_owned()) else {
            return Ok(None);
        };
        let version = persist::delete(&self.store, std::slice::from_ref(&entity_ref)).await?;
        {
            let mut index = self
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let held = index.hold_orders([entity_ref.as_str()]);
            index.remove(&entity_ref);
            index.patch_orders(held);
        }
        self.advance(version);
        self.sync_identity(std::slice::from_ref(&entity_ref))
            .await?;
        Ok(Some(entity_ref))
    }

    /// Deletes every entity provided by `location_key`; returns their references.
    pub async fn delete_location_entities(&self, location_key: &str) -> Result<Vec<String>> {
        let _writer = self.writer.lock().await;
        // The location's entities are found through the database's index on the location, not
        // by a pass over the catalog.
        let refs = persist::location_refs(&self.store, location_key).await?;
        let version = persist::delete(&self.store, &refs).await?;
        {
            let mut index = self
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let held = index.hold_orders(refs.iter().map(String::as_str));
            for r in &refs {
                index.remove(r);
            }
            index.patch_orders(held);
        }
        self.advance(version);
        self.sync_identity(&refs).await?;
        Ok(refs)
    }

    /// Keeps the identity tables (users, teams, memberships) in step with User and Group entities.
    async fn sync_identity(&self, touched: &[String]) -> Result<()> {
        let mut users = Vec::new();
        let mut teams = Vec::new();
        let mut gone = Vec::new();
        let mut memberships: Vec<(String, Vec<String>)> = Vec::new();
        let mut team_members: Vec<(String, Vec<String>)> = Vec::new();
        {
            let index = self.index();
            for entity_ref in touched {
                let is_user = entity_ref.starts_with("user:");
                if !is_user && !entity_ref.starts_with("group:") {
                    continue;
                }
                let Some(entity) = index.by_ref(entity_ref) else {
                    gone.push(entity_ref.clone());
                    continue;
                };
                let body = index.body_value(entity);
                let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
                let display = text("/spec/profile/displayName")
                    .or_else(|| text("/metadata/title"))
                    .unwrap_or_else(|| entity.name().to_owned());
                let related = index.relations(entity);
                if is_user {
                    users.push((entity_ref.clone(), display, text("/spec/profile/email")));
                    memberships.push((
                        entity_ref.clone(),
                        related
                            .iter()
                            .filter(|r| r.kind == "memberOf")
                            .map(|r| r.target.clone())
                            .collect(),
                    ));
                } else {
                    let parent = related
                        .iter()
                        .find(|r| r.kind == "childOf")
                        .map(|r| r.target.clone());
                    teams.push((entity_ref.clone(), display, parent));
                    team_members.push((
                        entity_ref.clone(),
                        related
                            .iter()
                            .filter(|r| r.kind == "hasMember")
                            .map(|r| r.target.clone())
                            .collect(),
                    ));
                }
            }
        }
        let changed = !(users.is_empty() && teams.is_empty() && gone.is_empty());
        persist::sync_identity(
            &self.store,
            &users,
            &teams,
            &gone,
            &memberships,
            &team_members,
        )
        .await?;
        if changed && let Some(cache) = &self.principals {
            cache.clear();
        }
        Ok(())
    }

    /// The entity as the API serves it: the authored body plus `metadata.uid`, `metadata.etag`,
    /// `metadata.generation` and `relations` in both directions.
    pub fn render(index: &Index, entity: &Stored) -> Value {
        render::render(index, entity)
    }
}

/// The rule of [`Catalog::ingest_as`] for one entity.
fn authorize(index: &Index, principal: &Principal, p: &Processed) -> Result<()> {
    if matches!(p.kind.name, "User" | "Group") {
        return Err(Error::Forbidden(format!(
            "{}: only platform admins may import users and groups, because they grant team membership and roles",
            p.entity_ref
        )));
    }
    if let Some(existing) = index.by_ref(&p.entity_ref) {
        let owners = index.owners(existing);
        if !owners.iter().any(|o| principal.acts_for(o)) {
            return Err(Error::Forbidden(format!(
                "{} is owned by {}; only its owners (or platform admins) may change it",
                p.entity_ref,
                if owners.is_empty() {
                    "nobody".to_owned()
                } else {
                    owners.join(", ")
                }
            )));
        }
    }
    // An entity without an owner (a Location, which has no `spec.owner`, or a Template, whose
    // owner Backstage makes optional) could only ever be changed by platform admins afterwards,
    // so only they may store one.
    let Some(owner) = p.edges.iter().find(|e| e.kind() == "ownedBy") else {
        return Err(Error::Forbidden(format!(
            "{}: spec.owner is missing; entities without an owner may only be stored by platform admins, developers store what their teams own",
            p.entity_ref
        )));
    };
    if !principal.acts_for(&owner.target) {
        return Err(Error::Forbidden(format!(
            "{}: spec.owner {} is not one of your teams; you may only register what your teams own",
            p.entity_ref, owner.target
        )));
    }
    Ok(())
}

fn stored(
    p: Processed,
    uid: Identifier,
    etag: Identifier,
    generation: i64,
    location_key: Arc<str>,
) -> Stored {
    Stored {
        uid,
        etag,
        generation,
        names: index::Names::new(&p.entity_ref, &p.namespace, &p.name),
        kind: p.kind,
        body: index::Body::from(p.body),
        edges: p.edges.into_boxed_slice(),
        location_key,
    }
}

/// Whether `entity` carries the orphan annotation, read from the index's search pairs rather than
/// by parsing its body (the refresh of a large location asks this of every entity it holds).
fn is_orphan(index: &Index, entity: &Stored) -> bool {
    index.id_of(entity.entity_ref()).is_some_and(|id| {
        index.has_value(
            id,
            &format!("metadata.annotations.{ORPHAN_ANNOTATION}"),
            "true",
        )
    })
}

/// A copy of `entity` marked as an orphan.
fn orphaned(index: &Index, entity: &Stored) -> Stored {
    let mut body = index.body_value(entity);
    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(
                ORPHAN_ANNOTATION.to_owned(),
                Value::String("true".to_owned()),
            );
        }
    }
    let mut copy = entity.clone();
    copy.body = index::Body::from(render::body_text(&body));
    copy.etag = Identifier::new_etag();
    copy
}
