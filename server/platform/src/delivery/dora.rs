//! The DORA measures of a service or a team, per ISO week and over a range, drawn from the
//! delivery events. The rules, which the README states in the same words:
//!
//! - **Production** is the environment named [`PRODUCTION`] (`prod`): the platform configuration's
//!   `Environment` documents carry no production flag, and `prod` is the environment the embedded
//!   configuration protects and puts behind the platform team's approval.
//! - **Production deployments** are the deployments to production, whatever their status
//!   (`succeeded`, `failed`, `rolled_back`); each is counted in the period in which it finished.
//! - **Deployment frequency**: production deployments per week (over a range, the count divided by
//!   the range's length in weeks).
//! - **Change lead time**: for each commit, from its authored time to the finish of the *first
//!   successful* production deployment that contains it; a commit listed by several deployments is
//!   counted once, at that first one, and a commit whose authored time nobody reported has no lead
//!   time. A commit authored after that deployment finished counts as zero. Counted in the period
//!   of the deployment; the median and the 90th percentile, both by nearest rank (the value at
//!   position ⌈p·n⌉ of the n sorted values, so the median of an even count is the lower middle).
//! - **Change fail rate**: failed production deployments ÷ production deployments. A production
//!   deployment failed when its own status is `failed` or `rolled_back` (the deployment after it
//!   was a rollback of it, reported on it), or when an incident names it as `causedBy`.
//! - **Failed deployment recovery time**: for each failed production deployment, from its failure
//!   (its finish when its status is `failed` or `rolled_back`, else the opening of the earliest
//!   incident it caused) to the earlier of the finish of the next successful production deployment
//!   after the failure and the resolution of the incidents it caused (the earliest resolved).
//!   Counted in the period of the failure; median by nearest rank; failures not yet recovered are
//!   counted apart.
//! - **Rework rate**: rework deployments ÷ production deployments, where a production deployment
//!   is *rework* (unplanned, made to fix a production failure) when it is the successful
//!   deployment that recovered a failed one by the rule above, that is, the first successful
//!   production deployment after the failure, finishing before any incident the failure caused
//!   was resolved.
//!
//! A team's measures are those of the components it owns, pooled: counts add up, and the lead and
//! recovery times of all its services make one set of values for the median and percentile. The
//! organisation's are those of every component in the catalog, pooled the same way.
//!
//! The histories of all the services asked about are read with three queries (deployments,
//! commits, incidents), not three per service: the organisation's 500 services over 90 days are one
//! request's three reads, and [`facts`] then applies the rules to each service's history apart.
//! The lead-time rule's first successful production deployment of each commit is kept by
//! ingestion (`delivery_lead_times`, see `storage.rs`), so that a range's commits are read from
//! one index rather than drawn from every production deployment and its commits at each request.

use std::collections::HashMap;

use k8s_openapi::jiff::civil::Date;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Span, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Delivery;
use super::events::Status;
use crate::catalog::refs;
use crate::store::Engine;
use crate::{Error, Result};

/// The environment counted as production.
pub const PRODUCTION: &str = "prod";
/// The longest range asked about at once: two years.
pub const MAX_RANGE_DAYS: i64 = 731;
/// The range when none is given: the 90 days ending today.
pub const DEFAULT_RANGE_DAYS: i64 = 90;

const WEEK_MILLIS: f64 = 7.0 * 86_400_000.0;
/// Up to this many services, the histories' queries select them by name; beyond, they read every
/// service's rows (both engines take this many parameters in one statement, and a query naming
/// most of the services gains nothing from the index).
pub const SELECTED_SERVICES: usize = 200;

/// Whose measures are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A component (normalised reference).
    Service(String),
    /// A group (normalised reference) and the components it owns.
    Team(String),
    /// Every component in the catalog: a query with neither service nor team.
    Organisation,
}

/// A query: a scope and a range of whole UTC days, `from` and `to` included. Neither service nor
/// team asks about the organisation.
#[derive(Debug, Clone)]
pub struct Query {
    pub service: Option<String>,
    pub team: Option<String>,
    /// `YYYY-MM-DD`; by default 89 days before `to`.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; by default today.
    pub to: Option<String>,
}

/// One deployment as the measures see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRow {
    pub id: String,
    pub status: Status,
    pub finished_at: i64,
}

/// One incident as the measures see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    pub caused_by: Option<String>,
}

/// A service's production history: its production deployments, its commits first shipped in the
/// range asked about, and its incidents.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub deployments: Vec<DeploymentRow>,
    /// (first shipped, authored) per commit whose authored time is known: first shipped is the
    /// finish of the first successful production deployment that contains the commit.
    pub commits: Vec<(i64, i64)>,
    pub incidents: Vec<IncidentRow>,
}

/// The facts the measures are counted from, each with the time that places it in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// (finished at, failed, rework) per production deployment.
    pub deployments: Vec<(i64, bool, bool)>,
    /// (deployment finished at, lead time in ms) per commit.
    pub lead_times: Vec<(i64, i64)>,
    /// (failed at, recovery time in ms when recovered) per failed deployment.
    pub recoveries: Vec<(i64, Option<i64>)>,
}

impl Facts {
    fn extend(&mut self, other: Facts) {
        self.deployments.extend(other.deployments);
        self.lead_times.extend(other.lead_times);
        self.recoveries.extend(other.recoveries);
    }
}

/// Applies the rules of this module's documentation to one service's history.
pub fn facts(history: &History) -> Facts {
    let mut deployments: Vec<&DeploymentRow> = history.deployments.iter().collect();
    deployments.sort_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)));
    // Each commit at its first successful production deployment only, as ingestion found it.
    let mut lead_times: Vec<(i64, i64)> = history
        .commits
        .iter()
        .map(|&(at, authored)| (at, (at - authored).max(0)))
        .collect();
    lead_times.sort_unstable();

    let mut rework = vec![false; deployments.len()];
    let mut failed = vec![false; deployments.len()];
    let mut recoveries = Vec::new();
    for (i, deployment) in deployments.iter().enumerate() {
        let caused: Vec<&IncidentRow> = history
            .incidents
            .iter()
            .filter(|inc| inc.caused_by.as_deref() == Some(deployment.id.as_str()))
            .collect();
        let own_failure = deployment.status != Status::Succeeded;
        if !own_failure && caused.is_empty() {
            continue;
        }
        failed[i] = true;
        let failed_at = if own_failure {
            deployment.finished_at
        } else {
            caused
                .iter()
                .map(|inc| inc.opened_at)
                .min()
                .unwrap_or(deployment.finished_at)
        };
        let next = deployments
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, d)| d.status == Status::Succeeded && d.finished_at > failed_at);
        let resolved = caused.iter().filter_map(|inc| inc.resolved_at).min();
        let recovered_at = match (next, resolved) {
            (Some((j, d)), resolved) if resolved.is_none_or(|r| d.finished_at <= r) => {
                rework[j] = true;
                Some(d.finished_at)
            }
            (_, resolved) => resolved,
        };
        recoveries.push((failed_at, recovered_at.map(|at| (at - failed_at).max(0))));
    }
    Facts {
        deployments: deployments
            .iter()
            .enumerate()
            .map(|(i, d)| (d.finished_at, failed[i], rework[i]))
            .collect(),
        lead_times,
        recoveries,
    }
}

/// Lead or recovery times summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durations {
    pub count: usize,
    pub median_millis: Option<i64>,
    pub p90_millis: Option<i64>,
}

/// The measures over one period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Keys {
    pub deployments: usize,
    pub deployments_per_week: f64,
    pub failed_deployments: usize,
    pub change_fail_rate: Option<f64>,
    pub lead_time: Durations,
    pub recovery_time: Durations,
    /// Failures in the period not recovered yet.
    pub unrecovered: usize,
    pub rework_deployments: usize,
    pub rework_rate: Option<f64>,
}

/// The value at nearest rank `percent` of sorted `values`.
pub fn nearest_rank(sorted: &[i64], percent: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn durations(mut values: Vec<i64>) -> Durations {
    values.sort_unstable();
    Durations {
        count: values.len(),
        median_millis: nearest_rank(&values, 50),
        p90_millis: nearest_rank(&values, 90),
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The measures of `facts` over `[start, end)`.
#[allow(clippy::cast_precision_loss)]
pub fn keys(facts: &Facts, start: i64, end: i64) -> Keys {
    let within = |at: i64| start <= at && at < end;
    let deployments: Vec<_> = facts.deployments.iter().filter(|d| within(d.0)).collect();
    let failed = deployments.iter().filter(|d| d.1).count();
    let rework = deployments.iter().filter(|d| d.2).count();
    let lead = facts
        .lead_times
        .iter()
        .filter(|l| within(l.0))
        .map(|l| l.1)
        .collect();
    let failures: Vec<_> = facts.recoveries.iter().filter(|r| within(r.0)).collect();
    let recovered = failures.iter().filter_map(|r| r.1).collect();
    Keys {
        deployments: deployments.len(),
        deployments_per_week: deployments.len() as f64 * WEEK_MILLIS / (end - start).max(1) as f64,
        failed_deployments: failed,
        change_fail_rate: ratio(failed, deployments.len()),
        lead_time: durations(lead),
        recovery_time: durations(recovered),
        unrecovered: failures.iter().filter(|r| r.1.is_none()).count(),
        rework_deployments: rework,
        rework_rate: ratio(rework, deployments.len()),
    }
}

/// One ISO week's measures; the first and last weeks are cut to the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// `2026-W49`.
    pub week: String,
    pub start: i64,
    pub end: i64,
    pub keys: Keys,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq)]
pub struct Dora {
    pub scope: Scope,
    /// The components counted.
    pub services: Vec<String>,
    /// The range, `[start, end)` in milliseconds.
    pub start: i64,
    pub end: i64,
    pub production: &'static str,
    pub summary: Keys,
    pub weeks: Vec<Week>,
}

fn day(field: &str, text: &str) -> Result<Date> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("{text:?} is not a day such as 2026-12-01")))
}

fn midnight(date: Date) -> Result<i64> {
    date.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| Error::invalid("to", e.to_string()))
}

/// Every ISO week meeting `[start, end)`, cut to it.
pub fn weeks(start: i64, end: i64) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    let Ok(first) = Timestamp::from_millisecond(start) else {
        return out;
    };
    let first = first.to_zoned(TimeZone::UTC).date();
    let offset = i64::from(first.weekday().to_monday_zero_offset());
    let Ok(mut monday) = first.checked_sub(Span::new().days(offset)) else {
        return out;
    };
    while let Ok(week_start) = midnight(monday) {
        if week_start >= end {
            break;
        }
        let iso = monday.iso_week_date();
        let Ok(next) = monday.checked_add(Span::new().days(7)) else {
            break;
        };
        let week_end = midnight(next).unwrap_or(end);
        out.push((
            format!("{}-W{:02}", iso.year(), iso.week()),
            week_start.max(start),
            week_end.min(end),
        ));
        monday = next;
    }
    out
}

impl Delivery {
    /// The measures `query` asks for. Anyone signed in may read them: they are the feedback
    /// every team shares.
    pub async fn dora(&self, query: &Query) -> Result<Dora> {
        let (scope, services) = match (&query.service, &query.team) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "team",
                    "is given with service; ask for one service or one team",
                ));
            }
            (None, None) => {
                let index = self.catalog.index();
                let mut services: Vec<String> = index
                    .matching("kind", "component")
                    .iter()
                    .filter_map(|id| index.get(id).map(|e| e.entity_ref().to_owned()))
                    .collect();
                services.sort();
                (Scope::Organisation, services)
            }
            (Some(service), None) => {
                let service = refs::parse(service, "component", "default")
                    .map_err(|message| Error::invalid("service", message))?;
                if self.catalog.index().by_ref(&service).is_none() {
                    return Err(Error::invalid(
                        "service",
                        format!("{service} is not in the catalog"),
                    ));
                }
                (Scope::Service(service.clone()), vec![service])
            }
            (None, Some(team)) => {
                let team = refs::parse(team, "group", "default")
                    .map_err(|message| Error::invalid("team", message))?;
                if self.catalog.index().by_ref(&team).is_none() {
                    return Err(Error::invalid(
                        "team",
                        format!("{team} is not in the catalog"),
                    ));
                }
                let services = crate::org::owned_by(&self.catalog, std::slice::from_ref(&team))
                    .into_iter()
                    .filter(|e| e.kind.eq_ignore_ascii_case("component"))
                    .map(|e| e.entity_ref)
                    .collect();
                (Scope::Team(team), services)
            }
        };
        let to = match &query.to {
            Some(text) => day("to", text)?,
            None => Timestamp::now().to_zoned(TimeZone::UTC).date(),
        };
        let from = match &query.from {
            Some(text) => day("from", text)?,
            None => to
                .checked_sub(Span::new().days(DEFAULT_RANGE_DAYS - 1))
                .map_err(|e| Error::invalid("from", e.to_string()))?,
        };
        if from > to {
            return Err(Error::invalid("from", "is after to"));
        }
        let start = midnight(from)?;
        let end = midnight(
            to.tomorrow()
                .map_err(|e| Error::invalid("to", e.to_string()))?,
        )?;
        if end - start > MAX_RANGE_DAYS * 86_400_000 {
            return Err(Error::invalid(
                "from",
                format!("the range is longer than {MAX_RANGE_DAYS} days"),
            ));
        }
        let mut facts = Facts::default();
        for history in self.histories(&services, start, end).await?.values() {
            facts.extend(self::facts(history));
        }
        Ok(Dora {
            scope,
            services,
            start,
            end,
            production: PRODUCTION,
            summary: keys(&facts, start, end),
            weeks: weeks(start, end)
                .into_iter()
                .map(|(week, start, end)| Week {
                    keys: keys(&facts, start, end),
                    week,
                    start,
                    end,
                })
                .collect(),
        })
    }

    /// The production histories of `services` by service, read with three queries
    /// whatever their number. A few services are selected by the query (through the indexes that
    /// begin with the service); beyond [`SELECTED_SERVICES`], every service's rows are read and
    /// those of other services dropped, since the organisation asks for nearly all of them. Only
    /// what [`facts`] looks at is read: every production deployment and every incident that names
    /// the deployment that caused it (a failure's recovery may lie outside the range), and the
    /// commits first shipped within `[start, end)` whose authored time is known.
    pub async fn histories(
        &self,
        services: &[String],
        start: i64,
        end: i64,
    ) -> Result<HashMap<String, History>> {
        let mut histories: HashMap<String, History> = services
            .iter()
            .map(|s| (s.clone(), History::default()))
            .collect();
        if services.is_empty() {
            return Ok(histories);
        }
        let selected = (services.len() <= SELECTED_SERVICES).then_some(services);
        let among = |column: &str| match selected {
            Some(services) => format!(
                " AND {column} IN {}",
                super::storage::values(self.store.engine(), 1, services.len())
            ),
            None => String::new(),
        };

        // A service's deployments and commits come as one JSON array each, which the database
        // builds: the drivers hand rows over one at a time, at a cost that exceeded the queries'
        // own for the organisation's hundreds of thousands of rows.
        let engine = self.store.engine();
        let sql = format!(
            "SELECT service, {} AS rows FROM delivery_deployments \
             WHERE environment = '{PRODUCTION}'{} GROUP BY service",
            json_rows(engine, "id, status, finished_at"),
            among("service")
        );
        for row in &self.rows(&sql, selected).await? {
            let service: &str = row.try_get("service")?;
            if let Some(history) = histories.get_mut(service) {
                let rows: Vec<(String, String, i64)> = json(row.try_get("rows")?)?;
                history.deployments = rows
                    .into_iter()
                    .map(|(id, status, finished_at)| DeploymentRow {
                        id,
                        status: Status::parse(&status).unwrap_or(Status::Failed),
                        finished_at,
                    })
                    .collect();
            }
        }

        let sql = format!(
            "SELECT service, {} AS rows FROM delivery_lead_times \
             WHERE shipped_at >= {start} AND shipped_at < {end} AND authored_at IS NOT NULL{} \
             GROUP BY service",
            json_rows(engine, "shipped_at, authored_at"),
            among("service")
        );
        for row in &self.rows(&sql, selected).await? {
            let service: &str = row.try_get("service")?;
            if let Some(history) = histories.get_mut(service) {
                history.commits = json(row.try_get("rows")?)?;
            }
        }

        let sql = format!(
            "SELECT service, opened_at, resolved_at, caused_by FROM delivery_incidents \
             WHERE caused_by IS NOT NULL{}",
            among("service")
        );
        for row in &self.rows(&sql, selected).await? {
            let service: &str = row.try_get("service")?;
            if let Some(history) = histories.get_mut(service) {
                history.incidents.push(IncidentRow {
                    opened_at: row.try_get("opened_at")?,
                    resolved_at: row.try_get("resolved_at")?,
                    caused_by: row.try_get("caused_by")?,
                });
            }
        }
        Ok(histories)
    }

    /// The rows `sql` answers, with `services` bound to its placeholders.
    async fn rows(&self, sql: &str, services: Option<&[String]>) -> Result<Vec<AnyRow>> {
        let mut query = sqlx::query(sql);
        for service in services.unwrap_or_default() {
            query = query.bind(service.as_str());
        }
        Ok(query.fetch_all(self.store.pool()).await?)
    }
}

/// The aggregate that makes each group's `columns` one JSON array of arrays, as text.
fn json_rows(engine: Engine, columns: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_group_array(json_array({columns}))"),
        Engine::Postgres => format!("json_agg(json_build_array({columns}))::text"),
    }
}

/// Reads what [`json_rows`] built.
fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_takes_the_lower_middle() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[5], 90), Some(5));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5], 50), Some(3));
        // ⌈0.9 × 10⌉ = 9: the ninth value.
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), Some(9));
    }

    #[test]
    fn weeks_are_iso_weeks_cut_to_the_range() {
        // 2026-12-02 is a Wednesday in ISO week 49; 2026-12-14 a Monday in week 51.
        let start = midnight("2026-12-02".parse().unwrap()).unwrap();
        let end = midnight("2026-12-15".parse().unwrap()).unwrap();
        let weeks = weeks(start, end);
        let names: Vec<_> = weeks.iter().map(|w| w.0.as_str()).collect();
        assert_eq!(names, ["2026-W49", "2026-W50", "2026-W51"]);
        assert_eq!(weeks[0].1, start);
        assert_eq!(weeks[1].1 - weeks[0].1, 5 * 86_400_000);
        assert_eq!(weeks[2].2, end);
    }
}
