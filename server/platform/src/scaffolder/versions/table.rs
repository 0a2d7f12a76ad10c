//! The `template_versions` table: one row per template and version, inserted once and never
//! updated or deleted. The entity is its canonical JSON; the files are packed as the runs' saved
//! state is (a JSON object of path to file, zstd-compressed, base64), so both engines store text.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::content::Content;
use super::{TemplateVersion, VersionSummary};
use crate::scaffolder::workspace::FileEntry;
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// How much decoded versions the cache keeps: runs load their version at every step.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

const SUMMARY_COLUMNS: &str = "template_ref, version, created_at, author, origin, file_count";

/// The stored versions; cheap to clone.
#[derive(Debug, Clone)]
pub struct VersionTable {
    store: Store,
    /// Versions recently read, newest last. A version never changes, so a cached one is never
    /// stale.
    cache: Arc<Mutex<VecDeque<Arc<TemplateVersion>>>>,
}

impl VersionTable {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// Inserts `content` as a version of `template_ref` unless it is stored already (then its
    /// first date, author and origin stay); answers the stored row.
    pub async fn insert(
        &self,
        template_ref: &str,
        content: &Content,
        author: &str,
        origin: &str,
    ) -> Result<VersionSummary> {
        let bytes: u64 = content.files.values().map(|f| f.content.len() as u64).sum();
        let packed = pack(&content.files)?;
        sqlx::query(
            "INSERT INTO template_versions \
             (template_ref, version, created_at, author, origin, entity, files, file_count, bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (template_ref, version) DO NOTHING",
        )
        .bind(template_ref)
        .bind(&content.version)
        .bind(now_millis())
        .bind(author)
        .bind(origin)
        .bind(super::content::canonical_json(&content.entity))
        .bind(packed)
        .bind(content.files.len() as i64)
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .execute(self.store.pool())
        .await?;
        self.summary(template_ref, &content.version)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("version {} of {template_ref}", content.version))
            })
    }

    async fn summary(&self, template_ref: &str, version: &str) -> Result<Option<VersionSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM template_versions WHERE template_ref = $1 AND version = $2"
        );
        let row = sqlx::query(&sql)
            .bind(template_ref)
            .bind(version)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(summary_of).transpose()
    }

    /// Every version of `template_ref`, newest first.
    pub async fn list(&self, template_ref: &str) -> Result<Vec<VersionSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM template_versions WHERE template_ref = $1 \
             ORDER BY created_at DESC, version DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(template_ref)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(summary_of).collect()
    }

    /// One version with its entity and files.
    pub async fn get(
        &self,
        template_ref: &str,
        version: &str,
    ) -> Result<Option<Arc<TemplateVersion>>> {
        if let Some(found) = self.cached(template_ref, version) {
            return Ok(Some(found));
        }
        let row = sqlx::query(
            "SELECT template_ref, version, created_at, author, origin, entity, files \
             FROM template_versions WHERE template_ref = $1 AND version = $2",
        )
        .bind(template_ref)
        .bind(version)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let entity: String = row.try_get("entity")?;
        let files: String = row.try_get("files")?;
        let found = Arc::new(TemplateVersion {
            template_ref: row.try_get("template_ref")?,
            version: row.try_get("version")?,
            created_at_millis: row.try_get("created_at")?,
            author: row.try_get("author")?,
            origin: row.try_get("origin")?,
            entity: serde_json::from_str(&entity).map_err(|e| unreadable(version, e))?,
            files: unpack(&files).map_err(|e| unreadable(version, e))?,
        });
        self.remember(found.clone());
        Ok(Some(found))
    }

    fn cached(&self, template_ref: &str, version: &str) -> Option<Arc<TemplateVersion>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .iter()
            .find(|v| v.template_ref == template_ref && v.version == version)
            .cloned()
    }

    fn remember(&self, version: Arc<TemplateVersion>) {
        let size = |v: &TemplateVersion| v.files.values().map(|f| f.content.len()).sum::<usize>();
        if size(&version) > CACHE_BYTES {
            return;
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.push_back(version);
        while cache.iter().map(|v| size(v)).sum::<usize>() > CACHE_BYTES {
            cache.pop_front();
        }
    }
}

fn summary_of(row: &AnyRow) -> Result<VersionSummary> {
    let files: i64 = row.try_get("file_count")?;
    Ok(VersionSummary {
        template_ref: row.try_get("template_ref")?,
        version: row.try_get("version")?,
        created_at_millis: row.try_get("created_at")?,
        author: row.try_get("author")?,
        origin: row.try_get("origin")?,
        files: usize::try_from(files).unwrap_or_default(),
    })
}

fn unreadable(version: &str, error: impl std::fmt::Display) -> Error {
    Error::invalid(
        "version",
        format!("the stored version {version} cannot be read: {error}"),
    )
}

/// The files as stored: JSON, zstd-compressed, base64.
fn pack(files: &BTreeMap<String, FileEntry>) -> Result<String> {
    let json = serde_json::to_vec(files).map_err(|e| unreadable("being stored", e))?;
    let mut encoder =
        zstd::Encoder::new(Vec::new(), 3).map_err(|e| unreadable("being stored", e))?;
    encoder
        .write_all(&json)
        .map_err(|e| unreadable("being stored", e))?;
    let compressed = encoder
        .finish()
        .map_err(|e| unreadable("being stored", e))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(compressed))
}

fn unpack(text: &str) -> std::result::Result<BTreeMap<String, FileEntry>, String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())?;
    let mut json = Vec::new();
    zstd::Decoder::new(compressed.as_slice())
        .and_then(|mut d| d.read_to_end(&mut json))
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}
