//! The wizard's steps. Its state is its address: the answers so far (`p.<name>`, and
//! RepoUrlPicker's parts `rp.host.<name>`, `rp.owner.<name>`, `rp.repo.<name>`), the page whose
//! form was sent (`from`, a page index or `review`) and the direction (`go=back`). Each page's
//! form is a GET to the wizard's own address that carries the other pages' answers in hidden
//! fields, so the wizard works without JavaScript, a reload shows the same page, and the server
//! validates every step. Masked answers (`ui:field: Secret`, `ui:widget: password`) never travel
//! this way: the review page asks for them, in the form that creates.

use std::collections::{BTreeMap, BTreeSet};

use causeway_platform::scaffolder::Template;
use causeway_platform::scaffolder::expr::Templater;
use causeway_platform::scaffolder::params::page_shown;
use serde_json::{Map, Value, json};

use super::fields::{self, Choices};
use super::form;
use crate::model::{Carried, StepLink, WizardHead, WizardPageView};

/// Where the form that was sent stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Page(usize),
    Review,
}

/// What the address carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submitted {
    /// Answers as the form wrote them, by property.
    pub raw: BTreeMap<String, String>,
    /// `None` when the wizard is opened afresh.
    pub from: Option<Position>,
    pub back: bool,
}

/// Reads the address's parameters (the last value of each).
pub fn read(params: &BTreeMap<String, String>) -> Submitted {
    let mut raw = BTreeMap::new();
    let mut repos: BTreeMap<String, [String; 3]> = BTreeMap::new();
    for (key, value) in params {
        if let Some(name) = key.strip_prefix("p.") {
            raw.insert(name.to_owned(), value.clone());
        }
        for (slot, prefix) in ["rp.host.", "rp.owner.", "rp.repo."].iter().enumerate() {
            if let Some(name) = key.strip_prefix(prefix) {
                repos.entry(name.to_owned()).or_default()[slot] = value.clone();
            }
        }
    }
    for (name, [host, owner, repo]) in repos {
        raw.insert(name, fields::repo_url(&host, &owner, &repo));
    }
    let from = match params.get("from").map(String::as_str) {
        Some("review") => Some(Position::Review),
        Some(index) => index.parse().ok().map(Position::Page),
        None => None,
    };
    Submitted {
        raw,
        from,
        back: params.get("go").map(String::as_str) == Some("back"),
    }
}

/// What masked answers stand as in the preview, which runs before they are asked for.
pub const PLACEHOLDER: &str = "********";

/// The template the wizard validates and dry-runs before the masked answers are known: those
/// properties lose their rules (they are checked when Create sends them).
pub fn preview(template: &Template, masked: &BTreeSet<String>) -> Template {
    let mut copy = template.clone();
    for page in &mut copy.pages {
        relax(&mut page.schema, masked);
    }
    copy
}

fn relax(schema: &mut Value, masked: &BTreeSet<String>) {
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|n| !n.as_str().is_some_and(|n| masked.contains(n)));
    }
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties.iter_mut() {
            if masked.contains(name) {
                let mut kept = Map::new();
                for key in ["ui:field", "ui:widget"] {
                    if let Some(value) = property.get(key) {
                        kept.insert(key.to_owned(), value.clone());
                    }
                }
                *property = Value::Object(kept);
            }
        }
    }
    for key in ["dependencies", "oneOf", "anyOf", "allOf", "then", "else"] {
        match schema.get_mut(key) {
            Some(Value::Array(items)) => items.iter_mut().for_each(|i| relax(i, masked)),
            Some(Value::Object(map)) if key == "dependencies" => {
                for dependency in map.values_mut() {
                    match dependency {
                        Value::Array(names) => {
                            names.retain(|n| !n.as_str().is_some_and(|n| masked.contains(n)))
                        }
                        other => relax(other, masked),
                    }
                }
            }
            Some(other @ Value::Object(_)) => relax(other, masked),
            _ => {}
        }
    }
}

/// The answers and secrets the preview runs with: masked answers replaced by [`PLACEHOLDER`].
pub fn preview_request(
    template: &Template,
    values: &Map<String, Value>,
    masked: &BTreeSet<String>,
) -> causeway_platform::scaffolder::Request {
    let secret_fields = template.secret_fields();
    let mut values = values.clone();
    let mut secrets = Map::new();
    for name in masked {
        if secret_fields.contains(name) {
            secrets.insert(name.clone(), json!(PLACEHOLDER));
        } else {
            values.insert(name.clone(), json!(PLACEHOLDER));
        }
    }
    causeway_platform::scaffolder::Request {
        values: Value::Object(values),
        secrets,
    }
}

/// The pages shown for these answers, by index.
pub fn shown(template: &Template, values: &Value, templater: &Templater) -> Vec<usize> {
    (0..template.pages.len())
        .filter(|&i| page_shown(template, i, values, templater))
        .collect()
}

/// The pages among `shown` that ask for something: a page of masked answers only is asked for
/// on the review page, so the wizard does not stop at it.
pub fn navigable(template: &Template, shown: &[usize], values: &Value) -> Vec<usize> {
    shown
        .iter()
        .copied()
        .filter(|&i| {
            form::page_properties(&template.pages[i].schema, values)
                .iter()
                .any(|p| !form::is_masked(&p.schema))
        })
        .collect()
}

/// The page a property is asked on, among `pages`.
fn page_of(template: &Template, pages: &[usize], values: &Value, name: &str) -> Option<usize> {
    pages.iter().copied().find(|&i| {
        form::page_properties(&template.pages[i].schema, values)
            .iter()
            .any(|p| p.name == name)
    })
}

/// What to show next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A page, with the problems of its fields and those that belong to no field.
    Page {
        index: usize,
        errors: BTreeMap<String, String>,
        general: Vec<String>,
    },
    Review,
}

/// Decides what follows the form that was sent. `validate(upto)` checks the answers against the
/// pages up to `upto` and lists the problems as (property path, message); `unread` holds the
/// answers that could not be read (by property). A step forward is taken only when the pages
/// up to the one sent have no problem; the first page with one is shown again.
pub fn next(
    template: &Template,
    submitted: &Submitted,
    values: &Value,
    unread: &BTreeMap<String, String>,
    shown: &[usize],
    validate: impl FnOnce(usize) -> Vec<(String, String)>,
) -> Next {
    let page = |index: usize| Next::Page {
        index,
        errors: BTreeMap::new(),
        general: Vec::new(),
    };
    let Some(&first) = shown.first() else {
        return Next::Review;
    };
    let last = *shown.last().unwrap_or(&first);
    let upto = match (submitted.from, submitted.back) {
        (None, _) => return page(first),
        (Some(Position::Page(i)), true) => {
            return page(
                shown
                    .iter()
                    .rev()
                    .copied()
                    .find(|&p| p < i)
                    .unwrap_or(first),
            );
        }
        (Some(Position::Review), true) => return page(last),
        (Some(Position::Page(i)), false) => i.min(template.pages.len().saturating_sub(1)),
        (Some(Position::Review), false) => template.pages.len().saturating_sub(1),
    };
    let checked: Vec<usize> = shown.iter().copied().filter(|&p| p <= upto).collect();
    let mut problems: Vec<(String, String)> = unread
        .iter()
        .filter(|(name, _)| page_of(template, &checked, values, name).is_some())
        .map(|(n, m)| (n.clone(), m.clone()))
        .collect();
    problems.extend(validate(upto));
    if problems.is_empty() {
        return match shown.iter().copied().find(|&p| p > upto) {
            Some(next) => page(next),
            None => Next::Review,
        };
    }
    let mut by_page: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    let mut general = Vec::new();
    for (field, message) in problems {
        let name = field.split(['.', '[']).next().unwrap_or(&field).to_owned();
        match page_of(template, &checked, values, &name) {
            Some(p) => {
                by_page.entry(p).or_default().entry(name).or_insert(message);
            }
            None => general.push(format!("{field}: {message}")),
        }
    }
    match by_page.into_iter().next() {
        Some((index, errors)) => Next::Page {
            index,
            errors,
            general,
        },
        None => Next::Page {
            index: checked.last().copied().unwrap_or(first),
            errors: BTreeMap::new(),
            general,
        },
    }
}

/// The stepper: the shown pages and the review, with the current one marked.
pub fn steps(template: &Template, shown: &[usize], current: Option<usize>) -> Vec<StepLink> {
    shown
        .iter()
        .map(|&i| StepLink {
            title: page_title(template, i),
            current: current == Some(i),
        })
        .chain(std::iter::once(StepLink {
            title: "Review".to_owned(),
            current: current.is_none(),
        }))
        .collect()
}

fn page_title(template: &Template, index: usize) -> String {
    let title = &template.pages[index].title;
    if title.is_empty() {
        format!("Page {}", index + 1)
    } else {
        title.clone()
    }
}

/// The answers to carry in hidden fields: every answer given except those `skip` names and the
/// masked ones, as the form wrote them.
pub fn carried(
    raw: &BTreeMap<String, String>,
    known: &BTreeMap<String, Value>,
    skip: &BTreeSet<String>,
) -> Vec<Carried> {
    raw.iter()
        .filter(|(name, _)| !skip.contains(*name))
        .filter(|(name, _)| known.get(*name).is_some_and(|s| !form::is_masked(s)))
        .map(|(name, value)| (format!("p.{name}"), value.clone()))
        .collect()
}

/// Page `index` of the wizard, filled with the answers and the problems found.
#[allow(clippy::too_many_arguments)] // One page gathers every part of the wizard's state.
pub fn page_view(
    template: &Template,
    head: WizardHead,
    index: usize,
    submitted: &Submitted,
    values: &Value,
    errors: &BTreeMap<String, String>,
    general: Vec<String>,
    choices: &dyn Choices,
    shown: &[usize],
) -> WizardPageView {
    let page = &template.pages[index];
    let properties: Vec<form::Property> = form::page_properties(&page.schema, values)
        .into_iter()
        .filter(|p| !form::is_masked(&p.schema))
        .collect();
    let here: BTreeSet<String> = properties.iter().map(|p| p.name.clone()).collect();
    let fields = properties
        .iter()
        .map(|p| {
            let mut field = fields::field(p, submitted.raw.get(&p.name), choices);
            field.error = errors.get(&p.name).cloned();
            field
        })
        .collect();
    WizardPageView {
        head: WizardHead {
            steps: steps(template, shown, Some(index)),
            ..head
        },
        index,
        title: page_title(template, index),
        description: page.description.clone(),
        fields,
        carried: carried(&submitted.raw, &form::all_properties(template), &here),
        errors: general,
        has_previous: shown.first().is_some_and(|&f| f < index),
        is_last: shown.last().is_none_or(|&l| l <= index),
    }
}

#[cfg(test)]
#[path = "wizard_tests.rs"]
mod tests;
