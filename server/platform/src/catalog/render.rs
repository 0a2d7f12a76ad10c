//! Entities as JSON text: the form bodies are stored in, and the form the API serves.
//!
//! Serving an entity adds output-only fields (`metadata.uid`, `etag`, `generation` and
//! `relations`) to its authored body. Bodies are stored with `metadata` first so that those
//! fields are spliced into the text; parsing and re-serialising every entity of a page was most
//! of what a query cost.

use std::io::Write as _;

use serde_json::{Value, json};

#[cfg(test)]
use super::index::Body;
use super::index::{Index, Stored};
use super::refs;

const PREFIX: &[u8] = b"{\"metadata\":{";

/// The stored text of an entity body: compact JSON with `metadata` as the first member.
pub fn body_text(body: &Value) -> String {
    let Some(root) = body.as_object() else {
        return body.to_string();
    };
    let mut out: Vec<u8> = Vec::with_capacity(512);
    out.push(b'{');
    let mut first = true;
    if let Some(metadata) = root.get("metadata") {
        out.extend_from_slice(b"\"metadata\":");
        write_json(&mut out, metadata);
        first = false;
    }
    for (key, value) in root.iter().filter(|(k, _)| *k != "metadata") {
        if !first {
            out.push(b',');
        }
        first = false;
        write_json(&mut out, key);
        out.push(b':');
        write_json(&mut out, value);
    }
    out.push(b'}');
    // Serialising a `Value` only produces UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Writing a `Value` or a string into memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends the entity as the API serves it to `out`.
pub fn render_into(index: &Index, entity: &Stored, out: &mut Vec<u8>) {
    let text = index.body(entity);
    let body = text.as_bytes();
    if !(body.starts_with(PREFIX) && body.ends_with(b"}")) {
        // Not written by `body_text` (never the case for bodies this version stored).
        write_json(out, &render_parsed(index, entity));
        return;
    }
    out.extend_from_slice(b"{\"metadata\":{\"uid\":");
    write_json(out, &entity.uid);
    out.extend_from_slice(b",\"etag\":");
    write_json(out, &entity.etag);
    let _ = write!(out, ",\"generation\":{}", entity.generation);
    let rest = &body[PREFIX.len()..body.len() - 1];
    if !rest.starts_with(b"}") {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b",\"relations\":[");
    for (i, (relation, target)) in index.relation_refs(entity).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (kind, namespace, name) = refs::split(target);
        out.extend_from_slice(b"{\"type\":");
        write_json(out, relation);
        out.extend_from_slice(b",\"targetRef\":");
        write_json(out, target);
        out.extend_from_slice(b",\"target\":{\"kind\":");
        write_json(out, kind);
        out.extend_from_slice(b",\"namespace\":");
        write_json(out, namespace);
        out.extend_from_slice(b",\"name\":");
        write_json(out, name);
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
}

/// The entity as the API serves it, as a JSON value.
pub fn render(index: &Index, entity: &Stored) -> Value {
    let mut out = Vec::with_capacity(1024);
    render_into(index, entity, &mut out);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// The same, by parsing the body: the fallback for bodies in another form.
fn render_parsed(index: &Index, entity: &Stored) -> Value {
    let mut body = index.body_value(entity);
    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".to_owned(), Value::String(entity.uid.to_string()));
        metadata.insert("etag".to_owned(), Value::String(entity.etag.to_string()));
        metadata.insert("generation".to_owned(), json!(entity.generation));
    }
    let relations: Vec<Value> = index
        .relations(entity)
        .into_iter()
        .map(|r| {
            let (kind, namespace, name) = refs::split(&r.target);
            json!({ "type": r.kind, "targetRef": r.target, "target": { "kind": kind, "namespace": namespace, "name": name } })
        })
        .collect();
    if let Some(root) = body.as_object_mut() {
        root.insert("relations".to_owned(), Value::Array(relations));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &Value) -> Stored {
        Stored {
            uid: "u-1".into(),
            etag: "e\"1".into(),
            generation: 3,
            names: crate::catalog::index::Names::new("component:default/a", "default", "a"),
            kind: crate::catalog::kinds::find("Component").expect("a kind"),
            body: Body::from(body_text(body)),
            edges: Box::default(),
            location_key: std::sync::Arc::from("test"),
        }
    }

    #[test]
    fn splicing_and_parsing_agree() {
        let body = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": { "name": "a", "namespace": "default", "description": "say \"hi\"\n" },
            "spec": { "type": "service", "owner": "team", "lifecycle": "production" },
        });
        let entity = stored(&body);
        assert!(
            entity
                .body
                .plain()
                .expect("plain")
                .starts_with("{\"metadata\":{")
        );
        let index = Index::default();
        let mut out = Vec::new();
        render_into(&index, &entity, &mut out);
        let spliced: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(spliced, render_parsed(&index, &entity));
        assert_eq!(spliced["metadata"]["etag"], "e\"1");
        assert_eq!(spliced["spec"], body["spec"]);
    }
}
