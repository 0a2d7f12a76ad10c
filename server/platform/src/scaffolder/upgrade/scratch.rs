//! A scratch bare repository for an upgrade's git work, removed when dropped: trees made from
//! rendered files, commits that never leave it, and branches fetched from the service's
//! repository.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::super::actions::{ActionError, git, git_identity, write_files};
use super::super::workspace::FileEntry;

/// A scratch bare repository, removed when dropped.
pub(super) struct Scratch {
    pub dir: PathBuf,
    pub git_dir: PathBuf,
}

impl Scratch {
    pub fn new() -> Result<Self, ActionError> {
        let dir = std::env::temp_dir().join(format!("causeway-upgrade-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| ActionError::transient(format!("{}: {e}", dir.display())))?;
        let scratch = Self {
            git_dir: dir.join("repo.git"),
            dir,
        };
        git(
            &scratch.dir,
            &["init", "--bare", "--quiet", "repo.git"],
            &[],
        )?;
        Ok(scratch)
    }

    pub fn git(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String, ActionError> {
        git(&self.git_dir, args, env)
    }

    /// The tree `files` make, added the way the publish step adds them (`git add --all`, so a
    /// `.gitignore` among them counts the same).
    pub fn tree_of(
        &self,
        name: &str,
        files: &BTreeMap<String, FileEntry>,
    ) -> Result<String, ActionError> {
        let work = self.dir.join(name);
        write_files(&work, files)?;
        let index = self.dir.join(format!("{name}.index"));
        let (git_dir, index) = (
            self.git_dir.display().to_string(),
            index.display().to_string(),
        );
        let env = [
            ("GIT_DIR", git_dir.as_str()),
            ("GIT_WORK_TREE", "."),
            ("GIT_INDEX_FILE", index.as_str()),
        ];
        git(&work, &["add", "--all"], &env)?;
        git(&work, &["write-tree"], &env)
    }

    pub fn commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        author: &(String, String),
    ) -> Result<String, ActionError> {
        let mut args = vec!["commit-tree", tree, "-m", message];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        self.git(&args, &git_identity(author))
    }

    /// Fetches `branch` of `remote` as `local`; false when the remote has no such branch.
    pub fn fetch(
        &self,
        remote: &str,
        auth: &[(&str, &str)],
        branch: &str,
        local: &str,
    ) -> Result<bool, ActionError> {
        let wanted = format!("refs/heads/{branch}");
        if self
            .git(&["ls-remote", "--heads", remote, &wanted], auth)?
            .is_empty()
        {
            return Ok(false);
        }
        self.git(
            &["fetch", "--quiet", remote, &format!("+{wanted}:{local}")],
            auth,
        )?;
        Ok(true)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The remote's default branch (what its HEAD names).
pub(super) fn remote_head(
    scratch: &Scratch,
    remote: &str,
    auth: &[(&str, &str)],
) -> Result<String, ActionError> {
    let listed = scratch.git(&["ls-remote", "--symref", remote, "HEAD"], auth)?;
    listed
        .lines()
        .find_map(|line| line.strip_prefix("ref: refs/heads/"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .ok_or_else(|| ActionError::input(format!("{remote} has no default branch")))
}
