//! The wizard's review, rendered on the server only: the answers, the dry run's steps, file tree
//! (each file's text in a `<details>`) and log, and the form that creates. Masked answers are
//! asked for only in that form, whose password inputs are posted with Create and nowhere else.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::create::{field_id, wizard_head};
use crate::api::CreateFromTemplate;
use crate::model::{DryRunStep, FieldView, FileView, ReviewView};

/// A directory of the file tree: its subdirectories and files, by name.
#[derive(Default)]
struct Dir {
    dirs: BTreeMap<String, Dir>,
    files: Vec<(String, FileView)>,
}

fn tree(files: Vec<FileView>) -> Dir {
    let mut root = Dir::default();
    for file in files {
        let mut parts: Vec<String> = file.path.split('/').map(str::to_owned).collect();
        let name = parts.pop().unwrap_or_default();
        let mut dir = &mut root;
        for part in parts {
            dir = dir.dirs.entry(part).or_default();
        }
        dir.files.push((name, file));
    }
    root
}

fn size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn render_dir(dir: Dir) -> AnyView {
    view! {
        <ul class="file-tree">
            {dir.dirs.into_iter().map(|(name, sub)| view! {
                <li class="file-tree__dir"><span class="file-tree__name">{name} "/"</span>{render_dir(sub)}</li>
            }).collect_view()}
            {dir.files.into_iter().map(|(name, file)| view! {
                <li class="file-tree__file">
                    <details data-testid="file" data-path=file.path.clone()>
                        <summary>
                            <code>{name}</code>
                            " " <span class="muted small">{size(file.bytes)}{file.executable.then_some(", executable")}</span>
                        </summary>
                        {match file.text {
                            Some(text) => view! { <pre class="code-block"><code>{text}</code></pre> }.into_any(),
                            None => view! { <p class="muted small">"Binary or large file; not shown."</p> }.into_any(),
                        }}
                    </details>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A dry run's steps, file tree (each file's text in a `<details>`) and log.
pub fn dry_run_parts(
    steps: Vec<DryRunStep>,
    files: Vec<FileView>,
    log: Vec<(Option<String>, String)>,
) -> impl IntoView {
    let file_count = files.len();
    view! {
        <h3 class="subheading">"Steps"</h3>
        <ol class="steps" data-testid="dry-run-steps">
            {steps.into_iter().map(|s| view! {
                <li class="step" data-status=s.status.clone()>
                    <span class="step__title">{s.name} " " <code class="small">{s.action}</code></span>
                    <span class=format!("status status--{}", s.status)>{s.status.clone()}</span>
                </li>
            }).collect_view()}
        </ol>
        <h3 class="subheading">{format!("Files ({file_count})")}</h3>
        {if file_count == 0 {
            view! { <p class="muted">"No files."</p> }.into_any()
        } else {
            view! { <div data-testid="file-tree">{render_dir(tree(files))}</div> }.into_any()
        }}
        <h3 class="subheading">"Log"</h3>
        <ol class="log" data-testid="dry-run-log">
            {log.into_iter().map(|(step, message)| view! {
                <li class="log__line">{step.map(|s| view! { <span class="badge">{s}</span> })}<span>{message}</span></li>
            }).collect_view()}
        </ol>
    }
}

/// A masked answer's password input, posted only with Create.
fn masked_field(field: FieldView) -> impl IntoView {
    let id = field_id("secret", &field.name);
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let invalid = field.error.is_some().then_some("true");
    let described = [
        field.help.as_ref().map(|_| help_id.clone()),
        field.error.as_ref().map(|_| error_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    view! {
        <div class="field" data-invalid=invalid data-field=field.name.clone()>
            <label for=id.clone()>{field.label}{field.required.then(|| view! { <span class="field__required" title="required">" *"</span> })}</label>
            <input type="password" id=id name=format!("secrets[{}]", field.name) required=field.required autocomplete="new-password"
                aria-describedby=(!described.is_empty()).then_some(described) aria-invalid=invalid />
            {field.help.map(|h| view! { <p id=help_id class="muted small">{h}</p> })}
            {field.error.map(|e| view! { <p id=error_id class="field__error" role="alert" data-testid="field-error">{e}</p> })}
        </div>
    }
}

#[component]
pub fn Review(review: ReviewView) -> impl IntoView {
    let ReviewView {
        head,
        answers,
        carried,
        values_json,
        masked,
        steps,
        files,
        log,
        dry_run_error,
        errors,
    } = review;
    let has_masked = !masked.is_empty();
    view! {
        {wizard_head(&head)}
        <section class="panel" aria-labelledby="answers-heading" data-testid="review-answers">
            <h2 id="answers-heading">"Your answers"</h2>
            <dl class="pairs">
                {answers.into_iter().map(|a| view! {
                    <div class="pairs__item">
                        <dt>{a.label}</dt>
                        <dd>{match a.value {
                            Some(value) => view! { <span class="answer">{value}</span> }.into_any(),
                            None => view! { <span class="muted">"•••••• (asked below, never shown)"</span> }.into_any(),
                        }}</dd>
                    </div>
                }).collect_view()}
            </dl>
            <form method="get" action=head.action.clone() class="inline-form" data-testid="review-back">
                <input type="hidden" name="from" value="review" />
                {carried.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
                <button type="submit" name="go" value="back" class="button">"Change the answers"</button>
            </form>
        </section>
        <section class="panel" aria-labelledby="dry-run-heading" data-testid="dry-run">
            <h2 id="dry-run-heading">"What it would create"</h2>
            <p class="muted">
                "A dry run with your answers: nothing has been created. Steps that act outside the run "
                "(creating the repository, registering it, provisioning) are skipped and report example output."
                {has_masked.then_some(" Masked answers are not known yet; ******** stands in for them.")}
            </p>
            {dry_run_error.map(|e| view! { <p class="error-box" role="alert" data-testid="dry-run-error">{e}</p> })}
            {dry_run_parts(steps, files, log)}
        </section>
        <section class="panel" aria-labelledby="create-heading" data-testid="create-panel">
            <h2 id="create-heading">"Create"</h2>
            {(!errors.is_empty()).then(|| view! {
                <div class="error-box" role="alert" data-testid="create-errors">
                    <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                </div>
            })}
            <form method="post" action=CreateFromTemplate::url() class="form wizard-form" data-testid="create-form">
                <input type="hidden" name="template" value=head.entity_ref />
                <input type="hidden" name="values" value=values_json />
                {masked.into_iter().map(masked_field).collect_view()}
                <p class="muted small">"Creating runs every step for real, as a task you can follow."</p>
                <button type="submit" class="button button--primary" data-testid="create-submit">"Create"</button>
            </form>
        </section>
    }
}
