//! Template authoring (`/create/author`), for platform admins: a `template.yaml` and its
//! skeleton's files pasted into one GET form (`yaml`, and `fp.<n>`/`fc.<n>` for each file's path
//! and text), loaded with `Scaffolder::load` over `Source::Files`, its parameter pages shown as
//! the wizard would ask them (answers `p.<name>`, read as the wizard reads them) and, with
//! `go=dry-run`, dry-run with those answers. Nothing is registered in the catalog. Masked answers
//! (`ui:field: Secret`, `ui:widget: password`) are never asked for: the dry run fills them with
//! [`wizard::PLACEHOLDER`], so no secret is ever in the address or the page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use causeway_platform::Error;
use causeway_platform::identity::Principal;
use causeway_platform::scaffolder::workspace::normalise;
use causeway_platform::scaffolder::{FileEntry, Scaffolder, Source, Template};
use serde_json::Value;

use super::fields::{self, Choices};
use super::{form, list, review, wizard};
use crate::model::{AuthorPageView, AuthorView};

/// Empty file entries offered after the filled ones, to add files without JavaScript.
const SPARE_FILES: usize = 2;
/// The most file entries read from one form.
const MAX_FILES: usize = 500;

/// What the form sent: the template, its files (path, text) and whether to dry-run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub yaml: String,
    pub files: Vec<(String, String)>,
    pub dry_run: bool,
}

/// Reads the form's fields; file entries with neither a path nor text are dropped.
pub fn read(params: &BTreeMap<String, String>) -> Sent {
    let mut entries: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for (key, value) in params {
        let (slot, index) = match (key.strip_prefix("fp."), key.strip_prefix("fc.")) {
            (Some(n), _) => (0, n),
            (_, Some(n)) => (1, n),
            _ => continue,
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        if index >= MAX_FILES {
            continue;
        }
        let entry = entries.entry(index).or_default();
        if slot == 0 {
            entry.0 = value.trim().to_owned();
        } else {
            entry.1 = value.replace("\r\n", "\n");
        }
    }
    Sent {
        yaml: params
            .get("yaml")
            .map(|y| y.replace("\r\n", "\n"))
            .unwrap_or_default(),
        files: entries
            .into_values()
            .filter(|(path, text)| !path.is_empty() || !text.is_empty())
            .collect(),
        dry_run: params.get("go").map(String::as_str) == Some("dry-run"),
    }
}

/// The template the form describes, or its problems as `field: message` lines; loaded as a sent
/// template, so the domain checks that `principal` may author.
pub fn load(
    scaffolder: &Scaffolder,
    principal: &Principal,
    sent: &Sent,
) -> Result<Template, Vec<String>> {
    let mut problems = Vec::new();
    let entity = match causeway_platform::catalog::yaml::parse("template.yaml", &sent.yaml) {
        Ok(documents) if documents.len() == 1 => documents.into_iter().next(),
        Ok(documents) => {
            problems.push(format!(
                "template.yaml: holds {} documents; paste exactly one Template",
                documents.len()
            ));
            None
        }
        Err(found) => {
            problems.extend(list::problem_lines(Error::Rejected(found)));
            None
        }
    };
    let mut files = BTreeMap::new();
    for (path, text) in &sent.files {
        match normalise(path) {
            Ok(normal) if !normal.is_empty() => {
                files.insert(normal, FileEntry::text(text.clone()));
            }
            Ok(_) => problems.push("files: a file has no path".to_owned()),
            Err(e) => problems.push(format!("files[{path}]: {e}")),
        }
    }
    let Some(entity) = entity.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    scaffolder
        .load_sent(principal, &entity, Source::Files(Arc::new(files)))
        .map_err(list::problem_lines)
}

/// The authoring page for what was sent: the form, the template's problems or its previewed
/// wizard, and the dry run when one was asked for.
pub async fn author(
    scaffolder: &Scaffolder,
    principal: &Principal,
    choices: &(dyn Choices + Sync),
    params: &BTreeMap<String, String>,
) -> AuthorView {
    let sent = read(params);
    let mut view = AuthorView {
        yaml: sent.yaml.clone(),
        files: sent.files.clone(),
        ..AuthorView::default()
    };
    view.files.extend(std::iter::repeat_n(
        (String::new(), String::new()),
        SPARE_FILES,
    ));
    if sent.yaml.trim().is_empty() {
        return view;
    }
    let template = match load(scaffolder, principal, &sent) {
        Ok(template) => template,
        Err(problems) => {
            view.problems = problems;
            return view;
        }
    };
    let raw = wizard::read(params).raw;
    let masked = form::masked_names(&template);
    let (values, unread) = form::answers(&template, &raw);
    let current = Value::Object(values.clone());
    let shown = wizard::shown(&template, &current, &scaffolder.engine().templater);
    let mut errors: BTreeMap<String, String> = unread;
    if sent.dry_run && errors.is_empty() {
        let request = wizard::preview_request(&template, &values, &masked);
        match scaffolder
            .dry_run(wizard::preview(&template, &masked), request, principal)
            .await
        {
            Ok(run) => view.dry_run = Some(review::dry_run_view(run)),
            Err(Error::Rejected(problems)) => {
                for problem in problems {
                    let name = problem.field.split(['.', '[']).next().unwrap_or_default();
                    let message = if problem.field == name {
                        problem.message
                    } else {
                        format!("{}: {}", problem.field, problem.message)
                    };
                    errors.entry(name.to_owned()).or_insert(message);
                }
            }
            Err(other) => view.errors.extend(list::problem_lines(other)),
        }
    }
    let mut asked = BTreeSet::new();
    for &index in &shown {
        let page = &template.pages[index];
        let fields = form::page_properties(&page.schema, &current)
            .into_iter()
            .filter(|p| !form::is_masked(&p.schema) && asked.insert(p.name.clone()))
            .map(|p| {
                let mut field = fields::field(&p, raw.get(&p.name), choices);
                field.error = errors.remove(&p.name);
                field
            })
            .collect();
        view.pages.push(AuthorPageView {
            title: if page.title.is_empty() {
                format!("Page {}", index + 1)
            } else {
                page.title.clone()
            },
            description: page.description.clone(),
            fields,
        });
    }
    view.errors
        .extend(errors.into_iter().map(|(f, m)| format!("{f}: {m}")));
    view.masked = masked.into_iter().collect();
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_files_by_their_index_and_drops_empty_entries() {
        let params: BTreeMap<String, String> = [
            ("yaml", "kind: Template\r\n"),
            ("fp.1", " skeleton/b.txt "),
            ("fc.1", "b\r\n"),
            ("fp.0", "skeleton/a.txt"),
            ("fc.0", "a"),
            ("fp.2", ""),
            ("fc.2", ""),
            ("fp.x", "ignored"),
            ("go", "dry-run"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sent = read(&params);
        assert_eq!(sent.yaml, "kind: Template\n");
        assert_eq!(
            sent.files,
            vec![
                ("skeleton/a.txt".to_owned(), "a".to_owned()),
                ("skeleton/b.txt".to_owned(), "b\n".to_owned()),
            ]
        );
        assert!(sent.dry_run);
    }
}
