//! Flattening an entity into Backstage's search pairs.

use serde_json::Value;

use super::super::entity::Edge;

/// Values longer than this are not indexed, as in Backstage's search table.
pub(super) const MAX_VALUE_LENGTH: usize = 200;

/// One search pair: dotted lowercase key, lowercase value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pair {
    pub key: String,
    pub value: String,
    /// The value is an item of a list. Backstage also indexes such an item as the key
    /// `key.item` with the value `true` (which is how `metadata.tags.java` works); the index
    /// answers those keys from this flag instead of storing one key per distinct item.
    pub item: bool,
    /// The authored value differs from `value` in case (facets show the authored one).
    pub cased: bool,
}

/// The search pairs of an entity: its fields, the relations it declares, and the relations
/// others declare towards it (`incoming`: reverse type and source), sorted, without duplicates.
pub(super) fn search_pairs(body: &Value, edges: &[Edge], incoming: &[(&str, &str)]) -> Vec<Pair> {
    let mut pairs = Vec::new();
    flatten("", body, false, &mut pairs);
    for edge in edges {
        pairs.push(relation(edge.kind(), &edge.target));
    }
    for (kind, source) in incoming {
        pairs.push(relation(kind, source));
    }
    pairs.retain(|p| p.key.len() <= MAX_VALUE_LENGTH && p.value.len() <= MAX_VALUE_LENGTH);
    pairs.sort();
    pairs.dedup_by(|a, b| a.key == b.key && a.value == b.value);
    pairs
}

/// The pair a relation is searched by: `relations.<lowercase type>` = target reference.
pub(super) fn relation(kind: &str, target: &str) -> Pair {
    Pair {
        key: relation_key(kind),
        value: target.to_owned(),
        item: false,
        cased: false,
    }
}

pub(super) fn relation_key(kind: &str) -> String {
    format!("relations.{}", kind.to_lowercase())
}

fn flatten(prefix: &str, value: &Value, item: bool, out: &mut Vec<Pair>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                // Output-only fields are never filtered on.
                if prefix.is_empty() && (key == "relations" || key == "status") {
                    continue;
                }
                let path = if prefix.is_empty() {
                    key.to_lowercase()
                } else {
                    format!("{prefix}.{}", key.to_lowercase())
                };
                flatten(&path, value, false, out);
            }
        }
        Value::Array(items) => {
            for entry in items {
                flatten(prefix, entry, !entry.is_object() && !entry.is_array(), out);
            }
        }
        scalar => {
            let (text, cased) = match scalar {
                Value::String(s) => {
                    let lower = s.to_lowercase();
                    let cased = lower != *s;
                    (lower, cased)
                }
                Value::Bool(b) => (b.to_string(), false),
                Value::Number(n) => (n.to_string(), false),
                _ => return,
            };
            out.push(Pair {
                key: prefix.to_owned(),
                value: text,
                item,
                cased,
            });
        }
    }
}

/// The authored scalar values under the lowercase dotted `path` in `body`. Keys may themselves
/// contain dots (`backstage.io/orphan`), so each level tries every key the path starts with.
pub(super) fn original_values<'a>(body: &'a Value, path: &str, out: &mut Vec<&'a str>) {
    match body {
        Value::Array(items) => items.iter().for_each(|i| original_values(i, path, out)),
        Value::String(s) if path.is_empty() => out.push(s),
        Value::Object(map) if !path.is_empty() => {
            for (key, value) in map {
                let key = key.to_lowercase();
                if path == key {
                    original_values(value, "", out);
                } else if let Some(rest) = path.strip_prefix(&key).and_then(|r| r.strip_prefix('.'))
                {
                    original_values(value, rest, out);
                }
            }
        }
        _ => {}
    }
}
