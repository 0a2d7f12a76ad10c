//! The register/import page: paste descriptor YAML, preview what it would do (every problem with
//! its document and field), then import it, all or nothing.
//!
//! The form posts to the `catalog-import` server function. Once hydrated, the outcome appears
//! below the form without leaving the page; without JavaScript the server function redirects
//! back here with the outcome in the address.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{CatalogImport, signed_import_outcome};
use crate::model::{ImportOutcome, ref_path};

/// A minimal valid descriptor, shown as an example.
const EXAMPLE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: my-service
  description: What it does, in Markdown.
spec:
  type: service
  lifecycle: production
  owner: group:default/my-team
";

/// `/catalog/import`
#[component]
pub fn ImportPage() -> impl IntoView {
    let import = ServerAction::<CatalogImport>::new();
    let query = use_query_map();
    // An outcome in the address is shown only if the server finds it signed for this session.
    let from_address = Resource::new(
        move || query.with(|q| (q.get("outcome"), q.get("sig"))),
        |(outcome, signature)| async move {
            match (outcome, signature) {
                (Some(outcome), Some(signature)) => signed_import_outcome(outcome, signature)
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            }
        },
    );
    let pending = import.pending();
    let outcome = move || match import.value().get() {
        Some(Ok(outcome)) => Some(Ok(outcome)),
        Some(Err(error)) => Some(Err(error.to_string())),
        None => from_address.get().flatten().map(Ok),
    };
    view! {
        <Title text="Register entities" />
        <section class="page-head">
            <h1>"Register entities"</h1>
            <p class="muted">
                "Paste one or more entity descriptors in Backstage's catalog-info.yaml format, separated by "
                <code>"---"</code>". "<strong>"Preview"</strong>" checks them and shows what would change without storing anything; "
                <strong>"Import"</strong>" stores them, all or nothing: one invalid document stores none."
            </p>
        </section>
        <section class="panel">
            <ActionForm action=import attr:class="form import-form" attr:data-testid="import-form">
                <label for="import-yaml">"Descriptor YAML"</label>
                <textarea
                    id="import-yaml"
                    name="yaml"
                    rows="18"
                    spellcheck="false"
                    autocomplete="off"
                    required
                    aria-describedby="import-yaml-help"
                    placeholder="Paste descriptor YAML here"
                ></textarea>
                <p id="import-yaml-help" class="muted small">
                    "Entities you import here belong to the location “upload”; importing one again updates it."
                </p>
                <details class="import-example">
                    <summary>"Example descriptor"</summary>
                    <pre class="code-block"><code>{EXAMPLE}</code></pre>
                </details>
                <div class="button-row">
                    <button type="submit" name="mode" value="preview" class="button" data-testid="import-preview">"Preview"</button>
                    <button type="submit" name="mode" value="import" class="button button--primary" data-testid="import-submit">"Import"</button>
                </div>
            </ActionForm>
        </section>
        <div aria-live="polite">
            {move || pending.get().then(|| view! { <p class="muted">"Checking…"</p> })}
            <Transition fallback=|| ()>
                {move || outcome().map(|result| match result {
                    Ok(outcome) => view! { <OutcomeView outcome /> }.into_any(),
                    Err(error) => view! { <p class="error-box" role="alert">{error}</p> }.into_any(),
                })}
            </Transition>
        </div>
    }
}

#[component]
fn OutcomeView(outcome: ImportOutcome) -> impl IntoView {
    let ok = outcome.ok();
    let heading = match (ok, outcome.dry_run) {
        (true, true) => "Preview: valid, nothing stored yet".to_owned(),
        (true, false) => "Imported".to_owned(),
        (false, true) => "Preview: problems found, nothing would be stored".to_owned(),
        (false, false) => "Not imported: nothing was stored".to_owned(),
    };
    let documents = match outcome.documents {
        0 => String::new(),
        1 => "1 document. ".to_owned(),
        n => format!("{n} documents. "),
    };
    let verb = if outcome.dry_run { "would be" } else { "were" };
    let summary = format!(
        "{documents}{} added, {} updated, {} unchanged {verb} the result.",
        outcome.added.len(),
        outcome.updated.len(),
        outcome.unchanged.len()
    );
    let list = |title: String, refs: Vec<String>, stored: bool| {
        (!refs.is_empty()).then(|| {
            view! {
                <h3 class="subheading">{title}</h3>
                <ul class="ref-list">
                    {refs
                        .into_iter()
                        .map(|r| {
                            if stored {
                                view! { <li><a href=ref_path(&r)>{r.clone()}</a></li> }.into_any()
                            } else {
                                view! { <li><code>{r}</code></li> }.into_any()
                            }
                        })
                        .collect_view()}
                </ul>
            }
        })
    };
    let stored = outcome.stored;
    let class = if ok {
        "panel import-outcome"
    } else {
        "panel import-outcome import-outcome--failed"
    };
    view! {
        <section class=class data-testid="import-outcome" data-ok=ok.to_string() aria-labelledby="outcome-heading">
            <h2 id="outcome-heading">{heading}</h2>
            {if ok {
                view! { <p data-testid="import-summary">{summary}</p> }.into_any()
            } else {
                view! {
                    <p class="error-box" role="alert">
                        {format!("{} problem(s). Correct them and preview again.", outcome.problems.len())}
                    </p>
                    <div class="table-wrap">
                        <table class="table" data-testid="import-problems">
                            <caption class="visually-hidden">"Problems by document and field"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Document"</th>
                                    <th scope="col">"Field"</th>
                                    <th scope="col">"Problem"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {outcome
                                    .problems
                                    .iter()
                                    .map(|p| view! {
                                        <tr>
                                            <td>{p.document.map_or_else(|| "—".to_owned(), |d| d.to_string())}</td>
                                            <td><code>{p.field.clone()}</code></td>
                                            <td>{p.message.clone()}</td>
                                        </tr>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            {list("Added".to_owned(), outcome.added, stored)}
            {list("Updated".to_owned(), outcome.updated, stored)}
            {list("Unchanged".to_owned(), outcome.unchanged, stored)}
            {(!outcome.warnings.is_empty()).then(|| view! {
                <div class="notice notice--warning">
                    <h3 class="notice__title">"References to entities that do not exist"</h3>
                    <p>"These are kept and will resolve once the entities are registered."</p>
                    <ul>{outcome.warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                </div>
            })}
            {(outcome.omitted > 0).then(|| view! {
                <p class="muted small">{format!("{} more entries are not listed here.", outcome.omitted)}</p>
            })}
        </section>
    }
}
