//! The wire format of a template's versions (`/api/scaffolder/v2/templates/…/versions`), in the
//! scaffolder API's style: camelCase members, times as RFC 3339.

use causeway_platform::scaffolder::versions::{FileDiff, VersionSummary};
use serde::Serialize;
use utoipa::ToSchema;

/// One version of a template.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersion {
    /// `sha256:` and the 64 hex digits of the hash of the template's content.
    pub version: String,
    /// When Causeway first captured it.
    pub created_at: String,
    /// Who first captured it: a person's entity reference, or what the catalog was doing
    /// (`catalog refresh of <location>`).
    pub author: String,
    /// How it was first captured: `catalog` (the catalog stored the template), `run` (a run used
    /// it first) or `authoring` (published from the authoring page).
    pub origin: String,
    /// How many files it holds besides its entity.
    pub files: usize,
}

impl From<&VersionSummary> for TemplateVersion {
    fn from(summary: &VersionSummary) -> Self {
        Self {
            version: summary.version.clone(),
            created_at: causeway_platform::time::iso(summary.created_at_millis),
            author: summary.author.clone(),
            origin: summary.origin.clone(),
            files: summary.files,
        }
    }
}

/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersionList {
    pub template_ref: String,
    /// Newest first.
    pub versions: Vec<TemplateVersion>,
}

/// One file that differs between two versions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateFileDiff {
    /// Relative to the template; `(template entity)` for the entity itself.
    pub path: String,
    /// `added`, `removed`, `modified` or `mode` (only the executable bit changed).
    #[schema(example = "modified")]
    pub change: String,
    /// A unified diff, the mode lines, or a sentence for a binary or very large file.
    pub unified: String,
}

impl From<&FileDiff> for TemplateFileDiff {
    fn from(diff: &FileDiff) -> Self {
        Self {
            path: diff.path.clone(),
            change: diff.change.as_str().to_owned(),
            unified: diff.unified.clone(),
        }
    }
}

/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersionDiff {
    pub template_ref: String,
    pub from: String,
    pub to: String,
    /// The files that differ, by path; the entity first when it changed.
    pub files: Vec<TemplateFileDiff>,
}
