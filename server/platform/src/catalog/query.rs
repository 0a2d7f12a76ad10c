//! Queries in the shape of Backstage's catalog API: filter sets, ordering, full-text filtering,
//! field selection and opaque cursors.
//!
//! Filter semantics follow Backstage: repeated `filter` parameters are alternatives (OR); inside
//! one, comma-separated conditions must all hold (AND), except that several values for the same
//! key are alternatives; `key` alone tests existence; keys and values are case-insensitive.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::index::Index;
use crate::{Error, Result};

mod paging;

/// One key and the values it may have (empty: the key must exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub key: String,
    pub values: Vec<String>,
}

/// Alternatives of conjunctions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub sets: Vec<Vec<Condition>>,
}

impl Filter {
    /// Parses `filter` parameters; `field` names the parameter in errors.
    pub fn parse(params: &[String], field: &str) -> Result<Self> {
        let mut sets = Vec::new();
        for param in params {
            let mut set: Vec<Condition> = Vec::new();
            for part in param.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let (key, value) = match part.split_once('=') {
                    Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim().to_lowercase())),
                    None => (part.to_lowercase(), None),
                };
                if key.is_empty() {
                    return Err(Error::invalid(
                        field,
                        format!("{part:?} has no key; expected key or key=value"),
                    ));
                }
                match set.iter_mut().find(|c| c.key == key) {
                    Some(condition) => condition.values.extend(value),
                    None => set.push(Condition {
                        key,
                        values: value.into_iter().collect(),
                    }),
                }
            }
            if !set.is_empty() {
                sets.push(set);
            }
        }
        Ok(Self { sets })
    }

    /// Whether the filter restricts anything.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The ids matching the filter.
    pub fn evaluate(&self, index: &Index) -> RoaringBitmap {
        if self.sets.is_empty() {
            return index.all().clone();
        }
        let mut result = RoaringBitmap::new();
        for set in &self.sets {
            let mut matched: Option<RoaringBitmap> = None;
            for condition in set {
                let ids = if condition.values.is_empty() {
                    index.having(&condition.key)
                } else {
                    condition
                        .values
                        .iter()
                        .fold(RoaringBitmap::new(), |acc, v| {
                            acc | index.matching(&condition.key, v)
                        })
                };
                matched = Some(match matched {
                    Some(m) => m & ids,
                    None => ids,
                });
                if matched.as_ref().is_some_and(RoaringBitmap::is_empty) {
                    break;
                }
            }
            result |= matched.unwrap_or_default();
        }
        result
    }
}

/// Most sort fields one query may name; each costs a sort of the whole catalog once per write.
pub const MAX_ORDER_FIELDS: usize = 5;

/// Longest sort field accepted, in bytes; far longer than any key an entity has.
pub const MAX_ORDER_FIELD_LEN: usize = 256;

/// A sort field and direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub field: String,
    pub ascending: bool,
}

impl Order {
    /// Parses `orderField` parameters of the form `field[,asc|desc]`.
    pub fn parse(params: &[String]) -> Result<Vec<Self>> {
        let orders = params
            .iter()
            .map(|p| {
                let (field, direction) = p.split_once(',').unwrap_or((p, "asc"));
                let ascending = match direction.trim().to_lowercase().as_str() {
                    "asc" => true,
                    "desc" => false,
                    other => {
                        return Err(Error::invalid(
                            "orderField",
                            format!("{other:?} is not a direction; expected asc or desc"),
                        ));
                    }
                };
                let field = field.trim().to_lowercase();
                Ok(Self { field, ascending })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::check(&orders).map_err(|rule| Error::invalid("orderField", rule))?;
        Ok(orders)
    }

    /// The rules every list of sort fields meets, whether it came from parameters or from a
    /// cursor, which a client can forge as easily: a handful of fields, each a non-empty
    /// lowercase key of reasonable length without spaces or control characters.
    fn check(orders: &[Self]) -> Result<(), String> {
        if orders.len() > MAX_ORDER_FIELDS {
            return Err(format!(
                "at most {MAX_ORDER_FIELDS} sort fields per query, got {}",
                orders.len()
            ));
        }
        for Order { field, .. } in orders {
            if field.is_empty() {
                return Err("needs a field, e.g. metadata.name,asc".to_owned());
            }
            if field.len() > MAX_ORDER_FIELD_LEN {
                return Err(format!(
                    "a sort field has at most {MAX_ORDER_FIELD_LEN} characters, got {}",
                    field.len()
                ));
            }
            if field.chars().any(|c| c.is_whitespace() || c.is_control())
                || *field != field.to_lowercase()
            {
                return Err(format!(
                    "{field:?} is not a sort field; expected a lowercase key without spaces, e.g. metadata.name"
                ));
            }
        }
        Ok(())
    }
}

/// Full-text filtering: `term` must occur in one of `fields` (in any indexed value when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullText {
    pub term: String,
    pub fields: Vec<String>,
}

/// Everything a query asks for, except paging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub filter: Filter,
    pub order: Vec<Order>,
    pub full_text: Option<FullText>,
}

/// The state a cursor carries: the query and where the page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub query: Query,
    pub offset: u64,
}

impl Cursor {
    /// The opaque form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses an opaque cursor. Its query is held to the rules of the parameters it replaces:
    /// a cursor is only base64 JSON, so a client can write one with any sort fields it likes.
    pub fn decode(text: &str) -> Result<Self> {
        let cursor: Self = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::invalid("cursor", "is not a cursor returned by this server"))?;
        Order::check(&cursor.query.order)
            .map_err(|rule| Error::invalid("cursor", format!("its orderField: {rule}")))?;
        Ok(cursor)
    }
}

/// One page of ids, in order, and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub ids: Vec<u32>,
    pub total: u64,
}

impl Query {
    /// The ids matching the filter and the full-text term.
    pub fn matching(&self, index: &Index) -> RoaringBitmap {
        let mut ids = self.filter.evaluate(index);
        if let Some(full_text) = self
            .full_text
            .as_ref()
            .filter(|f| !f.term.trim().is_empty())
        {
            let term = full_text.term.trim().to_lowercase();
            let fields: Vec<String> = full_text.fields.iter().map(|f| f.to_lowercase()).collect();
            // Two ways to the same answer: search the distinct values of the searched keys
            // (through a key's trigram index when it has many values, else one scan of a
            // contiguous buffer; cheap when the filter leaves many entities), or test the pairs
            // of each remaining entity (cheap when the filter leaves few, or when no fields are
            // named and every key would have to be searched). Only named keys get an index:
            // searching every key must not build one per key.
            let named = !fields.is_empty();
            let searched: Vec<String> = if named {
                fields.clone()
            } else {
                index.keys().map(str::to_owned).collect()
            };
            let by_values: usize = if named {
                searched
                    .iter()
                    .map(|k| index.full_text_cost(k, &term))
                    .sum()
            } else {
                searched.iter().map(|k| index.distinct_values(k)).sum()
            };
            // Testing an entity means flattening its body again: count it as several values.
            let by_entities = usize::try_from(ids.len())
                .unwrap_or(usize::MAX)
                .saturating_mul(index.pairs_per_entity())
                .saturating_mul(8);
            ids = if by_values <= by_entities {
                full_text_by_values(index, &term, &searched, &ids, named)
            } else {
                full_text_by_entities(index, &ids, &term, &fields)
            };
        }
        ids
    }
}

/// Those of `within` having `term` (lowercase) inside a value of one of `fields` (lowercase,
/// non-empty); `named` when the query named them, which lets keys with many values get a trigram
/// index.
///
/// The keys are searched one after the other into one set of matches, so that an entity found
/// through one key is not read again for the next (see [`Index::add_containing`]). Keys searched
/// on threads of their own would each have their own set: when titles and descriptions repeat
/// the names' words, every match would be read two or three times, and on two cores shared with
/// other requests that measured slower at a million entities (see the README's "A million
/// entities").
fn full_text_by_values(
    index: &Index,
    term: &str,
    fields: &[String],
    within: &RoaringBitmap,
    named: bool,
) -> RoaringBitmap {
    let mut found = index.matches();
    for key in fields {
        index.add_containing(key, term, named, Some(within), &mut found);
    }
    found.into_ids() & within
}

/// Those of `ids` having `term` (lowercase) inside a value of one of `fields` (lowercase; any
/// key when empty).
fn full_text_by_entities(
    index: &Index,
    ids: &RoaringBitmap,
    term: &str,
    fields: &[String],
) -> RoaringBitmap {
    let finder = memchr::memmem::Finder::new(term.as_bytes());
    ids.iter()
        .filter(|id| {
            index.pairs_of(*id).iter().any(|(k, v)| {
                (fields.is_empty() || fields.iter().any(|f| f == k))
                    && finder.find(v.as_bytes()).is_some()
            })
        })
        .collect()
}

/// Keeps only `fields` (dotted paths, case-sensitive as Backstage) of `entity`.
pub fn select_fields(entity: &Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return entity.clone();
    }
    let mut out = Value::Object(Map::new());
    for field in fields {
        let path: Vec<&str> = field.split('.').collect();
        if let Some(value) = lookup(entity, &path) {
            insert(&mut out, &path, value.clone());
        }
    }
    out
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn insert(target: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = target;
    for key in parents {
        let Value::Object(map) = current else { return };
        current = map
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = current {
        map.insert((*last).to_owned(), value);
    }
}

/// Parses `fields` parameters (repeated and/or comma-separated).
pub fn parse_fields(params: &[String]) -> Vec<String> {
    params
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::index::Stored;

    fn entity(kind: &'static str, name: &str, description: &str) -> Stored {
        let body = serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": { "name": name, "description": description, "tags": ["ledger-tag"] },
            "spec": { "type": "service" },
        });
        Stored {
            uid: format!("uid-{name}").into(),
            etag: "e".into(),
            generation: 1,
            names: crate::catalog::index::Names::new(
                &format!("{}:default/{name}", kind.to_lowercase()),
                "default",
                name,
            ),
            kind: crate::catalog::kinds::find(kind).expect("a kind"),
            body: crate::catalog::index::Body::from(body.to_string()),
            edges: Box::default(),
            location_key: std::sync::Arc::from("upload:test"),
        }
    }

    #[test]
    fn cursors_are_held_to_the_sort_field_rules() {
        let cursor = |fields: &[&str]| {
            let order = fields
                .iter()
                .map(|f| Order {
                    field: (*f).to_owned(),
                    ascending: true,
                })
                .collect();
            Cursor {
                query: Query {
                    order,
                    ..Query::default()
                },
                offset: 20,
            }
            .encode()
        };
        let fine = ["metadata.name", "spec.type", "relations.ownedby"];
        assert_eq!(Cursor::decode(&cursor(&fine)).expect("valid").offset, 20);
        let many = ["metadata.name"; MAX_ORDER_FIELDS + 1];
        let long = "a".repeat(MAX_ORDER_FIELD_LEN + 1);
        for (fields, rule) in [
            (&many[..], "at most 5 sort fields"),
            (&[long.as_str()][..], "at most 256 characters"),
            (&["metadata name"][..], "is not a sort field"),
            (&["Metadata.Name"][..], "is not a sort field"),
            (&[""][..], "needs a field"),
        ] {
            let err = Cursor::decode(&cursor(fields)).expect_err("refused");
            assert!(
                matches!(&err, Error::InvalidInput { field, rule: r } if field == "cursor" && r.contains(rule)),
                "{fields:?}: {err}"
            );
        }
        let params: Vec<String> = many.iter().map(|f| (*f).to_owned()).collect();
        let err = Order::parse(&params).expect_err("too many");
        assert_eq!(
            err.to_string(),
            "orderField: at most 5 sort fields per query, got 6"
        );
    }

    #[test]
    fn full_text_strategies_agree() {
        let mut index = Index::default();
        index.upsert(entity("Component", "ledger-api", "Books money"));
        index.upsert(entity("Component", "basket", "Holds the LEDGER of items"));
        index.upsert(entity("API", "payments", "Moves money"));
        index.upsert(entity("Component", "search", "Finds things"));
        index.upsert(entity("Component", "payroll", "Pays the staff"));
        index.upsert(entity(
            "Component",
            "gateway",
            "Ünïcode ΟΔΟΣ 100% of_it\0nul",
        ));
        // Every key with a value or more gets a trigram index when named, so that the index, the
        // scan and the per-entity test all answer each term.
        index.index_text_from(1, usize::MAX);
        let all = index.all().clone();
        let components = Filter::parse(&["kind=component".to_owned()], "filter")
            .expect("filter")
            .evaluate(&index);
        let long = "x".repeat(201);
        for (term, fields) in [
            ("ledger", vec!["metadata.name".to_owned()]),
            (
                "ledger",
                vec![
                    "metadata.name".to_owned(),
                    "metadata.description".to_owned(),
                ],
            ),
            // Found in both keys of one entity, and in an API outside the components.
            (
                "pay",
                vec![
                    "metadata.name".to_owned(),
                    "metadata.description".to_owned(),
                ],
            ),
            ("money", vec!["metadata.description".to_owned()]),
            ("nothing", vec!["metadata.name".to_owned()]),
            // never across two values
            ("apibasket", vec!["metadata.name".to_owned()]),
            ("ketledger", vec!["metadata.name".to_owned()]),
            ("api", vec!["metadata.name".to_owned()]),
            // Short terms scan; NUL, `%` and `_` are literal; Rust lowercases a final sigma.
            ("a", vec!["metadata.name".to_owned()]),
            ("ey", vec!["metadata.description".to_owned()]),
            ("\0nul", vec!["metadata.description".to_owned()]),
            ("0% of_", vec!["metadata.description".to_owned()]),
            ("%", vec!["metadata.description".to_owned()]),
            ("o_i", vec!["metadata.description".to_owned()]),
            ("οδος", vec!["metadata.description".to_owned()]),
            ("ünï", vec!["metadata.description".to_owned()]),
            (&long, vec!["metadata.description".to_owned()]),
        ] {
            // Within the whole catalog and within a part of it (candidates outside it are not
            // read), and with the fields in both orders (an entity found through the first is
            // not tested again for the second).
            let mut reversed = fields.clone();
            reversed.reverse();
            for within in [&all, &components] {
                let by_entities = full_text_by_entities(&index, within, term, &fields);
                for fields in [&fields, &reversed] {
                    let scanned = full_text_by_values(&index, term, fields, within, false);
                    let indexed = full_text_by_values(&index, term, fields, within, true);
                    assert_eq!(scanned, by_entities, "{term:?} in {fields:?}");
                    assert_eq!(indexed, by_entities, "{term:?} in {fields:?}");
                }
            }
        }
        let found = |term: &str| {
            let fields = ["metadata.description".to_owned()];
            full_text_by_values(&index, term, &fields, &all, true).len()
        };
        assert_eq!(
            [found("οδος"), found("0% of_"), found("\0nul"), found("of%")],
            [1, 1, 1, 0]
        );
        // The indexes follow writes instead of being dropped: a changed description is found
        // under its new text only.
        index.upsert(entity("Component", "search", "Finds widgets"));
        let fields = ["metadata.description".to_owned()];
        assert!(index.text_indexes().iter().any(|(k, _)| k == &fields[0]));
        assert_eq!(
            full_text_by_values(&index, "widget", &fields, &all, true).len(),
            1
        );
        assert!(full_text_by_values(&index, "things", &fields, &all, true).is_empty());
        let names = |ids: &RoaringBitmap| -> Vec<String> {
            ids.iter()
                .map(|id| index.get(id).expect("id").name().to_owned())
                .collect()
        };
        let query = |term: &str, fields: &[&str], filter: &str| Query {
            filter: Filter::parse(&[filter.to_owned()], "filter").expect("filter"),
            order: Vec::new(),
            full_text: Some(FullText {
                term: term.to_owned(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            }),
        };
        let mut found = names(
            &query(
                "LEDGER",
                &["metadata.name", "metadata.description"],
                "kind=component",
            )
            .matching(&index),
        );
        found.sort();
        assert_eq!(found, ["basket", "ledger-api"]);
        assert_eq!(
            names(&query("money", &[], "kind=api").matching(&index)),
            ["payments"]
        );
        assert!(
            query("ledger", &["spec.type"], "")
                .matching(&index)
                .is_empty()
        );
    }
}
