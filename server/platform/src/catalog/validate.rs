//! Validation of an entity as Backstage's catalog does it: the envelope, the field formats of
//! `metadata` (names, namespaces, labels, annotations, tags, links), and each kind's `spec`. Every
//! violation names the field path and the rule, and all violations are reported, not just the
//! first.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};

use super::kinds::{self, Kind, Shape};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Dotted path of the field, e.g. `metadata.name` or `spec.owner`.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

static OBJECT_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("static regex")
});
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").expect("static regex"));
static KIND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-z0-9A-Z]*$").expect("static regex"));
static API_VERSION_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9]+$").expect("static regex"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$").expect("static regex"));

const NAME_RULE: &str = "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total";
const NAMESPACE_RULE: &str =
    "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total";
const TAG_RULE: &str =
    "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total";
const KEY_RULE: &str = "a valid prefix and/or suffix: an optional DNS subdomain prefix (at most 253 characters) and a slash, then sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters";

/// Whether `value` is a valid entity name (`metadata.name`, label values, link icons).
pub fn is_valid_name(value: &str) -> bool {
    (1..=63).contains(&value.len()) && OBJECT_NAME.is_match(value)
}

/// Whether `value` is a valid namespace (a DNS label).
pub fn is_valid_namespace(value: &str) -> bool {
    (1..=63).contains(&value.len()) && DNS_LABEL.is_match(value)
}

fn is_valid_dns_subdomain(value: &str) -> bool {
    (1..=253).contains(&value.len()) && value.split('.').all(is_valid_namespace)
}

fn is_valid_prefix_and_or_suffix(
    value: &str,
    prefix: fn(&str) -> bool,
    suffix: fn(&str) -> bool,
) -> bool {
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [only] => suffix(only),
        [p, s] => prefix(p) && suffix(s),
        _ => false,
    }
}

/// Whether `value` is a valid label or annotation key.
pub fn is_valid_key(value: &str) -> bool {
    is_valid_prefix_and_or_suffix(value, is_valid_dns_subdomain, is_valid_name)
}

fn is_valid_api_version(value: &str) -> bool {
    is_valid_prefix_and_or_suffix(value, is_valid_dns_subdomain, |s| {
        (1..=63).contains(&s.len()) && API_VERSION_SUFFIX.is_match(s)
    })
}

fn is_valid_kind(value: &str) -> bool {
    (1..=63).contains(&value.len()) && KIND.is_match(value)
}

/// Whether `value` is a valid tag.
pub fn is_valid_tag(value: &str) -> bool {
    (1..=63).contains(&value.len()) && TAG.is_match(value)
}

struct Report {
    violations: Vec<Violation>,
}

impl Report {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            field: field.into(),
            message: message.into(),
        });
    }

    fn invalid(&mut self, field: impl Into<String>, value: &Value, rule: &str) {
        self.add(
            field,
            format!("{} is not valid; expected {rule}", show(value)),
        );
    }
}

/// A value as it appears in messages: strings quoted, long values shortened.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Checks `entity` and returns the kind it is, or every violation found.
pub fn validate(entity: &Value) -> Result<&'static Kind, Vec<Violation>> {
    let mut report = Report {
        violations: Vec::new(),
    };
    let Some(root) = entity.as_object() else {
        report.add(
            "(root)",
            format!("expected an object, found {}", type_name(entity)),
        );
        return Err(report.violations);
    };
    for key in root.keys() {
        if !matches!(
            key.as_str(),
            "apiVersion" | "kind" | "metadata" | "spec" | "relations" | "status"
        ) {
            report.add(key.clone(), "is not a known root field; expected only apiVersion, kind, metadata, spec (relations and status are output only)");
        }
    }
    let api_version = required_string(&mut report, root, "apiVersion", "");
    let kind_name = required_string(&mut report, root, "kind", "");
    if let Some(v) = api_version
        && !is_valid_api_version(v)
    {
        report.invalid(
            "apiVersion",
            &root["apiVersion"],
            "a valid apiVersion such as backstage.io/v1alpha1",
        );
    }
    let mut kind = None;
    if let Some(name) = kind_name {
        if !is_valid_kind(name) {
            report.invalid("kind", &root["kind"], "a string that starts with a letter followed by letters and digits, at most 63 characters");
        } else {
            match kinds::find(name) {
                None => report.add(
                    "kind",
                    format!(
                        "{:?} is not a supported kind; expected one of {}",
                        name,
                        kinds::names()
                    ),
                ),
                Some(k) => {
                    if let Some(v) = api_version.filter(|v| !k.api_versions.contains(v)) {
                        report.add(
                            "apiVersion",
                            format!(
                                "{v:?} is not supported for kind {}; expected {}",
                                k.name,
                                k.api_versions.join(" or ")
                            ),
                        );
                    }
                    kind = Some(k);
                }
            }
        }
    }
    match root.get("metadata") {
        None => report.add("metadata", "is required"),
        Some(Value::Object(metadata)) => validate_metadata(&mut report, metadata),
        Some(other) => report.add(
            "metadata",
            format!("expected an object, found {}", type_name(other)),
        ),
    }
    if let Some(kind) = kind {
        match root.get("spec") {
            None => report.add("spec", format!("is required for kind {}", kind.name)),
            Some(Value::Object(spec)) => validate_spec(&mut report, kind, spec),
            Some(other) => report.add(
                "spec",
                format!("expected an object, found {}", type_name(other)),
            ),
        }
    }
    match (kind, report.violations.is_empty()) {
        (Some(kind), true) => Ok(kind),
        _ => Err(report.violations),
    }
}

fn required_string<'a>(
    report: &mut Report,
    object: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
) -> Option<&'a str> {
    // The field's name is only written into a violation; most entities have none.
    let field = || format!("{prefix}{key}");
    match object.get(key) {
        None => {
            report.add(field(), "is required");
            None
        }
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            report.add(field(), "must not be empty");
            None
        }
        Some(other) => {
            report.add(
                field(),
                format!("expected a string, found {}", type_name(other)),
            );
            None
        }
    }
}

fn validate_metadata(report: &mut Report, metadata: &Map<String, Value>) {
    if let Some(name) = required_string(report, metadata, "name", "metadata.")
        && !is_valid_name(name)
    {
        report.invalid("metadata.name", &metadata["name"], NAME_RULE);
    }
    match metadata.get("namespace") {
        None => {}
        Some(Value::String(ns)) if is_valid_namespace(ns) => {}
        Some(other) => report.invalid("metadata.namespace", other, NAMESPACE_RULE),
    }
    for key in ["title", "description"] {
        match metadata.get(key) {
            None | Some(Value::String(_)) => {}
            Some(other) => report.add(
                format!("metadata.{key}"),
                format!("expected a string, found {}", type_name(other)),
            ),
        }
    }
    match metadata.get("labels") {
        None => {}
        Some(Value::Object(labels)) => {
            for (key, value) in labels {
                if !is_valid_key(key) {
                    report.invalid(
                        format!("metadata.labels.{key}"),
                        &Value::String(key.clone()),
                        &format!("a label key that is {KEY_RULE}"),
                    );
                }
                match value {
                    Value::String(v) if v.is_empty() || is_valid_name(v) => {}
                    other => report.invalid(
                        format!("metadata.labels.{key}"),
                        other,
                        &format!("an empty string or {NAME_RULE}"),
                    ),
                }
            }
        }
        Some(other) => report.add(
            "metadata.labels",
            format!("expected an object, found {}", type_name(other)),
        ),
    }
    match metadata.get("annotations") {
        None => {}
        Some(Value::Object(annotations)) => {
            for (key, value) in annotations {
                if !is_valid_key(key) {
                    report.invalid(
                        format!("metadata.annotations.{key}"),
                        &Value::String(key.clone()),
                        &format!("an annotation key that is {KEY_RULE}"),
                    );
                }
                if !value.is_string() {
                    report.add(
                        format!("metadata.annotations.{key}"),
                        format!(
                            "expected a string, found {} (quote numbers and booleans in YAML)",
                            type_name(value)
                        ),
                    );
                }
            }
        }
        Some(other) => report.add(
            "metadata.annotations",
            format!("expected an object, found {}", type_name(other)),
        ),
    }
    match metadata.get("tags") {
        None => {}
        Some(Value::Array(tags)) => {
            for (i, tag) in tags.iter().enumerate() {
                match tag {
                    Value::String(t) if is_valid_tag(t) => {}
                    other => report.invalid(format!("metadata.tags.{i}"), other, TAG_RULE),
                }
            }
        }
        Some(other) => report.add(
            "metadata.tags",
            format!("expected a list, found {}", type_name(other)),
        ),
    }
    match metadata.get("links") {
        None => {}
        Some(Value::Array(links)) => {
            for (i, link) in links.iter().enumerate() {
                validate_link(report, i, link);
            }
        }
        Some(other) => report.add(
            "metadata.links",
            format!("expected a list, found {}", type_name(other)),
        ),
    }
}

fn validate_link(report: &mut Report, index: usize, link: &Value) {
    let at = |f: &str| format!("metadata.links.{index}.{f}");
    let Some(link) = link.as_object() else {
        report.add(
            format!("metadata.links.{index}"),
            format!("expected an object, found {}", type_name(link)),
        );
        return;
    };
    match link.get("url") {
        None => report.add(at("url"), "is required"),
        Some(Value::String(u)) if url::Url::parse(u).is_ok() => {}
        Some(other) => report.invalid(at("url"), other, "an absolute URL"),
    }
    match link.get("title") {
        None => {}
        Some(Value::String(t)) if !t.trim().is_empty() => {}
        Some(other) => report.invalid(at("title"), other, "a non-empty string"),
    }
    match link.get("icon") {
        None => {}
        Some(Value::String(i)) if is_valid_name(i) => {}
        Some(other) => report.invalid(at("icon"), other, NAME_RULE),
    }
    match link.get("type") {
        None | Some(Value::String(_)) => {}
        Some(other) => report.add(
            at("type"),
            format!("expected a string, found {}", type_name(other)),
        ),
    }
}

fn validate_spec(report: &mut Report, kind: &Kind, spec: &Map<String, Value>) {
    for field in kind.fields {
        let path = format!("spec.{}", field.name);
        let Some(value) = spec.get(field.name) else {
            if field.required {
                report.add(path, format!("is required for kind {}", kind.name));
            }
            continue;
        };
        match (field.shape, value) {
            (Shape::Text, Value::String(s)) if !s.is_empty() => {}
            (Shape::Text, Value::String(_)) => report.add(path, "must not be empty"),
            (Shape::TextList, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => {}
                        other => report.add(
                            format!("{path}.{i}"),
                            format!("expected a non-empty string, found {}", show(other)),
                        ),
                    }
                }
            }
            (Shape::Object, Value::Object(_)) | (Shape::List, Value::Array(_)) => {}
            (Shape::ObjectOrList, Value::Object(_) | Value::Array(_)) => {}
            (Shape::OneOf(allowed), Value::String(s)) if allowed.contains(&s.as_str()) => {}
            (Shape::OneOf(allowed), other) => report.add(
                path,
                format!(
                    "{} is not valid; expected one of {}",
                    show(other),
                    allowed.join(", ")
                ),
            ),
            (shape, other) => {
                let expected = match shape {
                    Shape::Text => "a string",
                    Shape::TextList => "a list of strings",
                    Shape::Object => "an object",
                    Shape::List => "a list",
                    Shape::ObjectOrList => "an object or a list",
                    Shape::OneOf(_) => "a string",
                };
                report.add(
                    path,
                    format!("expected {expected}, found {}", type_name(other)),
                );
            }
        }
    }
    if let Some(Value::Object(profile)) = spec.get("profile") {
        for key in ["displayName", "email", "picture"] {
            if let Some(v) = profile.get(key).filter(|v| !v.is_string()) {
                report.add(
                    format!("spec.profile.{key}"),
                    format!("expected a string, found {}", type_name(v)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
