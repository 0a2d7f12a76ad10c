//! Reading a location: its files or URLs, followed through `kind: Location` entities, each
//! document checked and annotated with where it came from.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::{Location, MAX_DEPTH, ReadPolicy, URL_TIMEOUT};
use crate::catalog::entity::Processed;
use crate::catalog::{Preparer, Problem, git, yaml};
use crate::{Error, Result};

/// A place one text was read from, for resolving relative targets.
#[derive(Debug, Clone)]
enum Base {
    /// A file: `path`, relative to `dir`, the directory of the registered file location. Files a
    /// location's entities point at stay inside that directory.
    File {
        dir: PathBuf,
        path: PathBuf,
    },
    Url(url::Url),
}

impl Base {
    /// Where `target` (named by a `kind: Location` entity read from here) points; the error is
    /// the rule it breaks.
    fn resolve(&self, target: &str, policy: &ReadPolicy) -> Result<Base, String> {
        let rule = |e: Error| match e {
            Error::InvalidInput { rule, .. } => rule,
            other => other.to_string(),
        };
        match self {
            Base::File { dir, path } => {
                if target.starts_with("http://") || target.starts_with("https://") {
                    return Ok(Base::Url(policy.check_url(target).map_err(rule)?));
                }
                // As in Backstage, a target is relative to the file naming it; unlike Backstage,
                // it may not leave the registered location's directory, so that whoever writes
                // the files there cannot make the server read any other file it can see.
                let path = join_inside(path, target, "the location's directory")?;
                Ok(Base::File {
                    dir: dir.clone(),
                    path: PathBuf::from(path),
                })
            }
            Base::Url(url) => {
                let joined = url.join(target).map_err(|e| format!("{target:?}: {e}"))?;
                Ok(Base::Url(policy.check_url(joined.as_str()).map_err(rule)?))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Base::File { dir, path } => format!("file:{}", dir.join(path).display()),
            Base::Url(u) => format!("url:{u}"),
        }
    }
}

/// Joins `target` to the directory of `base`, a relative path inside some root (`within` names
/// it), refusing absolute targets and targets that climb out of the root; the error is the rule.
pub(in crate::catalog) fn join_inside(
    base: &Path,
    target: &str,
    within: &str,
) -> Result<String, String> {
    let dir = base.parent().unwrap_or(Path::new(""));
    let mut out = PathBuf::new();
    for part in dir.join(target.trim_start_matches("./")).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(format!(
                        "{target:?} points outside {within}; targets are relative to the file that names them and stay inside {within}"
                    ));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{target:?} must be a path relative to the file that names it, not an absolute path"
                ));
            }
        }
    }
    Ok(out.to_string_lossy().into_owned())
}

/// Refuses a followed file whose real path (symbolic links resolved) is outside `dir`, which
/// `join_inside` cannot see.
async fn check_inside(dir: &Path, path: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let real_dir = tokio::fs::canonicalize(dir).await;
    let real = tokio::fs::canonicalize(dir.join(path)).await;
    match (real_dir, real) {
        (Ok(real_dir), Ok(real)) if !real.starts_with(&real_dir) => Err(Error::invalid(
            "spec.target",
            format!(
                "{} leads outside the location's directory {} through a symbolic link",
                dir.join(path).display(),
                dir.display()
            ),
        )),
        // A file that cannot be resolved is reported by the read that follows.
        _ => Ok(()),
    }
}

async fn read(base: &Base) -> Result<String> {
    match base {
        Base::File { dir, path } => {
            let path = &dir.join(path);
            let meta = tokio::fs::metadata(path).await.map_err(|e| {
                Error::invalid("target", format!("cannot read {}: {e}", path.display()))
            })?;
            // Devices such as /dev/zero report length 0 and never end; only regular files are read.
            if !meta.is_file() {
                return Err(Error::invalid(
                    "target",
                    format!("{} is not a regular file", path.display()),
                ));
            }
            if meta.len() > yaml::MAX_TEXT_BYTES as u64 {
                return Err(Error::invalid(
                    "target",
                    format!(
                        "{} is larger than {} bytes",
                        path.display(),
                        yaml::MAX_TEXT_BYTES
                    ),
                ));
            }
            // Read at most one byte more than allowed, in case the file grows after the check.
            use tokio::io::AsyncReadExt as _;
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                Error::invalid("target", format!("cannot read {}: {e}", path.display()))
            })?;
            let mut bytes = Vec::new();
            file.take(yaml::MAX_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| {
                    Error::invalid("target", format!("cannot read {}: {e}", path.display()))
                })?;
            if bytes.len() > yaml::MAX_TEXT_BYTES {
                return Err(Error::invalid(
                    "target",
                    format!(
                        "{} is larger than {} bytes",
                        path.display(),
                        yaml::MAX_TEXT_BYTES
                    ),
                ));
            }
            String::from_utf8(bytes).map_err(|_| {
                Error::invalid("target", format!("{} is not UTF-8 text", path.display()))
            })
        }
        Base::Url(url) => {
            let client = reqwest::Client::builder()
                .timeout(URL_TIMEOUT)
                // Redirects could lead to hosts that are not allowed; follow none.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::invalid("target", format!("cannot create an HTTP client: {e}"))
                })?;
            let mut response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| Error::invalid("target", format!("cannot fetch {url}: {e}")))?;
            if !response.status().is_success() {
                return Err(Error::invalid(
                    "target",
                    format!("{url} answered {}", response.status()),
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| Error::invalid("target", format!("reading {url}: {e}")))?
            {
                body.extend_from_slice(&chunk);
                if body.len() > yaml::MAX_TEXT_BYTES {
                    return Err(Error::invalid(
                        "target",
                        format!("{url} is larger than {} bytes", yaml::MAX_TEXT_BYTES),
                    ));
                }
            }
            String::from_utf8(body)
                .map_err(|_| Error::invalid("target", format!("{url} is not UTF-8 text")))
        }
    }
}

/// Reads a location and every location its `kind: Location` entities point at, annotating each
/// entity with where it came from, and checks every document as it is parsed.
pub(super) async fn read_tree(root: &Location, policy: &ReadPolicy) -> Result<Vec<Processed>> {
    let base = match root.kind.as_str() {
        "file" => {
            let file = Path::new(&root.target);
            Base::File {
                dir: file.parent().unwrap_or(Path::new("")).to_path_buf(),
                path: PathBuf::from(file.file_name().unwrap_or_default()),
            }
        }
        "url" => Base::Url(policy.check_url(&root.target)?),
        "git" => return read_git_tree(root, policy).await,
        other => {
            return Err(Error::invalid(
                "type",
                format!("{other:?} is not a location type; expected file, url or git"),
            ));
        }
    };
    let mut preparer = Preparer::default();
    let mut pending = vec![(base, 0usize)];
    while let Some((base, depth)) = pending.pop() {
        if let (Base::File { dir, path }, 1..) = (&base, depth) {
            check_inside(dir, path).await?;
        }
        let source = base.describe();
        let text = read(&base).await?;
        let mut targets = Vec::new();
        let parsed = yaml::parse_each(&source, &text, |index, mut document| {
            // Every target is checked, followed or not: a stored Location must not name a file
            // it could not be read from.
            for (field, target) in location_targets(&document) {
                match base.resolve(&target, policy) {
                    Ok(next) if depth < MAX_DEPTH => targets.push(next),
                    Ok(_) => {}
                    Err(rule) => {
                        preparer.fail(vec![Problem::new(&source, Some(index), &field, rule)])
                    }
                }
            }
            annotate(&mut document, &root.key(), &source);
            preparer.add(&source, index, document);
        });
        if let Err(problems) = parsed {
            preparer.fail(problems);
        }
        pending.extend(targets.into_iter().map(|next| (next, depth + 1)));
    }
    preparer.finish().map_err(Error::Rejected)
}

/// The targets a `kind: Location` document points at (none for other kinds), each with the path
/// of the field naming it.
fn location_targets(document: &Value) -> Vec<(String, String)> {
    let is_location = document
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case("location"));
    if !is_location {
        return Vec::new();
    }
    let spec = document.get("spec");
    let mut targets: Vec<(String, String)> = spec
        .and_then(|s| s.get("targets"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, t)| Some((format!("spec.targets.{i}"), t.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    targets.extend(
        spec.and_then(|s| s.get("target"))
            .and_then(Value::as_str)
            .map(|t| ("spec.target".to_owned(), t.to_owned())),
    );
    targets
}

/// Reads a git location on a blocking thread (the git library does blocking I/O).
async fn read_git_tree(root: &Location, policy: &ReadPolicy) -> Result<Vec<Processed>> {
    let target = git::GitTarget::parse(&root.target)?;
    let policy_copy = policy.clone();
    let files = tokio::task::spawn_blocking(move || git::read(&target, &policy_copy, MAX_DEPTH))
        .await
        .map_err(|e| Error::invalid("target", format!("reading the repository failed: {e}")))??;
    let mut preparer = Preparer::default();
    let repository = root.target.split('#').next().unwrap_or_default().to_owned();
    for (path, text) in files {
        let source = format!("git:{repository}#{path}");
        let parsed = yaml::parse_each(&source, &text, |index, mut document| {
            annotate(&mut document, &root.key(), &source);
            // Where the entity's code is, as Backstage records it for the locations it reads:
            // the provisioning engine builds a service's pipeline from it.
            source_location(&mut document, &repository);
            preparer.add(&source, index, document);
        });
        if let Err(problems) = parsed {
            preparer.fail(problems);
        }
    }
    preparer.finish().map_err(Error::Rejected)
}

/// Sets `backstage.io/source-location` to the repository (kept when the author set it).
fn source_location(document: &mut Value, repository: &str) {
    if let Some(annotations) = document
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations
            .entry("backstage.io/source-location")
            .or_insert_with(|| Value::String(format!("url:{repository}")));
    }
}

/// Sets Backstage's provenance annotations (kept when the author set them).
fn annotate(document: &mut Value, location_key: &str, origin: &str) {
    let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations
            .entry("backstage.io/managed-by-location")
            .or_insert_with(|| Value::String(origin.to_owned()));
        annotations
            .entry("backstage.io/managed-by-origin-location")
            .or_insert_with(|| Value::String(location_key.to_owned()));
    }
}
