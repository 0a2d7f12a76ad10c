//! What happened lately, as the portal lists it next to the measures: the recent deployments of a
//! service, a team or the whole organisation (every environment, newest first, each with the
//! commits it contains and the PipelineRun that made it), and the incidents still open (with the
//! deployment that caused them, when known). Both lists are bounded, so that a page stays small
//! however long the history; anyone signed in may read them, as for [`Delivery::dora`].

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Delivery;
use super::events::Status;
use crate::catalog::refs;
use crate::{Error, Result};

/// The deployments listed when the caller asks for no other number.
pub const DEFAULT_DEPLOYMENTS: usize = 20;
/// The open incidents listed at most.
pub const MAX_INCIDENTS: usize = 50;
/// The commits listed per deployment at most; [`RecentDeployment::commit_count`] has them all.
pub const MAX_COMMITS: usize = 50;

/// Whose recent history is asked for: one of `service` and `team`, or neither for every
/// component of the organisation (the catalog's components).
#[derive(Debug, Clone, Default)]
pub struct RecentQuery {
    pub service: Option<String>,
    pub team: Option<String>,
    /// How many deployments, newest first (at most 100); [`DEFAULT_DEPLOYMENTS`] by default.
    pub limit: Option<usize>,
}

/// A commit of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCommit {
    pub sha: String,
    /// When it was authored, if anyone reported it (milliseconds).
    pub authored_at: Option<i64>,
}

/// One deployment, in any environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentDeployment {
    /// The service (normalised reference).
    pub service: String,
    /// The deployment's id (its event's id).
    pub id: String,
    pub environment: String,
    pub version: String,
    pub status: Status,
    pub started_at: i64,
    pub finished_at: i64,
    /// The PipelineRun that made it, as `namespace/name`, when its sender said.
    pub pipeline_run: Option<String>,
    /// Its commits, newest authored first, at most [`MAX_COMMITS`].
    pub commits: Vec<RecentCommit>,
    /// How many commits it contains.
    pub commit_count: usize,
}

/// The deployment an incident names as its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub deployment: String,
    /// Its version and environment, when that deployment was reported too.
    pub version: Option<String>,
    pub environment: Option<String>,
}

/// An incident not resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub service: String,
    /// The sender's incident id.
    pub id: String,
    pub severity: String,
    pub opened_at: i64,
    pub caused_by: Option<Cause>,
}

/// The answer to a [`RecentQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recent {
    /// Newest finished first.
    pub deployments: Vec<RecentDeployment>,
    /// Newest opened first, at most [`MAX_INCIDENTS`].
    pub incidents: Vec<OpenIncident>,
    /// How many incidents are open in all.
    pub open_incidents: usize,
}

/// The services a query covers: `None` for the whole organisation.
type Services = Option<Vec<String>>;

impl Delivery {
    /// The recent deployments and open incidents `query` asks for.
    pub async fn recent(&self, query: &RecentQuery) -> Result<Recent> {
        let limit = query.limit.unwrap_or(DEFAULT_DEPLOYMENTS);
        if limit == 0 || limit > 100 {
            return Err(Error::invalid("limit", "must be between 1 and 100"));
        }
        let services = self.services(query)?;
        if services.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Recent::default());
        }
        let mut deployments = self.deployments(services.as_deref(), limit).await?;
        self.add_commits(&mut deployments).await?;
        let (incidents, open_incidents) = self.open_incidents(services.as_deref()).await?;
        Ok(Recent {
            deployments,
            incidents,
            open_incidents,
        })
    }

    /// The components `query` names, as [`Delivery::dora`] reads its scope.
    fn services(&self, query: &RecentQuery) -> Result<Services> {
        let index = self.catalog.index();
        match (&query.service, &query.team) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "team",
                "is given with service; ask for one service, one team or neither",
            )),
            (Some(service), None) => {
                let service = refs::parse(service, "component", "default")
                    .map_err(|message| Error::invalid("service", message))?;
                if index.by_ref(&service).is_none() {
                    return Err(Error::invalid(
                        "service",
                        format!("{service} is not in the catalog"),
                    ));
                }
                Ok(Some(vec![service]))
            }
            (None, Some(team)) => {
                let team = refs::parse(team, "group", "default")
                    .map_err(|message| Error::invalid("team", message))?;
                if index.by_ref(&team).is_none() {
                    return Err(Error::invalid(
                        "team",
                        format!("{team} is not in the catalog"),
                    ));
                }
                drop(index);
                Ok(Some(
                    crate::org::owned_by(&self.catalog, std::slice::from_ref(&team))
                        .into_iter()
                        .filter(|e| e.kind.eq_ignore_ascii_case("component"))
                        .map(|e| e.entity_ref)
                        .collect(),
                ))
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether `service` counts for the organisation: a component the catalog still holds (a
    /// removed one's history stays in the tables but belongs to nobody's view).
    fn in_catalog(&self, service: &str) -> bool {
        self.catalog
            .index()
            .by_ref(service)
            .is_some_and(|e| e.kind().eq_ignore_ascii_case("component"))
    }

    async fn deployments(
        &self,
        services: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<RecentDeployment>> {
        let columns = "SELECT service, id, environment, version, status, started_at, \
                       finished_at, pipeline_run FROM delivery_deployments";
        let order = "ORDER BY finished_at DESC, service, id";
        let read = |row: &AnyRow| -> Result<RecentDeployment, sqlx::Error> {
            Ok(RecentDeployment {
                service: row.try_get("service")?,
                id: row.try_get("id")?,
                environment: row.try_get("environment")?,
                version: row.try_get("version")?,
                status: Status::parse(&row.try_get::<String, _>("status")?)
                    .unwrap_or(Status::Failed),
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                pipeline_run: row.try_get("pipeline_run")?,
                commits: Vec::new(),
                commit_count: 0,
            })
        };
        let pool = self.store.pool();
        match services {
            Some(services) => {
                let sql = format!(
                    "{columns} WHERE service IN ({}) {order} LIMIT {limit}",
                    placeholders(1, services.len())
                );
                let mut statement = sqlx::query(&sql);
                for service in services {
                    statement = statement.bind(service);
                }
                let rows = statement.fetch_all(pool).await?;
                Ok(rows.iter().map(read).collect::<Result<_, _>>()?)
            }
            None => {
                // The organisation: newest first over every service, skipping services the
                // catalog no longer holds, a page at a time until enough are read. Each page has
                // a LIMIT, so that an index on the finish time serves it on both engines.
                let batch = limit * 2;
                let mut out = Vec::new();
                let mut offset = 0;
                loop {
                    let sql = format!("{columns} {order} LIMIT {batch} OFFSET {offset}");
                    let rows = sqlx::query(&sql).fetch_all(pool).await?;
                    for row in &rows {
                        let deployment = read(row)?;
                        if out.len() < limit && self.in_catalog(&deployment.service) {
                            out.push(deployment);
                        }
                    }
                    if out.len() == limit || rows.len() < batch {
                        return Ok(out);
                    }
                    offset += batch;
                }
            }
        }
    }

    /// Fills in each deployment's commits with their authored times.
    async fn add_commits(&self, deployments: &mut [RecentDeployment]) -> Result<()> {
        if deployments.is_empty() {
            return Ok(());
        }
        let mut services: Vec<&str> = deployments.iter().map(|d| d.service.as_str()).collect();
        services.sort_unstable();
        services.dedup();
        let ids: Vec<&str> = deployments.iter().map(|d| d.id.as_str()).collect();
        // Both lists narrow the rows; the pairs are matched below, since a deployment's id is
        // unique only within its service.
        let sql = format!(
            "SELECT c.service, c.deployment, c.sha, ch.authored_at \
             FROM delivery_deployment_commits c \
             LEFT JOIN delivery_changes ch ON ch.service = c.service AND ch.sha = c.sha \
             WHERE c.service IN ({}) AND c.deployment IN ({})",
            placeholders(1, services.len()),
            placeholders(services.len() + 1, ids.len()),
        );
        let mut statement = sqlx::query(&sql);
        for value in services.iter().chain(ids.iter()) {
            statement = statement.bind(*value);
        }
        let mut by_deployment: HashMap<(String, String), Vec<RecentCommit>> = HashMap::new();
        for row in statement.fetch_all(self.store.pool()).await? {
            let key = (row.try_get("service")?, row.try_get("deployment")?);
            by_deployment.entry(key).or_default().push(RecentCommit {
                sha: row.try_get("sha")?,
                authored_at: row.try_get("authored_at")?,
            });
        }
        for deployment in deployments {
            let key = (deployment.service.clone(), deployment.id.clone());
            let mut commits = by_deployment.remove(&key).unwrap_or_default();
            // Newest authored first; commits nobody dated last, then by hash for a stable order.
            commits.sort_by(|a, b| {
                b.authored_at
                    .cmp(&a.authored_at)
                    .then_with(|| a.sha.cmp(&b.sha))
            });
            deployment.commit_count = commits.len();
            commits.truncate(MAX_COMMITS);
            deployment.commits = commits;
        }
        Ok(())
    }

    /// The unresolved incidents, newest opened first (at most [`MAX_INCIDENTS`]), and how many
    /// there are.
    async fn open_incidents(
        &self,
        services: Option<&[String]>,
    ) -> Result<(Vec<OpenIncident>, usize)> {
        let filter = match services {
            Some(services) => format!("AND i.service IN ({})", placeholders(1, services.len())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT i.service, i.id, i.severity, i.opened_at, i.caused_by, d.version, d.environment \
             FROM delivery_incidents i \
             LEFT JOIN delivery_deployments d ON d.service = i.service AND d.id = i.caused_by \
             WHERE i.resolved_at IS NULL {filter} ORDER BY i.opened_at DESC, i.service, i.id"
        );
        let mut statement = sqlx::query(&sql);
        for service in services.unwrap_or_default() {
            statement = statement.bind(service);
        }
        let mut incidents = Vec::new();
        let mut count = 0;
        for row in statement.fetch_all(self.store.pool()).await? {
            let service: String = row.try_get("service")?;
            if services.is_none() && !self.in_catalog(&service) {
                continue;
            }
            count += 1;
            if incidents.len() == MAX_INCIDENTS {
                continue;
            }
            let caused_by: Option<String> = row.try_get("caused_by")?;
            incidents.push(OpenIncident {
                service,
                id: row.try_get("id")?,
                severity: row.try_get("severity")?,
                opened_at: row.try_get("opened_at")?,
                caused_by: caused_by
                    .map(|deployment| {
                        Ok::<_, sqlx::Error>(Cause {
                            deployment,
                            version: row.try_get("version")?,
                            environment: row.try_get("environment")?,
                        })
                    })
                    .transpose()?,
            });
        }
        Ok((incidents, count))
    }
}

/// `$first, …, $(first + count - 1)`: the numbered placeholders both engines accept.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(4, 1), "$4");
        assert_eq!(placeholders(1, 0), "");
    }
}
