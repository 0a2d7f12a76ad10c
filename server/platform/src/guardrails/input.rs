//! The parts of a policy's input that every kind of request shares: the requester, an entity
//! with the maps policies test membership in always present, and the time; and a service's
//! scorecard levels, which environment requests add.

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

/// The `scorecards` key of an environment request's input: for each scorecard that applies to
/// the service (`scorecards`: its name, its levels lowest first, its result), the level reached
/// (`null` for none), its `rank` (levels reached, 0 for none), the `levels`, the levels
/// `reached`, and the `failing` checks with their level, fix and evaluation error, so that a
/// policy can ask for a level before an environment (`'gold' in
/// scorecards['operational-maturity'].reached`) and say what to fix.
pub fn scorecards<'a>(
    scorecards: impl IntoIterator<Item = (&'a str, &'a [String], &'a crate::scorecards::Scored)>,
) -> Value {
    let mut out = serde_json::Map::new();
    for (name, levels, scored) in scorecards {
        let rank = crate::scorecards::evaluate::rank(levels, scored.level.as_deref());
        out.insert(
            name.to_owned(),
            json!({
                "level": scored.level,
                "rank": rank,
                "levels": levels,
                "reached": levels[..rank],
                "failing": scored.failing().map(|c| json!({
                    "check": c.name,
                    "level": c.level,
                    "fix": c.fix,
                    "error": c.error,
                })).collect::<Vec<_>>(),
            }),
        );
    }
    Value::Object(out)
}
