//! Where the platform configuration is read from: nothing (the embedded default), a file, a
//! directory of `*.yaml` files, or a directory or file in a git repository
//! (`<url>#<branch>:<path>`).

use std::path::{Path, PathBuf};

use super::documents::File;
use crate::{Error, Result};

/// Largest configuration read, all files together.
const MAX_BYTES: u64 = 8 * 1024 * 1024;

/// A configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nothing configured: the default built into Causeway.
    Embedded,
    /// A file, or a directory whose `*.yaml`/`*.yml` files are read in path order.
    Path(PathBuf),
    /// A branch of a git repository, and the file or directory in it.
    Git {
        repository: String,
        branch: Option<String>,
        path: String,
    },
}

impl Source {
    /// `""` is the embedded default; `https://…`, `ssh://…`, `file://…` or anything with a `#`
    /// is a git location (`<url>#<branch>:<path>`); anything else a local path.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() {
            return Self::Embedded;
        }
        if text.contains("://") || text.contains('#') {
            let (repository, selector) = text.rsplit_once('#').unwrap_or((text, ""));
            let (branch, path) = selector.split_once(':').unwrap_or((selector, ""));
            return Self::Git {
                repository: repository.to_owned(),
                branch: (!branch.is_empty()).then(|| branch.to_owned()),
                path: path.trim_matches('/').to_owned(),
            };
        }
        Self::Path(PathBuf::from(text))
    }

    /// How the portal names it.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "embedded default".to_owned(),
            Self::Path(path) => path.display().to_string(),
            Self::Git {
                repository,
                branch,
                path,
            } => format!(
                "{repository}#{}:{path}",
                branch.as_deref().unwrap_or("HEAD")
            ),
        }
    }

    /// The files of the source, named relative to it. Blocking: run it on a blocking thread.
    pub fn read(&self) -> Result<Vec<File>> {
        match self {
            Self::Embedded => Ok(Vec::new()),
            Self::Path(path) => read_path(path, path),
            Self::Git {
                repository,
                branch,
                path,
            } => read_git(repository, branch.as_deref(), path),
        }
    }
}

fn read_path(root: &Path, path: &Path) -> Result<Vec<File>> {
    let fail = |e: std::io::Error| {
        Error::invalid(
            "platform_config",
            format!("{} cannot be read: {e}", path.display()),
        )
    };
    let metadata = std::fs::metadata(path).map_err(fail)?;
    let mut files = Vec::new();
    if metadata.is_file() {
        files.push(path.to_path_buf());
    } else {
        collect(path, &mut files).map_err(fail)?;
        files.sort();
        if files.is_empty() {
            return Err(Error::invalid(
                "platform_config",
                format!("{} has no .yaml or .yml file", path.display()),
            ));
        }
    }
    let mut total = 0;
    files
        .into_iter()
        .map(|file| {
            total += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            if total > MAX_BYTES {
                return Err(Error::invalid(
                    "platform_config",
                    format!("is larger than {MAX_BYTES} bytes"),
                ));
            }
            let text = std::fs::read_to_string(&file).map_err(|e| {
                Error::invalid(
                    "platform_config",
                    format!("{} cannot be read: {e}", file.display()),
                )
            })?;
            let name = if root.is_file() {
                file.display().to_string()
            } else {
                file.strip_prefix(root)
                    .unwrap_or(&file)
                    .display()
                    .to_string()
            };
            Ok(File { name, text })
        })
        .collect()
}

/// Every `*.yaml`/`*.yml` file under `dir`; hidden entries (`.git`) are skipped.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Clones the branch (depth 1) into a temporary directory, reads the file or directory at
/// `path`, and removes the clone. The `git` program runs with no system or user configuration,
/// hooks or prompts.
fn read_git(repository: &str, branch: Option<&str>, path: &str) -> Result<Vec<File>> {
    let scratch = std::env::temp_dir().join(format!("causeway-platform-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut args = vec!["clone", "--quiet", "--depth", "1"];
        if let Some(branch) = branch {
            args.extend(["--branch", branch]);
        }
        let target = scratch.join("repo");
        let target_text = target.display().to_string();
        args.extend(["--", repository, &target_text]);
        std::fs::create_dir_all(&scratch)
            .map_err(|e| Error::invalid("platform_config", format!("no scratch directory: {e}")))?;
        let output = std::process::Command::new("git")
            .args(["-c", "core.hooksPath=/dev/null"])
            .args(&args)
            .current_dir(&scratch)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &scratch)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| Error::invalid("platform_config", format!("git could not be run: {e}")))?;
        if !output.status.success() {
            return Err(Error::invalid(
                "platform_config",
                format!(
                    "{repository} cannot be cloned: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            ));
        }
        if path.split('/').any(|part| part == "..") {
            return Err(Error::invalid(
                "platform_config",
                "the path inside the repository cannot contain ..",
            ));
        }
        let inside = if path.is_empty() {
            target.clone()
        } else {
            target.join(path)
        };
        let mut files = read_path(&inside, &inside)?;
        for file in &mut files {
            file.name = if path.is_empty() || inside.is_dir() {
                format!("{}/{}", path.trim_end_matches('/'), file.name)
                    .trim_start_matches('/')
                    .to_owned()
            } else {
                path.to_owned()
            };
        }
        Ok(files)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(Source::parse(""), Source::Embedded);
        assert_eq!(
            Source::parse("/etc/causeway/platform"),
            Source::Path(PathBuf::from("/etc/causeway/platform"))
        );
        assert_eq!(
            Source::parse("https://git.example.com/platform/config.git#main:causeway/"),
            Source::Git {
                repository: "https://git.example.com/platform/config.git".to_owned(),
                branch: Some("main".to_owned()),
                path: "causeway".to_owned()
            }
        );
    }
}
