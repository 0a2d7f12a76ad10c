//! The difference between two versions of a template, file by file, as unified diffs.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::TemplateVersion;
use crate::scaffolder::workspace::FileEntry;

/// The path under which a changed entity is listed: the entity is part of a version even when
/// its file is not among the version's files (a template published from the authoring page).
pub const ENTITY_PATH: &str = "(template entity)";

/// Files larger than this are reported as changed without their lines.
const MAX_DIFF_BYTES: usize = 1024 * 1024;
/// How long one file's diff may take before it settles for a coarser one.
const DIFF_DEADLINE: Duration = Duration::from_secs(1);

/// How a file differs between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    /// Its content changed (and perhaps its executable bit).
    Modified,
    /// Only its executable bit changed.
    Mode,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Modified => "modified",
            Self::Mode => "mode",
        }
    }
}

/// One file that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    pub path: String,
    pub change: Change,
    /// A unified diff (`a/<path>` to `b/<path>`), the mode lines of a changed executable bit, or
    /// a sentence for a binary or very large file.
    pub unified: String,
}

/// Every file that differs from `from` to `to`, by path; the entity first when it changed.
pub fn diff(from: &TemplateVersion, to: &TemplateVersion) -> Vec<FileDiff> {
    let mut out = Vec::new();
    if from.entity != to.entity {
        let text = |v: &TemplateVersion| serde_yaml_ng::to_string(&v.entity).unwrap_or_default();
        out.push(FileDiff {
            path: ENTITY_PATH.to_owned(),
            change: Change::Modified,
            unified: unified(ENTITY_PATH, &text(from), &text(to)),
        });
    }
    let paths: BTreeSet<&String> = from.files.keys().chain(to.files.keys()).collect();
    for path in paths {
        match (from.files.get(path), to.files.get(path)) {
            (None, Some(added)) => out.push(FileDiff {
                path: path.clone(),
                change: Change::Added,
                unified: one_sided(path, added, true),
            }),
            (Some(removed), None) => out.push(FileDiff {
                path: path.clone(),
                change: Change::Removed,
                unified: one_sided(path, removed, false),
            }),
            (Some(old), Some(new)) if old != new => out.push(changed(path, old, new)),
            _ => {}
        }
    }
    out
}

fn mode(file: &FileEntry) -> &'static str {
    if file.executable { "100755" } else { "100644" }
}

fn changed(path: &str, old: &FileEntry, new: &FileEntry) -> FileDiff {
    let mut text = String::new();
    if old.executable != new.executable {
        text.push_str(&format!("old mode {}\nnew mode {}\n", mode(old), mode(new)));
    }
    if old.content == new.content {
        return FileDiff {
            path: path.to_owned(),
            change: Change::Mode,
            unified: text,
        };
    }
    if old.is_binary() || new.is_binary() {
        text.push_str("binary file changed\n");
    } else if old.content.len().max(new.content.len()) > MAX_DIFF_BYTES {
        text.push_str(&format!(
            "file too large to show its lines ({} bytes, then {} bytes)\n",
            old.content.len(),
            new.content.len()
        ));
    } else {
        text.push_str(&unified(
            path,
            &String::from_utf8_lossy(&old.content),
            &String::from_utf8_lossy(&new.content),
        ));
    }
    FileDiff {
        path: path.to_owned(),
        change: Change::Modified,
        unified: text,
    }
}

fn one_sided(path: &str, file: &FileEntry, added: bool) -> String {
    let what = if added { "added" } else { "removed" };
    if file.is_binary() {
        return format!("binary file {what}\n");
    }
    if file.content.len() > MAX_DIFF_BYTES {
        return format!(
            "file too large to show its lines ({} bytes {what})\n",
            file.content.len()
        );
    }
    let text = String::from_utf8_lossy(&file.content);
    if added {
        unified(path, "", &text)
    } else {
        unified(path, &text, "")
    }
}

fn unified(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::configure()
        .timeout(DIFF_DEADLINE)
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
