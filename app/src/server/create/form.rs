//! The wizard's form model: which properties a parameter page asks for and in what order, and
//! how the answers travel as text — form fields and the address — and become the JSON the
//! template expects (how each is asked for is `fields.rs`). The server is the authority on
//! whether the answers are valid (`prepare_answers`); this only shapes them.

use std::collections::{BTreeMap, BTreeSet};

use causeway_platform::scaffolder::Template;
use serde_json::{Map, Value};

/// How an answer's text becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    Integer,
    Number,
    Boolean,
    /// An array of strings, one per line.
    Lines,
    /// An array of strings separated by commas (EntityTagsPicker).
    Commas,
    /// Anything else (arrays of objects, objects), written as JSON.
    Json,
    /// RepoUrlPicker's `host?owner=o&repo=r`.
    RepoUrl,
}

/// One property a page asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub schema: Value,
    pub required: bool,
}

pub(super) fn text<'a>(schema: &'a Value, key: &str) -> Option<&'a str> {
    schema.get(key).and_then(Value::as_str)
}

pub(super) fn names(schema: &Value, key: &str) -> Vec<String> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the answer is asked for only on the review page, in a password input, and never
/// carried in an address or a hidden field.
pub fn is_masked(schema: &Value) -> bool {
    text(schema, "ui:field") == Some("Secret") || text(schema, "ui:widget") == Some("password")
}

/// The type a schema declares (the first that is not `null` when it lists several).
fn declared_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// How a property's answer is written.
pub fn shape(schema: &Value) -> Shape {
    match text(schema, "ui:field") {
        Some("RepoUrlPicker") => return Shape::RepoUrl,
        Some("EntityTagsPicker") => return Shape::Commas,
        Some("MultiEntityPicker") => return Shape::Lines,
        _ => {}
    }
    match declared_type(schema) {
        Some("boolean") => Shape::Boolean,
        Some("integer") => Shape::Integer,
        Some("number") => Shape::Number,
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            if declared_type(items) == Some("string") {
                Shape::Lines
            } else {
                Shape::Json
            }
        }
        Some("object") => Shape::Json,
        Some(_) => Shape::Text,
        // Untyped: text when it can only be text, JSON otherwise.
        None => match schema.get("enum").and_then(Value::as_array) {
            Some(values) if !values.iter().all(Value::is_string) => Shape::Json,
            _ => Shape::Text,
        },
    }
}

/// A value as the form shows it.
pub fn to_text(shape: Shape, value: &Value) -> String {
    let joined = |separator: &str| {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(separator)
            })
            .unwrap_or_default()
    };
    match (shape, value) {
        (_, Value::Null) => String::new(),
        (Shape::Lines, _) => joined("\n"),
        (Shape::Commas, _) => joined(", "),
        (Shape::Json, _) => serde_json::to_string_pretty(value).unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The answer written in the form, as JSON: `None` when there is none (an empty field), which
/// leaves `required` to the server's validation.
pub fn from_text(shape: Shape, text: &str) -> Result<Option<Value>, String> {
    // Browsers send a textarea's line breaks as CRLF.
    let text = text.replace("\r\n", "\n");
    let trimmed = text.trim();
    let list = |items: Vec<&str>| {
        let items: Vec<Value> = items
            .into_iter()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(|i| Value::String(i.to_owned()))
            .collect();
        Ok((!items.is_empty()).then_some(Value::Array(items)))
    };
    match shape {
        Shape::Boolean => Ok(Some(Value::Bool(matches!(trimmed, "true" | "on")))),
        _ if trimmed.is_empty() => Ok(None),
        Shape::Text | Shape::RepoUrl => Ok(Some(Value::String(text))),
        Shape::Integer => trimmed
            .parse::<i64>()
            .map(|n| Some(Value::from(n)))
            .map_err(|_| format!("{trimmed:?} is not a whole number")),
        Shape::Number => trimmed
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| {
                trimmed
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or(())
            })
            .map(Some)
            .map_err(|_| format!("{trimmed:?} is not a number")),
        Shape::Lines => list(trimmed.lines().collect()),
        Shape::Commas => list(trimmed.split(',').collect()),
        Shape::Json => serde_json::from_str(trimmed)
            .map(Some)
            .map_err(|e| format!("is not valid JSON: {e}")),
    }
}

/// Whether `schema`'s condition on one property (`const` or `enum`) holds for `value`.
fn condition_holds(schema: &Value, value: Option<&Value>) -> bool {
    let Some(value) = value else {
        return false;
    };
    if let Some(constant) = schema.get("const") {
        return constant == value;
    }
    match schema.get("enum").and_then(Value::as_array) {
        Some(allowed) => allowed.contains(value),
        None => true,
    }
}

/// Adds `branch`'s properties (except `skip`) and required names.
fn add_branch(
    branch: &Value,
    skip: Option<&str>,
    out: &mut Vec<(String, Value)>,
    required: &mut Vec<String>,
) {
    if let Some(properties) = branch.get("properties").and_then(Value::as_object) {
        for (name, schema) in properties {
            if Some(name.as_str()) != skip && !out.iter().any(|(n, _)| n == name) {
                out.push((name.clone(), schema.clone()));
            }
        }
    }
    required.extend(names(branch, "required"));
}

/// The properties `dependencies` and `if`/`then`/`else` add to a page for these answers. A form
/// without JavaScript cannot change as one types, so a page shows the properties its answers so
/// far call for, and asks again when an answer brings new ones.
fn conditional(schema: &Value, values: &Value) -> (Vec<(String, Value)>, Vec<String>) {
    let mut out = Vec::new();
    let mut required = Vec::new();
    if let Some(dependencies) = schema.get("dependencies").and_then(Value::as_object) {
        for (name, dependency) in dependencies {
            let answer = values.get(name);
            match dependency {
                Value::Array(items) if answer.is_some() => {
                    required.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                Value::Object(map) => {
                    if let Some(branches) = map.get("oneOf").and_then(Value::as_array) {
                        for branch in branches {
                            let own = branch.pointer(&format!("/properties/{name}"));
                            if own.is_some_and(|s| condition_holds(s, answer)) {
                                add_branch(branch, Some(name), &mut out, &mut required);
                            }
                        }
                    } else if answer.is_some() {
                        add_branch(dependency, None, &mut out, &mut required);
                    }
                }
                _ => {}
            }
        }
    }
    let mut conditions: Vec<&Value> = vec![schema];
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        conditions.extend(all);
    }
    for condition in conditions {
        let Some(test) = condition.get("if") else {
            continue;
        };
        let holds = test
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.iter().all(|(n, s)| condition_holds(s, values.get(n))));
        if let Some(branch) = condition.get(if holds { "then" } else { "else" }) {
            add_branch(branch, None, &mut out, &mut required);
        }
    }
    (out, required)
}

/// The properties a page asks for with these answers, in order. The catalog keeps no key order,
/// so the order is `ui:order` when the page gives one (`*` standing for the rest), else the
/// `required` list's, then the others by name; properties that conditions add come last.
pub fn page_properties(schema: &Value, values: &Value) -> Vec<Property> {
    let own: Vec<(String, Value)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut required = names(schema, "required");
    let (added, more_required) = conditional(schema, values);
    required.extend(more_required);
    let order = names(schema, "ui:order");
    let rank = |name: &str| -> (usize, usize) {
        let star = order.iter().position(|n| n == "*");
        match order.iter().position(|n| n == name) {
            Some(i) => (i, 0),
            None if !order.is_empty() => (star.unwrap_or(order.len()), 0),
            None => (
                0,
                required
                    .iter()
                    .position(|n| n == name)
                    .unwrap_or(required.len()),
            ),
        }
    };
    let mut own = own;
    own.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<Property> = Vec::new();
    for (name, schema) in own.into_iter().chain(added) {
        if out.iter().any(|p| p.name == name) {
            continue;
        }
        out.push(Property {
            required: required.contains(&name),
            name,
            schema,
        });
    }
    out
}

/// Every property a page may ask for, whatever the answers (first declaration wins).
fn every_property(schema: &Value, out: &mut BTreeMap<String, Value>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            out.entry(name.clone()).or_insert_with(|| property.clone());
        }
    }
    for key in ["dependencies", "oneOf", "anyOf", "allOf", "then", "else"] {
        match schema.get(key) {
            Some(Value::Array(items)) => items.iter().for_each(|i| every_property(i, out)),
            Some(Value::Object(map)) if key == "dependencies" => {
                map.values().for_each(|d| every_property(d, out))
            }
            Some(other @ Value::Object(_)) => every_property(other, out),
            _ => {}
        }
    }
}

/// Every property of every page, by name.
pub fn all_properties(template: &Template) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for page in &template.pages {
        every_property(&page.schema, &mut out);
    }
    out
}

/// The names of the properties asked for only on the review page.
pub fn masked_names(template: &Template) -> BTreeSet<String> {
    let mut names = template.secret_fields();
    for (name, schema) in all_properties(template) {
        if is_masked(&schema) {
            names.insert(name);
        }
    }
    names
}

/// The answers as JSON, and what could not be read (by property). Unanswered properties that
/// the pages would show take their `default`, as the form prefills them.
pub fn answers(
    template: &Template,
    raw: &BTreeMap<String, String>,
) -> (Map<String, Value>, BTreeMap<String, String>) {
    let mut values = Map::new();
    let mut errors = BTreeMap::new();
    for (name, schema) in all_properties(template) {
        if is_masked(&schema) {
            continue;
        }
        if let Some(text) = raw.get(&name) {
            match from_text(shape(&schema), text) {
                Ok(Some(value)) => {
                    values.insert(name, value);
                }
                Ok(None) => {}
                Err(message) => {
                    errors.insert(name, message);
                }
            }
        }
    }
    for page in &template.pages {
        let so_far = Value::Object(values.clone());
        for property in page_properties(&page.schema, &so_far) {
            if let Some(default) = property.schema.get("default")
                && !raw.contains_key(&property.name)
                && !values.contains_key(&property.name)
                && !is_masked(&property.schema)
            {
                values.insert(property.name, default.clone());
            }
        }
    }
    (values, errors)
}

#[cfg(test)]
#[path = "form_tests.rs"]
pub(super) mod tests;
