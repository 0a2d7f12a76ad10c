//! How each property of a page is asked for: its control from the JSON Schema type, `enum`
//! (or `oneOf` constants), `format` and the `ui:*` keys, including the pickers backed by the
//! catalog, filled with its answer or its default.

use serde_json::Value;

use super::form::{Property, Shape, names, shape, text, to_text};
use crate::model::{Control, FieldView};

/// The catalog's answers to the pickers: (value, label) pairs.
pub trait Choices {
    /// Entities matching any of `filters` (every entity when there are none).
    fn entities(&self, filters: &[Value]) -> Vec<(String, String)>;
    /// The user's teams.
    fn my_groups(&self) -> Vec<(String, String)>;
    /// Entities the user or their teams own, matching any of `filters`.
    fn owned(&self, filters: &[Value]) -> Vec<(String, String)>;
}

/// The entity pickers' filters: `catalogFilter` (one or several) and `allowedKinds`, with
/// OwnerPicker's default of groups and users — the same rule the server checks answers with.
fn picker_filters(extension: &str, options: &Value) -> Vec<Value> {
    let mut filters: Vec<Value> = match options.get("catalogFilter") {
        Some(Value::Array(items)) => items.clone(),
        Some(filter @ Value::Object(_)) => vec![filter.clone()],
        _ => Vec::new(),
    };
    let kinds = names(options, "allowedKinds");
    if !kinds.is_empty() {
        filters.push(serde_json::json!({ "kind": kinds }));
    } else if extension == "OwnerPicker" && filters.is_empty() {
        filters.push(serde_json::json!({ "kind": ["Group", "User"] }));
    }
    filters
}

/// Options for a choice among values: `enum` (labelled by `enumNames`) or `oneOf` constants
/// (labelled by their titles).
fn enum_options(schema: &Value) -> Option<Vec<(String, String)>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let labels = names(schema, "enumNames");
        return Some(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let value = to_text(Shape::Text, v);
                    (value.clone(), labels.get(i).cloned().unwrap_or(value))
                })
                .collect(),
        );
    }
    let branches = schema.get("oneOf").and_then(Value::as_array)?;
    branches
        .iter()
        .map(|b| {
            let value = to_text(Shape::Text, b.get("const")?);
            let label = text(b, "title").map_or_else(|| value.clone(), str::to_owned);
            Some((value, label))
        })
        .collect()
}

/// Splits `host?owner=o&repo=r` into its parts.
pub fn repo_parts(text: &str) -> (String, String, String) {
    let (host, query) = text.split_once('?').unwrap_or((text, ""));
    let mut owner = String::new();
    let mut repo = String::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "owner" => owner = value.into_owned(),
            "repo" => repo = value.into_owned(),
            _ => {}
        }
    }
    (host.to_owned(), owner, repo)
}

/// `host?owner=o&repo=r`, or nothing when neither owner nor repository is given.
pub fn repo_url(host: &str, owner: &str, repo: &str) -> String {
    if owner.trim().is_empty() && repo.trim().is_empty() {
        return String::new();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("owner", owner.trim())
        .append_pair("repo", repo.trim())
        .finish();
    format!("{}?{query}", host.trim())
}

/// A select whose options include the current value, so that a value the catalog no longer
/// offers is shown (and refused by the server) rather than silently replaced.
fn select(mut options: Vec<(String, String)>, value: &str, empty: bool) -> Control {
    if !value.is_empty() && !options.iter().any(|(v, _)| v == value) {
        options.push((value.to_owned(), value.to_owned()));
    }
    Control::Select { options, empty }
}

/// How `property` is asked for, filled with its answer `raw` (or its default).
pub fn field(property: &Property, raw: Option<&String>, choices: &dyn Choices) -> FieldView {
    let schema = &property.schema;
    let shape = shape(schema);
    let value = raw.cloned().unwrap_or_else(|| {
        schema
            .get("default")
            .map(|d| to_text(shape, d))
            .unwrap_or_default()
    });
    let options = schema.get("ui:options").cloned().unwrap_or(Value::Null);
    let mut hints: Vec<String> = Vec::new();
    let extension = text(schema, "ui:field").unwrap_or("");
    let widget = text(schema, "ui:widget").unwrap_or("");
    let control = match (extension, shape) {
        _ if widget == "hidden" => Control::Hidden,
        ("RepoUrlPicker", _) => {
            let (host, owner, repo) = repo_parts(&value);
            let mut hosts = names(&options, "allowedHosts");
            if hosts.is_empty() {
                hosts.push("local".to_owned());
            }
            Control::RepoUrl {
                host: if host.is_empty() {
                    hosts[0].clone()
                } else {
                    host
                },
                hosts,
                owners: names(&options, "allowedOwners"),
                owner,
                repo,
            }
        }
        ("MyGroupsPicker", _) => select(choices.my_groups(), &value, true),
        ("OwnedEntityPicker", _) => select(
            choices.owned(&picker_filters(extension, &options)),
            &value,
            true,
        ),
        ("EntityPicker" | "OwnerPicker", _) => {
            let found = choices.entities(&picker_filters(extension, &options));
            if options.get("allowArbitraryValues").and_then(Value::as_bool) == Some(false) {
                select(found, &value, true)
            } else {
                hints.push("Choose a suggestion or type a reference.".to_owned());
                Control::Suggest { options: found }
            }
        }
        (_, Shape::Boolean) => Control::Checkbox,
        (_, Shape::Integer | Shape::Number) => Control::Number {
            integer: shape == Shape::Integer,
            min: schema.get("minimum").map(ToString::to_string),
            max: schema.get("maximum").map(ToString::to_string),
        },
        (_, Shape::Lines) => {
            hints.push("One per line.".to_owned());
            Control::TextArea {
                rows: 4,
                code: false,
            }
        }
        (_, Shape::Commas) => {
            hints.push("Separated by commas.".to_owned());
            Control::Text {
                input: "text".to_owned(),
            }
        }
        (_, Shape::Json) => {
            hints.push("Written as JSON.".to_owned());
            Control::TextArea {
                rows: 6,
                code: true,
            }
        }
        _ => match enum_options(schema) {
            Some(options) => select(options, &value, !property.required),
            None if widget == "textarea" => Control::TextArea {
                rows: options.get("rows").and_then(Value::as_u64).unwrap_or(4) as u32,
                code: false,
            },
            None => {
                let format = text(schema, "format").unwrap_or("");
                let input = match format {
                    "email" => "email",
                    "uri" | "url" => "url",
                    "date" => "date",
                    "" => "text",
                    other => {
                        hints.push(format!("Format: {other}."));
                        "text"
                    }
                };
                Control::Text {
                    input: input.to_owned(),
                }
            }
        },
    };
    let help = [text(schema, "description"), text(schema, "ui:help")]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .chain(hints)
        .collect::<Vec<_>>()
        .join(" ");
    FieldView {
        name: property.name.clone(),
        label: text(schema, "title").unwrap_or(&property.name).to_owned(),
        help: (!help.is_empty()).then_some(help),
        required: property.required,
        control,
        value,
        placeholder: text(schema, "ui:placeholder").map(str::to_owned),
        autofocus: schema.get("ui:autofocus").and_then(Value::as_bool) == Some(true),
        readonly: [schema.get("ui:readonly"), schema.get("readOnly")]
            .into_iter()
            .flatten()
            .any(|v| v.as_bool() == Some(true)),
        error: None,
    }
}
