//! The fleet page, rendered on the server only (see [`crate::model::Rendered`]): the versions of
//! a template with how many services are on each, every service with its version and its upgrade
//! to the newest version, and the forms that upgrade them. The forms post like any form, so the
//! page works the same with and without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{RefreshFleet, UpgradeFleet};
use crate::model::fleet::{FleetAsk, FleetServiceRow, FleetView};

/// The upgrade's status as a badge.
fn status_badge(status: &str) -> impl IntoView + use<> {
    let label = match status {
        "" => "—",
        "pending" => "pending",
        "current" => "nothing to change",
        "open" => "change open",
        "conflict" => "conflicts",
        "failed" => "failed",
        "merged" => "merged",
        "closed" => "closed",
        other => other,
    }
    .to_owned();
    view! { <span class=format!("status status--{status}") data-testid="upgrade-status">{label}</span> }
}

/// The inputs for the parameters the new version asks for, named `values[<name>]`; `prefix`
/// keeps the ids of several forms on one page apart.
fn ask_inputs(asks: &[FleetAsk], prefix: &str) -> impl IntoView + use<> {
    asks.iter()
        .map(|ask| {
            let id = format!("{prefix}-{}", ask.name);
            let input_type = match ask.kind.as_str() {
                "number" | "integer" => "number",
                _ => "text",
            };
            view! {
                <label for=id.clone()>{ask.title.clone()}</label>
                {ask.description.clone().map(|d| view! { <span class="muted">" "{d}</span> })}
                <input id=id type=input_type name=format!("values[{}]", ask.name) required=true data-testid="upgrade-ask" />
            }
        })
        .collect_view()
}

fn service_row(
    row: FleetServiceRow,
    template: String,
    newest: String,
    asks: &[FleetAsk],
) -> impl IntoView {
    let FleetServiceRow {
        service,
        href,
        title,
        owner,
        version_short,
        on_newest,
        status,
        change_url,
        branch,
        conflicts,
        notes,
        message,
        task_href,
        can_upgrade,
    } = row;
    let offer = can_upgrade
        && !on_newest
        && !matches!(
            status.as_str(),
            "open" | "conflict" | "pending" | "current" | "merged"
        );
    view! {
        <tr data-service=service.clone()>
            <td><a href=href>{title}</a><br /><code class="muted">{service.clone()}</code></td>
            <td>{owner}</td>
            <td><code>{version_short}</code>{on_newest.then(|| view! { " " <span class="badge">"newest"</span> })}</td>
            <td>
                {status_badge(&status)}
                {change_url.map(|url| view! { " " <a href=url.clone() data-testid="change-link">"change request"</a> })}
                {branch.map(|b| view! { <br /><span class="muted">"branch "<code>{b}</code></span> })}
                {task_href.map(|t| view! { <br /><a href=t class="muted">"task"</a> })}
                {message.map(|m| view! { <p class="field__error">{m}</p> })}
                {(!conflicts.is_empty()).then(|| view! {
                    <ul class="conflicts" data-testid="conflicts">
                        {conflicts.into_iter().map(|c| view! { <li>"conflict in "<code>{c}</code></li> }).collect_view()}
                    </ul>
                })}
                {(!notes.is_empty()).then(|| view! {
                    <ul class="muted">{notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                })}
            </td>
            <td>
                {offer.then(|| view! {
                    <form method="post" action=UpgradeFleet::url() class="inline-form" data-testid="upgrade-one">
                        <input type="hidden" name="template" value=template />
                        <input type="hidden" name="services" value=service.clone() />
                        <input type="hidden" name="to_version" value=newest />
                        {ask_inputs(asks, &format!("ask-{service}"))}
                        <button type="submit" class="button button--quiet">"Upgrade"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn FleetPage(view: FleetView) -> impl IntoView {
    let FleetView {
        template,
        title,
        wizard_href,
        versions_href,
        newest,
        newest_short,
        versions,
        services,
        counts,
        can_upgrade_all,
        behind,
        asks,
    } = view;
    let total = services.len();
    let rows_template = template.clone();
    let rows_newest = newest.clone();
    view! {
        <section class="page-head">
            <h1>{title.clone()}" · fleet"</h1>
            <p class="muted">
                {format!("{total} service{} created from ", if total == 1 { "" } else { "s" })}
                <code>{template.clone()}</code>
                " · "<a href=wizard_href>"Create one"</a>" · "<a href=versions_href>"Versions"</a>
            </p>
        </section>
        <section class="panel" aria-labelledby="fleet-versions">
            <h2 id="fleet-versions">"Versions"</h2>
            <table class="table" data-testid="fleet-versions">
                <thead><tr><th scope="col">"Version"</th><th scope="col">"First seen"</th><th scope="col">"Services"</th></tr></thead>
                <tbody>
                    {versions.into_iter().map(|v| view! {
                        <tr data-version=v.version.clone()>
                            <td><code>{v.short}</code>{v.newest.then(|| view! { " " <span class="badge">"newest"</span> })}</td>
                            <td>{if v.created_at.is_empty() { "before versions were kept".to_owned() } else { v.created_at }}</td>
                            <td data-testid="version-services">{v.services}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!counts.is_empty()).then(|| view! {
                <p class="muted" data-testid="upgrade-counts">
                    {format!("Upgrades to {newest_short}: ")}
                    {counts.into_iter().map(|(status, n)| format!("{n} {status}")).collect::<Vec<_>>().join(", ")}
                </p>
            })}
            <form method="post" action=RefreshFleet::url() class="inline-form">
                <input type="hidden" name="template" value=template.clone() />
                <button type="submit" class="button button--quiet" data-testid="fleet-refresh">"Check the change requests now"</button>
            </form>
        </section>
        {(can_upgrade_all && behind > 0).then(|| view! {
            <section class="panel" aria-labelledby="fleet-upgrade-all">
                <h2 id="fleet-upgrade-all">"Upgrade the fleet"</h2>
                <p>{format!("{behind} service{} behind {newest_short} without a change request. Each gets a branch (and, on Gitea, a pull request) with the new version merged into its repository as it is now; nothing is pushed to a default branch.", if behind == 1 { " is" } else { "s are" })}</p>
                <form method="post" action=UpgradeFleet::url() class="form" data-testid="upgrade-all">
                    <input type="hidden" name="template" value=template.clone() />
                    <input type="hidden" name="services" value="" />
                    <input type="hidden" name="to_version" value=newest.clone() />
                    {(!asks.is_empty()).then(|| view! { <p>"The new version asks for:"</p> })}
                    {ask_inputs(&asks, "ask-all")}
                    <button type="submit" class="button">{format!("Upgrade {behind} to {newest_short}")}</button>
                </form>
            </section>
        })}
        <section class="panel" aria-labelledby="fleet-services">
            <h2 id="fleet-services">"Services"</h2>
            {if total == 0 {
                view! { <p class="muted">"No service was created from this template yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="fleet-services">
                            <thead><tr>
                                <th scope="col">"Service"</th><th scope="col">"Team"</th><th scope="col">"Version"</th>
                                <th scope="col">"Upgrade to the newest"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {services.into_iter().map(|row| service_row(row, rows_template.clone(), rows_newest.clone(), &asks)).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
