//! The three-way merge, done by the `git` program in a scratch repository (no system or user
//! configuration, no hooks, no prompts; credentials in the environment).
//!
//! git 2.39's `merge-tree --write-tree` has no `--merge-base`, so the merge is built for the
//! base to be found naturally: a commit of A's render with no parent (the base), B's render
//! (theirs) and the repository's current tree (ours) each with the base as parent. The merged
//! tree is then committed with the default branch's head as its parent, so the change has the
//! repository's own history, and only the upgrade's branch is pushed.
//!
//! A file the team deleted and B changed (a modify/delete conflict: base and theirs stages, no
//! ours) stays deleted and is listed apart; a file B deleted and the team changed keeps the
//! team's version and is a conflict, like every file with conflict markers.

use std::collections::{BTreeMap, BTreeSet};

use super::super::actions::{ActionError, auth_env, git_output};
use super::super::workspace::FileEntry;
use super::naming::summary;
use super::scratch::{Scratch, remote_head};
use super::{ChangeState, UpgradeStatus};

/// The identity of the scratch commits that never leave the scratch repository.
const SCRATCH: (&str, &str) = ("Causeway", "causeway@causeway.invalid");

/// What to merge, and where.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub remote: String,
    /// The `Authorization` header for a configured host.
    pub auth: Option<String>,
    /// The branch changes are proposed to; the remote's HEAD when unknown.
    pub default_branch: Option<String>,
    pub branch: String,
    pub trailer: String,
    pub title: String,
    pub author: (String, String),
    pub base: BTreeMap<String, FileEntry>,
    pub target: BTreeMap<String, FileEntry>,
    /// Notes for the reviewers decided before the merge.
    pub notes: Vec<String>,
}

/// What the merge made.
#[derive(Debug, Clone)]
pub(super) struct Merged {
    pub status: UpgradeStatus,
    pub default_branch: String,
    pub branch: String,
    pub title: String,
    /// The branch's head; `None` when nothing needed changing.
    pub commit: Option<String>,
    pub conflicts: Vec<String>,
    pub kept_deleted: Vec<String>,
    pub notes: Vec<String>,
    /// Whether this call wrote the branch.
    pub pushed: bool,
}

/// Merges, commits and pushes the upgrade's branch.
pub(super) fn run(plan: &Plan) -> Result<Merged, ActionError> {
    let scratch = Scratch::new()?;
    let auth: Vec<(&str, &str)> = plan
        .auth
        .as_deref()
        .map(|h| auth_env(h).to_vec())
        .unwrap_or_default();
    let default_branch = match &plan.default_branch {
        Some(branch) => branch.clone(),
        None => remote_head(&scratch, &plan.remote, &auth)?,
    };
    if !scratch.fetch(&plan.remote, &auth, &default_branch, "refs/upgrade/head")? {
        return Err(ActionError::input(format!(
            "{} has no branch {default_branch} to upgrade",
            plan.remote
        )));
    }
    let head = scratch.git(&["rev-parse", "refs/upgrade/head"], &[])?;
    let head_tree = scratch.git(&["rev-parse", "refs/upgrade/head^{tree}"], &[])?;
    let scratch_identity = (SCRATCH.0.to_owned(), SCRATCH.1.to_owned());
    let base_tree = scratch.tree_of("base", &plan.base)?;
    let target_tree = scratch.tree_of("target", &plan.target)?;
    let base = scratch.commit(&base_tree, &[], "base", &scratch_identity)?;
    let theirs = scratch.commit(&target_tree, &[&base], "target", &scratch_identity)?;
    let ours = scratch.commit(&head_tree, &[&base], "current", &scratch_identity)?;
    let (mut tree, conflicts, kept_deleted) = merge_tree(&scratch, &ours, &theirs)?;
    if !kept_deleted.is_empty() {
        tree = without(&scratch, &tree, &kept_deleted)?;
    }
    let status = if conflicts.is_empty() {
        UpgradeStatus::Open
    } else {
        UpgradeStatus::Conflict
    };
    let mut merged = Merged {
        status,
        default_branch,
        branch: plan.branch.clone(),
        title: plan.title.clone(),
        commit: None,
        conflicts,
        kept_deleted,
        notes: plan.notes.clone(),
        pushed: false,
    };
    if tree == head_tree {
        merged.status = UpgradeStatus::Current;
        return Ok(merged);
    }
    let mut lease = None;
    if scratch.fetch(&plan.remote, &auth, &plan.branch, "refs/upgrade/branch")? {
        let tip = scratch.git(&["rev-parse", "refs/upgrade/branch"], &[])?;
        let message = scratch.git(&["log", "-1", "--format=%B", &tip], &[])?;
        if has_trailer(&message, &plan.trailer) {
            let tip_tree = scratch.git(&["rev-parse", &format!("{tip}^{{tree}}")], &[])?;
            if tip_tree == tree {
                merged.commit = Some(tip);
                return Ok(merged);
            }
            // The default branch moved since: the upgrade's own commit is made again on it.
            lease = Some(tip);
        } else {
            let ahead = scratch.git(
                &[
                    "log",
                    "--format=%B",
                    "refs/upgrade/head..refs/upgrade/branch",
                ],
                &[],
            )?;
            if !has_trailer(&ahead, &plan.trailer) {
                return Err(ActionError::input(format!(
                    "the branch {} exists and was not made by this upgrade; it is left as it is",
                    plan.branch
                )));
            }
            merged.notes.push(format!(
                "The branch {} has commits after the upgrade's own; it was left as it is.",
                plan.branch
            ));
            merged.commit = Some(tip);
            return Ok(merged);
        }
    }
    let message = format!(
        "{}\n\n{}\n{}",
        plan.title,
        summary(&merged.conflicts, &merged.kept_deleted, &merged.notes),
        plan.trailer
    );
    let commit = scratch.commit(&tree, &[&head], &message, &plan.author)?;
    let destination = format!("{commit}:refs/heads/{}", plan.branch);
    match &lease {
        None => scratch.git(&["push", "--quiet", &plan.remote, &destination], &auth)?,
        Some(tip) => scratch.git(
            &[
                "push",
                "--quiet",
                &format!("--force-with-lease=refs/heads/{}:{tip}", plan.branch),
                &plan.remote,
                &destination,
            ],
            &auth,
        )?,
    };
    merged.commit = Some(commit);
    merged.pushed = true;
    Ok(merged)
}

/// Whether `message` carries `trailer` as a line of its own.
fn has_trailer(message: &str, trailer: &str) -> bool {
    message.lines().any(|line| line.trim() == trailer)
}

/// `git merge-tree --write-tree -z`: the merged tree, the conflicted paths, and the paths the
/// team deleted that the template changed.
fn merge_tree(
    scratch: &Scratch,
    ours: &str,
    theirs: &str,
) -> Result<(String, Vec<String>, Vec<String>), ActionError> {
    let output = git_output(
        &scratch.git_dir,
        &[
            "merge-tree",
            "--write-tree",
            "-z",
            "--no-messages",
            ours,
            theirs,
        ],
        &[],
    )?;
    // 0: clean; 1: conflicts; anything else: the merge did not run.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Err(ActionError::input(format!(
            "git merge-tree: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let (tree, conflicts, kept) = parse_merge_tree(&text);
    if tree.is_empty() {
        return Err(ActionError::input("git merge-tree wrote no tree"));
    }
    Ok((tree, conflicts, kept))
}

/// Reads `merge-tree -z` output: the tree, then `<mode> <object> <stage>\t<path>` entries up to
/// an empty one. A path with the base's and B's stages but not the team's was deleted by the
/// team and changed by B.
fn parse_merge_tree(text: &str) -> (String, Vec<String>, Vec<String>) {
    let mut fields = text.split('\0');
    let tree = fields.next().unwrap_or_default().trim().to_owned();
    let mut stages: BTreeMap<String, BTreeSet<char>> = BTreeMap::new();
    for entry in fields.take_while(|f| !f.is_empty()) {
        let Some((info, path)) = entry.split_once('\t') else {
            continue;
        };
        let stage = info.rsplit(' ').next().and_then(|s| s.chars().next());
        if let Some(stage) = stage {
            stages.entry(path.to_owned()).or_default().insert(stage);
        }
    }
    let mut conflicts = Vec::new();
    let mut kept_deleted = Vec::new();
    for (path, stages) in stages {
        if stages.contains(&'3') && !stages.contains(&'2') && stages.contains(&'1') {
            kept_deleted.push(path);
        } else {
            conflicts.push(path);
        }
    }
    (tree, conflicts, kept_deleted)
}

/// `tree` without `paths`.
fn without(scratch: &Scratch, tree: &str, paths: &[String]) -> Result<String, ActionError> {
    let index = scratch.dir.join("without.index").display().to_string();
    // `update-index` wants a work tree; an empty one, since only the index is changed.
    let work = scratch.dir.join("without");
    std::fs::create_dir_all(&work)
        .map_err(|e| ActionError::transient(format!("{}: {e}", work.display())))?;
    let work = work.display().to_string();
    let env = [
        ("GIT_INDEX_FILE", index.as_str()),
        ("GIT_WORK_TREE", work.as_str()),
    ];
    scratch.git(&["read-tree", tree], &env)?;
    let mut args = vec!["update-index", "--force-remove", "--"];
    args.extend(paths.iter().map(String::as_str));
    scratch.git(&args, &env)?;
    scratch.git(&["write-tree"], &env)
}

/// Where the upgrade's branch stands against the default branch: merged when the default branch
/// contains its head, closed when it is gone, open otherwise.
pub(super) fn state(
    remote: &str,
    auth: Option<&str>,
    default_branch: Option<String>,
    branch: &str,
) -> Result<ChangeState, ActionError> {
    let scratch = Scratch::new()?;
    let auth: Vec<(&str, &str)> = auth.map(|h| auth_env(h).to_vec()).unwrap_or_default();
    let default_branch = match default_branch {
        Some(branch) => branch,
        None => remote_head(&scratch, remote, &auth)?,
    };
    if !scratch.fetch(remote, &auth, branch, "refs/upgrade/branch")? {
        return Ok(ChangeState::Closed);
    }
    if !scratch.fetch(remote, &auth, &default_branch, "refs/upgrade/head")? {
        return Err(ActionError::input(format!(
            "{remote} has no branch {default_branch}"
        )));
    }
    let output = git_output(
        &scratch.git_dir,
        &[
            "merge-base",
            "--is-ancestor",
            "refs/upgrade/branch",
            "refs/upgrade/head",
        ],
        &[],
    )?;
    match output.status.code() {
        Some(0) => Ok(ChangeState::Merged),
        Some(1) => Ok(ChangeState::Open),
        _ => Err(ActionError::input(format!(
            "git merge-base: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_tree_output_is_read_into_conflicts_and_kept_deletions() {
        let entries = [
            "tree0",
            "100644 a 1\tapp.txt",
            "100644 b 2\tapp.txt",
            "100644 c 3\tapp.txt",
            "100644 d 1\tnotes.txt",
            "100644 e 3\tnotes.txt",
            "100644 f 1\tgone.txt",
            "100644 g 2\tgone.txt",
            "",
            "",
        ];
        let text = entries.join("\0");
        let (tree, conflicts, kept) = parse_merge_tree(&text);
        assert_eq!(tree, "tree0");
        assert_eq!(conflicts, ["app.txt", "gone.txt"]);
        assert_eq!(kept, ["notes.txt"]);
        assert_eq!(
            parse_merge_tree("tree1\n"),
            ("tree1".to_owned(), vec![], vec![])
        );
    }

    #[test]
    fn trailers_are_whole_lines() {
        assert!(has_trailer(
            "x\n\nCauseway-Upgrade: t@v\n",
            "Causeway-Upgrade: t@v"
        ));
        assert!(!has_trailer(
            "Causeway-Upgrade: t@v2\n",
            "Causeway-Upgrade: t@v"
        ));
    }
}
