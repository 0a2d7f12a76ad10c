//! `debug:log`: writes a message (and optionally the workspace's file list) to the task log.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::json;

use super::{Action, ActionContext, ActionError, ActionSpec};

pub fn actions() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Log(ActionSpec {
        id: "debug:log",
        description: "Writes a message to the task log, and optionally the files in the workspace.",
        input: json!({
            "type": "object",
            "properties": {
                "message": { "type": "string", "description": "The message to log." },
                "listWorkspace": {
                    "description": "List the workspace's files: true or \"with-filenames\" for names, \"with-contents\" for names and contents.",
                    "oneOf": [{ "type": "boolean" }, { "enum": ["with-filenames", "with-contents"] }]
                }
            }
        }),
        output: json!({ "type": "object", "properties": {} }),
        examples: vec![(
            "Log a message",
            "steps:\n  - id: log\n    action: debug:log\n    input:\n      message: Hello, ${{ parameters.name }}!\n",
        )],
        dry_run: true,
        example_output: json!({}),
    }))]
}

struct Log(ActionSpec);

impl Action for Log {
    fn spec(&self) -> &ActionSpec {
        &self.0
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            if let Some(message) = cx.string("message") {
                cx.log(message);
            }
            let list = cx.input.get("listWorkspace").cloned();
            let with_contents = list.as_ref().and_then(|v| v.as_str()) == Some("with-contents");
            if list.is_some_and(|v| v.as_bool() != Some(false)) {
                let lines: Vec<String> = cx
                    .workspace
                    .files()
                    .map(|(path, file)| {
                        if with_contents && !file.is_binary() {
                            format!("{path}:\n{}", String::from_utf8_lossy(&file.content))
                        } else {
                            path.clone()
                        }
                    })
                    .collect();
                cx.log(format!("Workspace:\n{}", lines.join("\n")));
            }
            Ok(())
        }
        .boxed()
    }
}
