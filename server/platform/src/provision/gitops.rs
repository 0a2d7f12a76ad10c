//! The GitOps target: instead of being applied, a bundle is committed to a git repository as
//! `clusters/<cluster>/<namespace>/<kind>-<name>.yaml`, one commit per change, for a controller
//! in the cluster (Argo CD, Flux) to apply.
//!
//! The repository is bare: nothing checks it out here, and a bare repository is what a controller
//! or a person clones or pushes from. Commits advance `HEAD` only from the commit they were built
//! on, so two writers (threads or processes) never lose each other's changes; the loser retries on
//! the new head.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gix::ObjectId;
use gix::object::tree::EntryKind;
use kube::api::DynamicObject;
use serde_json::Value;

use super::bundle::{Desired, SERVICE_LABEL};
use super::ownership;
use super::plan::{Step, diff, keeping_request_of};
use crate::{Error, Result};

/// Who asked for a change: the commit's author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// Whose directory a change is for: every file already in it must carry these marks, as a live
/// namespace must (see `ownership.rs`); a directory someone else wrote is neither overwritten
/// nor removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The component's name (the `causeway.dev/service` label).
    pub service: String,
    /// Its entity reference (the namespace's `causeway.dev/service-ref` annotation).
    pub service_ref: String,
    /// Causeway's records hold the directory's namespace for this service (see
    /// [`ownership::foreign_namespace`]).
    pub recorded: bool,
}

/// Why the file `name` with `content` is not `owner`'s, or `None` when it is.
fn foreign_file(name: &str, content: &[u8], owner: &Owner) -> Option<String> {
    let Ok(object) = serde_yaml_ng::from_slice::<DynamicObject>(content) else {
        return Some(format!("{name} is not a Kubernetes object Causeway wrote"));
    };
    let is_namespace = object.types.as_ref().is_some_and(|t| t.kind == "Namespace");
    let reason = if is_namespace {
        ownership::foreign_namespace(
            &object.metadata,
            &owner.service,
            &owner.service_ref,
            owner.recorded,
        )
    } else {
        ownership::foreign_object(&object.metadata).or_else(|| {
            let label = object
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_LABEL));
            (label != Some(&owner.service))
                .then(|| format!("its {SERVICE_LABEL} label is not {}", owner.service))
        })
    };
    reason.map(|reason| format!("{name}: {reason}"))
}

/// Refuses a directory holding any file that is not `owner`'s.
fn check_owned(dir: &str, existing: &BTreeMap<String, Vec<u8>>, owner: &Owner) -> Result<()> {
    let foreign: Vec<String> = existing
        .iter()
        .filter_map(|(name, content)| foreign_file(name, content, owner))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "{dir} in the GitOps repository holds files that are not Causeway's environment of {}: {}; Causeway neither overwrites nor removes them",
            owner.service_ref,
            foreign.join("; ")
        )))
    }
}

/// Commits in this process are made one at a time; other processes are kept out by the
/// compare-and-swap on `HEAD`.
static WRITER: Mutex<()> = Mutex::new(());

/// How often a commit is rebuilt when another writer moved `HEAD` in the meantime.
const ATTEMPTS: usize = 5;

fn git_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error::Cluster(format!("git repository {}: {e}", path.display()))
}

/// The directory of `namespace` in the repository.
pub fn directory(cluster: &str, namespace: &str) -> String {
    format!("clusters/{cluster}/{namespace}")
}

/// The file name of one object: its kind in lower case and its name.
fn file_name(desired: &Desired) -> String {
    format!(
        "{}-{}.yaml",
        desired.resource.kind.to_lowercase(),
        desired.object.metadata.name.as_deref().unwrap_or("")
    )
}

fn yaml(object: &DynamicObject) -> Vec<u8> {
    serde_yaml_ng::to_string(object)
        .unwrap_or_default()
        .into_bytes()
}

/// Creating the repository is done by one caller at a time: two first writes at once (a task's
/// commit and a plan reading the repository) both found it missing, and the second one's
/// `init_bare` failed on the directory the first had just filled.
static CREATING: Mutex<()> = Mutex::new(());

/// Opens the repository at `path`, creating a bare one (branch `main`) when there is none.
///
/// A new repository is made complete in a directory of its own beside `path` and then renamed
/// into place, which is atomic: another process (a replica sharing the directory) either finds
/// no repository or a whole one, never one half made, and of two that create it at once, the
/// second finds the first's.
fn open(path: &Path) -> Result<gix::Repository> {
    let fail = git_error(path);
    {
        // Held while checking too, so that this process's threads create it once.
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
        if !(path.join("HEAD").exists() || path.join(".git").exists()) {
            create(path)?;
        }
    }
    gix::open(path).map_err(|e| fail(&e))
}

fn create(path: &Path) -> Result<()> {
    let fail = git_error(path);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
    let name = path
        .file_name()
        .map_or_else(|| "repository".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.new-{}", uuid::Uuid::new_v4().simple()));
    let made = gix::init_bare(&staging)
        .map_err(|e| fail(&e))
        .and_then(|_| {
            std::fs::write(staging.join("HEAD"), "ref: refs/heads/main\n").map_err(|e| fail(&e))
        });
    if let Err(error) = made {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    // Renaming onto a missing or empty directory succeeds; onto another process's repository it
    // fails, and that repository is the one to use.
    match std::fs::rename(&staging, path) {
        Ok(()) => Ok(()),
        Err(_) if path.join("HEAD").exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(fail(&error))
        }
    }
}

/// The head commit and its tree, or none for a repository without commits.
fn head(repo: &gix::Repository, path: &Path) -> Result<Option<(ObjectId, ObjectId)>> {
    let fail = git_error(path);
    let Some(id) = repo.head().map_err(|e| fail(&e))?.id() else {
        return Ok(None);
    };
    let tree = repo
        .find_commit(id)
        .map_err(|e| fail(&e))?
        .tree_id()
        .map_err(|e| fail(&e))?;
    Ok(Some((id.detach(), tree.detach())))
}

/// The files in `dir` of `tree`, by file name.
fn files_in(
    repo: &gix::Repository,
    path: &Path,
    tree: Option<ObjectId>,
    dir: &str,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let fail = git_error(path);
    let mut files = BTreeMap::new();
    let Some(tree) = tree else {
        return Ok(files);
    };
    let root = repo.find_tree(tree).map_err(|e| fail(&e))?;
    let Some(entry) = root.lookup_entry_by_path(dir).map_err(|e| fail(&e))? else {
        return Ok(files);
    };
    let sub = entry
        .object()
        .map_err(|e| fail(&e))?
        .try_into_tree()
        .map_err(|e| fail(&e))?;
    for entry in sub.iter() {
        let entry = entry.map_err(|e| fail(&e))?;
        if !entry.mode().is_blob() {
            continue;
        }
        let blob = repo.find_blob(entry.oid()).map_err(|e| fail(&e))?;
        files.insert(entry.filename().to_string(), blob.data.clone());
    }
    Ok(files)
}

/// The step for one object against the file the repository holds for it, if any.
fn step(desired: &Desired, existing: Option<&[u8]>) -> Step {
    let object = desired.describe();
    let Some(existing) = existing else {
        return Step::Create { object };
    };
    let Ok(live) = serde_yaml_ng::from_slice::<DynamicObject>(existing) else {
        // An unreadable file is replaced; showing it as a change of everything says so.
        return Step::Update {
            object,
            fields: diff(
                &Value::Null,
                &serde_json::to_value(&desired.object).unwrap_or_default(),
            ),
        };
    };
    let same_request = keeping_request_of(&desired.object, &live);
    let fields = diff(
        &serde_json::to_value(&live).unwrap_or_default(),
        &serde_json::to_value(&same_request).unwrap_or_default(),
    );
    if fields.is_empty() {
        Step::Unchanged { object }
    } else {
        Step::Update { object, fields }
    }
}

/// A GitOps repository.
#[derive(Debug, Clone)]
pub struct Repository {
    path: PathBuf,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub steps: Vec<Step>,
    /// The new commit, or `None` when nothing changed (no commit is made).
    pub commit: Option<String>,
}

impl Repository {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// What committing `bundle` into `dir` would change, file by file; a file that is not
    /// `owner`'s shows as a conflict.
    pub async fn plan(&self, dir: String, bundle: Vec<Desired>, owner: Owner) -> Result<Vec<Step>> {
        let path = self.path.clone();
        blocking(move || {
            let repo = open(&path)?;
            let tree = head(&repo, &path)?.map(|(_, tree)| tree);
            let existing = files_in(&repo, &path, tree, &dir)?;
            let mut steps = steps(&bundle, &existing);
            // `steps` lists the bundle's objects in order, then the files no longer rendered.
            let wanted: Vec<String> = bundle.iter().map(file_name).collect();
            let leftover = existing.keys().filter(|name| !wanted.contains(name));
            for (step, name) in steps.iter_mut().zip(wanted.iter().chain(leftover)) {
                let Some(content) = existing.get(name) else {
                    continue;
                };
                if let Some(message) = foreign_file(name, content, &owner) {
                    *step = Step::Conflict {
                        object: step.object().to_owned(),
                        message,
                    };
                }
            }
            Ok(steps)
        })
        .await
    }

    /// Writes `bundle` as the whole content of `dir` (objects no longer rendered are removed) and
    /// commits it with `message`, authored by `author`; no commit when nothing changed.
    pub async fn commit(
        &self,
        dir: String,
        bundle: Vec<Desired>,
        author: Author,
        message: String,
        owner: Owner,
    ) -> Result<Committed> {
        let path = self.path.clone();
        blocking(move || {
            let _one_at_a_time = WRITER.lock().unwrap_or_else(|e| e.into_inner());
            let repo = open(&path)?;
            let mut last_error = None;
            for _ in 0..ATTEMPTS {
                match commit_once(&repo, &path, &dir, &bundle, &author, &message, &owner) {
                    Ok(done) => return Ok(done),
                    Err(refused @ Error::Conflict(_)) => return Err(refused),
                    // Another process moved HEAD between our read and our update: build again.
                    Err(error) => last_error = Some(error),
                }
            }
            Err(last_error.unwrap_or_else(|| Error::Cluster("git commit failed".to_owned())))
        })
        .await
    }

    /// Refuses `dir` when it holds a file that is not `owner`'s: the check a request gets before
    /// anything is recorded (the commit and the removal check again, under the writer lock).
    pub async fn check(&self, dir: String, owner: Owner) -> Result<()> {
        let path = self.path.clone();
        blocking(move || {
            if !path.exists() {
                return Ok(());
            }
            let repo = open(&path)?;
            let tree = head(&repo, &path)?.map(|(_, tree)| tree);
            check_owned(&dir, &files_in(&repo, &path, tree, &dir)?, &owner)
        })
        .await
    }

    /// Removes `dir` and commits that; `None` when there was nothing to remove. Refused when the
    /// directory holds a file that is not `owner`'s.
    pub async fn remove(
        &self,
        dir: String,
        author: Author,
        message: String,
        owner: Owner,
    ) -> Result<Option<String>> {
        let path = self.path.clone();
        blocking(move || {
            let _one_at_a_time = WRITER.lock().unwrap_or_else(|e| e.into_inner());
            let repo = open(&path)?;
            let fail = git_error(&path);
            let mut last_error = None;
            for _ in 0..ATTEMPTS {
                let current = head(&repo, &path)?;
                let Some((_, tree)) = current else {
                    return Ok(None);
                };
                let existing = files_in(&repo, &path, Some(tree), &dir)?;
                if existing.is_empty() {
                    return Ok(None);
                }
                check_owned(&dir, &existing, &owner)?;
                let mut editor = repo.edit_tree(tree).map_err(|e| fail(&e))?;
                editor.remove(dir.as_str()).map_err(|e| fail(&e))?;
                let tree = editor.write().map_err(|e| fail(&e))?;
                match signed(&repo, &path, &author, &message, tree.detach(), current) {
                    Ok(commit) => return Ok(Some(commit)),
                    Err(error) => last_error = Some(error),
                }
            }
            Err(last_error.unwrap_or_else(|| Error::Cluster("git commit failed".to_owned())))
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Cluster(format!("git worker: {e}")))?
}

fn steps(bundle: &[Desired], existing: &BTreeMap<String, Vec<u8>>) -> Vec<Step> {
    let mut steps: Vec<Step> = bundle
        .iter()
        .map(|d| step(d, existing.get(&file_name(d)).map(Vec::as_slice)))
        .collect();
    let wanted: Vec<String> = bundle.iter().map(file_name).collect();
    steps.extend(
        existing
            .keys()
            .filter(|name| !wanted.contains(name))
            .map(|name| Step::Delete {
                object: name.trim_end_matches(".yaml").to_owned(),
            }),
    );
    steps
}

fn commit_once(
    repo: &gix::Repository,
    path: &Path,
    dir: &str,
    bundle: &[Desired],
    author: &Author,
    message: &str,
    owner: &Owner,
) -> Result<Committed> {
    let fail = git_error(path);
    let current = head(repo, path)?;
    let existing = files_in(repo, path, current.map(|(_, tree)| tree), dir)?;
    check_owned(dir, &existing, owner)?;
    let steps = steps(bundle, &existing);
    if steps.iter().all(|s| matches!(s, Step::Unchanged { .. })) {
        return Ok(Committed {
            steps,
            commit: None,
        });
    }
    let base = current
        .map(|(_, tree)| tree)
        .unwrap_or_else(|| ObjectId::empty_tree(repo.object_hash()));
    let mut editor = repo.edit_tree(base).map_err(|e| fail(&e))?;
    for (desired, step) in bundle.iter().zip(&steps) {
        if matches!(step, Step::Unchanged { .. }) {
            // The file keeps the request id of the change that last made it different.
            continue;
        }
        let blob = repo
            .write_blob(yaml(&desired.object))
            .map_err(|e| fail(&e))?;
        editor
            .upsert(
                format!("{dir}/{}", file_name(desired)),
                EntryKind::Blob,
                blob.detach(),
            )
            .map_err(|e| fail(&e))?;
    }
    let wanted: Vec<String> = bundle.iter().map(file_name).collect();
    for name in existing.keys().filter(|name| !wanted.contains(name)) {
        editor
            .remove(format!("{dir}/{name}"))
            .map_err(|e| fail(&e))?;
    }
    let tree = editor.write().map_err(|e| fail(&e))?;
    let commit = signed(repo, path, author, message, tree.detach(), current)?;
    Ok(Committed {
        steps,
        commit: Some(commit),
    })
}

/// Commits `tree` on top of `current` as `author` (Causeway is the committer).
fn signed(
    repo: &gix::Repository,
    path: &Path,
    author: &Author,
    message: &str,
    tree: ObjectId,
    current: Option<(ObjectId, ObjectId)>,
) -> Result<String> {
    let time = gix::date::Time::now_local_or_utc();
    let author = gix::actor::Signature {
        name: author.name.as_str().into(),
        email: author.email.as_str().into(),
        time,
    };
    let committer = gix::actor::Signature {
        name: "Causeway".into(),
        email: "causeway@localhost".into(),
        time,
    };
    let (mut author_time, mut committer_time) = Default::default();
    let parents: Vec<ObjectId> = current.map(|(commit, _)| commit).into_iter().collect();
    let id = repo
        .commit_as(
            committer.to_ref(&mut committer_time),
            author.to_ref(&mut author_time),
            "HEAD",
            message,
            tree,
            parents,
        )
        .map_err(|e| git_error(path)(&e))?;
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `work` on eight threads released together, and returns each one's result.
    fn at_once(work: impl Fn() -> Result<()> + Sync) -> Vec<Result<()>> {
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        work()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        })
    }

    #[test]
    fn first_opens_at_once_share_one_new_repository() {
        let path = std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
        let results = at_once(|| open(&path).map(|_| ()));
        let head = std::fs::read_to_string(path.join("HEAD"));
        let _ = std::fs::remove_dir_all(&path);
        for result in results {
            result.expect("every caller opens the repository");
        }
        assert_eq!(head.expect("HEAD"), "ref: refs/heads/main\n");
    }

    #[test]
    fn processes_creating_one_repository_at_once_share_it() {
        // `create` without this process's lock, as separate processes (replicas sharing one
        // GitOps directory) run it.
        let path = std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
        let results = at_once(|| create(&path));
        let head = std::fs::read_to_string(path.join("HEAD"));
        let opened = gix::open(&path).is_ok();
        let leftovers = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_string_lossy().starts_with(&format!(
                    ".{}.new-",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ))
            })
            .count();
        let _ = std::fs::remove_dir_all(&path);
        for result in results {
            result.expect("every creator ends with the repository");
        }
        assert_eq!(head.expect("HEAD"), "ref: refs/heads/main\n");
        assert!(opened);
        assert_eq!(leftovers, 0, "no staging directory is left behind");
    }
}
