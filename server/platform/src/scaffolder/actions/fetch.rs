//! `fetch:template`, `fetch:template:file`, `fetch:plain` and `fetch:plain:file`: copy a
//! skeleton from the template's location into the workspace, rendering names and contents with
//! the step's `values` (`fetch:template*`) or as they are (`fetch:plain*`).
//!
//! Rendering follows Backstage: a name segment that renders empty skips the file; binary files
//! are copied as they are, modes kept; `copyWithoutTemplating` (and the deprecated
//! `copyWithoutRender`, which also keeps names as written) copies matching files or directories
//! without rendering their contents; `templateFileExtension` renders only files with that suffix
//! (`.njk` for `true`) and strips it; an existing file is kept unless `replace` is set.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};

use super::super::expr::Syntax;
use super::super::workspace::{FileEntry, normalise};
use super::{Action, ActionContext, ActionError, ActionSpec, string_list};

pub fn actions() -> Vec<Arc<dyn Action>> {
    let common = |extra: Value, required: Value| {
        let mut properties = json!({
            "url": { "type": "string", "description": "A path relative to the template's location." },
            "targetPath": { "type": "string", "description": "Where in the workspace to write." },
        });
        if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({ "type": "object", "required": required, "properties": properties })
    };
    let templated = json!({
        "values": { "type": "object", "description": "Values the files are rendered with, as ${{ values.x }}." },
        "cookiecutterCompat": { "type": "boolean", "description": "Render {{ cookiecutter.x }} as cookiecutter does, with its jsonify filter." },
        "replace": { "type": "boolean", "description": "Replace files that already exist in the workspace." },
        "trimBlocks": { "type": "boolean" },
        "lstripBlocks": { "type": "boolean" },
    });
    let mut template_dir = templated.clone();
    if let Some(map) = template_dir.as_object_mut() {
        map.insert("copyWithoutTemplating".into(), json!({ "type": "array", "items": { "type": "string" }, "description": "Globs of files or directories copied without rendering their contents (names are still rendered)." }));
        map.insert("copyWithoutRender".into(), json!({ "type": "array", "items": { "type": "string" }, "description": "Deprecated: globs of files or directories copied without rendering names or contents." }));
        map.insert("templateFileExtension".into(), json!({ "type": ["boolean", "string"], "description": "Render only files with this extension (.njk for true) and strip it." }));
    }
    let none = json!({ "type": "object", "properties": {} });
    vec![
        Arc::new(Fetch {
            mode: Mode::TemplateDir,
            spec: ActionSpec {
                id: "fetch:template",
                description: "Copies a skeleton directory into the workspace, rendering file names and contents with the given values.",
                input: common(template_dir, json!(["url"])),
                output: none.clone(),
                examples: vec![(
                    "Render a skeleton",
                    "steps:\n  - id: fetch\n    action: fetch:template\n    input:\n      url: ./skeleton\n      values:\n        name: ${{ parameters.name }}\n",
                )],
                dry_run: true,
                example_output: json!({}),
            },
        }),
        Arc::new(Fetch {
            mode: Mode::TemplateFile,
            spec: ActionSpec {
                id: "fetch:template:file",
                description: "Copies one file into the workspace, rendering its contents with the given values.",
                input: common(templated, json!(["url", "targetPath"])),
                output: none.clone(),
                examples: vec![(
                    "Render one file",
                    "steps:\n  - id: fetch\n    action: fetch:template:file\n    input:\n      url: ./files/README.md\n      targetPath: README.md\n      values:\n        name: ${{ parameters.name }}\n",
                )],
                dry_run: true,
                example_output: json!({}),
            },
        }),
        Arc::new(Fetch {
            mode: Mode::PlainDir,
            spec: ActionSpec {
                id: "fetch:plain",
                description: "Copies a directory into the workspace as it is.",
                input: common(json!({}), json!(["url"])),
                output: none.clone(),
                examples: vec![(
                    "Copy a directory",
                    "steps:\n  - id: fetch\n    action: fetch:plain\n    input:\n      url: ./static\n      targetPath: ./docs\n",
                )],
                dry_run: true,
                example_output: json!({}),
            },
        }),
        Arc::new(Fetch {
            mode: Mode::PlainFile,
            spec: ActionSpec {
                id: "fetch:plain:file",
                description: "Copies one file into the workspace as it is.",
                input: common(json!({}), json!(["url", "targetPath"])),
                output: none,
                examples: vec![(
                    "Copy a file",
                    "steps:\n  - id: fetch\n    action: fetch:plain:file\n    input:\n      url: ./LICENSE\n      targetPath: LICENSE\n",
                )],
                dry_run: true,
                example_output: json!({}),
            },
        }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    TemplateDir,
    TemplateFile,
    PlainDir,
    PlainFile,
}

struct Fetch {
    mode: Mode,
    spec: ActionSpec,
}

impl Action for Fetch {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move { self.fetch(cx) }.boxed()
    }
}

/// Globs matched against a skeleton path or any of its directories; `!pattern` excludes, as in
/// globby. `*` does not cross `/`.
struct Globs {
    include: GlobSet,
    exclude: GlobSet,
}

fn glob_set(patterns: &[String], field: &str) -> Result<Globs, ActionError> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    for (index, pattern) in patterns.iter().enumerate() {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let cleaned = pattern.trim_start_matches("./").trim_end_matches('/');
        let glob = GlobBuilder::new(cleaned)
            .literal_separator(true)
            .build()
            .map_err(|e| ActionError::input(format!("{field}[{index}]: {e}")))?;
        if negated {
            exclude.add(glob);
        } else {
            include.add(glob);
        }
    }
    let build = |b: GlobSetBuilder| {
        b.build()
            .map_err(|e| ActionError::input(format!("{field}: {e}")))
    };
    Ok(Globs {
        include: build(include)?,
        exclude: build(exclude)?,
    })
}

fn matches(globs: &Globs, path: &str) -> bool {
    let hit = |set: &GlobSet| {
        set.is_match(path)
            || path
                .match_indices('/')
                .any(|(i, _)| set.is_match(&path[..i]))
    };
    hit(&globs.include) && !globs.exclude.is_match(path)
}

impl Fetch {
    fn fetch(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let url = cx.string("url").unwrap_or_default();
        let target = cx.string("targetPath").unwrap_or_else(|| "./".to_owned());
        let target =
            normalise(&target).map_err(|e| ActionError::input(format!("input.targetPath: {e}")))?;
        let entries = cx
            .run
            .template
            .source
            .read(&url, "input.url")
            .map_err(ActionError::input)?;
        let file_mode = matches!(self.mode, Mode::TemplateFile | Mode::PlainFile);
        if file_mode && (entries.len() != 1 || entries[0].0.contains('/')) {
            return Err(ActionError::input(format!(
                "input.url: {url:?} is a directory; {} copies one file",
                self.spec.id
            )));
        }
        let templated = matches!(self.mode, Mode::TemplateDir | Mode::TemplateFile);
        let replace = cx.bool("replace");
        let syntax = if cx.bool("cookiecutterCompat") {
            Syntax::Cookiecutter
        } else {
            Syntax::Backstage
        };
        let values = cx.input.get("values").cloned().unwrap_or(json!({}));
        let context = if syntax == Syntax::Cookiecutter {
            json!({ "values": values, "cookiecutter": values })
        } else {
            json!({ "values": values })
        };
        let whitespace = (cx.bool("trimBlocks"), cx.bool("lstripBlocks"));
        let without_templating = glob_set(
            &string_list(cx.input.get("copyWithoutTemplating")),
            "input.copyWithoutTemplating",
        )?;
        let without_render = glob_set(
            &string_list(cx.input.get("copyWithoutRender")),
            "input.copyWithoutRender",
        )?;
        let extension = match cx.input.get("templateFileExtension") {
            Some(Value::Bool(true)) => Some(".njk".to_owned()),
            Some(Value::String(e)) if !e.is_empty() => Some(if e.starts_with('.') {
                e.clone()
            } else {
                format!(".{e}")
            }),
            _ => None,
        };
        let (mut written, mut kept, mut skipped) = (0, 0, 0);
        for (path, entry) in entries {
            let (render_name, render_contents, mut out_path) = if !templated {
                (false, false, path.clone())
            } else if let Some(extension) = &extension {
                match path.strip_suffix(extension.as_str()) {
                    Some(stripped) => (true, true, stripped.to_owned()),
                    None => (true, false, path.clone()),
                }
            } else if matches(&without_render, &path) {
                (false, false, path.clone())
            } else {
                (true, !matches(&without_templating, &path), path.clone())
            };
            if render_name {
                out_path = cx
                    .templater
                    .render_text_with(syntax, &out_path, &context, whitespace)
                    .map_err(|e| ActionError::input(format!("file name {path:?}: {e}")))?;
            }
            // A name segment that renders empty means "leave this file out".
            if out_path.is_empty()
                || out_path.starts_with('/')
                || out_path.contains("//")
                || out_path.ends_with('/')
            {
                skipped += 1;
                continue;
            }
            let destination = if file_mode { String::new() } else { out_path };
            let joined = match (target.is_empty(), destination.is_empty()) {
                (true, _) => destination,
                (false, true) => target.clone(),
                (false, false) => format!("{target}/{destination}"),
            };
            let full = normalise(&joined)
                .map_err(|e| ActionError::input(format!("file name {path:?}: {e}")))?;
            if cx.workspace.get(&full).is_some() && !replace {
                kept += 1;
                continue;
            }
            let entry = if render_contents && !entry.is_binary() {
                let text = String::from_utf8_lossy(&entry.content);
                let rendered = cx
                    .templater
                    .render_text_with(syntax, &text, &context, whitespace)
                    .map_err(|e| ActionError::input(format!("file {path:?}: {e}")))?;
                FileEntry {
                    content: rendered.into_bytes(),
                    executable: entry.executable,
                }
            } else {
                entry
            };
            cx.workspace
                .write("", &full, entry)
                .map_err(|e| ActionError::input(format!("file {path:?}: {e}")))?;
            written += 1;
        }
        let mut summary = format!(
            "Fetched {written} file(s) from {url} into {}",
            if target.is_empty() { "./" } else { &target }
        );
        if kept > 0 {
            summary.push_str(&format!("; kept {kept} existing (replace is off)"));
        }
        if skipped > 0 {
            summary.push_str(&format!("; skipped {skipped} whose name rendered empty"));
        }
        cx.log(summary);
        Ok(())
    }
}
