//! The parts of a policy's input that every kind of request shares: the requester, an entity
//! with the maps policies test membership in always present, and the time.

use serde_json::{Value, json};

use crate::identity::{Principal, Role};

/// A requester as policies see them: reference, name, email, role and teams.
pub fn requester(principal: &Principal) -> Value {
    json!({
        "ref": principal.entity_ref,
        "name": principal.display_name,
        "email": principal.email,
        "role": if principal.role == Role::PlatformAdmin { "platform-admin" } else { "developer" },
        "teams": principal.teams.iter().map(|t| t.entity_ref.clone()).collect::<Vec<_>>(),
    })
}

/// A requester that is not a catalog user (`cli:…`, `system`).
pub fn system_requester(entity_ref: &str) -> Value {
    json!({
        "ref": entity_ref,
        "name": entity_ref,
        "email": null,
        "role": "system",
        "teams": [],
    })
}

/// An entity with `ref` added and the maps policies test membership in (`annotations`,
/// `labels`, `tags`, `spec`) present even when the descriptor leaves them out, so that
/// `'x' in service.metadata.annotations` is false rather than an error.
pub fn entity(mut entity: Value, entity_ref: &str) -> Value {
    if !entity.is_object() {
        entity = json!({});
    }
    entity["ref"] = json!(entity_ref);
    if !entity["metadata"].is_object() {
        entity["metadata"] = json!({});
    }
    for (key, empty) in [
        ("annotations", json!({})),
        ("labels", json!({})),
        ("tags", json!([])),
    ] {
        if entity["metadata"][key].is_null() {
            entity["metadata"][key] = empty;
        }
    }
    if !entity["spec"].is_object() {
        entity["spec"] = json!({});
    }
    entity
}

/// Now, as RFC 3339.
pub fn now() -> Value {
    json!(crate::time::iso(crate::time::now_millis()))
}
