//! Where a template's relative `url:` inputs are read from: the directory of the file it was
//! registered from (its `backstage.io/managed-by-location`), a repository checked out for the
//! run, or files sent with a request (a dry run's `directoryContents`, the authoring page).
//! Every read stays inside the source's root: `..`, absolute paths and symlinks that leave it
//! are refused with the input named.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::workspace::{FileEntry, normalise};

/// The most a template may read from its source in one fetch.
const MAX_FETCH_BYTES: u64 = 64 * 1024 * 1024;
/// The most files one fetch may read.
const MAX_FETCH_FILES: usize = 20_000;

/// A template's files.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory on this server: the template's own directory, and the root reads may not
    /// climb out of (the registered location's directory, or the repository).
    Dir { dir: PathBuf, root: PathBuf },
    /// Files sent with the request, by path relative to the template.
    Files(Arc<BTreeMap<String, FileEntry>>),
    /// Nowhere: the template came from somewhere whose files cannot be read; why is given.
    Unreadable(String),
}

impl Source {
    /// A directory with itself as the root.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self::Dir {
            root: dir.clone(),
            dir,
        }
    }

    /// Reads the file or directory `url` names (relative to the template) as workspace entries,
    /// keyed by their path below it. A file is keyed by its own name.
    pub fn read(&self, url: &str, field: &str) -> Result<Vec<(String, FileEntry)>, String> {
        if url.contains("://") || url.starts_with("github.com") {
            return Err(format!(
                "{field}: {url:?} is not inside the template's location; Causeway reads skeletons from the template's own location (relative paths such as ./skeleton)"
            ));
        }
        match self {
            Self::Unreadable(why) => Err(format!("{field}: {url:?} cannot be read: {why}")),
            Self::Files(files) => {
                let wanted = normalise(url).map_err(|e| format!("{field}: {e}"))?;
                if let Some(file) = files.get(&wanted) {
                    let name = wanted.rsplit('/').next().unwrap_or(&wanted).to_owned();
                    return Ok(vec![(name, file.clone())]);
                }
                let prefix = if wanted.is_empty() {
                    String::new()
                } else {
                    format!("{wanted}/")
                };
                let found: Vec<_> = files
                    .iter()
                    .filter_map(|(path, file)| {
                        path.strip_prefix(&prefix)
                            .map(|rest| (rest.to_owned(), file.clone()))
                    })
                    .collect();
                if found.is_empty() {
                    return Err(format!(
                        "{field}: {url:?} names no file or directory among the template's files"
                    ));
                }
                Ok(found)
            }
            Self::Dir { dir, root } => {
                let target = inside(root, dir, url).map_err(|e| format!("{field}: {e}"))?;
                read_dir_tree(root, &target).map_err(|e| format!("{field}: {e}"))
            }
        }
    }
}

/// `dir` joined with the relative `url`, refused when the result leaves `root`.
fn inside(root: &Path, dir: &Path, url: &str) -> Result<PathBuf, String> {
    let relative = Path::new(url);
    if relative.is_absolute() {
        return Err(format!(
            "{url:?} is an absolute path; use a path relative to the template"
        ));
    }
    let mut joined = dir.to_path_buf();
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                joined.pop();
            }
            Component::Normal(part) => joined.push(part),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{url:?} is not a relative path"));
            }
        }
    }
    if !joined.starts_with(root) {
        return Err(format!(
            "{url:?} leaves the template's location ({}); a template may read only below it",
            root.display()
        ));
    }
    Ok(joined)
}

/// Reads `target` (a file or a directory tree) below `root`, refusing symlinks that lead out.
fn read_dir_tree(root: &Path, target: &Path) -> Result<Vec<(String, FileEntry)>, String> {
    let canonical_root = root
        .canonicalize()
        .map_err(|e| format!("the template's location cannot be read: {e}"))?;
    let metadata = std::fs::metadata(target)
        .map_err(|e| format!("{} cannot be read: {e}", shown(root, target)))?;
    let mut out = Vec::new();
    let mut total = 0u64;
    if metadata.is_file() {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, read_entry(&canonical_root, root, target, &mut total)?));
        return Ok(out);
    }
    let mut stack = vec![(target.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("{} cannot be read: {e}", shown(root, &dir)))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{} cannot be read: {e}", shown(root, &dir)))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = std::fs::metadata(&path)
                .map_err(|e| format!("{} cannot be read: {e}", shown(root, &path)))?;
            if kind.is_dir() {
                check_link(&canonical_root, root, &path)?;
                stack.push((path, relative));
            } else if kind.is_file() {
                out.push((
                    relative,
                    read_entry(&canonical_root, root, &path, &mut total)?,
                ));
                if out.len() > MAX_FETCH_FILES {
                    return Err(format!(
                        "more than {MAX_FETCH_FILES} files; a skeleton must be smaller"
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn check_link(canonical_root: &Path, root: &Path, path: &Path) -> Result<(), String> {
    let resolved = path
        .canonicalize()
        .map_err(|e| format!("{} cannot be read: {e}", shown(root, path)))?;
    if !resolved.starts_with(canonical_root) {
        return Err(format!(
            "{} is a symbolic link that leaves the template's location",
            shown(root, path)
        ));
    }
    Ok(())
}

fn read_entry(
    canonical_root: &Path,
    root: &Path,
    path: &Path,
    total: &mut u64,
) -> Result<FileEntry, String> {
    check_link(canonical_root, root, path)?;
    let content =
        std::fs::read(path).map_err(|e| format!("{} cannot be read: {e}", shown(root, path)))?;
    *total += content.len() as u64;
    if *total > MAX_FETCH_BYTES {
        return Err(format!(
            "more than {} MiB; a skeleton must be smaller",
            MAX_FETCH_BYTES >> 20
        ));
    }
    Ok(FileEntry {
        content,
        executable: is_executable(path),
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}
