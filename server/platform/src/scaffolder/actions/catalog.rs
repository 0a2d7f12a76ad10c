//! Catalog actions: `catalog:write` writes an entity descriptor into the workspace, stamped with
//! where it came from (the template, its version and the answers, secrets excluded), the ground
//! for upgrading the service when its template changes.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Action, ActionContext, ActionError, ActionSpec};

/// Annotation naming the template an entity was created from (Backstage's).
pub const SOURCE_TEMPLATE: &str = "backstage.io/source-template";
/// Annotation holding the template version (its content hash).
pub const TEMPLATE_VERSION: &str = "causeway.dev/template-version";
/// Annotation holding the answers the entity was created with, as JSON.
pub const TEMPLATE_ANSWERS: &str = "causeway.dev/template-answers";
/// Annotation naming the run (task) that created the entity.
pub const TEMPLATE_TASK: &str = "causeway.dev/template-task";

pub fn offline_actions() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Write(ActionSpec {
        id: "catalog:write",
        description: "Writes a catalog descriptor (catalog-info.yaml) into the workspace, annotated with the template it came from.",
        input: json!({
            "type": "object",
            "required": ["entity"],
            "properties": {
                "filePath": { "type": "string", "description": "Where to write it; catalog-info.yaml by default." },
                "entity": { "type": "object", "description": "The entity to write." }
            }
        }),
        output: json!({ "type": "object", "properties": {} }),
        examples: vec![(
            "Write a component",
            "steps:\n  - id: write\n    action: catalog:write\n    input:\n      entity:\n        apiVersion: backstage.io/v1alpha1\n        kind: Component\n        metadata:\n          name: ${{ parameters.name }}\n        spec:\n          type: service\n          lifecycle: experimental\n          owner: ${{ parameters.owner }}\n",
        )],
        dry_run: true,
        example_output: json!({}),
    }))]
}

/// Adds the provenance annotations to an entity descriptor.
pub fn stamp(entity: &mut Value, run: &super::super::engine::Run) {
    let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(
            SOURCE_TEMPLATE.to_owned(),
            Value::String(run.template.entity_ref.clone()),
        );
        annotations.insert(
            TEMPLATE_VERSION.to_owned(),
            Value::String(run.template_version.clone()),
        );
        annotations.insert(
            TEMPLATE_ANSWERS.to_owned(),
            Value::String(run.public_values().to_string()),
        );
        annotations.insert(TEMPLATE_TASK.to_owned(), Value::String(run.task_id.clone()));
    }
}

struct Write(ActionSpec);

impl Action for Write {
    fn spec(&self) -> &ActionSpec {
        &self.0
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            let path = cx
                .string("filePath")
                .unwrap_or_else(|| "catalog-info.yaml".to_owned());
            let mut entity = cx.input.get("entity").cloned().unwrap_or(json!({}));
            stamp(&mut entity, cx.run);
            let text = serde_yaml_ng::to_string(&entity)
                .map_err(|e| ActionError::input(format!("input.entity: {e}")))?;
            let written = cx
                .workspace
                .write("", &path, super::super::workspace::FileEntry::text(text))
                .map_err(|e| ActionError::input(format!("input.filePath: {e}")))?;
            cx.log(format!("Wrote {written}"));
            Ok(())
        }
        .boxed()
    }
}
