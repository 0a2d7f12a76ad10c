//! `debug:log` writes a message (and optionally the workspace's file list) to the task log;
//! `debug:wait` waits, up to ten minutes, as Backstage's does.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::json;

use super::{Action, ActionContext, ActionError, ActionSpec};

/// The longest `debug:wait` may wait.
const MAX_WAIT: Duration = Duration::from_secs(600);

pub fn actions() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(Wait(ActionSpec {
            id: "debug:wait",
            description: "Waits for the given time (at most ten minutes).",
            input: json!({
                "type": "object",
                "properties": {
                    "minutes": { "type": "number", "minimum": 0 },
                    "seconds": { "type": "number", "minimum": 0 },
                    "milliseconds": { "type": "number", "minimum": 0 }
                }
            }),
            output: json!({ "type": "object", "properties": { "waitedFor": { "type": "string" } } }),
            examples: vec![(
                "Wait five seconds",
                "steps:\n  - id: wait\n    action: debug:wait\n    input:\n      seconds: 5\n",
            )],
            dry_run: false,
            example_output: json!({ "waitedFor": "<example>" }),
        })),
        Arc::new(Log(ActionSpec {
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
        })),
    ]
}

struct Wait(ActionSpec);

impl Action for Wait {
    fn spec(&self) -> &ActionSpec {
        &self.0
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            let number = |key: &str| {
                cx.input
                    .get(key)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0)
            };
            let millis =
                number("minutes") * 60_000.0 + number("seconds") * 1000.0 + number("milliseconds");
            let wait = Duration::from_millis(millis.max(0.0) as u64);
            if wait > MAX_WAIT {
                return Err(ActionError::input(format!(
                    "input: waiting {} s is longer than the maximum of {} s",
                    wait.as_secs(),
                    MAX_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(wait).await;
            let waited = format!("{} ms", wait.as_millis());
            cx.log(format!("Waited {waited}"));
            cx.output
                .insert("waitedFor".into(), serde_json::Value::String(waited));
            Ok(())
        }
        .boxed()
    }
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
