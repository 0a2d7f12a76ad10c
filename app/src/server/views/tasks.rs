//! Task views rendered on the server only: the tasks list, and the parts of a task's page (head,
//! steps, log lines) that the page swaps in as the task runs.

use leptos::prelude::*;

use leptos::server_fn::ServerFn;

use crate::api::CancelTask;
use crate::model::{EventRow, TaskOutputView, TaskRender, TaskView, TasksView};

/// Milliseconds as a person reads them.
pub fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The task's heading: title, status, who asked and when, how long, why it failed.
pub fn head(t: &TaskView) -> impl IntoView + use<> {
    let t = t.clone();
    view! {
        <h1>{t.title.clone()}</h1>
        <p>
            <span class=format!("status status--{}", t.status) data-testid="task-status">{t.status.clone()}</span>
            " · requested by " {t.requester.clone()}
            " at " {t.created_at.clone()}
            " · " {duration(t.elapsed_ms)}
            {(t.attempts > 1).then(|| format!(" · resumed ({} attempts)", t.attempts))}
            {t.cancel_requested.then_some(" · cancellation requested")}
        </p>
        {t.error.clone().map(|e| view! { <p class="error-box" role="alert">{e}</p> })}
        {t.environments_href.clone().map(|href| view! { <p><a href=href>"The service's environments"</a></p> })}
        {t.output.clone().map(output)}
    }
}

/// What a finished template run produced: its links (entities to their catalog pages; addresses
/// that are not web addresses, such as a repository's `file://` clone URL, as text to copy) and
/// its text, as Markdown.
fn output(output: TaskOutputView) -> impl IntoView {
    view! {
        <section class="task-output" aria-label="Output" data-testid="task-output">
            {(!output.links.is_empty()).then(|| view! {
                <ul class="link-list" data-testid="task-output-links">
                    {output.links.into_iter().map(|l| match l.href {
                        Some(href) => view! { <li><a href=href rel="noopener noreferrer">{l.title}</a></li> }.into_any(),
                        None => view! { <li>{l.title} ": " <code>{l.text}</code></li> }.into_any(),
                    }).collect_view()}
                </ul>
            })}
            {output.text.into_iter().map(|(title, html)| view! {
                <h2 class="subheading">{title}</h2>
                <div class="markdown" inner_html=html></div>
            }).collect_view()}
        </section>
    }
}

/// A task's page: the parts the page follower (`pages/tasks.rs`) replaces and extends while the
/// task runs carry the ids it looks for; without JavaScript the page reloads itself instead.
pub fn page(id: String, parts: TaskRender) -> impl IntoView {
    view! {
        {(!parts.finished).then(|| view! { <noscript><meta http-equiv="refresh" content="2" /></noscript> })}
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/tasks">"Tasks"</a></li>
                <li aria-current="page">{id}</li>
            </ol>
        </nav>
        <section class="page-head" id="task-head" inner_html=parts.head_html></section>
        <section class="panel" aria-labelledby="steps-heading">
            <h2 id="steps-heading">"Steps"</h2>
            <ol class="steps" id="task-steps" data-testid="task-steps" inner_html=parts.steps_html></ol>
            <div id="task-cancel" inner_html=parts.cancel_html></div>
        </section>
        <section class="panel" aria-labelledby="log-heading">
            <h2 id="log-heading">"Log"</h2>
            <ol class="log" id="task-log" data-testid="task-log" aria-live="polite"
                data-last-event=parts.last_event_id data-finished=parts.finished.to_string()
                inner_html=parts.log_html></ol>
        </section>
    }
}

/// The cancel button.
pub fn cancel(id: &str) -> impl IntoView + use<> {
    let id = id.to_owned();
    view! {
        <form method="post" action=CancelTask::url() class="inline-form" data-testid="cancel-task">
            <input type="hidden" name="id" value=id />
            <button type="submit" class="button">"Cancel"</button>
        </form>
    }
}

/// The steps, as list items.
pub fn steps(t: &TaskView) -> impl IntoView + use<> {
    t.steps
        .clone()
        .into_iter()
        .map(|s| {
            view! {
                <li class=format!("step step--{}", s.status) data-step=s.name.clone() data-status=s.status.clone()>
                    <span class="step__title">{s.title}</span>
                    <span class=format!("status status--{}", s.status)>{s.status.clone()}</span>
                    <span class="muted small">{duration(s.elapsed_ms)}{(s.attempts > 1).then(|| format!(", {} attempts", s.attempts))}</span>
                    {s.message.map(|m| view! { <p class="field__error">{m}</p> })}
                </li>
            }
        })
        .collect_view()
}

/// Log lines, as list items.
pub fn log(events: &[EventRow]) -> impl IntoView + use<> {
    events
        .iter()
        .cloned()
        .map(|e| {
            view! {
                <li class=format!("log__line log__line--{}", e.level) data-event-id=e.id>
                    <time class="muted">{e.at}</time>
                    {e.step.map(|s| view! { <span class="badge">{s}</span> })}
                    <span>{e.message}</span>
                </li>
            }
        })
        .collect_view()
}

#[component]
pub fn Tasks(view: TasksView) -> impl IntoView {
    let TasksView {
        scope,
        status,
        is_admin,
        tasks,
    } = view;
    let mut scopes = vec![("mine", "Mine"), ("teams", "My teams'")];
    if is_admin {
        scopes.push(("all", "All"));
    }
    let statuses = ["", "open", "processing", "completed", "failed", "cancelled"];
    view! {
        <section class="page-head">
            <h1>"Tasks"</h1>
            <p class="muted">"Provisioning and other long actions, with their progress. They survive restarts: a task a stopped server was running is resumed by another."</p>
        </section>
        <form method="get" class="filter-form form" data-testid="tasks-filter">
            <label for="tasks-scope">"Whose"</label>
            <select id="tasks-scope" name="scope">
                {scopes.into_iter().map(|(value, label)| view! { <option value=value selected=scope == value>{label}</option> }).collect_view()}
            </select>
            <label for="tasks-status">"Status"</label>
            <select id="tasks-status" name="status">
                {statuses.into_iter().map(|value| view! {
                    <option value=value selected=status == value>{if value.is_empty() { "any" } else { value }}</option>
                }).collect_view()}
            </select>
            <button type="submit" class="button">"Show"</button>
        </form>
        {if tasks.is_empty() {
            view! { <p class="muted">"No tasks."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="table" data-testid="tasks-table">
                        <thead><tr><th scope="col">"Task"</th><th scope="col">"Status"</th><th scope="col">"Requested by"</th><th scope="col">"Created"</th><th scope="col">"Took"</th></tr></thead>
                        <tbody>
                            {tasks.into_iter().map(|t| view! {
                                <tr>
                                    <td><a href=format!("/tasks/{}", t.id)>{t.title}</a></td>
                                    <td><span class=format!("status status--{}", t.status)>{t.status.clone()}</span></td>
                                    <td>{t.requester}</td>
                                    <td>{t.created_at}</td>
                                    <td>{duration(t.elapsed_ms)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
    }
}
