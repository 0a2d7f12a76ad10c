//! Revisions of the platform configuration: identified by the hash of their files, recorded in
//! the store by the first replica that loads them, and audited with their diff.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::documents::{File, PlatformConfig};
use super::source::Source;
use crate::Result;
use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::Problem;
use crate::provision::config::ProvisionConfig;
use crate::store::Store;
use crate::time::now_millis;

/// A loaded, valid configuration.
#[derive(Debug, Clone)]
pub struct Revision {
    /// SHA-256 of the files (names and texts), in hex.
    pub hash: String,
    pub source: String,
    pub loaded_at_millis: i64,
    /// The files joined, each after a `# file: <name>` line: what diffs are taken of.
    pub text: String,
    pub config: Arc<PlatformConfig>,
    pub provision: Arc<ProvisionConfig>,
}

/// What the portal lists about a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionSummary {
    pub hash: String,
    pub source: String,
    pub loaded_at_millis: i64,
}

/// Why the newest read was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The refused files' hash (empty when they could not be read at all).
    pub hash: String,
    pub source: String,
    pub at_millis: i64,
    pub problems: Vec<Problem>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    Unchanged,
    Loaded(RevisionSummary),
    /// The source was invalid; the active revision stays.
    Rejected(Vec<Problem>),
}

impl Revision {
    pub fn new(source: &Source, files: &[File], config: PlatformConfig) -> Self {
        Self {
            hash: hash(files),
            source: source.describe(),
            loaded_at_millis: now_millis(),
            text: joined(files),
            provision: Arc::new(config.provision.clone()),
            config: Arc::new(config),
        }
    }

    pub fn summary(&self) -> RevisionSummary {
        RevisionSummary {
            hash: self.hash.clone(),
            source: self.source.clone(),
            loaded_at_millis: self.loaded_at_millis,
        }
    }
}

/// The identity of a set of files: their names and texts, in order.
pub fn hash(files: &[File]) -> String {
    let mut digest = Sha256::new();
    for file in files {
        digest.update(file.name.as_bytes());
        digest.update([0]);
        digest.update(file.text.as_bytes());
        digest.update([0]);
    }
    digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn joined(files: &[File]) -> String {
    files
        .iter()
        .map(|f| format!("# file: {}\n{}", f.name, f.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The files of a joined text, as [`joined`] wrote them.
#[cfg(test)]
fn split(text: &str) -> Vec<File> {
    let mut files: Vec<File> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("# file: ") {
            if let Some(last) = files.last_mut() {
                // `joined` put a newline between files; it is not part of the text.
                if last.text.ends_with("\n\n")
                    || (last.text.ends_with('\n') && !last.text.is_empty())
                {
                    last.text.pop();
                }
            }
            files.push(File {
                name: name.trim_end().to_owned(),
                text: String::new(),
            });
        } else if let Some(last) = files.last_mut() {
            last.text.push_str(line);
        }
    }
    files
}

/// Records `revision` unless a replica already did; the one that records it audits the change
/// from `previous` with a unified diff.
pub async fn record(
    store: &Store,
    audit: &AuditLog,
    actor: &str,
    previous: &Revision,
    revision: &Revision,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO platform_config_revisions (hash, source, text, loaded_at, previous_hash) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(&revision.hash)
    .bind(&revision.source)
    .bind(&revision.text)
    .bind(revision.loaded_at_millis)
    .bind(&previous.hash)
    .execute(store.pool())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(&previous.text, &revision.text)
        .unified_diff()
        .context_radius(3)
        .header(&short(&previous.hash), &short(&revision.hash))
        .to_string();
    audit
        .record(Entry {
            actor,
            action: "platform.config-load",
            target: &revision.source,
            outcome: Outcome::Success,
            detail: serde_json::json!({
                "revision": revision.hash,
                "previous": previous.hash,
                "diff": diff,
            }),
            request_id: None,
        })
        .await
}

/// Audits a refused revision with its problems.
pub async fn audit_rejection(
    audit: &AuditLog,
    actor: &str,
    source: &str,
    hash: &str,
    problems: &[Problem],
) -> Result<()> {
    audit
        .record(Entry {
            actor,
            action: "platform.config-load",
            target: source,
            outcome: Outcome::Failed,
            detail: serde_json::json!({
                "revision": hash,
                "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            request_id: None,
        })
        .await
}

/// The files' text of the recorded revision `hash`.
pub async fn text_of(store: &Store, hash: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT text FROM platform_config_revisions WHERE hash = $1")
        .bind(hash)
        .fetch_optional(store.pool())
        .await?;
    row.map(|row| row.try_get("text"))
        .transpose()
        .map_err(Into::into)
}

/// The recorded revisions, newest first.
pub async fn history(store: &Store, limit: i64) -> Result<Vec<RevisionSummary>> {
    let rows = sqlx::query(
        "SELECT hash, source, loaded_at FROM platform_config_revisions ORDER BY loaded_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(RevisionSummary {
                hash: row.try_get("hash")?,
                source: row.try_get("source")?,
                loaded_at_millis: row.try_get("loaded_at")?,
            })
        })
        .collect()
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_files_split_back() {
        let files = vec![
            File {
                name: "a.yaml".to_owned(),
                text: "one: 1\n".to_owned(),
            },
            File {
                name: "b/c.yaml".to_owned(),
                text: "two: 2\nthree: 3\n".to_owned(),
            },
        ];
        assert_eq!(split(&joined(&files)), files);
        assert_eq!(hash(&split(&joined(&files))), hash(&files));
    }
}
