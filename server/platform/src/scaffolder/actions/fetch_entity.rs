//! `catalog:fetch`: reads entities from the catalog into a step's output (`entity`, `entities`),
//! as Backstage's does; a missing entity fails the step unless `optional`.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Action, ActionContext, ActionError, ActionSpec, string_list};
use crate::catalog::Catalog;

pub fn actions(catalog: Catalog) -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Fetch {
        catalog,
        spec: ActionSpec {
            id: "catalog:fetch",
            description: "Reads one entity (entityRef) or several (entityRefs) from the catalog.",
            input: json!({
                "type": "object",
                "properties": {
                    "entityRef": { "type": "string" },
                    "entityRefs": { "type": "array", "items": { "type": "string" } },
                    "optional": { "type": "boolean", "description": "A missing entity is null instead of an error" },
                    "defaultKind": { "type": "string" },
                    "defaultNamespace": { "type": "string" }
                }
            }),
            output: json!({
                "type": "object",
                "properties": {
                    "entity": { "type": "object" },
                    "entities": { "type": "array", "items": { "type": "object" } }
                }
            }),
            examples: vec![(
                "Read the owner's group",
                "steps:\n  - id: owner\n    action: catalog:fetch\n    input:\n      entityRef: ${{ parameters.owner }}\n      defaultKind: Group\n",
            )],
            dry_run: true,
            example_output: json!({}),
        },
    })]
}

struct Fetch {
    catalog: Catalog,
    spec: ActionSpec,
}

impl Action for Fetch {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move {
            let optional = cx.bool("optional");
            let kind = cx
                .string("defaultKind")
                .unwrap_or_else(|| "Component".to_owned());
            let namespace = cx
                .string("defaultNamespace")
                .unwrap_or_else(|| "default".to_owned());
            let single = cx.string("entityRef");
            let many = cx.input.get("entityRefs").map(|v| string_list(Some(v)));
            if single.is_none() && many.is_none() {
                if optional {
                    return Ok(());
                }
                return Err(ActionError::input("input: give entityRef or entityRefs"));
            }
            let read = |text: &str, field: &str| -> Result<Value, ActionError> {
                let entity_ref = crate::catalog::refs::parse(text, &kind, &namespace)
                    .map_err(|e| ActionError::input(format!("{field}: {e}")))?;
                let index = self.catalog.index();
                match index.by_ref(&entity_ref) {
                    Some(stored) => Ok(Catalog::render(&index, stored)),
                    None if optional => Ok(Value::Null),
                    None => Err(ActionError::input(format!(
                        "{field}: entity {entity_ref} not found"
                    ))),
                }
            };
            if let Some(text) = &single {
                let entity = read(text, "input.entityRef")?;
                cx.log(format!("Read {text}"));
                cx.output.insert("entity".into(), entity);
            }
            if let Some(refs) = many {
                let mut entities = Vec::with_capacity(refs.len());
                for (i, text) in refs.iter().enumerate() {
                    entities.push(read(text, &format!("input.entityRefs[{i}]"))?);
                }
                cx.log(format!("Read {} entities", entities.len()));
                cx.output.insert("entities".into(), Value::Array(entities));
            }
            Ok(())
        }
        .boxed()
    }
}
