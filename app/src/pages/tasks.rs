//! Task pages: one task with its steps (state and elapsed time) and its log, updating while it
//! runs; and the list of tasks (mine, my teams', all for platform admins) by status.
//!
//! The server renders the whole page. Once hydrated, the page asks for the events after the last
//! one it has every second until the task ends; without JavaScript it reloads itself every two
//! seconds while the task runs.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{CancelTask, task_page, tasks_list};
use crate::model::{EventRow, TaskPageView, TaskView, TasksView};

fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// `/tasks/{id}`
#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, |id| task_page(id, 0));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(page)) => view! { <Task page /> }.into_any(),
                    Ok(None) => view! {
                        <Title text="No such task" />
                        <section class="panel" role="alert"><h1>"No such task"</h1><p><a href="/tasks">"All tasks"</a></p></section>
                    }
                        .into_any(),
                    Err(error) => view! {
                        <section class="panel" role="alert"><h1>"The task could not be loaded"</h1><p>{error.to_string()}</p></section>
                    }
                        .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Task(page: TaskPageView) -> impl IntoView {
    let id = page.task.id.clone();
    let task = RwSignal::new(page.task);
    let events = RwSignal::new(page.events);
    let can_cancel = RwSignal::new(page.can_cancel);
    // Live updates once hydrated: the events after the last one shown, until the task ends.
    Effect::new(move |_| {
        let id = id.clone();
        let handle = set_interval_with_handle(
            move || {
                if task.with_untracked(TaskView::is_final) {
                    return;
                }
                let id = id.clone();
                let after = events.with_untracked(|e| e.last().map_or(0, |e| e.id));
                leptos::task::spawn_local(async move {
                    if let Ok(Some(fresh)) = task_page(id, after).await {
                        task.set(fresh.task);
                        can_cancel.set(fresh.can_cancel);
                        if !fresh.events.is_empty() {
                            events.update(|e| {
                                let last = e.last().map_or(0, |l| l.id);
                                e.extend(fresh.events.into_iter().filter(|n| n.id > last));
                            });
                        }
                    }
                });
            },
            std::time::Duration::from_millis(1000),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    let cancel = ServerAction::<CancelTask>::new();
    view! {
        {move || task.with(|t| view! { <Title text=t.title.clone() /> })}
        {move || (!task.with(TaskView::is_final)).then(|| view! {
            <noscript><meta http-equiv="refresh" content="2" /></noscript>
        })}
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/tasks">"Tasks"</a></li>
                <li aria-current="page">{move || task.with(|t| t.id.clone())}</li>
            </ol>
        </nav>
        <section class="page-head">
            <h1>{move || task.with(|t| t.title.clone())}</h1>
            <p>
                <span class=move || task.with(|t| format!("status status--{}", t.status)) data-testid="task-status">
                    {move || task.with(|t| t.status.clone())}
                </span>
                " · requested by " {move || task.with(|t| t.requester.clone())}
                " at " {move || task.with(|t| t.created_at.clone())}
                " · " {move || task.with(|t| duration(t.elapsed_ms))}
                {move || task.with(|t| (t.attempts > 1).then(|| format!(" · resumed ({} attempts)", t.attempts)))}
            </p>
            {move || task.with(|t| t.error.clone()).map(|e| view! { <p class="error-box" role="alert">{e}</p> })}
            {move || task.with(|t| t.environments_href.clone()).map(|href| view! { <p><a href=href>"The service's environments"</a></p> })}
        </section>
        <section class="panel" aria-labelledby="steps-heading">
            <h2 id="steps-heading">"Steps"</h2>
            <ol class="steps" data-testid="task-steps">
                {move || task.with(|t| t.steps.clone()).into_iter().map(|s| view! {
                    <li class=format!("step step--{}", s.status) data-step=s.name.clone() data-status=s.status.clone()>
                        <span class="step__title">{s.title}</span>
                        <span class=format!("status status--{}", s.status)>{s.status.clone()}</span>
                        <span class="muted small">{duration(s.elapsed_ms)}{(s.attempts > 1).then(|| format!(", {} attempts", s.attempts))}</span>
                        {s.message.map(|m| view! { <p class="field__error">{m}</p> })}
                    </li>
                }).collect_view()}
            </ol>
            {move || can_cancel.get().then(|| view! {
                <ActionForm action=cancel attr:class="inline-form" attr:data-testid="cancel-task">
                    <input type="hidden" name="id" value=task.with_untracked(|t| t.id.clone()) />
                    <button type="submit" class="button">"Cancel"</button>
                </ActionForm>
            })}
        </section>
        <section class="panel" aria-labelledby="log-heading">
            <h2 id="log-heading">"Log"</h2>
            <ol class="log" data-testid="task-log" aria-live="polite">
                {move || events.get().into_iter().map(|e: EventRow| view! {
                    <li class=format!("log__line log__line--{}", e.level) data-event-id=e.id>
                        <time class="muted">{e.at}</time>
                        {e.step.map(|s| view! { <span class="badge">{s}</span> })}
                        <span>{e.message}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// `/tasks?scope=mine|teams|all&status=`
#[component]
pub fn TasksPage() -> impl IntoView {
    let query = use_query_map();
    let key = move || {
        query.with(|q| {
            (
                q.get("scope").unwrap_or_default(),
                q.get("status").unwrap_or_default(),
            )
        })
    };
    let data = Resource::new(key, |(scope, status)| tasks_list(scope, status));
    view! {
        <Title text="Tasks" />
        <section class="page-head">
            <h1>"Tasks"</h1>
            <p class="muted">"Provisioning and other long actions, with their progress. They survive restarts: a task a stopped server was running is resumed by another."</p>
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Tasks view /> }.into_any(),
                    Err(error) => view! { <p class="error-box" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Tasks(view: TasksView) -> impl IntoView {
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
