//! Scorecards the platform team defines (`kind: Scorecard` in the platform configuration): checks
//! in CEL over the facts Causeway knows about an entity ([`facts`]), grouped into ordered levels,
//! scored per entity ([`evaluate`]) and kept with their history ([`results`]: a row only when a
//! result changes).
//!
//! Entities are scored on a schedule and after each configuration revision (the host's
//! background loop calls [`Scorecards::evaluate_all`]), on a platform admin's request
//! ([`Scorecards::evaluate_by`]), when an entity's results are read, and when a policy asks for an
//! entity's levels ([`Scorecards::policy_input`]). Anyone signed in reads results.

pub mod definition;
pub mod evaluate;
pub mod facts;
pub mod results;
pub mod schedule;

use serde::Serialize;
use serde_json::Value;

pub use self::definition::Scorecard;
pub use self::evaluate::{CheckResult, Scored};
use self::facts::{Environments, Subject};
use self::results::Results;
use crate::catalog::{Catalog, refs};
use crate::delivery::Delivery;
use crate::guardrails::cel::Scope;
use crate::guardrails::{Guardrails, require_admin};
use crate::identity::Principal;
use crate::provision::records::Records;
use crate::store::Store;
use crate::time::now_millis;
use crate::{Error, Result};

/// The starter scorecard of the embedded default configuration.
pub const DEFAULT_SCORECARDS: &str = include_str!("default-scorecards.yaml");

/// How many past results are returned per entity and scorecard.
pub const HISTORY: i64 = 20;

/// The scorecards service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Scorecards {
    guardrails: Guardrails,
    catalog: Catalog,
    delivery: Delivery,
    records: Records,
    results: Results,
}

/// One past result, as the history lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Past {
    pub seq: i64,
    pub applies: bool,
    pub level: Option<String>,
    /// The names of the checks that failed.
    pub failing: Vec<String>,
    pub revision: String,
    pub evaluated_at_millis: i64,
}

/// One scorecard's current result for an entity, with its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityResult {
    pub scorecard: String,
    pub description: String,
    /// The scorecard's levels, lowest first.
    pub levels: Vec<String>,
    pub level: Option<String>,
    /// How many levels are reached (0 for none).
    pub rank: usize,
    pub checks: Vec<CheckResult>,
    /// When the current result was first found (it has held since).
    pub evaluated_at_millis: i64,
    /// Earlier results, newest first (the current one included, first).
    pub history: Vec<Past>,
}

/// An entity's results: one per scorecard that applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityResults {
    pub entity: String,
    pub results: Vec<EntityResult>,
}

/// A team's results: those of every entity it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamResults {
    pub team: String,
    pub entities: Vec<EntityResults>,
}

/// What an evaluation pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pass {
    /// Entities scored by at least one scorecard.
    pub entities: usize,
    /// Results that changed, and were recorded.
    pub changed: usize,
}

impl Scorecards {
    pub fn new(store: Store, catalog: Catalog, guardrails: Guardrails, delivery: Delivery) -> Self {
        Self {
            guardrails,
            catalog,
            delivery,
            records: Records::new(store.clone()),
            results: Results::new(store),
        }
    }

    /// The scorecards of the configuration revision in force.
    pub fn definitions(&self) -> Vec<Scorecard> {
        self.guardrails.current().config.scorecards.clone()
    }

    /// The results table.
    pub fn results(&self) -> &Results {
        &self.results
    }

    /// Scores `subject` against every scorecard and records each result that changed; the
    /// results of the scorecards that apply, and how many changed.
    async fn score(
        &self,
        subject: &Subject,
        environments: &Environments,
        scorecards: &[Scorecard],
        revision: &str,
    ) -> Result<(Vec<(String, Scored)>, usize)> {
        let input = facts::gather(subject, environments, &self.records, &self.delivery).await?;
        let scope = Scope::new(&input);
        let scored: Vec<_> = scorecards
            .iter()
            .map(|s| (s.name.clone(), evaluate::score(s, &scope)))
            .collect();
        drop(scope);
        let now = now_millis();
        let mut changed = 0;
        let mut applying = Vec::new();
        for (name, result) in scored {
            if self
                .results
                .record(&subject.entity_ref, &name, result.as_ref(), revision, now)
                .await?
            {
                changed += 1;
            }
            if let Some(result) = result {
                applying.push((name, result));
            }
        }
        Ok((applying, changed))
    }

    /// Scores every entity of the catalog against every scorecard, recording what changed.
    pub async fn evaluate_all(&self) -> Result<Pass> {
        let revision = self.guardrails.current();
        let scorecards = &revision.config.scorecards;
        if scorecards.is_empty() {
            return Ok(Pass::default());
        }
        let environments = Environments::read(&self.records).await?;
        let refs: Vec<String> = {
            let index = self.catalog.index();
            index
                .all()
                .iter()
                .filter_map(|id| index.get(id).map(|e| e.entity_ref().to_owned()))
                .collect()
        };
        let mut pass = Pass::default();
        for entity_ref in refs {
            let Some(subject) = Subject::read(&self.catalog.index(), &entity_ref) else {
                continue;
            };
            let (applying, changed) = self
                .score(&subject, &environments, scorecards, &revision.hash)
                .await?;
            pass.entities += usize::from(!applying.is_empty());
            pass.changed += changed;
        }
        Ok(pass)
    }

    /// Scores one entity now; the results of the scorecards that apply.
    pub async fn evaluate_entity(&self, entity_ref: &str) -> Result<Vec<(String, Scored)>> {
        Ok(self.score_entity(entity_ref).await?.0)
    }

    async fn score_entity(&self, entity_ref: &str) -> Result<(Vec<(String, Scored)>, usize)> {
        let subject = Subject::read(&self.catalog.index(), entity_ref)
            .ok_or_else(|| Error::NotFound(format!("{entity_ref} is not in the catalog")))?;
        let revision = self.guardrails.current();
        let environments = Environments::read(&self.records).await?;
        self.score(
            &subject,
            &environments,
            &revision.config.scorecards,
            &revision.hash,
        )
        .await
    }

    /// [`Scorecards::evaluate_all`], or one entity's scoring, at a platform admin's request.
    pub async fn evaluate_by(&self, principal: &Principal, entity: Option<&str>) -> Result<Pass> {
        require_admin(principal, "start a scorecard evaluation")?;
        match entity {
            None => self.evaluate_all().await,
            Some(text) => {
                let (scored, changed) = self.score_entity(&parse_entity(text)?).await?;
                Ok(Pass {
                    entities: usize::from(!scored.is_empty()),
                    changed,
                })
            }
        }
    }

    /// `entity`'s results, scored now (a changed result is recorded), each with its history.
    pub async fn for_entity(&self, entity: &str) -> Result<EntityResults> {
        let entity_ref = parse_entity(entity)?;
        self.evaluate_entity(&entity_ref).await?;
        self.stored_results(&entity_ref).await
    }

    /// The results of every entity `team` owns, as last recorded (the schedule keeps them
    /// current), each with its history.
    pub async fn for_team(&self, team: &str) -> Result<TeamResults> {
        let team_ref = refs::parse(team, "group", "default")
            .map_err(|message| Error::invalid("team", message))?;
        if self.catalog.index().by_ref(&team_ref).is_none() {
            return Err(Error::NotFound(format!("{team_ref} is not in the catalog")));
        }
        let mut entities = Vec::new();
        for owned in crate::org::owned_by(&self.catalog, std::slice::from_ref(&team_ref)) {
            let results = self.stored_results(&owned.entity_ref).await?;
            if !results.results.is_empty() {
                entities.push(results);
            }
        }
        Ok(TeamResults {
            team: team_ref,
            entities,
        })
    }

    /// The newest recorded result of `entity_ref` per scorecard in force that applies to it.
    async fn stored_results(&self, entity_ref: &str) -> Result<EntityResults> {
        let mut results = Vec::new();
        for scorecard in self.definitions() {
            let history = self
                .results
                .history(entity_ref, &scorecard.name, HISTORY)
                .await?;
            let Some(current) = history.first().filter(|r| r.applies).cloned() else {
                continue;
            };
            let levels = scorecard.level_names();
            results.push(EntityResult {
                scorecard: scorecard.name.clone(),
                description: scorecard.description.clone(),
                rank: evaluate::rank(&levels, current.level.as_deref()),
                levels,
                level: current.level,
                checks: current.checks,
                evaluated_at_millis: current.evaluated_at_millis,
                history: history
                    .into_iter()
                    .map(|row| Past {
                        seq: row.seq,
                        applies: row.applies,
                        level: row.level,
                        failing: row
                            .checks
                            .iter()
                            .filter(|c| !c.passed)
                            .map(|c| c.name.clone())
                            .collect(),
                        revision: row.revision,
                        evaluated_at_millis: row.evaluated_at_millis,
                    })
                    .collect(),
            });
        }
        Ok(EntityResults {
            entity: entity_ref.to_owned(),
            results,
        })
    }

    /// The `scorecards` key of a policy's input for `entity_ref`, scored now
    /// ([`crate::guardrails::input::scorecards`] gives its shape).
    pub async fn policy_input(&self, entity_ref: &str) -> Result<Value> {
        let scorecards = self.definitions();
        let scored = self.evaluate_entity(entity_ref).await?;
        let levels: Vec<(&str, Vec<String>, &Scored)> = scored
            .iter()
            .map(|(name, result)| {
                let levels = scorecards
                    .iter()
                    .find(|s| &s.name == name)
                    .map(Scorecard::level_names)
                    .unwrap_or_default();
                (name.as_str(), levels, result)
            })
            .collect();
        Ok(crate::guardrails::input::scorecards(
            levels.iter().map(|(n, l, r)| (*n, l.as_slice(), *r)),
        ))
    }
}

/// An entity reference as given (`payments-api` means `component:default/payments-api`).
fn parse_entity(text: &str) -> Result<String> {
    refs::parse(text, "component", "default").map_err(|message| Error::invalid("entity", message))
}

#[cfg(test)]
mod tests;
