//! The Delivery views, rendered on the server only: a component's Delivery tab, a team's, and the
//! organisation's (its own page and a section of the platform page). Charts arrive as SVG with
//! their values as text and as tables, and the range is chosen with plain links and a GET form,
//! so everything reads and works without JavaScript.

use leptos::prelude::*;

use crate::pages::delivery::TeamTabs;
use crate::pages::environments::EntityTabs;
use crate::server::delivery::{DeliveryView, Subject};
use crate::server::delivery_charts::ChartView;

/// `/catalog/{namespace}/component/{name}/delivery`.
#[component]
pub fn ServiceDelivery(view: DeliveryView, name: String, entity_href: String) -> impl IntoView {
    let entity_ref = match &view.subject {
        Subject::Service { entity_ref, .. } => entity_ref.clone(),
        _ => String::new(),
    };
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=entity_href.clone()>{name.clone()}</a></li>
                <li aria-current="page">"Delivery"</li>
            </ol>
        </nav>
        <header class="entity-head">
            <h1>{name}</h1>
            <p class="muted"><code>{entity_ref}</code></p>
        </header>
        <EntityTabs entity_href current="delivery" />
        <DeliveryPanel view />
    }
}

/// `/catalog/{namespace}/group/{name}/delivery`.
#[component]
pub fn TeamDelivery(view: DeliveryView, name: String, entity_href: String) -> impl IntoView {
    let entity_ref = match &view.subject {
        Subject::Team { entity_ref, .. } => entity_ref.clone(),
        _ => String::new(),
    };
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=entity_href.clone()>{name.clone()}</a></li>
                <li aria-current="page">"Delivery"</li>
            </ol>
        </nav>
        <header class="entity-head">
            <h1>{name}</h1>
            <p class="muted"><code>{entity_ref}</code></p>
        </header>
        <TeamTabs entity_href current="delivery" />
        <DeliveryPanel view />
    }
}

/// `/delivery`: the organisation.
#[component]
pub fn OrganisationDelivery(view: DeliveryView) -> impl IntoView {
    view! {
        <header class="page-head">
            <h1>"Delivery"</h1>
            <p class="muted">"DORA's keys across every component in the catalog. Each team's own view is on its group page."</p>
        </header>
        <DeliveryPanel view />
    }
}

/// The organisation's delivery as a section of the platform page.
#[component]
pub fn OrganisationSection(view: DeliveryView) -> impl IntoView {
    view! {
        <section class="panel" id="delivery" aria-labelledby="delivery-heading" data-testid="organisation-delivery">
            <h2 id="delivery-heading">"Delivery across the organisation"</h2>
            <DeliveryPanel view />
        </section>
    }
}

/// Ranges, summary, charts, the DORA context, recent deployments and open incidents.
#[component]
pub fn DeliveryPanel(view: DeliveryView) -> impl IntoView {
    let DeliveryView {
        subject,
        base,
        anchor,
        services,
        range,
        summary,
        charts,
        deployments,
        incidents,
        open_incidents,
        empty,
    } = view;
    let show_service = !matches!(subject, Subject::Service { .. });
    let counted = match &subject {
        Subject::Service { .. } => String::new(),
        _ => format!(
            ", counting {services} component{}",
            if services == 1 { "" } else { "s" }
        ),
    };
    let action = format!("{base}{anchor}");
    let range_view = view! {
        <div class="delivery-range" data-testid="delivery-range">
            <nav class="delivery-range__presets" aria-label="Range">
                <span class="muted">"Range: "</span>
                {range
                    .presets
                    .into_iter()
                    .map(|(days, href, current)| view! {
                        <a href=href aria-current=current.then_some("page") data-days=days.to_string()>{format!("{days} days")}</a>
                    })
                    .collect_view()}
            </nav>
            <form method="get" action=action class="inline-form delivery-range__form" data-testid="range-form">
                <label>"From " <input type="date" name="from" value=range.from.clone() /></label>
                <label>"To " <input type="date" name="to" value=range.to.clone() /></label>
                <button type="submit" class="button">"Show"</button>
            </form>
            {range.problem.map(|p| view! { <p class="error-box" role="alert" data-testid="range-problem">{p} " — showing the default range instead."</p> })}
            <p class="muted small" data-testid="range-shown">
                {format!("{} to {} ({} days, UTC){counted}. Production is the environment named prod.", range.from, range.to, range.days)}
            </p>
        </div>
    };
    let body = if empty {
        empty_state(&subject).into_any()
    } else {
        view! {
            <h3 class="subheading">"DORA's keys over the range"</h3>
            <dl class="delivery-summary" data-testid="delivery-summary">
                {summary
                    .into_iter()
                    .map(|item| view! {
                        <div class="delivery-summary__item" data-key=item.key>
                            <dt>{item.name}</dt>
                            <dd><span class="delivery-summary__value">{item.value}</span> <span class="muted small">{item.detail}</span></dd>
                        </div>
                    })
                    .collect_view()}
            </dl>
            <DoraContext />
            <h3 class="subheading">"Per ISO week"</h3>
            <div class="delivery-charts">
                {charts.into_iter().map(|chart| view! { <ChartFigure chart /> }).collect_view()}
            </div>
        }
        .into_any()
    };
    view! {
        {range_view}
        {body}
        <h3 class="subheading">"Recent deployments"</h3>
        <DeploymentsTable deployments show_service />
        <h3 class="subheading">{format!("Open incidents ({open_incidents})")}</h3>
        <IncidentsTable incidents show_service />
    }
}

/// DORA's performance clusters as context: muted, after the team's own figures, and never
/// compared with them.
#[component]
fn DoraContext() -> impl IntoView {
    view! {
        <p class="muted small delivery-context" data-testid="dora-context">
            "For context, not as a target: in DORA's 2024 State of DevOps report, the elite cluster (19% of respondents) deployed on demand, several times a day, with a change lead time under one day, a change fail rate around 5% and recovery from a failed deployment in under an hour. The report published no clusters for rework rate. DORA advises comparing a team with its own earlier figures, not with other teams: "
            <a href="https://dora.dev/" rel="noopener noreferrer">"dora.dev"</a>
            "."
        </p>
    }
}

#[component]
fn ChartFigure(chart: ChartView) -> impl IntoView {
    let ChartView {
        chart,
        svg,
        caption,
        rows,
    } = chart;
    let id = chart.id.clone();
    view! {
        <figure class="delivery-chart" data-testid=format!("chart-{id}")>
            <div class="delivery-chart__svg" inner_html=svg></div>
            <figcaption class="small">{caption}</figcaption>
            <details class="delivery-chart__table">
                <summary>"Values per week"</summary>
                <div class="table-wrap">
                    <table class="table" data-testid=format!("table-{id}")>
                        <caption class="visually-hidden">{chart.title.clone()}</caption>
                        <thead><tr><th scope="col">"Week"</th><th scope="col">"Value"</th><th scope="col">"Counted from"</th></tr></thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|(week, value, detail)| view! { <tr><th scope="row">{week}</th><td>{value}</td><td>{detail}</td></tr> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        </figure>
    }
}

#[component]
fn DeploymentsTable(
    deployments: Vec<crate::server::delivery::DeploymentRow>,
    show_service: bool,
) -> impl IntoView {
    if deployments.is_empty() {
        return view! { <p class="muted" data-testid="no-deployments">"No deployments recorded."</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="deployments">
                <caption class="visually-hidden">"Recent deployments in every environment, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Finished"</th>
                        {show_service.then(|| view! { <th scope="col">"Service"</th> })}
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Took"</th>
                        <th scope="col">"Commits"</th>
                        <th scope="col">"Pipeline run"</th>
                    </tr>
                </thead>
                <tbody>
                    {deployments
                        .into_iter()
                        .map(|d| {
                            let more = d.commit_count.saturating_sub(d.commits.len());
                            view! {
                                <tr data-testid="deployment-row" data-deployment=d.id.clone()>
                                    <td>{d.finished}</td>
                                    {show_service.then(|| view! { <td><a href=d.service_href.clone()>{d.service.clone()}</a></td> })}
                                    <td>{d.environment}</td>
                                    <td><code>{d.version}</code></td>
                                    <td><span class="badge" data-status=d.status>{d.status}</span></td>
                                    <td>{d.duration}</td>
                                    <td>
                                        {if d.commits.is_empty() {
                                            view! { <span class="muted">"none reported"</span> }.into_any()
                                        } else {
                                            view! {
                                                <ul class="delivery-commits" data-testid="commits">
                                                    {d.commits
                                                        .into_iter()
                                                        .map(|(short, sha, authored)| view! {
                                                            <li><code title=sha>{short}</code> <span class="muted small">{authored}</span></li>
                                                        })
                                                        .collect_view()}
                                                    {(more > 0).then(|| view! { <li class="muted small">{format!("and {more} more")}</li> })}
                                                </ul>
                                            }
                                            .into_any()
                                        }}
                                    </td>
                                    <td data-testid="pipeline-run">
                                        {match d.pipeline_run {
                                            Some(run) => view! { <code>{run}</code> }.into_any(),
                                            None => view! { <span class="muted">"not reported"</span> }.into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn IncidentsTable(
    incidents: Vec<crate::server::delivery::IncidentRow>,
    show_service: bool,
) -> impl IntoView {
    if incidents.is_empty() {
        return view! { <p class="muted" data-testid="no-incidents">"No open incidents."</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="incidents">
                <caption class="visually-hidden">"Incidents not resolved yet, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Opened"</th>
                        {show_service.then(|| view! { <th scope="col">"Service"</th> })}
                        <th scope="col">"Incident"</th>
                        <th scope="col">"Severity"</th>
                        <th scope="col">"Caused by"</th>
                    </tr>
                </thead>
                <tbody>
                    {incidents
                        .into_iter()
                        .map(|i| {
                            let id = i.id.clone();
                            view! {
                            <tr data-testid="incident-row" data-incident=id>
                                <td>{i.opened}</td>
                                {show_service.then(|| view! { <td><a href=i.service_href.clone()>{i.service.clone()}</a></td> })}
                                <td><code>{i.id}</code></td>
                                <td>{i.severity}</td>
                                <td>{i.caused_by.unwrap_or_else(|| "not known".to_owned())}</td>
                            </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// What to send when nothing has been recorded.
fn empty_state(subject: &Subject) -> impl IntoView {
    let (said, service) = match subject {
        Subject::Service { entity_ref, name } => (
            format!("No delivery events have been recorded for {name} yet."),
            entity_ref.clone(),
        ),
        Subject::Team { name, .. } => (
            format!("No delivery events have been recorded for the components {name} owns yet."),
            "component:default/<name>".to_owned(),
        ),
        Subject::Organisation => (
            "No delivery events have been recorded yet.".to_owned(),
            "component:default/<name>".to_owned(),
        ),
    };
    let example = format!(
        "curl -X POST \"$CAUSEWAY/api/events\" \\\n  -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n  -d '{{\"kind\": \"deployment\", \"id\": \"deploy-1\", \"service\": \"{service}\",\n       \"environment\": \"prod\", \"version\": \"1.0.0\", \"status\": \"succeeded\",\n       \"startedAt\": \"2026-12-01T10:50:00Z\", \"finishedAt\": \"2026-12-01T11:00:00Z\",\n       \"commits\": [{{\"sha\": \"0123abc\", \"authoredAt\": \"2026-12-01T09:00:00Z\"}}]}}'"
    );
    view! {
        <section class="notice" data-testid="delivery-empty" aria-labelledby="delivery-empty-heading">
            <h3 id="delivery-empty-heading" class="notice__title">{said}</h3>
            <p>
                "DORA's keys are counted from deployments, commits and incidents. Send them to "
                <code>"POST /api/events"</code>
                " (CloudEvents 1.0 or the plain JSON form, one event or a batch) with an API token of scope write, as a member of the component's owning team or a platform admin:"
            </p>
            <pre class="code-block"><code>{example}</code></pre>
            <p>
                "Or let the adapters send them: Causeway records the runs of the delivery pipeline it provisions in each environment by itself; point Alertmanager's webhook at "
                <code>"POST /api/events/alertmanager"</code>
                " for incidents from the burn-rate alerts, and the repository's push webhook at "
                <code>"POST /api/events/gitea"</code>
                " or "
                <code>"POST /api/events/github"</code>
                " for commits with their times. The README's Delivery section has the fields; the API is described in "
                <a href="/api/openapi.json">"the OpenAPI document"</a>
                "."
            </p>
        </section>
    }
}
