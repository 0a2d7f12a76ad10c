//! Task pages: one task with its steps (state and elapsed time) and its log, updating while it
//! runs; and the list of tasks (mine, my teams', all for platform admins) by status.
//!
//! The server renders both (`server/views/tasks.rs`). Once hydrated, a task's page asks every
//! second for the parts that changed and the log lines after the last one it shows, and patches
//! them in, until the task ends; without JavaScript it reloads itself every two seconds.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::environments::ServerPage;
use crate::api::task_update;

/// `/tasks/{id}`
#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || follow(params.with_untracked(|p| p.get("id").unwrap_or_default())),
            std::time::Duration::from_millis(1000),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    view! { <ServerPage missing="No such task." /> }
}

/// One step of following task `id`: fetch what changed since the log's last event and patch it
/// into the page the server rendered.
fn follow(id: String) {
    let Some(log) = document().get_element_by_id("task-log") else {
        return;
    };
    if log.get_attribute("data-finished").as_deref() != Some("false") {
        return;
    }
    let after = log
        .get_attribute("data-last-event")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    leptos::task::spawn_local(async move {
        let Ok(Some(parts)) = task_update(id, after).await else {
            return;
        };
        let Some(log) = document().get_element_by_id("task-log") else {
            return;
        };
        // Another update may have landed first; its lines are already there.
        if log.get_attribute("data-last-event").as_deref() != Some(&after.to_string()) {
            return;
        }
        for (id, html) in [
            ("task-head", &parts.head_html),
            ("task-steps", &parts.steps_html),
            ("task-cancel", &parts.cancel_html),
        ] {
            if let Some(element) = document().get_element_by_id(id) {
                element.set_inner_html(html);
            }
        }
        let _ = log.insert_adjacent_html("beforeend", &parts.log_html);
        let _ = log.set_attribute("data-last-event", &parts.last_event_id.to_string());
        let _ = log.set_attribute("data-finished", &parts.finished.to_string());
    });
}

/// `/tasks?scope=mine|teams|all&status=`
#[component]
pub fn TasksPage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}
