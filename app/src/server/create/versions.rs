//! A template's versions page (`/create/templates/{namespace}/{name}/versions`): every stored
//! version with its date, author and origin, and the difference between two of them picked with
//! a plain GET form (`from`, `to`), so it works without JavaScript. The versions and the diff are
//! the domain's (`Scaffolder::versions`); this builds what the page shows.

use causeway_platform::Platform;
use causeway_platform::catalog::refs;
use causeway_platform::scaffolder::versions::{Change, VersionSummary};
use causeway_platform::time::display;
use serde_json::Value;

use crate::error::PortalError;
use crate::model::encode_segment;

/// One version as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub version: String,
    /// `sha256:` and the first 12 hex digits.
    pub short: String,
    pub created_at: String,
    pub author: String,
    /// The author's catalog page, when the author is a person.
    pub author_href: Option<String>,
    pub origin: String,
    pub files: usize,
}

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    pub path: String,
    /// `added`, `removed`, `modified` or `mode`.
    pub change: &'static str,
    /// The status chip's modifier class for the change.
    pub class: &'static str,
    pub unified: String,
}

/// What the versions page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionsView {
    pub template_ref: String,
    pub title: String,
    /// The page's own address, which the compare form is sent to.
    pub href: String,
    /// The template's wizard, while the catalog holds it.
    pub wizard_href: Option<String>,
    pub versions: Vec<VersionRow>,
    /// The versions picked (by default the two newest, older first).
    pub from: String,
    pub to: String,
    /// The difference asked for: the files that differ, or why it cannot be shown (naming the
    /// parameter).
    pub diff: Option<Result<Vec<DiffRow>, String>>,
    /// The short id of a version just published, when the address names a listed one.
    pub published: Option<String>,
}

/// The address of a template's versions page.
pub fn href(entity_ref: &str) -> String {
    let (_, namespace, name) = refs::split(entity_ref);
    format!(
        "/create/templates/{}/{}/versions",
        encode_segment(namespace),
        encode_segment(name)
    )
}

/// The address of a template's fleet page: the services created from it and their upgrades.
pub fn fleet_href(entity_ref: &str) -> String {
    let (_, namespace, name) = refs::split(entity_ref);
    format!(
        "/create/templates/{}/{}/fleet",
        encode_segment(namespace),
        encode_segment(name)
    )
}

/// `sha256:` and the first 12 hex digits of `version`.
pub fn short(version: &str) -> String {
    match version.strip_prefix("sha256:") {
        Some(hex) => format!("sha256:{}", &hex[..hex.len().min(12)]),
        None => version.to_owned(),
    }
}

fn row(summary: &VersionSummary) -> VersionRow {
    VersionRow {
        version: summary.version.clone(),
        short: short(&summary.version),
        created_at: display(summary.created_at_millis),
        author: summary.author.clone(),
        author_href: summary
            .author
            .starts_with("user:")
            .then(|| crate::model::ref_path(&summary.author)),
        origin: summary.origin.clone(),
        files: summary.files,
    }
}

fn diff_row(diff: &causeway_platform::scaffolder::versions::FileDiff) -> DiffRow {
    let class = match diff.change {
        Change::Added => "status--create",
        Change::Removed => "status--delete",
        Change::Modified | Change::Mode => "status--update",
    };
    DiffRow {
        path: diff.path.clone(),
        change: diff.change.as_str(),
        class,
        unified: diff.unified.clone(),
    }
}

/// The versions page of `template:<namespace>/<name>` for anyone signed in; `None` when neither
/// the catalog nor the stored versions know the template.
pub async fn versions(
    platform: &Platform,
    namespace: &str,
    name: &str,
    from: &str,
    to: &str,
    published: &str,
) -> Result<Option<VersionsView>, PortalError> {
    let template_ref = format!("template:{namespace}/{name}").to_lowercase();
    let store = platform
        .scaffolder
        .versions()
        .map_err(crate::server::domain_error)?;
    let summaries = store
        .list(&template_ref)
        .await
        .map_err(crate::server::domain_error)?;
    let entity = {
        let index = platform.catalog.index();
        index.by_ref(&template_ref).map(|e| index.body_value(e))
    };
    if entity.is_none() && summaries.is_empty() {
        return Ok(None);
    }
    // The title the catalog gives the template now, else the newest version's.
    let newest_entity = match (&entity, summaries.first()) {
        (Some(entity), _) => Some(entity.clone()),
        (None, Some(newest)) => store
            .get(&template_ref, &newest.version)
            .await
            .map_err(crate::server::domain_error)?
            .map(|v| v.entity),
        (None, None) => None,
    };
    let title = newest_entity
        .as_ref()
        .and_then(|e| {
            e.pointer("/metadata/title")
                .or_else(|| e.pointer("/metadata/name"))
        })
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    let versions: Vec<VersionRow> = summaries.iter().map(row).collect();
    let asked = !from.is_empty() || !to.is_empty();
    let (from, to) = if asked {
        (from.to_owned(), to.to_owned())
    } else {
        (
            versions
                .get(1)
                .or(versions.first())
                .map(|v| v.version.clone())
                .unwrap_or_default(),
            versions
                .first()
                .map(|v| v.version.clone())
                .unwrap_or_default(),
        )
    };
    let diff = if asked {
        Some(if from.is_empty() {
            Err("from: pick the version to compare from".to_owned())
        } else if to.is_empty() {
            Err("to: pick the version to compare to".to_owned())
        } else {
            match store.diff(&template_ref, &from, &to).await {
                Ok(files) => Ok(files.iter().map(diff_row).collect()),
                Err(error @ causeway_platform::Error::InvalidInput { .. }) => {
                    Err(error.to_string())
                }
                Err(error) => return Err(crate::server::domain_error(error)),
            }
        })
    } else {
        None
    };
    Ok(Some(VersionsView {
        href: href(&template_ref),
        wizard_href: entity
            .is_some()
            .then(|| super::list::wizard_href(&template_ref)),
        published: versions
            .iter()
            .find(|v| !published.is_empty() && v.version == published)
            .map(|v| v.short.clone()),
        template_ref,
        title,
        versions,
        from,
        to,
        diff,
    }))
}
