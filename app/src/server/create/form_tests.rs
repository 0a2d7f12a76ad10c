//! The form model built from parameter schemas: the demo `service` template's pages, and one
//! page with every kind of answer the wizard handles.

use std::cell::RefCell;
use std::collections::BTreeMap;

use causeway_platform::scaffolder::{Source, Template};
use serde_json::{Value, json};

use super::*;
use crate::model::{Control, FieldView};
use crate::server::create::fields::{Choices, field, repo_parts, repo_url};

/// Choices that answer from fixed lists and remember the filters they were asked with.
#[derive(Default)]
pub struct FakeChoices {
    pub filters: RefCell<Vec<Vec<Value>>>,
}

impl Choices for FakeChoices {
    fn entities(&self, filters: &[Value]) -> Vec<(String, String)> {
        self.filters.borrow_mut().push(filters.to_vec());
        vec![(
            "system:default/payments".to_owned(),
            "Payments (system:default/payments)".to_owned(),
        )]
    }
    fn my_groups(&self) -> Vec<(String, String)> {
        vec![(
            "group:default/payments".to_owned(),
            "Payments (group:default/payments)".to_owned(),
        )]
    }
    fn owned(&self, filters: &[Value]) -> Vec<(String, String)> {
        self.filters.borrow_mut().push(filters.to_vec());
        vec![("component:default/ledger".to_owned(), "Ledger".to_owned())]
    }
}

pub fn demo(name: &str) -> Template {
    let path = format!(
        "{}/../server/causeway/demo/templates/{name}/template.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("the demo template");
    let entity = causeway_platform::catalog::yaml::parse(&path, &text).expect("YAML")[0].clone();
    Template::from_entity(&entity, Source::Unreadable("test".to_owned())).expect("a template")
}

/// A template with one page holding `schema`.
pub fn one_page(schema: Value) -> Template {
    let entity = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "kitchen" },
        "spec": { "type": "service", "parameters": [schema], "steps": [] },
    });
    Template::from_entity(&entity, Source::Unreadable("test".to_owned())).expect("a template")
}

fn fields(template: &Template, page: usize, raw: &BTreeMap<String, String>) -> Vec<FieldView> {
    let (values, _) = answers(template, raw);
    let choices = FakeChoices::default();
    page_properties(&template.pages[page].schema, &Value::Object(values))
        .iter()
        .map(|p| field(p, raw.get(&p.name), &choices))
        .collect()
}

#[test]
fn the_service_pages_ask_in_the_authors_order_with_the_catalogs_choices() {
    let service = demo("service");
    let first = fields(&service, 0, &BTreeMap::new());
    let names: Vec<&str> = first.iter().map(|f| f.name.as_str()).collect();
    // The catalog keeps no key order: required ones first, in the `required` list's order.
    assert_eq!(names, ["name", "description", "owner", "system"]);
    assert!(first[..3].iter().all(|f| f.required) && !first[3].required);
    assert_eq!(first[0].label, "Name");
    assert!(first[0].autofocus);
    assert_eq!(
        first[0].help.as_deref(),
        Some("Lowercase letters, digits and dashes; also the repository's name.")
    );
    assert_eq!(
        first[2].control,
        Control::Select {
            options: vec![(
                "group:default/payments".to_owned(),
                "Payments (group:default/payments)".to_owned()
            )],
            empty: true,
        }
    );
    // `allowArbitraryValues: false`: a choice among the catalog's systems only.
    assert!(
        matches!(&first[3].control, Control::Select { options, .. } if options[0].0 == "system:default/payments")
    );

    let second = fields(&service, 1, &BTreeMap::new());
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].value, "rust", "the default is prefilled");
    assert_eq!(
        second[0].control,
        Control::Select {
            options: vec![
                ("rust".to_owned(), "Rust".to_owned()),
                ("go".to_owned(), "Go".to_owned()),
                ("python".to_owned(), "Python".to_owned()),
            ],
            empty: false,
        }
    );
}

fn kitchen() -> Template {
    one_page(json!({
        "title": "Everything",
        "required": ["name", "token"],
        "ui:order": ["name", "*", "notes"],
        "properties": {
            "name": { "type": "string", "title": "Name", "ui:placeholder": "payouts" },
            "notes": { "type": "string", "ui:widget": "textarea", "ui:options": { "rows": 7 }, "ui:help": "Free text." },
            "password": { "type": "string", "ui:widget": "password" },
            "token": { "type": "string", "ui:field": "Secret" },
            "marker": { "type": "string", "ui:widget": "hidden", "default": "x" },
            "replicas": { "type": "integer", "minimum": 1, "maximum": 10, "default": 2 },
            "ratio": { "type": "number" },
            "public": { "type": "boolean", "default": true },
            "email": { "type": "string", "format": "email" },
            "since": { "type": "string", "format": "date-time" },
            "aliases": { "type": "array", "items": { "type": "string" } },
            "ports": { "type": "array", "items": { "type": "object", "properties": { "port": { "type": "integer" } } } },
            "tags": { "type": "array", "items": { "type": "string" }, "ui:field": "EntityTagsPicker" },
            "repoUrl": { "type": "string", "ui:field": "RepoUrlPicker", "ui:options": { "allowedHosts": ["local", "github.com"] } },
            "owner": { "type": "string", "ui:field": "OwnerPicker" },
            "component": { "type": "string", "ui:field": "OwnedEntityPicker", "ui:options": { "allowedKinds": ["Component"] } },
            "flavour": { "type": "string", "oneOf": [{ "const": "a", "title": "Apple" }, { "const": "b", "title": "Banana" }] },
            "database": { "type": "string", "enum": ["none", "postgres"] },
        },
        "dependencies": {
            "database": {
                "oneOf": [
                    { "properties": { "database": { "enum": ["none"] } } },
                    { "properties": { "database": { "enum": ["postgres"] }, "dbSize": { "type": "integer" } }, "required": ["dbSize"] },
                ],
            },
        },
    }))
}

#[test]
fn every_kind_of_answer_gets_its_control() {
    let template = kitchen();
    let choices = FakeChoices::default();
    let properties = page_properties(&template.pages[0].schema, &json!({}));
    let names: Vec<&str> = properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"name"), "ui:order first");
    assert_eq!(
        names.last(),
        Some(&"notes"),
        "after the others, which `*` stands for"
    );
    assert!(!names.contains(&"dbSize"), "no database chosen yet");
    let by_name: BTreeMap<&str, FieldView> = properties
        .iter()
        .map(|p| (p.name.as_str(), field(p, None, &choices)))
        .collect();
    let control = |name: &str| by_name[name].control.clone();
    assert_eq!(
        control("notes"),
        Control::TextArea {
            rows: 7,
            code: false
        }
    );
    assert_eq!(by_name["notes"].help.as_deref(), Some("Free text."));
    assert_eq!(control("marker"), Control::Hidden);
    assert_eq!(by_name["marker"].value, "x");
    assert_eq!(
        control("replicas"),
        Control::Number {
            integer: true,
            min: Some("1".to_owned()),
            max: Some("10".to_owned())
        }
    );
    assert_eq!(by_name["replicas"].value, "2");
    assert!(matches!(
        control("ratio"),
        Control::Number { integer: false, .. }
    ));
    assert_eq!(control("public"), Control::Checkbox);
    assert_eq!(by_name["public"].value, "true");
    assert_eq!(
        control("email"),
        Control::Text {
            input: "email".to_owned()
        }
    );
    assert_eq!(by_name["since"].help.as_deref(), Some("Format: date-time."));
    assert_eq!(
        control("aliases"),
        Control::TextArea {
            rows: 4,
            code: false
        }
    );
    assert_eq!(
        control("ports"),
        Control::TextArea {
            rows: 6,
            code: true
        }
    );
    assert_eq!(
        by_name["tags"].help.as_deref(),
        Some("Separated by commas.")
    );
    assert_eq!(
        control("repoUrl"),
        Control::RepoUrl {
            hosts: vec!["local".to_owned(), "github.com".to_owned()],
            owners: Vec::new(),
            host: "local".to_owned(),
            owner: String::new(),
            repo: String::new(),
        }
    );
    assert!(
        matches!(control("owner"), Control::Suggest { .. }),
        "arbitrary values allowed"
    );
    assert!(matches!(control("component"), Control::Select { .. }));
    assert_eq!(
        control("flavour"),
        Control::Select {
            options: vec![
                ("a".to_owned(), "Apple".to_owned()),
                ("b".to_owned(), "Banana".to_owned())
            ],
            empty: true,
        }
    );
    assert_eq!(by_name["name"].placeholder.as_deref(), Some("payouts"));
    // The pickers ask the catalog with the server's own filters.
    let asked = choices.filters.borrow();
    assert!(asked.contains(&vec![json!({ "kind": ["Group", "User"] })]));
    assert!(asked.contains(&vec![json!({ "kind": ["Component"] })]));

    // Masked answers are never asked for on a page.
    assert_eq!(
        masked_names(&template).into_iter().collect::<Vec<_>>(),
        ["password", "token"]
    );

    // Choosing PostgreSQL brings its size, required.
    let with_db = page_properties(
        &template.pages[0].schema,
        &json!({ "database": "postgres" }),
    );
    let size = with_db.iter().find(|p| p.name == "dbSize").expect("dbSize");
    assert!(size.required);
}

#[test]
fn answers_are_read_by_their_shape_and_defaults_fill_the_rest() {
    let template = kitchen();
    let raw: BTreeMap<String, String> = [
        ("name", "payouts"),
        ("replicas", "three"),
        ("ratio", "0.5"),
        ("public", "false"),
        ("aliases", "pay\r\n\r\n payouts \r\n"),
        ("tags", "money, rust ,"),
        ("ports", "[{\"port\": 80}]"),
        ("email", ""),
        ("token", "typed into a crafted address"),
        ("repoUrl", "local?owner=payments&repo=payouts"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (values, unread) = answers(&template, &raw);
    assert_eq!(
        unread.get("replicas").map(String::as_str),
        Some("\"three\" is not a whole number")
    );
    let values = Value::Object(values);
    assert_eq!(values["name"], "payouts");
    assert_eq!(values["ratio"], 0.5);
    assert_eq!(values["public"], false, "an unchecked box is an answer");
    assert_eq!(values["aliases"], json!(["pay", "payouts"]));
    assert_eq!(values["tags"], json!(["money", "rust"]));
    assert_eq!(values["ports"], json!([{ "port": 80 }]));
    assert_eq!(values["marker"], "x", "defaults of unanswered properties");
    assert!(
        values.get("email").is_none(),
        "an emptied field is no answer"
    );
    assert!(
        values.get("replicas").is_none(),
        "unreadable, so left to its error"
    );
    assert!(
        values.get("token").is_none(),
        "masked answers never come from the address"
    );
    assert_eq!(values["repoUrl"], "local?owner=payments&repo=payouts");
    assert_eq!(
        repo_parts("local?owner=payments&repo=payouts"),
        (
            "local".to_owned(),
            "payments".to_owned(),
            "payouts".to_owned()
        )
    );
    assert_eq!(
        repo_url("local", " payments ", "pay outs"),
        "local?owner=payments&repo=pay+outs"
    );
    assert_eq!(repo_url("local", "", ""), "");
    assert_eq!(
        from_text(Shape::Json, "{nope")
            .unwrap_err()
            .split(':')
            .next(),
        Some("is not valid JSON")
    );
    for (shape, value) in [
        (Shape::Lines, json!(["a", "b"])),
        (Shape::Commas, json!(["a", "b"])),
        (Shape::Integer, json!(3)),
        (Shape::Boolean, json!(true)),
        (Shape::Json, json!([{ "a": 1 }])),
    ] {
        assert_eq!(from_text(shape, &to_text(shape, &value)), Ok(Some(value)));
    }
}
