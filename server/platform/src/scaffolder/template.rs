//! A software template as the catalog holds it (`kind: Template`,
//! `apiVersion: scaffolder.backstage.io/v1beta3`): its parameter pages, steps and output, read
//! from the entity's `spec`, and the static checks that refuse a template before anything runs —
//! an unknown action or filter, an expression that does not parse, a duplicate step id — every
//! problem listed, each naming its field.

use std::collections::BTreeSet;

use serde_json::Value;

use super::expr::{ExprError, Templater};
use super::filters;
use super::source::Source;

/// The only template apiVersion the engine runs.
pub const API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// One parameter page: a JSON Schema object with inline `ui:*` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub title: String,
    pub description: Option<String>,
    /// The page as written (its `title`, `required`, `properties`, `dependencies`…).
    pub schema: Value,
    /// Shown (and validated) only when this renders truthy against the answers so far.
    pub when: Option<Value>,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub id: String,
    pub name: String,
    pub action: String,
    pub input: Value,
    /// `if:`; the step is skipped when it renders falsy.
    pub condition: Option<Value>,
    /// `each:`; the step runs once per element (or member) with `each` in its context.
    pub each: Option<Value>,
}

/// A template ready to validate answers against and to run.
#[derive(Debug, Clone)]
pub struct Template {
    /// `template:<namespace>/<name>`, lowercase.
    pub entity_ref: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub owner: Option<String>,
    pub kind: String,
    pub tags: Vec<String>,
    pub pages: Vec<Page>,
    pub steps: Vec<StepSpec>,
    pub output: Value,
    /// Where relative `url:` inputs are read from.
    pub source: Source,
    /// The entity as stored, for `templateInfo` and provenance.
    pub entity: Value,
}

/// A problem found in a template, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn finding(field: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        field: field.into(),
        message: message.into(),
    }
}

impl Template {
    /// Reads a template entity. Structural problems (a missing `spec.steps`, a step without an
    /// action) are all reported at once.
    pub fn from_entity(entity: &Value, source: Source) -> Result<Self, Vec<Finding>> {
        let mut problems = Vec::new();
        let api_version = entity
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if api_version != API_VERSION {
            problems.push(finding(
                "apiVersion",
                format!("{api_version:?} is not supported; templates must be {API_VERSION}"),
            ));
        }
        if entity.get("kind").and_then(Value::as_str) != Some("Template") {
            problems.push(finding("kind", "must be Template"));
        }
        let metadata = entity.get("metadata").cloned().unwrap_or(Value::Null);
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if name.is_empty() {
            problems.push(finding("metadata.name", "is required"));
        }
        let namespace = metadata
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        let spec = entity.get("spec").cloned().unwrap_or(Value::Null);
        let pages = read_pages(spec.get("parameters"), &mut problems);
        let steps = read_steps(spec.get("steps"), &mut problems);
        let output = spec.get("output").cloned().unwrap_or(Value::Null);
        if !(output.is_null() || output.is_object()) {
            problems.push(finding("spec.output", "must be an object"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            entity_ref: format!("template:{}/{}", namespace, name).to_lowercase(),
            title: metadata
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_owned(),
            name,
            description: text(metadata.get("description")),
            owner: spec.get("owner").and_then(Value::as_str).map(str::to_owned),
            kind: text(spec.get("type")),
            tags: metadata
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            pages,
            steps,
            output,
            source,
            entity: entity.clone(),
        })
    }

    /// Every reason the template cannot run here: unknown actions and filters, expressions that
    /// do not parse, parameter schemas that do not compile. Empty when it can run.
    pub fn check(
        &self,
        known_action: impl Fn(&str) -> bool,
        templater: &Templater,
    ) -> Vec<Finding> {
        let mut problems = Vec::new();
        for (index, page) in self.pages.iter().enumerate() {
            let field = format!("spec.parameters[{index}]");
            if let Err(e) = super::params::compile(&page.schema) {
                problems.push(finding(&field, e));
            }
            if let Some(when) = &page.when {
                check_expressions(when, &format!("{field}.when"), templater, &mut problems);
            }
        }
        for (index, step) in self.steps.iter().enumerate() {
            let field = format!("spec.steps[{index}]");
            if !known_action(&step.action) {
                problems.push(finding(
                    format!("{field}.action"),
                    format!(
                        "step {:?} uses the action {:?}, which Causeway does not have; see GET /api/scaffolder/v2/actions for the actions it runs",
                        step.id, step.action
                    ),
                ));
            }
            check_expressions(
                &step.input,
                &format!("{field}.input"),
                templater,
                &mut problems,
            );
            for (key, value) in [("if", &step.condition), ("each", &step.each)] {
                if let Some(value) = value {
                    check_expressions(value, &format!("{field}.{key}"), templater, &mut problems);
                }
            }
        }
        check_expressions(&self.output, "spec.output", templater, &mut problems);
        problems
    }

    /// Whether any page declares `name` as a `ui:field: Secret` property.
    pub fn secret_fields(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for page in &self.pages {
            collect_secret_fields(&page.schema, &mut names);
        }
        names
    }
}

fn collect_secret_fields(schema: &Value, names: &mut BTreeSet<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if property.get("ui:field").and_then(Value::as_str) == Some("Secret") {
                names.insert(name.clone());
            }
        }
    }
    // Properties that dependencies, oneOf or if/then add to the page are secret too.
    for key in ["dependencies", "oneOf", "anyOf", "allOf", "then", "else"] {
        match schema.get(key) {
            Some(Value::Array(items)) => items.iter().for_each(|i| collect_secret_fields(i, names)),
            Some(Value::Object(map)) if key == "dependencies" => {
                map.values().for_each(|d| collect_secret_fields(d, names))
            }
            Some(other @ Value::Object(_)) => collect_secret_fields(other, names),
            _ => {}
        }
    }
}

fn read_pages(parameters: Option<&Value>, problems: &mut Vec<Finding>) -> Vec<Page> {
    let pages: Vec<&Value> = match parameters {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(page @ Value::Object(_)) => vec![page],
        Some(_) => {
            problems.push(finding(
                "spec.parameters",
                "must be a parameter page (an object) or a list of pages",
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (index, page) in pages.into_iter().enumerate() {
        let Some(map) = page.as_object() else {
            problems.push(finding(
                format!("spec.parameters[{index}]"),
                "a parameter page must be an object (a JSON Schema)",
            ));
            continue;
        };
        let mut schema = map.clone();
        let when = schema.remove("when");
        out.push(Page {
            title: map
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            description: map
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            schema: Value::Object(schema),
            when,
        });
    }
    out
}

fn read_steps(steps: Option<&Value>, problems: &mut Vec<Finding>) -> Vec<StepSpec> {
    let Some(items) = steps.and_then(Value::as_array) else {
        if steps.is_some_and(|s| !s.is_null()) {
            problems.push(finding("spec.steps", "must be a list of steps"));
        }
        return Vec::new();
    };
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for (index, step) in items.iter().enumerate() {
        let field = format!("spec.steps[{index}]");
        let Some(map) = step.as_object() else {
            problems.push(finding(&field, "a step must be an object"));
            continue;
        };
        // Backstage names a step without an id by its position, counted from 1.
        let id = match map.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            None | Some(Value::Null) => format!("step-{}", index + 1),
            Some(_) => {
                problems.push(finding(format!("{field}.id"), "must be a non-empty string"));
                continue;
            }
        };
        if !ids.insert(id.clone()) {
            problems.push(finding(
                format!("{field}.id"),
                format!("{id:?} is the id of an earlier step; step ids must be unique"),
            ));
        }
        let Some(action) = map.get("action").and_then(Value::as_str) else {
            problems.push(finding(format!("{field}.action"), "is required"));
            continue;
        };
        let input = map
            .get("input")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        if !input.is_object() {
            problems.push(finding(format!("{field}.input"), "must be an object"));
        }
        out.push(StepSpec {
            // Backstage names a step without a name by its action.
            name: map
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(action)
                .to_owned(),
            id,
            action: action.to_owned(),
            input,
            condition: map.get("if").cloned(),
            each: map.get("each").cloned(),
        });
    }
    out
}

/// Checks every string under `value` for expressions that do not parse or filters that do not
/// exist.
fn check_expressions(
    value: &Value,
    field: &str,
    templater: &Templater,
    problems: &mut Vec<Finding>,
) {
    match value {
        Value::String(text) => {
            if let Err(ExprError(message)) = templater.parse(text) {
                problems.push(finding(field, message));
            }
            for name in filters_used(text) {
                if !filters::NAMES.contains(&name.as_str()) {
                    problems.push(finding(
                        field,
                        format!(
                            "uses the filter {name:?}, which Causeway does not have; the filters are {}",
                            filters::NAMES.join(", ")
                        ),
                    ));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_expressions(item, &format!("{field}[{i}]"), templater, problems);
            }
        }
        Value::Object(map) => {
            for (key, member) in map {
                check_expressions(member, &format!("{field}.{key}"), templater, problems);
            }
        }
        _ => {}
    }
}

/// The filter names applied inside the `${{ … }}` and `{% … %}` tags of `text` (string literals
/// skipped, `||` ignored).
pub fn filters_used(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for tag in tags(text) {
        let bytes = tag.as_bytes();
        let mut quote: Option<u8> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(_) if b == b'\\' => i += 1,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'|'
                    && bytes.get(i + 1) != Some(&b'|')
                    && (i == 0 || bytes[i - 1] != b'|') =>
                {
                    let rest = tag[i + 1..].trim_start();
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        names.push(name);
                    }
                }
                None => {}
            }
            i += 1;
        }
    }
    names
}

/// The insides of the expression and statement tags of `text`.
fn tags(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((at, open, close)) = [("${{", "}}"), ("{%", "%}")]
        .into_iter()
        .filter_map(|(o, c)| rest.find(o).map(|at| (at, o, c)))
        .min_by_key(|(at, _, _)| *at)
    {
        let inner = &rest[at + open.len()..];
        let end = inner.find(close).unwrap_or(inner.len());
        out.push(&inner[..end]);
        rest = &inner[end..];
    }
    out
}
