//! Scoring one entity against one scorecard over its facts: every check passes or fails (an
//! expression that cannot be evaluated fails, with its reason, so a broken check never awards a
//! level), and the level reached is the highest whose checks, and those of every lower level,
//! all pass.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::definition::Scorecard;
use crate::guardrails::cel::Scope;

/// One check's outcome, with what a team needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    /// The level the check belongs to.
    pub level: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Why the check could not be evaluated; empty when it evaluated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub fix: String,
}

/// One scorecard's result for one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scored {
    /// The highest level reached; `None` when the lowest level's checks do not all pass.
    pub level: Option<String>,
    pub checks: Vec<CheckResult>,
}

impl Scored {
    /// The checks that failed.
    pub fn failing(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// The name of the pseudo-check a filter that cannot be evaluated fails.
pub const FILTER_CHECK: &str = "filter";

/// Scores `input` against `scorecard`; `None` when its filter leaves the entity out. A filter
/// that cannot be evaluated counts as applying, and fails the lowest level with its reason, so
/// that a broken filter shows rather than silently dropping every entity.
pub fn score(scorecard: &Scorecard, scope: &Scope) -> Option<Scored> {
    let mut checks = Vec::new();
    if let Some(filter) = &scorecard.filter {
        match scope.test(filter, &Value::Null) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(reason) => checks.push(CheckResult {
                name: FILTER_CHECK.to_owned(),
                level: scorecard
                    .levels
                    .first()
                    .map(|l| l.name.clone())
                    .unwrap_or_default(),
                passed: false,
                description: "The scorecard's filter selects the entities it applies to."
                    .to_owned(),
                error: format!("the filter could not be evaluated: {reason}"),
                fix: "The platform team corrects the scorecard's filter.".to_owned(),
            }),
        }
    }
    for level in &scorecard.levels {
        for check in &level.checks {
            let (passed, error) = match scope.test(&check.expression, &Value::Null) {
                Ok(passed) => (passed, String::new()),
                Err(reason) => (false, format!("could not be evaluated: {reason}")),
            };
            checks.push(CheckResult {
                name: check.name.clone(),
                level: level.name.clone(),
                passed,
                description: check.description.clone(),
                error,
                fix: check.fix.clone(),
            });
        }
    }
    let mut reached = None;
    for level in &scorecard.levels {
        if checks
            .iter()
            .filter(|c| c.level == level.name)
            .all(|c| c.passed)
        {
            reached = Some(level.name.clone());
        } else {
            break;
        }
    }
    Some(Scored {
        level: reached,
        checks,
    })
}

/// How many levels `level` stands for in `levels` (lowest first): 0 for none.
pub fn rank(levels: &[String], level: Option<&str>) -> usize {
    level
        .and_then(|l| levels.iter().position(|n| n == l))
        .map_or(0, |i| i + 1)
}
