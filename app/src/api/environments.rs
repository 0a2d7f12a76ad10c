//! Server functions of the environment, task and platform pages, and the views they render
//! (reached through `pages.rs`). Changes (request, destroy, cancel) redirect to the page that
//! follows, so the forms work without JavaScript too.

use leptos::prelude::*;

use crate::error::PortalError;

#[cfg(feature = "ssr")]
use crate::model::Rendered;
use crate::model::TaskRender;

/// The form's parameter values, by name.
#[cfg(feature = "ssr")]
fn values(
    cpu: String,
    memory: String,
    pods: String,
    availability: String,
) -> std::collections::BTreeMap<String, String> {
    [
        ("cpu", cpu),
        ("memory", memory),
        ("pods", pods),
        ("availability", availability),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A component's environments: each one's record, objects, drift and form.
#[cfg(feature = "ssr")]
pub(super) async fn environments(
    namespace: String,
    kind: String,
    name: String,
    error: String,
) -> Result<Option<Rendered>, PortalError> {
    use crate::model::{EnvironmentCard, EnvironmentsView, ref_path};
    use crate::server::environments as view;
    use crate::server::{platform, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let provisioner = view::provisioner()?;
    if !kind.eq_ignore_ascii_case("component") {
        return Ok(None);
    }
    let service_ref = format!("component:{}/{}", namespace, name).to_lowercase();
    let Some(service_name) = ({
        let index = platform.catalog.index();
        index.by_ref(&service_ref).map(|e| e.name().to_owned())
    }) else {
        return Ok(None);
    };
    // Each environment may live on another cluster; they are asked at once, so one that does
    // not answer delays the page by its timeout only once.
    let cards = futures::future::join_all(
        provisioner
            .config()
            .environments
            .iter()
            .map(|environment| view::card(&provisioner, &principal, &service_ref, environment)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<EnvironmentCard>, _>>()
    .map_err(crate::server::domain_error)?;
    let page = EnvironmentsView {
        can_change: view::may_change(&provisioner, &principal, &service_ref),
        entity_href: ref_path(&service_ref),
        service_name,
        service_ref,
        environments: cards,
    };
    Ok(Some(Rendered {
        title: format!("{} · Environments", page.service_name),
        html: with_error(
            &error,
            crate::server::render_html(
                leptos::view! { <crate::server::views::environments::Environments view=page /> },
            ),
        ),
    }))
}

/// `html` after the error a failed form post left in the address, if any.
#[cfg(feature = "ssr")]
pub(super) fn with_error(encoded: &str, html: String) -> String {
    match crate::server::posted_error(encoded) {
        Some(message) => {
            let error = crate::server::render_html(
                leptos::view! { <p class="error-box" role="alert" data-testid="posted-error">{message}</p> },
            );
            error + &html
        }
        None => html,
    }
}

/// What requesting `environment` with these parameters would change, or what is wrong with them
/// (next to each field).
#[cfg(feature = "ssr")]
pub(super) async fn environment_plan(
    service: String,
    environment: String,
    cpu: String,
    memory: String,
    pods: String,
    availability: String,
    error: String,
) -> Result<Option<Rendered>, PortalError> {
    use crate::model::{PlanView, ref_path};
    use crate::server::environments as view;
    use crate::server::require_principal;

    let principal = require_principal()?;
    let provisioner = view::provisioner()?;
    let values = values(cpu, memory, pods, availability);
    let request = view::request(&principal, &service, &environment, &values);
    let config = provisioner.config();
    let Some(env) = config.environment(&environment) else {
        return Err(crate::server::failed(PortalError::new(
            404,
            format!("{environment:?} is not an environment"),
        )));
    };
    let mut plan = PlanView {
        service_ref: service.clone(),
        service_name: causeway_platform::catalog::refs::split(&service)
            .2
            .to_owned(),
        environment: environment.clone(),
        environments_href: format!("{}/environments", ref_path(&service)),
        fields: view::fields(env, &values),
        can_change: view::may_change(&provisioner, &principal, &service),
        approvers: config
            .approval_for(&environment)
            .map(|rule| rule.approvers.join(", ")),
        ..PlanView::default()
    };
    match provisioner.plan(&request).await {
        Ok(found) => {
            plan.namespace = found.namespace;
            plan.steps = view::plan_steps(&found.steps);
            plan.notices = crate::server::guardrails::notices(&found.policies);
        }
        Err(error) => crate::server::guardrails::refuse(&mut plan, error),
    }
    // An apply the policies refused comes back here with the denials in its address; the plan
    // just made shows them next to their fields, so the address's copy is shown only when the
    // plan no longer finds them (something changed in between).
    let posted_denial = crate::server::posted_error(&error)
        .is_some_and(|m| m.starts_with(crate::server::guardrails::DENIED));
    let error = if posted_denial && !plan.ok() {
        ""
    } else {
        error.as_str()
    };
    Ok(Some(Rendered {
        title: format!("{} · {} · Plan", plan.service_name, plan.environment),
        html: with_error(
            error,
            crate::server::render_html(
                leptos::view! { <crate::server::views::environments::Plan plan /> },
            ),
        ),
    }))
}

/// Requests the environment: checks it again, starts the task and goes to its page.
#[server(prefix = "/api/portal", endpoint = "environment-request")]
pub async fn request_environment(
    service: String,
    environment: String,
    cpu: String,
    memory: String,
    pods: String,
    availability: String,
) -> Result<(), PortalError> {
    use causeway_platform::provision::approvals::Submission;

    use crate::server::environments as view;
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let provisioner = view::provisioner()?;
    provisioner
        .authorize(&principal, &service)
        .map_err(domain_error)?;
    let request = view::request(
        &principal,
        &service,
        &environment,
        &values(cpu, memory, pods, availability),
    );
    let submitted = provisioner
        .request_apply(&platform()?.tasks, &request)
        .await
        .map_err(domain_error)?;
    match submitted {
        Submission::Task(task) => leptos_axum::redirect(&format!("/tasks/{}", task.id)),
        // The environment needs an approval: its card shows the pending approval and its plan.
        Submission::Approval(approval) => leptos_axum::redirect(&format!(
            "{}/environments#environment-{}",
            crate::model::ref_path(&approval.service),
            approval.environment
        )),
    }
    Ok(())
}

/// Destroys the environment once its namespace has been typed as confirmation.
#[server(prefix = "/api/portal", endpoint = "environment-destroy")]
pub async fn destroy_environment(
    service: String,
    environment: String,
    confirm: String,
) -> Result<(), PortalError> {
    use crate::server::environments as view;
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let provisioner = view::provisioner()?;
    provisioner
        .authorize_destroy(&principal, &service)
        .map_err(domain_error)?;
    let request = view::request(&principal, &service, &environment, &Default::default());
    let namespace = provisioner
        .locate(&request)
        .map_err(domain_error)?
        .namespace;
    if confirm.trim() != namespace {
        return Err(crate::server::failed(PortalError::invalid(format!(
            "confirm: type the namespace {namespace} to destroy it"
        ))));
    }
    let task = provisioner
        .submit_destroy(&platform()?.tasks, &request)
        .await
        .map_err(domain_error)?;
    leptos_axum::redirect(&format!("/tasks/{}", task.id));
    Ok(())
}

/// Moves an ephemeral environment's expiry to `hours` from now (its time to live when empty) and
/// shows its environments again.
#[server(prefix = "/api/portal", endpoint = "environment-extend")]
pub async fn extend_environment(
    service: String,
    environment: String,
    hours: String,
) -> Result<(), PortalError> {
    use causeway_platform::Error;
    use causeway_platform::provision::Requester;
    use causeway_platform::provision::expiry::Extension;

    use crate::server::environments as view;
    use crate::server::{domain_error, require_principal};

    let principal = require_principal()?;
    let provisioner = view::provisioner()?;
    provisioner
        .authorize_extend(&principal, &service)
        .map_err(domain_error)?;
    let hours = hours.trim();
    let ttl_seconds = match hours {
        "" => None,
        text => Some(
            text.parse::<u64>()
                .map_err(|_| {
                    crate::server::failed(PortalError::invalid(format!(
                        "hours: {text:?} is not a whole number of hours"
                    )))
                })?
                .saturating_mul(3600),
        ),
    };
    let extension = Extension {
        service: service.clone(),
        environment,
        ttl_seconds,
        request_id: format!("portal-{}", uuid::Uuid::new_v4()),
        requester: Requester::of(&principal),
    };
    match provisioner.extend(&extension).await {
        Ok(_) => {}
        // The form asks for hours; the rule is the domain's, in seconds and in words.
        Err(Error::InvalidInput { field, rule }) if field == "ttl_seconds" => {
            return Err(crate::server::failed(PortalError::invalid(format!(
                "hours: {rule}"
            ))));
        }
        Err(error) => return Err(domain_error(error)),
    }
    leptos_axum::redirect(&format!(
        "{}/environments",
        crate::model::ref_path(&service)
    ));
    Ok(())
}

/// What changed on a task's page: its head, steps and cancel button, and the log lines after
/// event `after`.
#[server(prefix = "/api/portal", endpoint = "task")]
pub async fn task_update(id: String, after: i64) -> Result<Option<TaskRender>, PortalError> {
    task_parts(&id, after, "").await
}

#[cfg(feature = "ssr")]
async fn task_parts(id: &str, after: i64, error: &str) -> Result<Option<TaskRender>, PortalError> {
    use crate::server::environments as view;
    use crate::server::views::tasks;
    use crate::server::{domain_error, platform, render_html, require_principal};

    let principal = require_principal()?;
    let store = platform()?.tasks;
    // The status is read before the events: once it says the task ended, every event is there.
    let Some(task) = store
        .get(id)
        .await
        .map_err(domain_error)?
        .filter(|t| t.readable_by(&principal))
    else {
        return Ok(None);
    };
    let events = store.events(id, after, 5000).await.map_err(domain_error)?;
    let shown = view::task(&task, causeway_platform::time::now_millis());
    let can_cancel = !task.status.is_final() && task.cancellable_by(&principal);
    Ok(Some(TaskRender {
        head_html: with_error(error, render_html(tasks::head(&shown))),
        steps_html: render_html(tasks::steps(&shown)),
        cancel_html: if can_cancel {
            render_html(tasks::cancel(&shown.id))
        } else {
            String::new()
        },
        log_html: render_html(tasks::log(&view::events(&events))),
        last_event_id: events.last().map_or(after, |e| e.id),
        finished: task.status.is_final(),
    }))
}

/// A task's whole page.
#[cfg(feature = "ssr")]
pub(super) async fn task_page(id: String, error: String) -> Result<Option<Rendered>, PortalError> {
    let Some(parts) = task_parts(&id, 0, &error).await? else {
        return Ok(None);
    };
    let title = crate::server::platform()?
        .tasks
        .get(&id)
        .await
        .map_err(crate::server::domain_error)?
        .map(|t| t.title)
        .unwrap_or_default();
    Ok(Some(Rendered {
        title,
        html: crate::server::render_html(crate::server::views::tasks::page(id, parts)),
    }))
}

/// Cancels a task (it stops before its next step) and shows it again.
#[server(prefix = "/api/portal", endpoint = "task-cancel")]
pub async fn cancel_task(id: String) -> Result<(), PortalError> {
    use crate::server::{domain_error, platform, request_id, require_principal};

    let principal = require_principal()?;
    let tasks = platform()?.tasks;
    match tasks
        .cancel_as(&principal, &id, request_id().as_deref())
        .await
    {
        Ok(_) => {}
        Err(error @ causeway_platform::Error::Forbidden(_)) => {
            return Err(crate::server::domain_error(error));
        }
        Err(error) => return Err(domain_error(error)),
    }
    leptos_axum::redirect(&format!("/tasks/{id}"));
    Ok(())
}

/// Tasks: mine, my teams', or (platform admins) all; optionally of one status.
#[cfg(feature = "ssr")]
pub(super) async fn tasks_list(
    scope: String,
    status: String,
) -> Result<Option<Rendered>, PortalError> {
    use crate::model::TasksView;
    use causeway_platform::identity::Role;
    use causeway_platform::tasks::Filter;

    use crate::server::environments as view;
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let is_admin = principal.role == Role::PlatformAdmin;
    // The page shows what it can rather than an error: an unknown or forbidden scope is `mine`,
    // an unknown status is any.
    let filter = Filter::scoped(&principal, &scope, &status, 200)
        .or_else(|_| Filter::scoped(&principal, &scope, "", 200))
        .or_else(|_| Filter::scoped(&principal, "mine", "", 200))
        .map_err(domain_error)?;
    let scope = match scope.as_str() {
        "teams" => "teams",
        "all" if filter.requester.is_none() => "all",
        _ => "mine",
    };
    let status_filter = filter.status;
    let tasks = platform()?
        .tasks
        .list(&filter)
        .await
        .map_err(domain_error)?;
    let now = causeway_platform::time::now_millis();
    let page = TasksView {
        scope: scope.to_owned(),
        status: status_filter
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        is_admin,
        tasks: tasks.iter().map(|t| view::task(t, now)).collect(),
    };
    Ok(Some(Rendered {
        title: "Tasks".to_owned(),
        html: crate::server::render_html(
            leptos::view! { <crate::server::views::tasks::Tasks view=page /> },
        ),
    }))
}

/// The environments across clusters the viewer may see (`Provisioner::environments_for`):
/// every one for platform admins, their teams' for everyone else.
#[cfg(feature = "ssr")]
pub(super) async fn platform_overview(
    team: String,
    target: String,
    environment: String,
) -> Result<Option<Rendered>, PortalError> {
    use std::collections::BTreeSet;

    use crate::model::OverviewView;

    use causeway_platform::identity::Role;

    use crate::model::{OverviewRow, ref_path};
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let provisioner = crate::server::environments::provisioner()?;
    let records = provisioner
        .environments_for(&principal)
        .await
        .map_err(domain_error)?;
    let now = causeway_platform::time::now_millis();
    let mut rows = Vec::new();
    for record in records {
        let owner = {
            let index = platform.catalog.index();
            index
                .by_ref(&record.service)
                .and_then(|e| index.owners(e).into_iter().next())
                .unwrap_or_default()
        };
        let drift = provisioner
            .records()
            .drift(&record.namespace, 1000)
            .await
            .map_err(domain_error)?
            .len();
        let age_hours = (now - record.created_at_millis) / 3_600_000;
        rows.push(OverviewRow {
            environments_href: format!("{}/environments", ref_path(&record.service)),
            age: if age_hours < 1 {
                format!("{} min", (now - record.created_at_millis) / 60_000)
            } else if age_hours < 48 {
                format!("{age_hours} h")
            } else {
                format!("{} d", age_hours / 24)
            },
            namespace: record.namespace,
            service_ref: record.service,
            team: owner,
            environment: record.environment,
            target: record.target,
            status: record.status.as_str().to_owned(),
            drift,
            requested_by: record.requested_by,
        });
    }
    let options = |pick: fn(&OverviewRow) -> &String| {
        rows.iter()
            .map(|r| pick(r).clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    let teams = options(|r| &r.team);
    let targets = options(|r| &r.target);
    let environments = options(|r| &r.environment);
    rows.retain(|r| {
        (team.is_empty() || r.team == team)
            && (target.is_empty() || r.target == target)
            && (environment.is_empty() || r.environment == environment)
    });
    let page = OverviewView {
        every: principal.role == Role::PlatformAdmin,
        rows,
        teams,
        targets,
        environments,
        team,
        target,
        environment,
    };
    Ok(Some(Rendered {
        title: "Platform".to_owned(),
        html: crate::server::render_html(
            leptos::view! { <crate::server::views::platform::Overview view=page /> },
        ),
    }))
}
