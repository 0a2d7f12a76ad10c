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
    flatten(&mut String::new(), body, false, &mut pairs);
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

/// Calls `f` with [`relation_key`]`(kind)`, written on the stack when the type is short ASCII (as
/// every type of the kind table is): marking a relation's target happens for every relation of
/// every entity at start-up, and needs the key only to look it up.
pub(super) fn with_relation_key<R>(kind: &str, f: impl FnOnce(&str) -> R) -> R {
    const PREFIX: &[u8] = b"relations.";
    let mut buffer = [0u8; 64];
    let end = PREFIX.len() + kind.len();
    if !kind.is_ascii() || end > buffer.len() {
        return f(&relation_key(kind));
    }
    buffer[..PREFIX.len()].copy_from_slice(PREFIX);
    for (to, from) in buffer[PREFIX.len()..end].iter_mut().zip(kind.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    match std::str::from_utf8(&buffer[..end]) {
        Ok(key) => f(key),
        Err(_) => f(&relation_key(kind)),
    }
}

/// Adds the pairs of `value`, found at the dotted lowercase `path`. The path is one buffer,
/// extended for each member and cut back after it, rather than a new string per member: this
/// runs for every field of every entity at start-up.
fn flatten(path: &mut String, value: &Value, item: bool, out: &mut Vec<Pair>) {
    match value {
        Value::Object(map) => {
            let parent = path.len();
            for (key, value) in map {
                // Output-only fields are never filtered on.
                if parent == 0 && (key == "relations" || key == "status") {
                    continue;
                }
                if parent > 0 {
                    path.push('.');
                }
                if key.is_ascii() {
                    path.extend(key.chars().map(|c| c.to_ascii_lowercase()));
                } else {
                    // Lowercasing some letters depends on their neighbours (a final sigma).
                    path.push_str(&key.to_lowercase());
                }
                flatten(path, value, false, out);
                path.truncate(parent);
            }
        }
        Value::Array(items) => {
            for entry in items {
                flatten(path, entry, !entry.is_object() && !entry.is_array(), out);
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
                key: path.clone(),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn relation_keys_on_the_stack_are_the_allocated_ones() {
        let long = "x".repeat(60);
        for kind in [
            "ownerOf",
            "hasPart",
            "dependencyOf",
            "",
            "ÉtéΣ",
            long.as_str(),
        ] {
            with_relation_key(kind, |key| assert_eq!(key, relation_key(kind)));
        }
    }

    #[test]
    fn flattening_joins_lowercase_keys_with_dots() {
        let body = json!({
            "metadata": {"Name": "A", "Tags": ["X", "y"], "labels": {"ÉTÉΣ": "v"}},
            "status": {"x": "skipped"},
            "spec": {"deep": {"List": [{"Key": 1}], "flag": true}},
            "": {"relations": "skipped", "x": "kept"},
        });
        let pairs: Vec<(String, String, bool)> = search_pairs(&body, &[], &[])
            .into_iter()
            .map(|p| (p.key, p.value, p.item))
            .collect();
        let want = [
            ("metadata.labels.étéς", "v", false),
            ("metadata.name", "a", false),
            ("metadata.tags", "x", true),
            ("metadata.tags", "y", true),
            ("spec.deep.flag", "true", false),
            ("spec.deep.list.key", "1", false),
            // A member named "" adds nothing to the path, as before the path was one buffer.
            ("x", "kept", false),
        ];
        let want: Vec<(String, String, bool)> = want
            .into_iter()
            .map(|(k, v, i)| (k.to_owned(), v.to_owned(), i))
            .collect();
        assert_eq!(pairs, want);
    }
}
