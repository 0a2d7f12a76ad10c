//! A template's versions under `/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions`:
//! the list, and the difference between two of them. Anyone signed in may read them, as they may
//! read the template in the catalog. The rules and the content live in
//! `causeway_platform::scaffolder::versions`; this module only translates.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::dto::ErrorEnvelope;
use super::dto::template_versions::{
    TemplateFileDiff, TemplateVersion, TemplateVersionDiff, TemplateVersionList,
};
use super::error::ApiError;

/// The template reference a path names, or a 400 for another kind.
fn template_ref(namespace: &str, kind: &str, name: &str) -> Result<String, ApiError> {
    if !kind.eq_ignore_ascii_case("template") {
        return Err(ApiError::input(format!(
            "kind: {kind:?} is not a template kind; only Template is supported"
        )));
    }
    Ok(format!("template:{namespace}/{name}").to_lowercase())
}

/// A template is known when the catalog holds it or a version of it was ever stored (a template
/// removed from the catalog keeps its history).
fn known(state: &AppState, template_ref: &str, versions: usize) -> Result<(), ApiError> {
    let in_catalog = state
        .platform
        .catalog
        .index()
        .by_ref(template_ref)
        .is_some();
    if in_catalog || versions > 0 {
        Ok(())
    } else {
        Err(causeway_platform::Error::NotFound(format!("template {template_ref}")).into())
    }
}

#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions", operation_id = "scaffolder_template_versions", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path)),
    responses((status = 200, description = "Every stored version of the template, newest first", body = TemplateVersionList),
        (status = 400, description = "Not a template kind", body = ErrorEnvelope),
        (status = 404, description = "No such template, and no version of one", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions`
pub async fn list(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Json<TemplateVersionList>, ApiError> {
    let template_ref = template_ref(&namespace, &kind, &name)?;
    let versions = state
        .platform
        .scaffolder
        .versions()?
        .list(&template_ref)
        .await?;
    known(&state, &template_ref, versions.len())?;
    Ok(Json(TemplateVersionList {
        template_ref,
        versions: versions.iter().map(TemplateVersion::from).collect(),
    }))
}

/// The two versions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The version compared from (`sha256:…`).
    from: Option<String>,
    /// The version compared to (`sha256:…`).
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff", operation_id = "scaffolder_template_version_diff", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path), DiffQuery),
    responses((status = 200, description = "The files that differ from one version to the other, with unified diffs", body = TemplateVersionDiff),
        (status = 400, description = "Not a template kind, or `from` or `to` missing or not a stored version (the parameter is named)", body = ErrorEnvelope),
        (status = 404, description = "No such template, and no version of one", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff?from=&to=`
pub async fn diff(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
    Query(query): Query<DiffQuery>,
) -> Result<Json<TemplateVersionDiff>, ApiError> {
    let template_ref = template_ref(&namespace, &kind, &name)?;
    let versions = state.platform.scaffolder.versions()?;
    known(
        &state,
        &template_ref,
        versions.list(&template_ref).await?.len(),
    )?;
    let from = query
        .from
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::input("from: the version to compare from is required"))?;
    let to = query
        .to
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::input("to: the version to compare to is required"))?;
    let files = versions.diff(&template_ref, &from, &to).await?;
    Ok(Json(TemplateVersionDiff {
        template_ref,
        from,
        to,
        files: files.iter().map(TemplateFileDiff::from).collect(),
    }))
}
