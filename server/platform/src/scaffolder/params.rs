//! Answers to a template's parameter pages, validated on the server — the authority, whatever
//! the form did: each shown page's JSON Schema (draft-07, formats checked) and every `ui:options`
//! restriction of the field extensions (RepoUrlPicker's allowed hosts, owners and repositories;
//! the entity pickers' catalog filters and `allowArbitraryValues: false`; EntityNamePicker's and
//! EntityTagsPicker's rules; MyGroupsPicker's membership and OwnedEntityPicker's ownership), so
//! that a direct API call cannot get past what the portal would refuse. Every problem is listed.

use serde_json::{Map, Value};

use super::expr::{Templater, is_truthy};
use super::filters::RepoUrl;
use super::template::{Finding, Template};

/// What the pickers need from the catalog and the requester.
pub trait Lookup {
    /// The entity `entity_ref` names (lowercase `kind:namespace/name`), if the catalog has it.
    fn entity(&self, entity_ref: &str) -> Option<Value>;
    /// The requester's groups, as references.
    fn my_groups(&self) -> Vec<String>;
    /// The requester and their groups: whoever owns an entity "owned by me".
    fn my_identities(&self) -> Vec<String>;
}

/// Compiles a page's schema, or says why it does not compile.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| format!("the parameter schema is not valid JSON Schema: {e}"))
}

/// Whether page `index` is shown for these answers (its `when:` renders truthy, or it has none).
pub fn page_shown(
    template: &Template,
    index: usize,
    values: &Value,
    templater: &Templater,
) -> bool {
    let Some(when) = template.pages.get(index).and_then(|p| p.when.as_ref()) else {
        return true;
    };
    let context = serde_json::json!({ "parameters": values });
    // A condition that cannot be evaluated shows the page, as in Backstage: the answers are
    // then checked rather than silently skipped.
    templater
        .render_value(when, &context)
        .map(|v| is_truthy(v.as_ref()))
        .unwrap_or(true)
}

/// Checks `values` (with `secrets` standing in for `ui:field: Secret` properties) against every
/// shown page; all problems at once.
pub fn validate(
    template: &Template,
    values: &Value,
    secrets: &Map<String, Value>,
    lookup: &dyn Lookup,
    templater: &Templater,
) -> Result<(), Vec<Finding>> {
    let mut problems = Vec::new();
    let Some(answers) = values.as_object() else {
        return Err(vec![Finding {
            field: "values".to_owned(),
            message: "must be an object of answers".to_owned(),
        }]);
    };
    let mut merged = answers.clone();
    for name in template.secret_fields() {
        if let Some(secret) = secrets.get(&name) {
            merged.insert(name, secret.clone());
        }
    }
    let merged = Value::Object(merged);
    for (index, page) in template.pages.iter().enumerate() {
        if !page_shown(template, index, values, templater) {
            continue;
        }
        match compile(&page.schema) {
            Ok(validator) => {
                for error in validator.iter_errors(&merged) {
                    problems.push(schema_finding(&error));
                }
            }
            Err(message) => problems.push(Finding {
                field: format!("spec.parameters[{index}]"),
                message,
            }),
        }
        check_fields(&page.schema, &merged, "", lookup, &mut problems);
    }
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn schema_finding(error: &jsonschema::ValidationError<'_>) -> Finding {
    let path = error.instance_path().to_string();
    let mut field = path.trim_start_matches('/').replace('/', ".");
    if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
        let name = property.as_str().unwrap_or_default();
        field = if field.is_empty() {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        };
        return Finding {
            field,
            message: "is required".to_owned(),
        };
    }
    Finding {
        field: if field.is_empty() {
            "values".to_owned()
        } else {
            field
        },
        message: error.to_string(),
    }
}

/// Walks the page's properties (and those of nested objects) for field extensions.
fn check_fields(
    schema: &Value,
    values: &Value,
    prefix: &str,
    lookup: &dyn Lookup,
    problems: &mut Vec<Finding>,
) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let field = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(value) = values.get(name) else {
            continue;
        };
        if property.get("properties").is_some() {
            check_fields(property, value, &field, lookup, problems);
        }
        let Some(extension) = property.get("ui:field").and_then(Value::as_str) else {
            continue;
        };
        let options = property
            .get("ui:options")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let mut fail = |message: String| {
            problems.push(Finding {
                field: field.clone(),
                message,
            })
        };
        match extension {
            "RepoUrlPicker" => {
                if let Some(text) = value.as_str() {
                    repo_url(text, &options, &mut fail);
                }
            }
            "RepoOwnerPicker" => {
                if let (Some(owner), Some(allowed)) =
                    (value.as_str(), strings(&options, "allowedOwners"))
                    && !allowed.iter().any(|a| a == owner)
                {
                    fail(format!(
                        "{owner:?} is not allowed by ui:options.allowedOwners; allowed: {}",
                        allowed.join(", ")
                    ));
                }
            }
            "EntityNamePicker" => {
                if let Some(text) = value.as_str()
                    && let Err(message) = entity_name(text)
                {
                    fail(message);
                }
            }
            "EntityTagsPicker" => {
                for tag in value.as_array().into_iter().flatten() {
                    let tag = tag.as_str().unwrap_or_default();
                    if let Err(message) = entity_tag(tag) {
                        fail(message);
                    }
                }
            }
            "EntityPicker" | "OwnerPicker" | "OwnedEntityPicker" | "MyGroupsPicker" => {
                if let Some(text) = value.as_str() {
                    entity_choice(extension, text, &options, lookup, &mut fail);
                }
            }
            "MultiEntityPicker" => {
                for item in value.as_array().into_iter().flatten() {
                    if let Some(text) = item.as_str() {
                        entity_choice("EntityPicker", text, &options, lookup, &mut fail);
                    }
                }
            }
            _ => {}
        }
    }
}

fn strings(options: &Value, key: &str) -> Option<Vec<String>> {
    options.get(key).and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

fn repo_url(text: &str, options: &Value, fail: &mut dyn FnMut(String)) {
    let parsed = match RepoUrl::parse(text) {
        Ok(parsed) => parsed,
        Err(message) => return fail(message),
    };
    let checks = [
        ("allowedHosts", Some(parsed.host.clone())),
        ("allowedOwners", parsed.owner.clone()),
        ("allowedRepos", Some(parsed.repo.clone())),
        ("allowedOrganizations", parsed.organization.clone()),
        ("allowedProjects", parsed.project.clone()),
    ];
    for (key, actual) in checks {
        let Some(allowed) = strings(options, key) else {
            continue;
        };
        let actual = actual.unwrap_or_default();
        if !allowed.iter().any(|a| a == &actual) {
            fail(format!(
                "{actual:?} is not allowed by ui:options.{key}; allowed: {}",
                allowed.join(", ")
            ));
        }
    }
}

/// Backstage's entity name rule: 1 to 63 characters, `[a-zA-Z0-9]` separated by `-`, `_`, `.`.
pub fn entity_name(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a valid entity name: 1 to 63 characters of a-z, A-Z, 0-9, separated by -, _ or ."
        ))
    }
}

/// Backstage's tag rule: 1 to 63 characters of `[a-z0-9:+#]`, separated by single `-`.
pub fn entity_tag(text: &str) -> Result<(), String> {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '+' | '#')
            })
    };
    if !text.is_empty() && text.len() <= 63 && text.split('-').all(part) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a valid tag: 1 to 63 characters of a-z, 0-9, :, + or #, separated by single -"
        ))
    }
}

fn entity_choice(
    extension: &str,
    text: &str,
    options: &Value,
    lookup: &dyn Lookup,
    fail: &mut dyn FnMut(String),
) {
    let default_kind = options
        .get("defaultKind")
        .and_then(Value::as_str)
        .unwrap_or(match extension {
            "OwnerPicker" | "MyGroupsPicker" => "Group",
            _ => "Component",
        });
    let default_namespace = options
        .get("defaultNamespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let entity_ref = match crate::catalog::refs::parse(text, default_kind, default_namespace) {
        Ok(r) => r,
        Err(message) => return fail(message),
    };
    let entity = lookup.entity(&entity_ref);
    match extension {
        "MyGroupsPicker" => {
            if !lookup.my_groups().contains(&entity_ref) {
                fail(format!("{entity_ref} is not one of your groups"));
            }
            return;
        }
        "OwnedEntityPicker" => {
            let owned = entity.as_ref().is_some_and(|e| {
                let owner = e
                    .pointer("/spec/owner")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let namespace = e
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                crate::catalog::refs::parse(owner, "Group", namespace)
                    .is_ok_and(|o| lookup.my_identities().contains(&o))
            });
            if !owned {
                fail(format!("{entity_ref} is not owned by you or your groups"));
            }
            return;
        }
        _ => {}
    }
    let arbitrary = options
        .get("allowArbitraryValues")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut filters: Vec<Value> = match options.get("catalogFilter") {
        Some(Value::Array(items)) => items.clone(),
        Some(filter @ Value::Object(_)) => vec![filter.clone()],
        _ => Vec::new(),
    };
    if let Some(kinds) = strings(options, "allowedKinds") {
        filters.push(serde_json::json!({ "kind": kinds }));
    } else if extension == "OwnerPicker" && filters.is_empty() {
        filters.push(serde_json::json!({ "kind": ["Group", "User"] }));
    }
    match entity {
        None if !arbitrary => fail(format!(
            "{entity_ref} is not in the catalog, and ui:options.allowArbitraryValues is false"
        )),
        None => {}
        Some(entity)
            if !filters.is_empty() && !filters.iter().any(|f| matches_filter(&entity, f)) =>
        {
            fail(format!(
                "{entity_ref} does not match ui:options.catalogFilter"
            ));
        }
        Some(_) => {}
    }
}

/// Whether `entity` matches one filter object: every key (a dotted path; `kind` and
/// `metadata.name` included) equals one of the given values, case-insensitively; a value of
/// `{ exists: true }` only asks for presence.
pub fn matches_filter(entity: &Value, filter: &Value) -> bool {
    let Some(conditions) = filter.as_object() else {
        return false;
    };
    conditions.iter().all(|(path, wanted)| {
        let actual = lookup_path(entity, path);
        if let Some(exists) = wanted.get("exists").and_then(Value::as_bool) {
            return actual.is_some() == exists;
        }
        let wanted: Vec<&Value> = match wanted {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let actual: Vec<String> = match actual {
            Some(Value::Array(items)) => items.iter().map(text_of).collect(),
            Some(value) => vec![text_of(value)],
            None => return false,
        };
        wanted
            .iter()
            .any(|w| actual.iter().any(|a| a.eq_ignore_ascii_case(&text_of(w))))
    })
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A dotted path into an entity, where annotation keys may themselves contain dots
/// (`metadata.annotations.backstage.io/source-location`).
fn lookup_path<'a>(entity: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = entity;
    let mut rest = path;
    while !rest.is_empty() {
        let map = current.as_object()?;
        if let Some(found) = map.get(rest) {
            return Some(found);
        }
        let (head, tail) = rest.split_once('.')?;
        current = map.get(head)?;
        rest = tail;
    }
    Some(current)
}
