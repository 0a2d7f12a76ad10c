//! The platform overview, rendered on the server only (see [`crate::model::Rendered`]).

use leptos::prelude::*;

use crate::model::OverviewView;

fn select(
    id: &'static str,
    label: &'static str,
    options: Vec<String>,
    chosen: String,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <select id=id name=id>
            <option value="" selected=chosen.is_empty()>"any"</option>
            {options.into_iter().map(|o| view! { <option value=o.clone() selected=o == chosen>{o.clone()}</option> }).collect_view()}
        </select>
    }
}

#[component]
pub fn Overview(view: OverviewView) -> impl IntoView {
    let OverviewView {
        every,
        rows,
        teams,
        targets,
        environments,
        team,
        target,
        environment,
    } = view;
    view! {
        <section class="page-head">
            <h1>"Platform"</h1>
            <p class="muted" data-testid="overview-scope">
                {if every {
                    "Every environment, its status and drift, across clusters."
                } else {
                    "Your teams' environments, their status and drift, across clusters. Platform admins see every team's."
                }}
            </p>
        </section>
        <form method="get" class="filter-form form" data-testid="platform-filter">
            {select("team", "Team", teams, team)}
            {select("target", "Cluster", targets, target)}
            {select("environment", "Environment", environments, environment)}
            <button type="submit" class="button">"Show"</button>
        </form>
        {if rows.is_empty() {
            view! { <p class="muted">"No environments."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="table" data-testid="platform-table">
                        <thead><tr>
                            <th scope="col">"Namespace"</th><th scope="col">"Team"</th><th scope="col">"Environment"</th>
                            <th scope="col">"Cluster"</th><th scope="col">"Status"</th><th scope="col">"Drift events"</th>
                            <th scope="col">"Age"</th><th scope="col">"Last requested by"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr>
                                    <td><a href=r.environments_href><code>{r.namespace}</code></a></td>
                                    <td>{r.team}</td>
                                    <td>{r.environment}</td>
                                    <td>{r.target}</td>
                                    <td><span class=format!("status status--{}", r.status)>{r.status.clone()}</span></td>
                                    <td>{r.drift}</td>
                                    <td>{r.age}</td>
                                    <td>{r.requested_by}</td>
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
