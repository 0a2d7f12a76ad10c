//! An entity after validation: its normalised reference, the relations its own fields declare,
//! and the body as authored (output-only fields removed).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::kinds::{Kind, Relation, Shape};
use super::refs;
use super::validate::Violation;

/// A relation declared by an entity's own fields. Every entity keeps its edges in memory, so an
/// edge is two pointers: the relation's entry in the kind table and the shared target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    relation: &'static Relation,
    /// Normalised reference of the target (shared: the index holds each reference once).
    pub target: Arc<str>,
}

impl Edge {
    /// The relation type on the declaring entity: `ownedBy`, `partOf`, …
    pub fn kind(&self) -> &'static str {
        self.relation.forward
    }

    /// The reverse type, on the target: `ownerOf`, `hasPart`, …
    pub fn reverse(&self) -> &'static str {
        self.relation.reverse
    }
}

/// A validated entity ready to store.
#[derive(Debug, Clone)]
pub struct Processed {
    /// Lowercase `kind:namespace/name`, the identity used for uniqueness.
    pub entity_ref: String,
    /// The kind, an entry of the kind table.
    pub kind: &'static Kind,
    pub namespace: String,
    pub name: String,
    /// The authored entity with `metadata.namespace` filled in and output-only fields removed,
    /// as stored ([`super::render::body_text`]): documents are turned into text as soon as they
    /// are checked, so that a large import never holds all of them as JSON trees.
    pub body: String,
    /// Relations declared by this entity, sorted and without duplicates.
    pub edges: Vec<Edge>,
}

/// Builds a [`Processed`] entity from a validated one. References that cannot be parsed are
/// violations on their field.
pub fn process(mut body: Value, kind: &'static Kind) -> Result<Processed, Vec<Violation>> {
    process_in_place(&mut body, kind)
}

/// [`process`], leaving `body` as it is stored: a caller that goes on reading the entity's fields
/// (the start-up's indexing does) then need not parse [`Processed::body`] again.
pub fn process_in_place(
    body: &mut Value,
    kind: &'static Kind,
) -> Result<Processed, Vec<Violation>> {
    let root = body
        .as_object_mut()
        .expect("validated entities are objects");
    root.remove("relations");
    root.remove("status");
    root.insert("kind".to_owned(), Value::String(kind.name.to_owned()));
    let metadata = root
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("validated metadata");
    for output_only in ["uid", "etag", "generation"] {
        metadata.remove(output_only);
    }
    let namespace = metadata
        .entry("namespace")
        .or_insert_with(|| Value::String("default".to_owned()))
        .as_str()
        .unwrap_or("default")
        .to_owned();
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let no_spec = Map::new();
    let spec = root
        .get("spec")
        .and_then(Value::as_object)
        .unwrap_or(&no_spec);
    let edges = edges(kind, spec, &namespace)?;
    Ok(Processed {
        entity_ref: format!(
            "{}:{}/{}",
            kind.name.to_lowercase(),
            namespace.to_lowercase(),
            name.to_lowercase()
        ),
        kind,
        namespace,
        name,
        body: super::render::body_text(body),
        edges,
    })
}

fn edges(
    kind: &'static Kind,
    spec: &Map<String, Value>,
    namespace: &str,
) -> Result<Vec<Edge>, Vec<Violation>> {
    let mut edges = Vec::new();
    let mut violations = Vec::new();
    for field in kind.fields {
        let Some(relation) = field.relation.as_ref() else {
            continue;
        };
        let targets: Vec<&str> = match (field.shape, spec.get(field.name)) {
            (Shape::Text, Some(Value::String(s))) => vec![s.as_str()],
            (Shape::TextList, Some(Value::Array(items))) => {
                items.iter().filter_map(Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        for (i, target) in targets.into_iter().enumerate() {
            match refs::parse(target, relation.default_kind, namespace) {
                Ok(target) => edges.push(Edge {
                    relation,
                    target: Arc::from(target),
                }),
                Err(message) => {
                    let field_path = match field.shape {
                        Shape::TextList => format!("spec.{}.{i}", field.name),
                        _ => format!("spec.{}", field.name),
                    };
                    violations.push(Violation {
                        field: field_path,
                        message,
                    });
                }
            }
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    edges.sort();
    edges.dedup();
    Ok(edges)
}
