//! Git locations: descriptor files read from a branch of a repository with a git library (no `git`
//! binary). The target is `<repository URL>#<branch>:<path>`; branch and path are optional and
//! default to the remote's HEAD and `catalog-info.yaml`.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::locations::{ReadPolicy, join_inside};
use super::yaml;
use crate::{Error, Result};

/// A parsed git target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTarget {
    pub repository: String,
    pub branch: Option<String>,
    pub path: String,
}

impl GitTarget {
    /// Parses `<url>#<branch>:<path>`, `<url>#<branch>`, `<url>#:<path>` or `<url>`.
    pub fn parse(target: &str) -> Result<Self> {
        let (repository, selector) = target.rsplit_once('#').unwrap_or((target, ""));
        let (branch, path) = selector.split_once(':').unwrap_or((selector, ""));
        if repository.trim().is_empty() {
            return Err(Error::invalid(
                "target",
                "needs a repository URL, e.g. https://git.example.com/team/repo.git#main:catalog-info.yaml",
            ));
        }
        let path = if path.is_empty() {
            "catalog-info.yaml"
        } else {
            path
        };
        Ok(Self {
            repository: repository.trim().to_owned(),
            branch: (!branch.is_empty()).then(|| branch.to_owned()),
            path: path.trim_start_matches('/').to_owned(),
        })
    }

    /// Refuses remote hosts that are not allowed; local repositories (paths, `file://`) are
    /// allowed like `file` locations.
    fn check(&self, policy: &ReadPolicy) -> Result<()> {
        if self.is_local() {
            return Ok(());
        }
        let host = if self.repository.contains("://") {
            url::Url::parse(&self.repository)
                .map_err(|e| {
                    Error::invalid("target", format!("{:?} is not a URL: {e}", self.repository))
                })?
                .host_str()
                .unwrap_or_default()
                .to_owned()
        } else {
            // scp-like `[user@]host:path`, which git (and the git library) reach over ssh.
            let rest = self
                .repository
                .split_once('@')
                .map_or(self.repository.as_str(), |(_, r)| r);
            rest.split_once(':')
                .map(|(h, _)| h.to_owned())
                .unwrap_or_default()
        };
        if host.is_empty() {
            return Err(Error::invalid(
                "target",
                format!(
                    "{:?}: expected an absolute path, file://, https:// or [user@]host:path",
                    self.repository
                ),
            ));
        }
        policy.check_host(&host)
    }

    /// Whether the repository is on this server (an absolute path or a `file://` URL).
    pub fn is_local(&self) -> bool {
        self.repository.starts_with('/') || self.repository.starts_with("file://")
    }
}

/// Joins a relative target to the directory of `base` inside the repository, refusing paths that
/// climb out of it.
fn join(base: &str, target: &str) -> Result<String> {
    join_inside(Path::new(base), target, "the repository")
        .map_err(|rule| Error::invalid("spec.target", rule))
}

/// Clones the branch (depth 1, into a temporary directory that is removed afterwards) and returns
/// the text of `target.path` and of every file its `kind: Location` entities name, each with its
/// path. Blocking: run it on a blocking thread.
pub fn read(
    target: &GitTarget,
    policy: &ReadPolicy,
    max_depth: usize,
) -> Result<Vec<(String, String)>> {
    target.check(policy)?;
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::invalid("target", format!("{}: {what}: {e}", target.repository))
    };
    // gix's HTTP transport builds its TLS on the process's rustls provider, which must be
    // chosen once per process; a second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("causeway-git-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let interrupt = AtomicBool::new(false);
        let mut prepare = gix::prepare_clone_bare(target.repository.as_str(), &dir)
            .map_err(|e| fail("cannot prepare the clone", &e))?
            .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
        if let Some(branch) = &target.branch {
            prepare = prepare
                .with_ref_name(Some(branch.as_str()))
                .map_err(|e| fail("invalid branch", &e))?;
        }
        let (repo, _) = prepare
            .fetch_only(gix::progress::Discard, &interrupt)
            .map_err(|e| fail("cannot fetch", &e))?;
        let commit = repo
            .head_commit()
            .map_err(|e| fail("no commit on the branch", &e))?;
        let tree = commit
            .tree()
            .map_err(|e| fail("cannot read the tree", &e))?;
        let mut files = Vec::new();
        let mut pending = vec![(target.path.clone(), 0usize)];
        while let Some((path, depth)) = pending.pop() {
            let entry = tree
                .lookup_entry_by_path(&path)
                .map_err(|e| fail("cannot read the tree", &e))?
                .ok_or_else(|| {
                    Error::invalid(
                        "target",
                        format!("{}: no file {path:?} on the branch", target.repository),
                    )
                })?;
            let object = entry
                .object()
                .map_err(|e| fail("cannot read the file", &e))?;
            if object.data.len() > yaml::MAX_TEXT_BYTES {
                return Err(Error::invalid(
                    "target",
                    format!("{path} is larger than {} bytes", yaml::MAX_TEXT_BYTES),
                ));
            }
            let text = String::from_utf8(object.data.clone())
                .map_err(|_| Error::invalid("target", format!("{path} is not UTF-8 text")))?;
            if depth < max_depth {
                for next in location_targets(&text) {
                    pending.push((join(&path, &next)?, depth + 1));
                }
            }
            files.push((path, text));
        }
        Ok(files)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Targets named by `kind: Location` documents in `text` (unparseable text names none; the
/// parse error is reported when the file itself is ingested).
fn location_targets(text: &str) -> Vec<String> {
    let Ok(documents) = yaml::parse("git", text) else {
        return Vec::new();
    };
    documents
        .iter()
        .filter(|d| {
            d.get("kind")
                .and_then(|k| k.as_str())
                .is_some_and(|k| k.eq_ignore_ascii_case("location"))
        })
        .flat_map(|d| {
            let spec = d.get("spec");
            let mut targets: Vec<String> = spec
                .and_then(|s| s.get("targets"))
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            targets.extend(
                spec.and_then(|s| s.get("target"))
                    .and_then(|t| t.as_str())
                    .map(str::to_owned),
            );
            targets
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = GitTarget::parse("https://git.example.com/a/b.git#main:teams/catalog.yaml")
            .expect("valid");
        assert_eq!(
            (t.repository.as_str(), t.branch.as_deref(), t.path.as_str()),
            (
                "https://git.example.com/a/b.git",
                Some("main"),
                "teams/catalog.yaml"
            )
        );
        let t = GitTarget::parse("/srv/repo").expect("valid");
        assert_eq!((t.branch, t.path.as_str()), (None, "catalog-info.yaml"));
        let t = GitTarget::parse("file:///srv/repo#:x/y.yaml").expect("valid");
        assert_eq!((t.branch, t.path.as_str()), (None, "x/y.yaml"));
        assert!(GitTarget::parse("#main").is_err());
    }

    #[test]
    fn joins_within_the_repository() {
        assert_eq!(
            join("a/b/catalog.yaml", "./c.yaml").ok().as_deref(),
            Some("a/b/c.yaml")
        );
        assert_eq!(
            join("a/catalog.yaml", "../c.yaml").ok().as_deref(),
            Some("c.yaml")
        );
        assert!(join("catalog.yaml", "../../etc/passwd").is_err());
        assert!(join("catalog.yaml", "/etc/passwd").is_err());
    }

    #[test]
    fn remote_hosts_need_the_allow_list() {
        let policy = ReadPolicy {
            allowed_hosts: vec!["git.example.com".to_owned()],
            delete_orphans: false,
        };
        assert!(
            GitTarget::parse("https://git.example.com/a.git")
                .expect("t")
                .check(&policy)
                .is_ok()
        );
        assert!(
            GitTarget::parse("https://evil.example.org/a.git")
                .expect("t")
                .check(&policy)
                .is_err()
        );
        assert!(
            GitTarget::parse("git@evil.example.org:a.git")
                .expect("t")
                .check(&policy)
                .is_err()
        );
        assert!(
            GitTarget::parse("/srv/local-repo")
                .expect("t")
                .check(&policy)
                .is_ok()
        );
    }
}
