//! The wizard's steps: reading the address, relaxing masked answers for the preview, and which
//! page follows which form.

use std::collections::{BTreeMap, BTreeSet};

use causeway_platform::scaffolder::expr::Templater;
use causeway_platform::scaffolder::{Source, Template};
use serde_json::{Value, json};

use super::super::form::{self, tests::FakeChoices};
use super::*;

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Three pages; the second only for Go, the third with a secret.
fn three_pages() -> Template {
    let entity = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "three", "title": "Three" },
        "spec": {
            "parameters": [
                { "title": "About", "required": ["name", "language"], "properties": {
                    "name": { "type": "string" },
                    "language": { "type": "string", "enum": ["go", "rust"] } } },
                { "title": "Go", "when": "${{ parameters.language === 'go' }}", "properties": {
                    "module": { "type": "string" } } },
                { "title": "Access", "required": ["token"], "properties": {
                    "public": { "type": "boolean" },
                    "replicas": { "type": "integer" },
                    "token": { "type": "string", "minLength": 12, "ui:field": "Secret" } } },
            ],
            "steps": [],
        },
    });
    Template::from_entity(&entity, Source::Unreadable("test".to_owned())).expect("a template")
}

struct Step {
    template: Template,
    submitted: Submitted,
    values: Value,
    unread: BTreeMap<String, String>,
    shown: Vec<usize>,
}

fn step(pairs: &[(&str, &str)]) -> Step {
    let template = three_pages();
    let submitted = read(&params(pairs));
    let (values, unread) = form::answers(&template, &submitted.raw);
    let values = Value::Object(values);
    let shown = shown(&template, &values, &Templater::new());
    Step {
        template,
        submitted,
        values,
        unread,
        shown,
    }
}

impl Step {
    fn next(&self, problems: Vec<(&str, &str)>) -> Next {
        let problems = problems
            .into_iter()
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
            .collect();
        next(
            &self.template,
            &self.submitted,
            &self.values,
            &self.unread,
            &self.shown,
            |_| problems,
        )
    }
}

fn page(index: usize) -> Next {
    Next::Page {
        index,
        errors: BTreeMap::new(),
        general: Vec::new(),
    }
}

#[test]
fn the_address_carries_answers_position_and_direction() {
    let submitted = read(&params(&[
        ("p.name", "payouts"),
        ("rp.host.repoUrl", "local"),
        ("rp.owner.repoUrl", "payments"),
        ("rp.repo.repoUrl", "payouts"),
        ("from", "2"),
        ("go", "back"),
        ("other", "ignored"),
    ]));
    assert_eq!(submitted.raw["name"], "payouts");
    assert_eq!(
        submitted.raw["repoUrl"],
        "local?owner=payments&repo=payouts"
    );
    assert_eq!(submitted.raw.len(), 2);
    assert_eq!(submitted.from, Some(Position::Page(2)));
    assert!(submitted.back);
    assert_eq!(
        read(&params(&[("from", "review")])).from,
        Some(Position::Review)
    );
    assert_eq!(read(&params(&[])), Submitted::default());
}

#[test]
fn pages_follow_each_other_skipping_hidden_ones_and_stopping_at_problems() {
    // Opened afresh: the first page, unchecked.
    assert_eq!(step(&[]).next(vec![("name", "is required")]), page(0));
    // Rust: the Go page is skipped.
    let rust = step(&[("from", "0"), ("p.name", "payouts"), ("p.language", "rust")]);
    assert_eq!(rust.shown, [0, 2]);
    assert_eq!(rust.next(vec![]), page(2));
    // Go: it is not.
    let go = step(&[("from", "0"), ("p.name", "payouts"), ("p.language", "go")]);
    assert_eq!(go.next(vec![]), page(1));
    // A problem keeps the page, next to its field; one of no field goes above the form.
    assert_eq!(
        go.next(vec![("name", "does not match"), ("values", "is not valid")]),
        Next::Page {
            index: 0,
            errors: BTreeMap::from([("name".to_owned(), "does not match".to_owned())]),
            general: vec!["values: is not valid".to_owned()],
        }
    );
    // The last page leads to the review; back goes to the previous shown page.
    assert_eq!(
        step(&[("from", "2"), ("p.language", "go")]).next(vec![]),
        Next::Review
    );
    assert_eq!(
        step(&[("from", "2"), ("go", "back"), ("p.language", "rust")]).next(vec![]),
        page(0)
    );
    assert_eq!(
        step(&[("from", "review"), ("go", "back"), ("p.language", "go")]).next(vec![]),
        page(2)
    );
    // An answer that cannot be read is a problem of its page.
    let unread = step(&[("from", "2"), ("p.language", "rust"), ("p.replicas", "x")]);
    assert_eq!(
        unread.next(vec![]),
        Next::Page {
            index: 2,
            errors: BTreeMap::from([(
                "replicas".to_owned(),
                "\"x\" is not a whole number".to_owned()
            )]),
            general: Vec::new(),
        }
    );
    // ...but not before the page is reached.
    let early = step(&[
        ("from", "0"),
        ("p.name", "a"),
        ("p.language", "rust"),
        ("p.replicas", "x"),
    ]);
    assert_eq!(early.next(vec![]), page(2));
}

#[test]
fn masked_answers_are_relaxed_for_the_preview_and_never_carried() {
    let template = three_pages();
    let masked = form::masked_names(&template);
    assert_eq!(masked, BTreeSet::from(["token".to_owned()]));
    let relaxed = preview(&template, &masked);
    assert_eq!(relaxed.pages[2].schema["required"], json!([]));
    assert_eq!(
        relaxed.pages[2].schema["properties"]["token"],
        json!({ "ui:field": "Secret" })
    );
    assert!(relaxed.secret_fields().contains("token"), "still a secret");
    let request = preview_request(&template, &serde_json::Map::new(), &masked);
    assert_eq!(request.secrets["token"], PLACEHOLDER);

    let submitted = read(&params(&[
        ("p.name", "payouts"),
        ("p.language", "rust"),
        ("p.token", "from a crafted address"),
        ("from", "0"),
    ]));
    let (values, _) = form::answers(&template, &submitted.raw);
    let values = Value::Object(values);
    let shown = shown(&template, &values, &Templater::new());
    let view = page_view(
        &template,
        WizardHead::default(),
        2,
        &submitted,
        &values,
        &BTreeMap::new(),
        Vec::new(),
        &FakeChoices::default(),
        &shown,
    );
    let names: Vec<&str> = view.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["public", "replicas"],
        "the secret is asked for on the review page"
    );
    assert_eq!(
        view.carried,
        [
            ("p.language".to_owned(), "rust".to_owned()),
            ("p.name".to_owned(), "payouts".to_owned()),
        ]
    );
    assert!(view.has_previous && view.is_last);
    let titles: Vec<(&str, bool)> = view
        .head
        .steps
        .iter()
        .map(|s| (s.title.as_str(), s.current))
        .collect();
    assert_eq!(
        titles,
        [("About", false), ("Access", true), ("Review", false)]
    );
}

#[test]
fn a_page_of_masked_answers_only_is_left_to_the_review() {
    let template = form::tests::one_page(json!({
        "properties": { "token": { "type": "string", "ui:field": "Secret" } },
    }));
    assert_eq!(navigable(&template, &[0], &json!({})), Vec::<usize>::new());
    assert_eq!(navigable(&three_pages(), &[0, 2], &json!({})), [0, 2]);
}
