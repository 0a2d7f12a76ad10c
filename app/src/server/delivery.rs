//! The Delivery view of a component, a team or the organisation, built from the domain's
//! measures (`Delivery::dora`) and recent history (`Delivery::recent`): the range asked for in the
//! address, the five keys over it and per ISO week as charts (`delivery_charts.rs`), the recent
//! deployments with their commits and PipelineRuns, the open incidents, and, when nothing has been
//! recorded, what to send. Anyone signed in may read it, as the domain allows.

use std::collections::BTreeMap;

use causeway_platform::Platform;
use causeway_platform::delivery::dora::{DEFAULT_RANGE_DAYS, Dora, MAX_RANGE_DAYS, Query};
use causeway_platform::delivery::events::Status;
use causeway_platform::delivery::recent::{Recent, RecentQuery};
use causeway_platform::time::{display, iso, now_millis};
use causeway_platform::{Error, Result};

use super::delivery_charts::{ChartView, charts, summary};

const DAY: i64 = 86_400_000;
/// The ranges offered as links, in days.
pub const PRESETS: [i64; 4] = [30, 90, 180, 365];

/// Whose delivery a view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A component, by its normalised reference and its name.
    Service { entity_ref: String, name: String },
    /// A team, by its normalised reference and its display name.
    Team { entity_ref: String, name: String },
    /// Every component in the catalog.
    Organisation,
}

/// The range a view covers and the ranges it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeView {
    /// `YYYY-MM-DD`, both included.
    pub from: String,
    pub to: String,
    pub days: i64,
    /// (days, address, whether it is the range shown).
    pub presets: Vec<(i64, String, bool)>,
    /// Why the range asked for was not used, when it was not.
    pub problem: Option<String>,
}

/// One of the five keys over the whole range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryItem {
    pub key: &'static str,
    pub name: &'static str,
    pub value: String,
    pub detail: String,
}

/// A recent deployment as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRow {
    pub service: String,
    pub service_href: String,
    pub id: String,
    pub environment: String,
    pub version: String,
    pub status: &'static str,
    pub finished: String,
    pub duration: String,
    pub pipeline_run: Option<String>,
    /// (short sha, full sha, authored time or "not reported").
    pub commits: Vec<(String, String, String)>,
    pub commit_count: usize,
}

/// An open incident as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub service: String,
    pub service_href: String,
    pub id: String,
    pub severity: String,
    pub opened: String,
    /// The deployment that caused it, as people read it.
    pub caused_by: Option<String>,
}

/// The whole view.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryView {
    pub subject: Subject,
    /// The page the range links lead to, with the anchor of the delivery section.
    pub base: String,
    pub anchor: &'static str,
    /// How many components are counted.
    pub services: usize,
    pub range: RangeView,
    pub summary: Vec<SummaryItem>,
    pub charts: Vec<ChartView>,
    pub deployments: Vec<DeploymentRow>,
    pub incidents: Vec<IncidentRow>,
    pub open_incidents: usize,
    /// Nothing recorded at all: the view says what to send instead of empty charts.
    pub empty: bool,
}

/// The range `params` ask for, as the domain's `from` and `to`: `days` (one of the presets or any
/// number up to the domain's longest range) ending today, or `from` and `to`; by default the
/// domain's default (the 90 days ending today).
fn asked(
    params: &BTreeMap<String, String>,
) -> std::result::Result<(Option<String>, Option<String>), String> {
    let value = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(days) = value("days") {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=MAX_RANGE_DAYS).contains(d))
            .ok_or_else(|| {
                format!("days: {days:?} is not a number of days from 1 to {MAX_RANGE_DAYS}")
            })?;
        let now = now_millis();
        return Ok((Some(day(now - (days - 1) * DAY)), Some(day(now))));
    }
    Ok((
        value("from").map(str::to_owned),
        value("to").map(str::to_owned),
    ))
}

/// The UTC day of `millis`, `YYYY-MM-DD`.
fn day(millis: i64) -> String {
    iso(millis).chars().take(10).collect()
}

/// `base` with `days` (and the anchor).
fn preset_href(base: &str, anchor: &str, days: i64) -> String {
    format!("{base}?days={days}{anchor}")
}

/// The view of `subject`, over the range `params` ask for. A range the domain refuses (a bad day,
/// `from` after `to`, too long) is named in the view, which shows the default range instead.
pub async fn view(
    platform: &Platform,
    subject: Subject,
    base: String,
    anchor: &'static str,
    params: &BTreeMap<String, String>,
) -> Result<DeliveryView> {
    let (service, team) = match &subject {
        Subject::Service { entity_ref, .. } => (Some(entity_ref.clone()), None),
        Subject::Team { entity_ref, .. } => (None, Some(entity_ref.clone())),
        Subject::Organisation => (None, None),
    };
    let query = |(from, to): (Option<String>, Option<String>)| Query {
        service: service.clone(),
        team: team.clone(),
        from,
        to,
    };
    let (dora, problem) = match asked(params) {
        Ok(range) => match platform.delivery.dora(&query(range)).await {
            Ok(dora) => (dora, None),
            Err(Error::InvalidInput { field, rule }) if matches!(field.as_str(), "from" | "to") => {
                let dora = platform.delivery.dora(&query((None, None))).await?;
                (dora, Some(format!("{field}: {rule}")))
            }
            Err(other) => return Err(other),
        },
        Err(problem) => (
            platform.delivery.dora(&query((None, None))).await?,
            Some(problem),
        ),
    };
    let recent = platform
        .delivery
        .recent(&RecentQuery {
            service,
            team,
            limit: None,
        })
        .await?;
    Ok(build(subject, base, anchor, &dora, &recent, problem))
}

/// The view from the domain's answers (separate from [`view`] so that it is tested without a
/// database).
pub fn build(
    subject: Subject,
    base: String,
    anchor: &'static str,
    dora: &Dora,
    recent: &Recent,
    problem: Option<String>,
) -> DeliveryView {
    let days = (dora.end - dora.start) / DAY;
    let default_range = problem.is_none() && days == DEFAULT_RANGE_DAYS;
    let range = RangeView {
        from: day(dora.start),
        to: day(dora.end - 1),
        days,
        presets: PRESETS
            .iter()
            .map(|&d| {
                (
                    d,
                    preset_href(&base, anchor, d),
                    d == days || (default_range && d == DEFAULT_RANGE_DAYS),
                )
            })
            .collect(),
        problem,
    };
    let deployments = recent.deployments.iter().map(deployment_row).collect();
    let incidents = recent
        .incidents
        .iter()
        .map(|i| IncidentRow {
            service: short_ref(&i.service),
            service_href: crate::model::ref_path(&i.service),
            id: i.id.clone(),
            severity: i.severity.clone(),
            opened: display(i.opened_at),
            caused_by: i
                .caused_by
                .as_ref()
                .map(|c| match (&c.version, &c.environment) {
                    (Some(version), Some(environment)) => {
                        format!("{} ({version} in {environment})", c.deployment)
                    }
                    _ => c.deployment.clone(),
                }),
        })
        .collect();
    DeliveryView {
        empty: recent.deployments.is_empty()
            && recent.open_incidents == 0
            && dora.summary.deployments == 0,
        services: dora.services.len(),
        summary: summary(&dora.summary, days),
        charts: charts(dora),
        deployments,
        incidents,
        open_incidents: recent.open_incidents,
        subject,
        base,
        anchor,
        range,
    }
}

/// `component:default/payments-api` as `payments-api`; other namespaces keep theirs.
fn short_ref(entity_ref: &str) -> String {
    let rest = entity_ref.split_once(':').map_or(entity_ref, |(_, r)| r);
    rest.strip_prefix("default/").unwrap_or(rest).to_owned()
}

fn deployment_row(d: &causeway_platform::delivery::recent::RecentDeployment) -> DeploymentRow {
    DeploymentRow {
        service: short_ref(&d.service),
        service_href: crate::model::ref_path(&d.service),
        id: d.id.clone(),
        environment: d.environment.clone(),
        version: d.version.clone(),
        status: match d.status {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::RolledBack => "rolled back",
        },
        finished: display(d.finished_at),
        duration: super::delivery_charts::duration_text(d.finished_at - d.started_at),
        pipeline_run: d.pipeline_run.clone(),
        commits: d
            .commits
            .iter()
            .map(|c| {
                (
                    c.sha.chars().take(7).collect(),
                    c.sha.clone(),
                    c.authored_at
                        .map_or_else(|| "authored time not reported".to_owned(), display),
                )
            })
            .collect(),
        commit_count: d.commit_count,
    }
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
