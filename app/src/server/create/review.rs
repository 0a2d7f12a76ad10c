//! The review page's view: the answers (masked ones only named), what the dry run rendered and
//! logged, and the fields Create asks for last.

use std::collections::{BTreeMap, BTreeSet};

use causeway_platform::scaffolder::{DryRun, Template};
use serde_json::{Map, Value};

use super::form;
use super::wizard;
use crate::model::{
    AnswerRow, Control, DryRunStep, DryRunView, FieldView, FileView, ReviewView, WizardHead,
};

/// Files larger than this are listed without their text.
const SHOWN_BYTES: usize = 64 * 1024;

/// The answers Create sends: those the shown pages ask for, masked ones excluded.
pub fn final_values(template: &Template, values: &Map<String, Value>, shown: &[usize]) -> Value {
    let current = Value::Object(values.clone());
    let mut out = Map::new();
    for &index in shown {
        for property in form::page_properties(&template.pages[index].schema, &current) {
            if form::is_masked(&property.schema) {
                continue;
            }
            if let Some(value) = values.get(&property.name) {
                out.insert(property.name, value.clone());
            }
        }
    }
    Value::Object(out)
}

/// The masked properties of the shown pages, as the password inputs of the Create form.
fn masked_fields(template: &Template, values: &Value, shown: &[usize]) -> Vec<FieldView> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for &index in shown {
        for property in form::page_properties(&template.pages[index].schema, values) {
            if !form::is_masked(&property.schema) || !seen.insert(property.name.clone()) {
                continue;
            }
            let schema = &property.schema;
            let text = |key: &str| schema.get(key).and_then(Value::as_str).map(str::to_owned);
            let help = [text("description"), text("ui:help")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(FieldView {
                label: text("title").unwrap_or_else(|| property.name.clone()),
                name: property.name,
                help: (!help.is_empty()).then_some(help),
                required: property.required,
                control: Control::Text {
                    input: "password".to_owned(),
                },
                value: String::new(),
                placeholder: None,
                autofocus: false,
                readonly: false,
                error: None,
            });
        }
    }
    out
}

/// The answers as the review lists them, page by page.
fn answer_rows(
    template: &Template,
    values: &Map<String, Value>,
    shown: &[usize],
) -> Vec<AnswerRow> {
    let current = Value::Object(values.clone());
    let mut rows = Vec::new();
    for &index in shown {
        for property in form::page_properties(&template.pages[index].schema, &current) {
            let label = property
                .schema
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(&property.name)
                .to_owned();
            if form::is_masked(&property.schema) {
                rows.push(AnswerRow { label, value: None });
            } else if let Some(value) = values.get(&property.name) {
                rows.push(AnswerRow {
                    label,
                    value: Some(form::to_text(form::shape(&property.schema), value)),
                });
            }
        }
    }
    rows
}

/// The review, from the dry run (or why it could not run) and the problems a failed Create sent
/// back (`posted`: one `field: message` per line), which go next to their masked field when
/// they concern one.
#[allow(clippy::too_many_arguments)] // The review gathers every part of the wizard's state.
pub fn review(
    template: &Template,
    head: WizardHead,
    shown: &[usize],
    navigable: &[usize],
    values: &Map<String, Value>,
    raw: &BTreeMap<String, String>,
    dry_run: Result<DryRun, String>,
    posted: Option<String>,
) -> ReviewView {
    let current = Value::Object(values.clone());
    let mut masked = masked_fields(template, &current, shown);
    let mut errors = Vec::new();
    for line in posted.iter().flat_map(|p| p.lines()) {
        let name = line
            .split_once(": ")
            .map(|(field, _)| field.split(['.', '[']).next().unwrap_or(field));
        match masked.iter_mut().find(|f| Some(f.name.as_str()) == name) {
            Some(field) => field.error = line.split_once(": ").map(|(_, m)| m.to_owned()),
            None => errors.push(line.to_owned()),
        }
    }
    let mut view = ReviewView {
        head: WizardHead {
            steps: wizard::steps(template, navigable, None),
            ..head
        },
        answers: answer_rows(template, values, shown),
        carried: wizard::carried(raw, &form::all_properties(template), &BTreeSet::new()),
        values_json: final_values(template, values, shown).to_string(),
        masked,
        errors,
        ..ReviewView::default()
    };
    match dry_run {
        Ok(run) => {
            let run = dry_run_view(run);
            view.steps = run.steps;
            view.files = run.files;
            view.log = run.log;
            view.dry_run_error = run.error;
        }
        Err(message) => view.dry_run_error = Some(message),
    }
    view
}

/// A dry run as the pages show it: its steps, files (text up to [`SHOWN_BYTES`]), log and output.
pub fn dry_run_view(run: DryRun) -> DryRunView {
    DryRunView {
        steps: run
            .steps
            .iter()
            .map(|s| DryRunStep {
                name: s.name.clone(),
                action: s.action.clone(),
                status: s.status.to_owned(),
            })
            .collect(),
        files: run
            .files
            .files()
            .map(|(path, entry)| FileView {
                path: path.clone(),
                text: (!entry.is_binary() && entry.content.len() <= SHOWN_BYTES)
                    .then(|| String::from_utf8_lossy(&entry.content).into_owned()),
                bytes: entry.content.len(),
                executable: entry.executable,
            })
            .collect(),
        log: run.log.into_iter().map(|l| (l.step, l.message)).collect(),
        output: serde_json::to_string_pretty(&run.output).unwrap_or_default(),
        error: run.error,
    }
}
