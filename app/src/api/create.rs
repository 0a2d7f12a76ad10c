//! The create pages: the templates (`/create`), a template's wizard and review
//! (`/create/templates/{namespace}/{name}`), both rendered on the server and reached through
//! `pages.rs`, and Create itself, a server function a plain form posts to, which starts the run
//! and goes to its task's page.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::error::PortalError;

#[cfg(feature = "ssr")]
use crate::model::Rendered;

/// `/create?q&type&tag&owner`
#[cfg(feature = "ssr")]
pub(super) async fn templates_page(
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::{platform, render_html, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let value = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let mut view = crate::server::create::list::templates(
        &platform,
        value("q"),
        value("type"),
        value("tag"),
        value("owner"),
    );
    view.can_author = platform.scaffolder.authorize_authoring(&principal).is_ok();
    Ok(Some(Rendered {
        title: "Create".to_owned(),
        html: render_html(leptos::view! { <crate::server::views::create::Templates view /> }),
    }))
}

/// `/create/author`: a pasted template checked, its wizard previewed and dry-run, for platform
/// admins only (others get a 403); nothing is registered.
#[cfg(feature = "ssr")]
pub(super) async fn author_page(
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::create::{author, choices::CatalogChoices};
    use crate::server::{platform, render_html, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    platform
        .scaffolder
        .authorize_authoring(&principal)
        .map_err(crate::server::domain_error)?;
    let choices = CatalogChoices {
        catalog: &platform.catalog,
        principal: &principal,
    };
    let mut view = author::author(&platform.scaffolder, &principal, &choices, params).await;
    // A refused publication comes back here, to the form that sent it.
    view.publish_error = params
        .get("__err")
        .and_then(|e| crate::server::posted_error(e));
    Ok(Some(Rendered {
        title: "Author a template · Create".to_owned(),
        html: render_html(leptos::view! { <crate::server::views::author::Author view /> }),
    }))
}

/// Problems as `field: message` lines, with every masked answer's text replaced: the lines may
/// travel back in an address (a failed post's `__err`), where a secret must never be. Quoted
/// forms go first (messages quote the values they refuse); a bare occurrence is replaced only as
/// a whole word, so that a secret such as `short` leaves "shorter" readable.
#[cfg(feature = "ssr")]
fn redacted(lines: Vec<String>, secrets: &BTreeMap<String, String>) -> String {
    let mut text = lines.join("\n");
    for value in secrets.values().filter(|v| !v.is_empty()) {
        let json = serde_json::to_string(value).unwrap_or_default();
        for quoted in [json, format!("{value:?}")] {
            text = text.replace(&quoted, "\"***\"");
        }
        text = replace_words(&text, value);
    }
    text
}

/// `text` with each occurrence of `word` that is not part of a longer word replaced by `***`.
#[cfg(feature = "ssr")]
fn replace_words(text: &str, word: &str) -> String {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in text.match_indices(word) {
        if at < rest {
            continue;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let edge = |c: Option<char>, inner: Option<char>| is_word(c) && is_word(inner);
        if edge(before, word.chars().next()) || edge(after, word.chars().next_back()) {
            continue;
        }
        out.push_str(&text[rest..at]);
        out.push_str("***");
        rest = at + word.len();
    }
    out.push_str(&text[rest..]);
    out
}

/// A template's wizard: the page the address calls for, or the review once every shown page is
/// answered without problems.
#[cfg(feature = "ssr")]
pub(super) async fn wizard_page(
    namespace: &str,
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use causeway_platform::Error;
    use serde_json::Value;

    use crate::model::WizardHead;
    use crate::server::create::{choices::CatalogChoices, form, list, review, wizard};
    use crate::server::views::{create::WizardPage, review::Review};
    use crate::server::{platform, posted_error, render_html, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let scaffolder = &platform.scaffolder;
    let entity_ref = format!("template:{namespace}/{name}").to_lowercase();
    let template = match scaffolder.catalog_template(&entity_ref) {
        Ok(template) => template,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(error) => {
            let problems = list::problem_lines(error);
            return Ok(Some(Rendered {
                title: "Cannot run here".to_owned(),
                html: render_html(leptos::view! {
                    <section class="panel" role="alert" data-testid="template-problems">
                        <h1>"This template cannot run here"</h1>
                        <ul>{problems.into_iter().map(|p| leptos::view! { <li>{p}</li> }).collect_view()}</ul>
                        <p><a href="/create">"Back to the templates"</a></p>
                    </section>
                }),
            }));
        }
    };
    let submitted = wizard::read(params);
    let masked = form::masked_names(&template);
    let preview = wizard::preview(&template, &masked);
    let (values, unread) = form::answers(&template, &submitted.raw);
    let current = Value::Object(values.clone());
    let shown = wizard::shown(&template, &current, &scaffolder.engine().templater);
    let navigable = wizard::navigable(&template, &shown, &current);
    let head = WizardHead {
        entity_ref: template.entity_ref.clone(),
        title: template.title.clone(),
        description: template.description.clone(),
        action: list::wizard_href(&template.entity_ref),
        steps: Vec::new(),
    };
    let validate = |upto: usize| {
        let mut pages = preview.clone();
        pages.pages.truncate(upto + 1);
        let mut request = wizard::preview_request(&template, &values, &masked);
        match scaffolder.prepare_answers(&pages, &mut request, &principal) {
            Ok(()) => Vec::new(),
            Err(Error::Rejected(problems)) => {
                problems.into_iter().map(|p| (p.field, p.message)).collect()
            }
            Err(other) => vec![("values".to_owned(), other.to_string())],
        }
    };
    let title = template.title.clone();
    let html = match wizard::next(
        &template, &submitted, &current, &unread, &navigable, validate,
    ) {
        wizard::Next::Page {
            index,
            errors,
            general,
        } => {
            let choices = CatalogChoices {
                catalog: &platform.catalog,
                principal: &principal,
            };
            let page = wizard::page_view(
                &template, head, index, &submitted, &current, &errors, general, &choices,
                &navigable,
            );
            render_html(leptos::view! { <WizardPage page /> })
        }
        wizard::Next::Review => {
            let request = wizard::preview_request(&template, &values, &masked);
            let dry_run = scaffolder
                .dry_run(preview.clone(), request, &principal)
                .await
                .map_err(|e| list::problem_lines(e).join("; "));
            let posted = params.get("__err").and_then(|e| posted_error(e));
            let review = review::review(
                &template,
                head,
                &shown,
                &navigable,
                &values,
                &submitted.raw,
                dry_run,
                posted,
            );
            render_html(leptos::view! { <Review review /> })
        }
    };
    Ok(Some(Rendered {
        title: format!("{title} · Create"),
        html,
    }))
}

/// Runs the template with the reviewed answers (`values`, JSON) and the masked answers typed on
/// the review page, then goes to the run's task. Every answer is validated again; problems come
/// back to the review, next to their fields, with masked answers' text removed.
#[server(prefix = "/api/portal", endpoint = "template-create")]
pub async fn create_from_template(
    template: String,
    values: String,
    #[server(default)] secrets: BTreeMap<String, String>,
) -> Result<(), PortalError> {
    use causeway_platform::Error;
    use causeway_platform::scaffolder::Request;
    use serde_json::{Map, Value};

    use crate::server::create::form;
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let scaffolder = &platform.scaffolder;
    let entity_ref =
        causeway_platform::catalog::refs::parse(template.trim(), "template", "default")
            .map_err(|e| crate::server::failed(PortalError::invalid(format!("template: {e}"))))?;
    let loaded = scaffolder
        .catalog_template(&entity_ref)
        .map_err(domain_error)?;
    let mut values: Map<String, Value> = serde_json::from_str(&values).map_err(|e| {
        crate::server::failed(PortalError::invalid(format!(
            "values: not an object of answers ({e})"
        )))
    })?;
    // Masked answers come only from the review's password inputs.
    let masked = form::masked_names(&loaded);
    let secret_fields = loaded.secret_fields();
    values.retain(|name, _| !masked.contains(name));
    let mut request_secrets = Map::new();
    for (name, value) in secrets
        .iter()
        .filter(|(n, v)| masked.contains(*n) && !v.is_empty())
    {
        if secret_fields.contains(name) {
            request_secrets.insert(name.clone(), Value::String(value.clone()));
        } else {
            values.insert(name.clone(), Value::String(value.clone()));
        }
    }
    let request = Request {
        values: Value::Object(values),
        secrets: request_secrets,
    };
    match scaffolder.submit(&entity_ref, request, &principal).await {
        Ok(task) => {
            leptos_axum::redirect(&format!("/tasks/{}", task.id));
            Ok(())
        }
        Err(error @ (Error::Rejected(_) | Error::InvalidInput { .. })) => {
            Err(crate::server::failed(PortalError::invalid(redacted(
                crate::server::create::list::problem_lines(error),
                &secrets,
            ))))
        }
        Err(error) => Err(domain_error(error)),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn masked_answers_are_removed_from_problems() {
        let secrets = BTreeMap::from([
            ("token".to_owned(), "hunter\"2".to_owned()),
            ("pin".to_owned(), "short".to_owned()),
            ("empty".to_owned(), String::new()),
        ]);
        let text = redacted(
            vec![
                "token: \"hunter\\\"2\" is shorter than 12 characters".to_owned(),
                "pin: \"short\" is shorter than 8 characters; short, it is".to_owned(),
                "note: hunter\"2 was typed".to_owned(),
                "name: is required".to_owned(),
            ],
            &secrets,
        );
        assert_eq!(
            text,
            "token: \"***\" is shorter than 12 characters\n\
             pin: \"***\" is shorter than 8 characters; ***, it is\n\
             note: *** was typed\n\
             name: is required"
        );
    }
}
