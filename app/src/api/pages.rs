//! The one server function behind every page the server renders whole (see
//! [`crate::model::Rendered`]): it maps the page's address to the view that renders it.

use leptos::prelude::*;

use crate::error::PortalError;

use crate::model::Rendered;

#[cfg(feature = "ssr")]
use super::create::{author_page, templates_page, wizard_page};
#[cfg(feature = "ssr")]
use super::delivery::{delivery_page, organisation_page};
#[cfg(feature = "ssr")]
use super::environments::{environment_plan, environments, task_page, tasks_list};
#[cfg(feature = "ssr")]
use super::fleet::fleet_page;
#[cfg(feature = "ssr")]
use super::guardrails::{bench_page, platform_page};
#[cfg(feature = "ssr")]
use super::template_versions::versions_page;

/// A server-rendered page by its address: the environments tab, the Delivery pages of a component,
/// a team and the organisation, the plan page, the tasks list,
/// a task, the platform page and its policy test bench, the templates, a template's wizard, its
/// versions, its fleet and template authoring. One server function for all of them keeps one fetch path in
/// the browser build.
#[server(prefix = "/api/portal", endpoint = "page")]
pub async fn rendered_page(path: String, query: String) -> Result<Option<Rendered>, PortalError> {
    let mut params: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
    // A posted error is shown only when the host signed it for this session (see
    // `server/signed.rs`); a forged or edited `__err` shows nothing.
    let signed = match (
        params.get("__err"),
        params.get(crate::server::signed::ERROR_SIGNATURE),
    ) {
        (Some(encoded), Some(signature)) => crate::server::signed::session_secret()
            .is_some_and(|secret| crate::server::signed::verify_error(&secret, encoded, signature)),
        _ => false,
    };
    if !signed {
        params.remove("__err");
    }
    let value = |name: &str| params.get(name).cloned().unwrap_or_default();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["catalog", namespace, kind, name, "environments"] => {
            environments(
                (*namespace).to_owned(),
                (*kind).to_owned(),
                (*name).to_owned(),
                value("__err"),
            )
            .await
        }
        [
            "catalog",
            namespace,
            kind,
            name,
            "environments",
            environment,
            "plan",
        ] if kind.eq_ignore_ascii_case("component") => {
            environment_plan(
                format!("component:{namespace}/{name}"),
                (*environment).to_owned(),
                value("cpu"),
                value("memory"),
                value("pods"),
                value("availability"),
                value("__err"),
            )
            .await
        }
        ["catalog", namespace, kind, name, "delivery"] => {
            delivery_page(namespace, kind, name, &params).await
        }
        ["delivery"] => organisation_page(&params).await,
        ["catalog", namespace, kind, name, "scorecard"] => {
            crate::server::scorecard::scorecard_page(namespace, kind, name).await
        }
        ["tasks"] => tasks_list(value("scope"), value("status")).await,
        ["tasks", id] => task_page((*id).to_owned(), value("__err")).await,
        ["platform"] => platform_page(&params).await,
        ["platform", "policies", "test"] => bench_page(&params).await,
        ["create"] => templates_page(&params).await,
        ["create", "author"] => author_page(&params).await,
        ["create", "templates", namespace, name] => wizard_page(namespace, name, &params).await,
        ["create", "templates", namespace, name, "versions"] => {
            versions_page(namespace, name, &params).await
        }
        ["create", "templates", namespace, name, "fleet"] => {
            fleet_page(namespace, name, &value("__err")).await
        }
        _ => Ok(None),
    }
}
