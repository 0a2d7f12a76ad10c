//! What a template version is made of, and its identity: the template entity with what the
//! catalog adds removed (where it was read from, its uid, etag and generation, its relations), and
//! every file of the template's directory. The same template registered elsewhere, refreshed, or
//! captured by another replica has the same identity; one changed byte of a skeleton makes a new
//! one.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::scaffolder::Source;
use crate::scaffolder::template::Template;
use crate::scaffolder::workspace::{FileEntry, normalise};

/// The most a version's files may hold together, the most one fetch may read: anything larger
/// could not run either.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The most files a version may hold.
pub const MAX_FILES: usize = 20_000;

/// Annotations the catalog sets from where and how it read an entity; the same template read
/// from another place is the same version.
const VOLATILE_ANNOTATIONS: [&str; 4] = [
    "backstage.io/managed-by-location",
    "backstage.io/managed-by-origin-location",
    "backstage.io/source-location",
    "backstage.io/orphan",
];
/// The catalog's own bookkeeping in `metadata`.
const VOLATILE_METADATA: [&str; 3] = ["uid", "etag", "generation"];
/// Top-level members the catalog computes.
const VOLATILE_TOP: [&str; 2] = ["relations", "status"];
/// Version-control directories, which change on every fetch and are not the template's content.
const SKIPPED_DIRS: [&str; 3] = [".git", ".hg", ".svn"];

/// What the identity covers, in order; changing it changes every version id, so it is versioned.
const SCHEME: &[u8] = b"causeway.dev/template-version/1\n";

/// The entity as a version holds it: without the annotations and metadata the catalog adds, and
/// with the namespace it fills in.
pub fn canonical_entity(entity: &Value) -> Value {
    let mut entity = entity.clone();
    if let Some(top) = entity.as_object_mut() {
        for key in VOLATILE_TOP {
            top.remove(key);
        }
    }
    if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in VOLATILE_METADATA {
            metadata.remove(key);
        }
        // The catalog fills in the default namespace; a template written without one is the same.
        metadata
            .entry("namespace")
            .or_insert_with(|| Value::String("default".to_owned()));
        let empty = match metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            Some(annotations) => {
                for key in VOLATILE_ANNOTATIONS {
                    annotations.remove(key);
                }
                annotations.is_empty()
            }
            None => false,
        };
        // An entity whose only annotations were the catalog's is the one written without any.
        if empty {
            metadata.remove("annotations");
        }
    }
    entity
}

/// `value` as JSON with every object's keys sorted, whatever order it was built in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The version id of a canonical entity and its files: `sha256:` and the 64 hex digits of the
/// SHA-256 over the scheme, the entity's canonical JSON and each file (sorted by path) with its
/// executable bit, every part preceded by its length so that no two contents encode alike.
pub fn version_id(entity: &Value, files: &BTreeMap<String, FileEntry>) -> String {
    let mut digest = Sha256::new();
    digest.update(SCHEME);
    let json = canonical_json(entity);
    digest.update((json.len() as u64).to_be_bytes());
    digest.update(json.as_bytes());
    digest.update((files.len() as u64).to_be_bytes());
    for (path, file) in files {
        digest.update((path.len() as u64).to_be_bytes());
        digest.update(path.as_bytes());
        digest.update([u8::from(file.executable)]);
        digest.update((file.content.len() as u64).to_be_bytes());
        digest.update(&file.content);
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// A template's content: its canonical entity and every file of its source.
#[derive(Debug, Clone)]
pub struct Content {
    pub entity: Value,
    pub files: BTreeMap<String, FileEntry>,
    pub version: String,
}

/// Reads a template's content (blocking: a directory is read from disk). A template whose files
/// cannot be read at all (uploaded, or from a location whose files Causeway does not read) can
/// use no file in a run, so its version is its entity alone; a directory that cannot be read
/// whole is refused, the template named.
pub fn read(template: &Template) -> Result<Content, String> {
    let files = match &template.source {
        Source::Files(files) => {
            let files: BTreeMap<String, FileEntry> = (**files).clone();
            check_size(
                template,
                files.len(),
                files.values().map(|f| f.content.len() as u64).sum(),
            )?;
            files
        }
        Source::Dir { dir, .. } => {
            read_dir(dir).map_err(|e| format!("{}: {e}", template.entity_ref))?
        }
        Source::Unreadable(_) => BTreeMap::new(),
    };
    let entity = canonical_entity(&template.entity);
    let version = version_id(&entity, &files);
    Ok(Content {
        entity,
        files,
        version,
    })
}

fn check_size(template: &Template, files: usize, bytes: u64) -> Result<(), String> {
    if files > MAX_FILES {
        return Err(format!(
            "{}: the template has more than {MAX_FILES} files; a template version holds at most that many",
            template.entity_ref
        ));
    }
    if bytes > MAX_BYTES {
        return Err(format!(
            "{}: the template's files hold more than {} MiB; a template version holds at most that much",
            template.entity_ref,
            MAX_BYTES >> 20
        ));
    }
    Ok(())
}

/// Whether a step of `template` may read above the template's own directory (a `url:` input
/// with a `..` in it, literal or inside an expression). A version holds only that directory, so
/// such a template's runs read its location as they always did rather than the stored version.
pub fn reads_outside(template: &Template) -> bool {
    template.steps.iter().any(|step| {
        step.input
            .get("url")
            .and_then(Value::as_str)
            .is_some_and(|url| {
                !url.contains("://")
                    && (url.contains("${{") && url.contains("..") || normalise(url).is_err())
            })
    })
}

/// Every regular file below `dir`, by path relative to it. Version-control directories are left
/// out; symbolic links are followed only while they stay inside `dir`, and a loop is refused.
pub fn read_dir(dir: &Path) -> Result<BTreeMap<String, FileEntry>, String> {
    let root = dir.canonicalize().map_err(|e| {
        format!(
            "the template's directory {} cannot be read: {e}",
            dir.display()
        )
    })?;
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let mut visited: HashSet<PathBuf> = HashSet::from([root.clone()]);
    let mut stack = vec![(root.clone(), String::new())];
    while let Some((current, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|e| format!("{} cannot be read: {e}", shown(&prefix)))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{} cannot be read: {e}", shown(&prefix)))?;
            let name = entry.file_name().into_string().map_err(|name| {
                format!(
                    "{}/{} has a name that is not UTF-8; rename it",
                    shown(&prefix),
                    name.to_string_lossy()
                )
            })?;
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let link = entry
                .file_type()
                .map_err(|e| format!("{relative} cannot be read: {e}"))?
                .is_symlink();
            let resolved = if link {
                let target = path.canonicalize().map_err(|e| {
                    format!("{relative} is a symbolic link that cannot be followed: {e}")
                })?;
                if !target.starts_with(&root) {
                    return Err(format!(
                        "{relative} is a symbolic link that leaves the template's directory"
                    ));
                }
                target
            } else {
                path
            };
            let kind = std::fs::metadata(&resolved)
                .map_err(|e| format!("{relative} cannot be read: {e}"))?;
            if kind.is_dir() {
                if SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                let canonical = resolved
                    .canonicalize()
                    .map_err(|e| format!("{relative} cannot be read: {e}"))?;
                if !visited.insert(canonical) {
                    return Err(format!(
                        "{relative} is a symbolic link to a directory already read (a loop)"
                    ));
                }
                stack.push((resolved, relative));
            } else if kind.is_file() {
                total += kind.len();
                if total > MAX_BYTES {
                    return Err(format!(
                        "the template's directory holds more than {} MiB; a template version holds at most that much",
                        MAX_BYTES >> 20
                    ));
                }
                if files.len() >= MAX_FILES {
                    return Err(format!(
                        "the template's directory holds more than {MAX_FILES} files; a template version holds at most that many"
                    ));
                }
                let content = std::fs::read(&resolved)
                    .map_err(|e| format!("{relative} cannot be read: {e}"))?;
                files.insert(
                    relative,
                    FileEntry {
                        content,
                        executable: executable(&kind),
                    },
                );
            }
            // Sockets, pipes and devices are not a template's content.
        }
    }
    Ok(files)
}

fn shown(prefix: &str) -> &str {
    if prefix.is_empty() { "." } else { prefix }
}

#[cfg(unix)]
fn executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}
