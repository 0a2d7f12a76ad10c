//! A scorecard as the platform team writes it (`kind: Scorecard` in the platform configuration):
//! checks, each a CEL expression over the documented facts with a fix hint, grouped into ordered
//! levels, and an optional filter choosing the entities it applies to. [`compile`] checks a
//! document's spec and compiles its expressions, reporting every problem with its field.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::guardrails::cel;

/// The `spec` of a `Scorecard` document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScorecardSpec {
    /// CEL over the facts; absent, the scorecard applies to every entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The levels, lowest first.
    pub levels: Vec<LevelSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LevelSpec {
    pub name: String,
    pub checks: Vec<CheckSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub expression: String,
    pub fix: String,
}

/// A valid scorecard with its expressions compiled.
#[derive(Debug, Clone)]
pub struct Scorecard {
    pub name: String,
    pub description: String,
    pub filter: Option<cel::Expression>,
    pub levels: Vec<Level>,
}

#[derive(Debug, Clone)]
pub struct Level {
    pub name: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub description: String,
    pub expression: cel::Expression,
    pub fix: String,
}

impl Scorecard {
    /// The level names, lowest first.
    pub fn level_names(&self) -> Vec<String> {
        self.levels.iter().map(|l| l.name.clone()).collect()
    }

    /// The spec this scorecard was read from, for export.
    pub fn spec(&self) -> ScorecardSpec {
        ScorecardSpec {
            filter: self.filter.as_ref().map(|f| f.source.clone()),
            levels: self
                .levels
                .iter()
                .map(|level| LevelSpec {
                    name: level.name.clone(),
                    checks: level
                        .checks
                        .iter()
                        .map(|check| CheckSpec {
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

/// A level's or a check's name: a lowercase word with digits and `-`, as policy ids are.
fn is_name(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks `spec` and compiles it into the scorecard `name`; every problem is passed to `problem`
/// with the field it concerns (`spec.levels[1].checks[0].fix`), and `None` is returned when
/// there was any.
pub fn compile(
    name: &str,
    description: &str,
    spec: ScorecardSpec,
    problem: &mut dyn FnMut(&str, String),
) -> Option<Scorecard> {
    let mut failed = false;
    let mut report = |field: &str, message: String| {
        failed = true;
        problem(field, message);
    };
    let filter = spec.filter.as_deref().and_then(|source| {
        cel::compile(source)
            .map_err(|reason| report("spec.filter", reason))
            .ok()
    });
    if spec.levels.is_empty() {
        report(
            "spec.levels",
            "is empty; name at least one level (e.g. bronze) with its checks".to_owned(),
        );
    }
    let mut level_names = BTreeSet::new();
    let mut check_names = BTreeSet::new();
    let mut levels = Vec::new();
    for (l, level) in spec.levels.into_iter().enumerate() {
        let at = format!("spec.levels[{l}]");
        if !is_name(&level.name) {
            report(
                &format!("{at}.name"),
                format!(
                    "{:?} is not a name; expected lowercase letters, digits or '-', starting with a letter",
                    level.name
                ),
            );
        } else if !level_names.insert(level.name.clone()) {
            report(
                &format!("{at}.name"),
                format!("level {:?} is defined twice", level.name),
            );
        }
        if level.checks.is_empty() {
            report(
                &format!("{at}.checks"),
                "is empty; a level needs at least one check".to_owned(),
            );
        }
        let mut checks = Vec::new();
        for (c, check) in level.checks.into_iter().enumerate() {
            let at = format!("{at}.checks[{c}]");
            if !is_name(&check.name) {
                report(
                    &format!("{at}.name"),
                    format!(
                        "{:?} is not a name; expected lowercase letters, digits or '-', starting with a letter",
                        check.name
                    ),
                );
            } else if !check_names.insert(check.name.clone()) {
                report(
                    &format!("{at}.name"),
                    format!(
                        "check {:?} is defined twice; check names are unique in a scorecard",
                        check.name
                    ),
                );
            }
            if check.fix.trim().is_empty() {
                report(
                    &format!("{at}.fix"),
                    "is empty; say what a team can do to pass the check".to_owned(),
                );
            }
            match cel::compile(&check.expression) {
                Ok(expression) => checks.push(Check {
                    name: check.name,
                    description: check.description,
                    expression,
                    fix: check.fix,
                }),
                Err(reason) => report(&format!("{at}.expression"), reason),
            }
        }
        levels.push(Level {
            name: level.name,
            checks,
        });
    }
    if failed {
        return None;
    }
    Some(Scorecard {
        name: name.to_owned(),
        description: description.to_owned(),
        filter,
        levels,
    })
}
