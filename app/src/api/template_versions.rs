//! A template's versions: the page listing them and comparing two
//! (`/create/templates/{namespace}/{name}/versions`, reached through `pages.rs`), and Publish as a
//! new version, a server function the authoring page's form posts to (platform admins; the
//! domain decides and audits), which goes to the versions page.

use leptos::prelude::*;

use crate::error::PortalError;

#[cfg(feature = "ssr")]
use crate::model::Rendered;

/// `/create/templates/{namespace}/{name}/versions?from&to&published`, for anyone signed in.
#[cfg(feature = "ssr")]
pub(super) async fn versions_page(
    namespace: &str,
    name: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::{platform, render_html, require_principal};

    require_principal()?;
    let platform = platform()?;
    let value = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let Some(view) = crate::server::create::versions::versions(
        &platform,
        namespace,
        name,
        value("from"),
        value("to"),
        value("published"),
    )
    .await?
    else {
        return Ok(None);
    };
    let title = format!("Versions · {}", view.title);
    Ok(Some(Rendered {
        title,
        html: render_html(leptos::view! { <crate::server::views::versions::Versions view /> }),
    }))
}

/// Publishes the template pasted on the authoring page (`yaml`, one Template document) with its
/// files (`files`, a JSON array of `[path, text]` pairs) as a new version of the catalog template
/// of the same name, then goes to its versions page. Platform admins only, and only for a
/// template the catalog holds; the domain checks both and audits the attempt.
#[server(prefix = "/api/portal", endpoint = "template-publish")]
pub async fn publish_template(yaml: String, files: String) -> Result<(), PortalError> {
    use std::collections::BTreeMap;

    use causeway_platform::scaffolder::FileEntry;
    use causeway_platform::scaffolder::workspace::normalise;

    use crate::server::{domain_error, failed, platform, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let invalid = |message: String| failed(PortalError::invalid(message));
    let documents =
        causeway_platform::catalog::yaml::parse("template.yaml", &yaml).map_err(|problems| {
            invalid(
                crate::server::create::list::problem_lines(causeway_platform::Error::Rejected(
                    problems,
                ))
                .join("\n"),
            )
        })?;
    let [entity] = <[serde_json::Value; 1]>::try_from(documents).map_err(|documents| {
        invalid(format!(
            "template.yaml: holds {} documents; paste exactly one Template",
            documents.len()
        ))
    })?;
    let pairs: Vec<(String, String)> = serde_json::from_str(&files)
        .map_err(|e| invalid(format!("files: not a list of [path, text] pairs ({e})")))?;
    let mut entries = BTreeMap::new();
    for (path, text) in pairs {
        match normalise(path.trim()) {
            Ok(normal) if !normal.is_empty() => {
                entries.insert(normal, FileEntry::text(text.replace("\r\n", "\n")));
            }
            Ok(_) if text.is_empty() => {}
            Ok(_) => return Err(invalid("files: a file has no path".to_owned())),
            Err(e) => return Err(invalid(format!("files[{path}]: {e}"))),
        }
    }
    let published = platform
        .scaffolder
        .publish_authored(&principal, &entity, entries)
        .await
        .map_err(domain_error)?;
    leptos_axum::redirect(&format!(
        "{}?published={}",
        crate::server::create::versions::href(&published.template_ref),
        crate::model::encode_query_value(&published.version)
    ));
    Ok(())
}
