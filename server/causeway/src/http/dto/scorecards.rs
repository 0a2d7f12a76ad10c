//! Scorecards on the wire: their definitions as the platform configuration states them, and
//! results per entity (a team's are its entities') with their history.

use causeway_platform::scorecards::{self, EntityResult, EntityResults, Pass, Past, Scorecard};
use causeway_platform::time::iso;
use serde::Serialize;
use utoipa::ToSchema;

/// A scorecard: its levels, lowest first, each with its checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScorecardDefinition {
    pub name: String,
    pub description: String,
    /// CEL selecting the entities it applies to; absent, every entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub levels: Vec<LevelDefinition>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LevelDefinition {
    pub name: String,
    pub checks: Vec<CheckDefinition>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckDefinition {
    pub name: String,
    pub description: String,
    /// CEL over the facts the README documents; true passes.
    pub expression: String,
    /// What a team does to pass it.
    pub fix: String,
}

impl From<&Scorecard> for ScorecardDefinition {
    fn from(scorecard: &Scorecard) -> Self {
        Self {
            name: scorecard.name.clone(),
            description: scorecard.description.clone(),
            filter: scorecard.filter.as_ref().map(|f| f.source.clone()),
            levels: scorecard
                .levels
                .iter()
                .map(|level| LevelDefinition {
                    name: level.name.clone(),
                    checks: level
                        .checks
                        .iter()
                        .map(|check| CheckDefinition {
                            name: check.name.clone(),
                            description: check.description.clone(),
                            expression: check.expression.source.clone(),
                            fix: check.fix.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckOutcome {
    pub name: String,
    /// The level it belongs to.
    pub level: String,
    pub passed: bool,
    pub description: String,
    /// Why it could not be evaluated (it then fails); absent when it evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub fix: String,
}

impl From<&scorecards::CheckResult> for CheckOutcome {
    fn from(check: &scorecards::CheckResult) -> Self {
        Self {
            name: check.name.clone(),
            level: check.level.clone(),
            passed: check.passed,
            description: check.description.clone(),
            error: (!check.error.is_empty()).then(|| check.error.clone()),
            fix: check.fix.clone(),
        }
    }
}

/// One recorded result: a row is written only when the result changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PastResult {
    pub seq: i64,
    /// False when the scorecard's filter left the entity out from then on.
    pub applies: bool,
    pub level: Option<String>,
    /// The checks that failed.
    pub failing: Vec<String>,
    /// The platform configuration revision that scored it.
    pub revision: String,
    /// RFC 3339: when this result was first found.
    pub evaluated_at: String,
}

impl From<&Past> for PastResult {
    fn from(past: &Past) -> Self {
        Self {
            seq: past.seq,
            applies: past.applies,
            level: past.level.clone(),
            failing: past.failing.clone(),
            revision: past.revision.clone(),
            evaluated_at: iso(past.evaluated_at_millis),
        }
    }
}

/// One scorecard's current result for an entity, with its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScorecardResult {
    pub scorecard: String,
    pub description: String,
    /// The scorecard's levels, lowest first.
    pub levels: Vec<String>,
    /// The highest level reached; null for none.
    pub level: Option<String>,
    /// How many levels are reached.
    pub rank: usize,
    pub checks: Vec<CheckOutcome>,
    /// RFC 3339: when the current result was first found.
    pub evaluated_at: String,
    /// The recorded results, newest first (the current one first).
    pub history: Vec<PastResult>,
}

impl From<&EntityResult> for ScorecardResult {
    fn from(result: &EntityResult) -> Self {
        Self {
            scorecard: result.scorecard.clone(),
            description: result.description.clone(),
            levels: result.levels.clone(),
            level: result.level.clone(),
            rank: result.rank,
            checks: result.checks.iter().map(CheckOutcome::from).collect(),
            evaluated_at: iso(result.evaluated_at_millis),
            history: result.history.iter().map(PastResult::from).collect(),
        }
    }
}

/// An entity's results: one per scorecard that applies to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityScorecards {
    pub entity: String,
    pub results: Vec<ScorecardResult>,
}

impl From<&EntityResults> for EntityScorecards {
    fn from(results: &EntityResults) -> Self {
        Self {
            entity: results.entity.clone(),
            results: results.results.iter().map(ScorecardResult::from).collect(),
        }
    }
}

/// `GET /api/scorecards/results`: an entity's results, or those of every entity a team owns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScorecardResults {
    /// The team asked about, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub entities: Vec<EntityScorecards>,
}

/// What `POST /api/scorecards/evaluate` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationPass {
    /// Entities scored by at least one scorecard.
    pub entities: usize,
    /// Results that changed, and were recorded.
    pub changed: usize,
}

impl From<&Pass> for EvaluationPass {
    fn from(pass: &Pass) -> Self {
        Self {
            entities: pass.entities,
            changed: pass.changed,
        }
    }
}
