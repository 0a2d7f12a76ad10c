//! The Scorecard views, rendered on the server only: a component's results (the level reached,
//! every check passed or failed with its fix, the history of changes) and a team's (each of its
//! components' levels and failing checks, and the team's latest changes).

use causeway_platform::scorecards::{EntityResult, EntityResults, TeamResults};
use causeway_platform::time::display;
use leptos::prelude::*;

use crate::model::ref_path;
use crate::pages::delivery::TeamTabs;
use crate::pages::environments::EntityTabs;

/// How many of a team's latest changes are listed.
const TEAM_CHANGES: usize = 20;

#[component]
fn Head(name: String, entity_ref: String, entity_href: String) -> impl IntoView {
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=entity_href>{name.clone()}</a></li>
                <li aria-current="page">"Scorecard"</li>
            </ol>
        </nav>
        <header class="entity-head">
            <h1>{name}</h1>
            <p class="muted"><code>{entity_ref}</code></p>
        </header>
    }
}

/// A level as a badge, or "no level" when none is reached.
fn level_badge(level: Option<&str>) -> AnyView {
    match level {
        Some(level) => {
            view! { <span class="badge" data-testid="scorecard-level">{level.to_owned()}</span> }
                .into_any()
        }
        None => {
            view! { <span class="badge" data-testid="scorecard-level">"no level"</span> }.into_any()
        }
    }
}

/// `/catalog/{namespace}/component/{name}/scorecard`.
#[component]
pub fn EntityScorecard(results: EntityResults, name: String, entity_href: String) -> impl IntoView {
    let empty = results.results.is_empty().then(|| {
        view! {
            <section class="panel">
                <p class="muted">"No scorecard of the platform configuration applies to this component."</p>
            </section>
        }
    });
    view! {
        <Head name entity_ref=results.entity.clone() entity_href=entity_href.clone() />
        <EntityTabs entity_href current="scorecard" />
        {empty}
        {results.results.into_iter().map(|result| view! { <ResultPanel result /> }).collect_view()}
    }
}

#[component]
fn ResultPanel(result: EntityResult) -> impl IntoView {
    let heading = format!("scorecard-{}", result.scorecard);
    let labelled_by = heading.clone();
    let reached = result.rank;
    let ladder = result
        .levels
        .iter()
        .enumerate()
        .map(|(i, level)| {
            let (class, text) = if i < reached {
                ("status status--ready", "reached")
            } else {
                ("status status--failed", "not reached")
            };
            view! { <li>{level.clone()}" " <span class=class>{text}</span></li> }
        })
        .collect_view();
    let checks = result
        .checks
        .iter()
        .map(|check| {
            let (class, text) = if check.passed {
                ("status status--ready", "passed")
            } else {
                ("status status--failed", "failed")
            };
            let fix = (!check.passed).then(|| check.fix.clone());
            let error = (!check.error.is_empty()).then(|| {
                view! { <p class="error-box" role="note">{check.error.clone()}</p> }
            });
            view! {
                <tr data-testid="scorecard-check" data-passed=check.passed.to_string()>
                    <td>{check.level.clone()}</td>
                    <th scope="row">{check.name.clone()}<div class="table__description">{check.description.clone()}</div></th>
                    <td><span class=class>{text}</span></td>
                    <td>{error}<p class="policy-fix">{fix}</p></td>
                </tr>
            }
        })
        .collect_view();
    let history = result
        .history
        .iter()
        .map(|past| {
            let level = if past.applies {
                past.level.clone().unwrap_or_else(|| "no level".to_owned())
            } else {
                "not applicable".to_owned()
            };
            let failing = if past.failing.is_empty() {
                "none".to_owned()
            } else {
                past.failing.join(", ")
            };
            let revision: String = past.revision.chars().take(12).collect();
            view! {
                <tr>
                    <td>{display(past.evaluated_at_millis)}</td>
                    <td>{level}</td>
                    <td>{failing}</td>
                    <td><code>{revision}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby=labelled_by data-testid="scorecard">
            <h2 id=heading>{result.scorecard.clone()}</h2>
            <p class="muted">{result.description.clone()}</p>
            <p>"Level reached: " {level_badge(result.level.as_deref())} " "
                <span class="muted small">"since " {display(result.evaluated_at_millis)}</span></p>
            <ol class="link-list" aria-label="Levels, lowest first">{ladder}</ol>
            <div class="table-wrap">
                <table class="table">
                    <caption>"Every check; a level is reached when its checks and those of every lower level pass"</caption>
                    <thead><tr><th scope="col">"Level"</th><th scope="col">"Check"</th><th scope="col">"Result"</th><th scope="col">"Fix"</th></tr></thead>
                    <tbody>{checks}</tbody>
                </table>
            </div>
            <h3>"History"</h3>
            <div class="table-wrap">
                <table class="table" data-testid="scorecard-history">
                    <caption>"A result is recorded each time it changes, newest first"</caption>
                    <thead><tr><th scope="col">"Since"</th><th scope="col">"Level"</th><th scope="col">"Failing checks"</th><th scope="col">"Revision"</th></tr></thead>
                    <tbody>{history}</tbody>
                </table>
            </div>
        </section>
    }
}

/// `/catalog/{namespace}/group/{name}/scorecard`.
#[component]
pub fn TeamScorecard(results: TeamResults, name: String, entity_href: String) -> impl IntoView {
    let mut changes = Vec::new();
    let rows = results
        .entities
        .iter()
        .flat_map(|entity| {
            entity.results.iter().map(move |result| (entity.entity.clone(), result))
        })
        .map(|(entity_ref, result)| {
            for past in &result.history {
                changes.push((
                    past.evaluated_at_millis,
                    entity_ref.clone(),
                    result.scorecard.clone(),
                    past.level.clone(),
                    past.failing.clone(),
                ));
            }
            let failing: Vec<String> = result
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name.clone())
                .collect();
            let href = format!("{}/scorecard", ref_path(&entity_ref));
            view! {
                <tr data-testid="team-scorecard-row">
                    <th scope="row"><a href=href>{entity_ref.clone()}</a></th>
                    <td>{result.scorecard.clone()}</td>
                    <td>{level_badge(result.level.as_deref())}</td>
                    <td>{if failing.is_empty() { "none".to_owned() } else { failing.join(", ") }}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    changes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let changes = changes
        .into_iter()
        .take(TEAM_CHANGES)
        .map(|(at, entity, scorecard, level, failing)| {
            view! {
                <tr>
                    <td>{display(at)}</td>
                    <td>{entity}</td>
                    <td>{scorecard}</td>
                    <td>{level.unwrap_or_else(|| "no level".to_owned())}</td>
                    <td>{if failing.is_empty() { "none".to_owned() } else { failing.join(", ") }}</td>
                </tr>
            }
        })
        .collect_view();
    let empty = rows.is_empty().then(|| {
        view! { <p class="muted">"None of this team's entities has been scored yet; scoring runs every ten minutes."</p> }
    });
    view! {
        <Head name entity_ref=results.team.clone() entity_href=entity_href.clone() />
        <TeamTabs entity_href current="scorecard" />
        <section class="panel" aria-labelledby="team-scorecards" data-testid="team-scorecard">
            <h2 id="team-scorecards">"The team's components"</h2>
            {empty}
            <div class="table-wrap">
                <table class="table">
                    <caption>"Each component's level and failing checks, as last scored"</caption>
                    <thead><tr><th scope="col">"Entity"</th><th scope="col">"Scorecard"</th><th scope="col">"Level"</th><th scope="col">"Failing checks"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <h3>"Latest changes"</h3>
            <div class="table-wrap">
                <table class="table">
                    <caption>"The team's results as they changed, newest first"</caption>
                    <thead><tr><th scope="col">"Since"</th><th scope="col">"Entity"</th><th scope="col">"Scorecard"</th><th scope="col">"Level"</th><th scope="col">"Failing checks"</th></tr></thead>
                    <tbody>{changes}</tbody>
                </table>
            </div>
        </section>
    }
}
