//! The template authoring page (`/create/author`), rendered on the server only: one GET form
//! holding the pasted `template.yaml`, the skeleton's files and the previewed wizard's answers,
//! with the template's problems, and the dry run's steps, files, log and output below it.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::create::Field;
use super::review::dry_run_parts;
use crate::api::PublishTemplate;
use crate::model::{AuthorView, DryRunView};

const EXAMPLE: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: hello\nspec:\n  parameters:\n    - title: Details\n      required: [name]\n      properties:\n        name: { type: string }\n  steps:\n    - id: fetch\n      name: Fetch\n      action: fetch:template\n      input: { url: ./skeleton, values: { name: \"${{ parameters.name }}\" } }";

fn file_entry(index: usize, path: String, text: String) -> impl IntoView {
    let path_id = format!("author-fp-{index}");
    let text_id = format!("author-fc-{index}");
    view! {
        <fieldset class="panel" data-testid="author-file">
            <legend>{format!("File {}", index + 1)}</legend>
            <div class="field">
                <label for=path_id.clone()>"Path"</label>
                <input type="text" id=path_id name=format!("fp.{index}") value=path placeholder="skeleton/README.md" spellcheck="false" />
            </div>
            <div class="field">
                <label for=text_id.clone()>"Content"</label>
                <textarea id=text_id name=format!("fc.{index}") rows=6 class="code" spellcheck="false">{text}</textarea>
            </div>
        </fieldset>
    }
}

fn dry_run(run: DryRunView) -> impl IntoView {
    let DryRunView {
        steps,
        files,
        log,
        output,
        error,
    } = run;
    view! {
        <section class="panel" aria-labelledby="author-run-heading" data-testid="dry-run">
            <h2 id="author-run-heading">"Dry run"</h2>
            <p class="muted">
                "Nothing was created or registered. Steps that act outside the run are skipped and report example output."
            </p>
            {error.map(|e| view! { <p class="error-box" role="alert" data-testid="dry-run-error">{e}</p> })}
            {dry_run_parts(steps, files, log)}
            <h3 class="subheading">"Output"</h3>
            <pre class="code-block" data-testid="dry-run-output"><code>{output}</code></pre>
        </section>
    }
}

#[component]
pub fn Author(view: AuthorView) -> impl IntoView {
    let AuthorView {
        yaml,
        files,
        problems,
        pages,
        masked,
        errors,
        dry_run: run,
        publish_error,
    } = view;
    let loaded = !yaml.trim().is_empty() && problems.is_empty();
    // What Publish as a new version sends: the template and the files as they are in the form.
    let publish_yaml = yaml.clone();
    let publish_files = serde_json::to_string(
        &files
            .iter()
            .filter(|(path, text)| !path.is_empty() || !text.is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    view! {
        <section class="page-head">
            <h1>"Author a template"</h1>
            <p class="muted">
                "Paste a template and its skeleton's files, check it, try its wizard and dry-run it. "
                "Nothing is registered in the catalog; to add a template, register its location. "
                "For a template the catalog already holds, Publish as a new version stores what is pasted here as one of its versions."
            </p>
            <p><a href="/create">"Back to the templates"</a></p>
        </section>
        <form method="get" action="/create/author" class="form wizard-form" data-testid="author-form">
            <section class="panel" aria-labelledby="author-yaml-heading">
                <h2 id="author-yaml-heading">"Template"</h2>
                <div class="field">
                    <label for="author-yaml">"template.yaml"</label>
                    <textarea id="author-yaml" name="yaml" rows=18 class="code" spellcheck="false" placeholder=EXAMPLE>{yaml}</textarea>
                    <p class="muted small">"File paths are relative to template.yaml's directory, as in a repository: ./skeleton reads the files under skeleton/."</p>
                </div>
                {files.into_iter().enumerate().map(|(i, (path, text))| file_entry(i, path, text)).collect_view()}
                <p class="muted small">"Two empty entries follow the files; check the template to get two more."</p>
                <button type="submit" name="go" value="check" class="button" formnovalidate data-testid="author-check">"Check the template"</button>
            </section>
            {(!problems.is_empty()).then(|| view! {
                <section class="panel" role="alert" data-testid="template-problems">
                    <h2>"This template cannot run"</h2>
                    <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                </section>
            })}
            {loaded.then(|| view! {
                <section class="panel" aria-labelledby="author-wizard-heading" data-testid="author-wizard">
                    <h2 id="author-wizard-heading">"The wizard"</h2>
                    <p class="muted">"The template loads. Its pages as the wizard shows them for these answers:"</p>
                    {(!errors.is_empty()).then(|| view! {
                        <div class="error-box" role="alert" data-testid="wizard-errors">
                            <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                        </div>
                    })}
                    {pages.into_iter().map(|page| view! {
                        <h3 class="subheading">{page.title}</h3>
                        {page.description.map(|d| view! { <p class="muted">{d}</p> })}
                        {page.fields.into_iter().map(|field| view! { <Field field /> }).collect_view()}
                    }).collect_view()}
                    {(!masked.is_empty()).then(|| view! {
                        <p class="muted small" data-testid="author-masked">
                            "Masked answers (" {masked.join(", ")} ") are not asked for here; the dry run uses ******** for them."
                        </p>
                    })}
                    <button type="submit" name="go" value="dry-run" class="button button--primary" data-testid="author-dry-run">"Dry run"</button>
                </section>
            })}
        </form>
        {run.map(dry_run)}
        {publish_error.map(|e| view! { <p class="error-box" role="alert" data-testid="publish-error">{e}</p> })}
        {loaded.then(|| view! {
            <form method="post" action=PublishTemplate::url() class="panel" data-testid="publish-form">
                <h2>"Publish as a new version"</h2>
                <p class="muted">
                    "Stores this template and its files as a version of the catalog template of the same name (metadata.name and metadata.namespace), "
                    "listed on its versions page. Runs keep using the template as the catalog reads it."
                </p>
                <input type="hidden" name="yaml" value=publish_yaml />
                <input type="hidden" name="files" value=publish_files />
                <button type="submit" class="button" data-testid="publish-submit">"Publish as a new version"</button>
            </form>
        })}
    }
}
