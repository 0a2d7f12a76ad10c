//! `fs:rename` and `fs:delete`: moving and removing files inside the workspace.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use globset::Glob;
use serde_json::{Value, json};

use super::{Action, ActionContext, ActionError, ActionSpec, string_list};

pub fn actions() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(Rename(ActionSpec {
            id: "fs:rename",
            description: "Renames files or directories in the workspace.",
            input: json!({
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["from", "to"],
                            "properties": {
                                "from": { "type": "string" },
                                "to": { "type": "string" },
                                "overwrite": { "type": "boolean" }
                            }
                        }
                    }
                }
            }),
            output: json!({ "type": "object", "properties": {} }),
            examples: vec![(
                "Rename a file",
                "steps:\n  - id: rename\n    action: fs:rename\n    input:\n      files:\n        - from: README.tmpl.md\n          to: README.md\n",
            )],
            dry_run: true,
            example_output: json!({}),
        })),
        Arc::new(Delete(ActionSpec {
            id: "fs:delete",
            description: "Deletes the workspace files matching glob patterns.",
            input: json!({
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": { "type": "array", "items": { "type": "string" } }
                }
            }),
            output: json!({ "type": "object", "properties": {} }),
            examples: vec![(
                "Delete files",
                "steps:\n  - id: clean\n    action: fs:delete\n    input:\n      files:\n        - docs/draft-*.md\n",
            )],
            dry_run: true,
            example_output: json!({}),
        })),
    ]
}

struct Rename(ActionSpec);

impl Action for Rename {
    fn spec(&self) -> &ActionSpec {
        &self.0
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            let files = cx
                .input
                .get("files")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (index, file) in files.iter().enumerate() {
                let from = file.get("from").and_then(Value::as_str).unwrap_or_default();
                let to = file.get("to").and_then(Value::as_str).unwrap_or_default();
                let overwrite = file
                    .get("overwrite")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                cx.workspace
                    .rename(from, to, overwrite)
                    .map_err(|e| ActionError::input(format!("input.files[{index}]: {e}")))?;
                cx.log(format!("Renamed {from} to {to}"));
            }
            Ok(())
        }
        .boxed()
    }
}

struct Delete(ActionSpec);

impl Action for Delete {
    fn spec(&self) -> &ActionSpec {
        &self.0
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            for (index, pattern) in string_list(cx.input.get("files")).iter().enumerate() {
                let field = format!("input.files[{index}]");
                super::super::workspace::normalise(pattern)
                    .map_err(|e| ActionError::input(format!("{field}: {e}")))?;
                let matcher = Glob::new(pattern.trim_start_matches("./"))
                    .map_err(|e| ActionError::input(format!("{field}: {e}")))?
                    .compile_matcher();
                let doomed: Vec<String> = cx
                    .workspace
                    .files()
                    .map(|(p, _)| p.clone())
                    .filter(|p| {
                        matcher.is_match(p)
                            || p.match_indices('/').any(|(i, _)| matcher.is_match(&p[..i]))
                    })
                    .collect();
                for path in &doomed {
                    cx.workspace
                        .remove(path)
                        .map_err(|e| ActionError::input(format!("{field}: {e}")))?;
                }
                cx.log(format!(
                    "Deleted {} file(s) matching {pattern}",
                    doomed.len()
                ));
            }
            Ok(())
        }
        .boxed()
    }
}
