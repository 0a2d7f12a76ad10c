//! Reading one JSON object of an event: every field that breaks a rule is added to the
//! request's problems with its path and the rule, and reading goes on.

use serde_json::{Map, Value};

use super::{Commit, MAX_COMMITS, PROBLEM_SOURCE};
use crate::catalog::Problem;
use crate::catalog::refs;
use crate::{Error, Result};

/// The problems found so far.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, field: &str, rule: impl Into<String>) {
        let field = if field.is_empty() { "(body)" } else { field };
        self.0
            .push(Problem::new(PROBLEM_SOURCE, None, field, rule.into()));
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Rejected(self.0))
        }
    }
}

/// One JSON object being read, with the path that names its fields in problems.
pub(super) struct Fields<'a, 'p> {
    pub(super) object: &'a Map<String, Value>,
    pub(super) at: String,
    pub(super) problems: &'p mut Problems,
}

impl Fields<'_, '_> {
    pub(super) fn path(&self, field: &str) -> String {
        if self.at.is_empty() {
            field.to_owned()
        } else if field.starts_with('[') {
            format!("{}{field}", self.at)
        } else {
            format!("{}.{field}", self.at)
        }
    }

    pub(super) fn problem(&mut self, field: &str, rule: impl Into<String>) {
        let path = self.path(field);
        self.problems.add(&path, rule);
    }

    /// A string field: present when `required`, not blank, at most `max` characters.
    pub(super) fn text(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "is missing");
                }
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.problem(field, "is empty");
                None
            }
            Some(Value::String(text)) if text.chars().count() > max => {
                self.problem(field, format!("is longer than {max} characters"));
                None
            }
            // PostgreSQL's text holds no NUL, and no sender means a control character.
            Some(Value::String(text)) if text.chars().any(char::is_control) => {
                self.problem(field, "contains a control character");
                None
            }
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(_) => {
                self.problem(field, "is not a string");
                None
            }
        }
    }

    /// An RFC 3339 time (`2026-12-01T10:00:00Z`), in milliseconds since the epoch.
    pub(super) fn time(&mut self, field: &str, required: bool) -> Option<i64> {
        let text = self.text(field, required, 64)?;
        match text.parse::<k8s_openapi::jiff::Timestamp>() {
            Ok(time) => Some(time.as_millisecond()),
            Err(_) => {
                self.problem(
                    field,
                    format!("{text:?} is not an RFC 3339 time such as 2026-12-01T10:00:00Z"),
                );
                None
            }
        }
    }

    /// A git commit id: 7 to 64 hexadecimal digits, kept in lowercase.
    pub(super) fn sha(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, true, 64)?;
        valid_sha(&text).or_else(|| {
            self.problem(
                field,
                format!("{text:?} is not a commit id: 7 to 64 hexadecimal digits"),
            );
            None
        })
    }

    /// An environment's name: lowercase letters, digits and '-'.
    pub(super) fn environment(&mut self, field: &str) -> Option<String> {
        let env = self.text(field, true, 63)?;
        if env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            Some(env)
        } else {
            self.problem(
                field,
                "must be an environment's name: lowercase letters, digits and '-'",
            );
            None
        }
    }

    /// An optional PipelineRun as `namespace/name`: two Kubernetes names (lowercase letters,
    /// digits, '-' and, in the name, '.') joined by one '/'.
    pub(super) fn pipeline_run(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, false, 317)?;
        let valid = text.split_once('/').is_some_and(|(namespace, name)| {
            let label = |s: &str, dots: bool| {
                !s.is_empty()
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || c == '-'
                            || (dots && c == '.')
                    })
            };
            namespace.len() <= 63
                && name.len() <= 253
                && label(namespace, false)
                && label(name, true)
        });
        if valid {
            Some(text)
        } else {
            self.problem(
                field,
                format!(
                    "{text:?} is not a PipelineRun as namespace/name (lowercase letters, digits, '-', and '.' in the name)"
                ),
            );
            None
        }
    }

    pub(super) fn service(&mut self) -> Option<String> {
        self.reference("service")
    }

    /// A component's entity reference in `field`, normalised (`payments-api` reads as
    /// `component:default/payments-api`).
    pub(super) fn reference(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, true, 300)?;
        match refs::parse(&text, "component", "default") {
            Ok(service) => Some(service),
            Err(message) => {
                self.problem(field, message);
                None
            }
        }
    }

    /// A nested object in `field`, read with the same problems and a longer path.
    pub(super) fn nested(&mut self, field: &str, required: bool) -> Option<Fields<'_, '_>> {
        match self.object.get(field) {
            Some(Value::Object(object)) => Some(Fields {
                object,
                at: self.path(field),
                problems: self.problems,
            }),
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "is missing");
                }
                None
            }
            Some(_) => {
                self.problem(field, "is not a JSON object");
                None
            }
        }
    }

    /// `commits`: an array of commit ids, or of objects `{sha, authoredAt}`.
    pub(super) fn commits(&mut self) -> Option<Vec<Commit>> {
        let items = match self.object.get("commits") {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem("commits", "is not an array");
                return None;
            }
        };
        if items.len() > MAX_COMMITS {
            self.problem("commits", format!("lists more than {MAX_COMMITS} commits"));
            return None;
        }
        let mut commits = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = self.path(&format!("commits[{i}]"));
            match item {
                Value::String(text) => match valid_sha(text.trim()) {
                    Some(sha) => commits.push(Commit {
                        sha,
                        authored_at: None,
                    }),
                    None => {
                        ok = false;
                        self.problems.add(
                            &at,
                            format!("{text:?} is not a commit id: 7 to 64 hexadecimal digits"),
                        );
                    }
                },
                Value::Object(object) => {
                    let mut fields = Fields {
                        object,
                        at,
                        problems: self.problems,
                    };
                    let sha = fields.sha("sha");
                    let authored_at = fields.time("authoredAt", false);
                    match sha {
                        Some(sha) => commits.push(Commit { sha, authored_at }),
                        None => ok = false,
                    }
                }
                _ => {
                    ok = false;
                    self.problems.add(
                        &at,
                        "is neither a commit id nor an object {sha, authoredAt}",
                    );
                }
            }
        }
        ok.then_some(commits)
    }
}

pub(super) fn valid_sha(text: &str) -> Option<String> {
    ((7..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}
