//! Template versions: every version of a template a run used, the catalog read or an author
//! published, kept whole — the entity and every file of the template's directory — so that a
//! service can later be rendered again from exactly the template it was created from.
//!
//! A version is immutable and named by its content (`content.rs`: `sha256:` and the hash of the
//! canonical entity and files); the same content captured twice, by two replicas or from two
//! places, is one version, dated and attributed by its first capture (`table.rs`). `diff.rs`
//! compares two versions file by file. Versions are captured when a run is submitted (origin
//! `run`, before the run is stored, so a run's version is always stored), when the catalog stores
//! a template (origin `catalog`, through [`crate::catalog::TemplateWatcher`]), and when a platform
//! admin publishes one from the authoring page (origin `authoring`).

pub mod content;
pub mod diff;
mod table;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};

use super::workspace::FileEntry;
use super::{Scaffolder, Source, Template, catalog_source};
use crate::audit::{Entry, Outcome};
use crate::identity::Principal;
use crate::{Error, Result};

pub use diff::{Change, FileDiff};
pub use table::VersionTable;

/// Captured by the catalog when it stored the template (its location was registered, refreshed
/// or imported).
pub const ORIGIN_CATALOG: &str = "catalog";
/// First seen when a run used it.
pub const ORIGIN_RUN: &str = "run";
/// Published from the authoring page.
pub const ORIGIN_AUTHORING: &str = "authoring";

/// One version of a template, whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateVersion {
    pub template_ref: String,
    /// `sha256:` and 64 hex digits.
    pub version: String,
    /// When it was first captured.
    pub created_at_millis: i64,
    /// Who first captured it: a person's entity reference, or what the catalog was doing.
    pub author: String,
    /// `catalog`, `run` or `authoring`: how it was first captured.
    pub origin: String,
    /// The template entity, without what the catalog adds (see `content.rs`).
    pub entity: Value,
    /// Every file of the template, by path relative to the template.
    pub files: BTreeMap<String, FileEntry>,
}

/// A version without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    pub template_ref: String,
    pub version: String,
    pub created_at_millis: i64,
    pub author: String,
    pub origin: String,
    /// How many files it holds.
    pub files: usize,
}

impl TemplateVersion {
    pub fn summary(&self) -> VersionSummary {
        VersionSummary {
            template_ref: self.template_ref.clone(),
            version: self.version.clone(),
            created_at_millis: self.created_at_millis,
            author: self.author.clone(),
            origin: self.origin.clone(),
            files: self.files.len(),
        }
    }
}

/// The versions of templates, with the engine that loads them; from [`Scaffolder::versions`].
#[derive(Debug, Clone)]
pub struct TemplateVersions {
    table: VersionTable,
    scaffolder: Scaffolder,
}

impl Scaffolder {
    /// The stored template versions.
    pub fn versions(&self) -> Result<TemplateVersions> {
        Ok(TemplateVersions {
            table: self.services()?.versions.clone(),
            scaffolder: self.clone(),
        })
    }

    /// Publishes `entity` with `files` as a new version of the catalog template of the same
    /// reference, as `principal` (platform admins: it is authoring). The template is checked as a
    /// registered one would be; publishing content already stored answers that version. Audited
    /// as `scaffolder.template.publish`.
    pub async fn publish_authored(
        &self,
        principal: &Principal,
        entity: &Value,
        files: BTreeMap<String, FileEntry>,
    ) -> Result<VersionSummary> {
        let services = self.services()?;
        let target = entity
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let result = self.publish(principal, entity, files).await;
        let (outcome, detail) = match &result {
            Ok(summary) => (
                Outcome::Success,
                json!({ "version": summary.version, "files": summary.files }),
            ),
            Err(error @ Error::Forbidden(_)) => {
                (Outcome::Denied, json!({ "error": error.to_string() }))
            }
            Err(error) => (Outcome::Failed, json!({ "error": error.to_string() })),
        };
        let target = result
            .as_ref()
            .map(|s| s.template_ref.clone())
            .unwrap_or(target);
        let entry = Entry {
            actor: &principal.entity_ref,
            action: "scaffolder.template.publish",
            target: &target,
            outcome,
            detail,
            request_id: None,
        };
        if let Err(error) = services.audit.record(entry).await {
            tracing::error!(%error, "could not audit a template publication");
        }
        result
    }

    async fn publish(
        &self,
        principal: &Principal,
        entity: &Value,
        files: BTreeMap<String, FileEntry>,
    ) -> Result<VersionSummary> {
        let template = self.load_sent(principal, entity, Source::Files(Arc::new(files)))?;
        let in_catalog = self.catalog.as_ref().is_some_and(|catalog| {
            let index = catalog.index();
            index
                .by_ref(&template.entity_ref)
                .is_some_and(|stored| stored.entity_ref().starts_with("template:"))
        });
        if !in_catalog {
            return Err(Error::invalid(
                "metadata.name",
                format!(
                    "{} is not in the catalog; a version is published for a template the catalog holds, so register the template first (metadata.name and metadata.namespace name it)",
                    template.entity_ref
                ),
            ));
        }
        self.versions()?
            .capture(&template, &principal.entity_ref, ORIGIN_AUTHORING)
            .await
    }
}

impl TemplateVersions {
    /// Stores the version `template` is now, unless it is stored already (then it keeps its first
    /// date, author and origin); answers it. Every file of the template's source is read: a
    /// directory whole (symbolic links leaving it refused, at most [`content::MAX_BYTES`]), files
    /// sent with it as they are; a template with no readable files is its entity alone.
    pub async fn capture(
        &self,
        template: &Template,
        author: &str,
        origin: &str,
    ) -> Result<VersionSummary> {
        capture(&self.table, template, author, origin).await
    }

    /// Every version of `template_ref` (`template:<namespace>/<name>`), newest first.
    pub async fn list(&self, template_ref: &str) -> Result<Vec<VersionSummary>> {
        self.table.list(template_ref).await
    }

    /// One version with its entity and files.
    pub async fn get(&self, template_ref: &str, version: &str) -> Result<Option<TemplateVersion>> {
        Ok(self
            .table
            .get(template_ref, version)
            .await?
            .map(|v| (*v).clone()))
    }

    /// A stored version as a template ready to run: its files are its source, and it is checked
    /// as any template is, against this server's actions.
    pub fn template(&self, version: &TemplateVersion) -> Result<Template> {
        self.scaffolder.load(
            &version.entity,
            Source::Files(Arc::new(version.files.clone())),
        )
    }

    /// The stored version `version` of `template_ref` as a template, when it is stored; runs
    /// load their template here at every step.
    pub(crate) async fn load(&self, template_ref: &str, version: &str) -> Result<Option<Template>> {
        let Some(found) = self.table.get(template_ref, version).await? else {
            return Ok(None);
        };
        self.template(&found).map(Some)
    }

    /// What changed from version `from` to version `to` of `template_ref`, file by file; a
    /// version that is not stored is refused naming its parameter.
    pub async fn diff(&self, template_ref: &str, from: &str, to: &str) -> Result<Vec<FileDiff>> {
        let mut found = Vec::new();
        for (field, version) in [("from", from), ("to", to)] {
            found.push(
                self.table
                    .get(template_ref, version)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            field,
                            format!("{version:?} is not a stored version of {template_ref}"),
                        )
                    })?,
            );
        }
        Ok(diff::diff(&found[0], &found[1]))
    }
}

async fn capture(
    table: &VersionTable,
    template: &Template,
    author: &str,
    origin: &str,
) -> Result<VersionSummary> {
    if ![ORIGIN_CATALOG, ORIGIN_RUN, ORIGIN_AUTHORING].contains(&origin) {
        return Err(Error::invalid(
            "origin",
            format!("{origin:?} is not an origin; expected catalog, run or authoring"),
        ));
    }
    let content = read(template).await?;
    table
        .insert(&template.entity_ref, &content, author, origin)
        .await
}

/// A template's content, read on a blocking thread (a directory is read from disk).
async fn read(template: &Template) -> Result<content::Content> {
    let template = template.clone();
    tokio::task::spawn_blocking(move || content::read(&template))
        .await
        .map_err(|e| {
            Error::invalid(
                "template",
                format!("reading the template's files stopped: {e}"),
            )
        })?
        .map_err(|e| Error::invalid("template", e))
}

/// The version id of `template` as it is now, without storing it (dry runs).
pub async fn version_of(template: &Template) -> Result<String> {
    Ok(read(template).await?.version)
}

impl crate::catalog::TemplateWatcher for VersionTable {
    fn stored<'a>(
        &'a self,
        templates: Vec<Value>,
        location_key: &'a str,
        author: &'a str,
    ) -> BoxFuture<'a, ()> {
        async move {
            for entity in templates {
                // The catalog has stored it either way: a template that cannot be read here is
                // captured by its first run instead, or refused then with the reason.
                let source = catalog_source(&entity, location_key);
                let template = match Template::from_entity(&entity, source) {
                    Ok(template) => template,
                    Err(findings) => {
                        tracing::debug!(?findings, "a stored template is not one the scaffolder reads; no version captured");
                        continue;
                    }
                };
                if let Err(error) = capture(self, &template, author, ORIGIN_CATALOG).await {
                    tracing::warn!(template = %template.entity_ref, %error, "could not capture a template version");
                }
            }
        }
        .boxed()
    }
}
