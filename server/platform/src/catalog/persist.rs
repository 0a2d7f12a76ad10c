//! The catalog's SQL. Entities are written in batches of multi-row statements so that a 100 000
//! entity import is a few hundred round trips, not hundreds of thousands.

use std::fmt::Write as _;

use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::index::Stored;
use crate::store::Engine;
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// Rows per multi-row statement (13 000 parameters for entities, below both engines' limits).
const BATCH: usize = 1000;

/// One stored row, as loaded at start.
pub struct Row_ {
    pub uid: String,
    pub entity_ref: String,
    pub body: String,
    pub etag: String,
    pub generation: i64,
    pub location_key: String,
}

/// Hex SHA-256 of an entity body, stored beside it. Written digit by digit: a `format!` per
/// byte was 32 allocations for every entity of every import.
pub fn hash(body: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in Sha256::digest(body.as_bytes()) {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// References of the entities stored for `location_key`, read through the `entities_location`
/// index, so that finding what a location no longer provides does not pass over the catalog.
pub async fn location_refs(store: &Store, location_key: &str) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT entity_ref FROM entities WHERE location_key = $1 ORDER BY entity_ref")
            .bind(location_key)
            .fetch_all(store.pool())
            .await?;
    rows.iter()
        .map(|r| r.try_get("entity_ref"))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Every stored row, as a stream: the caller holds a batch at a time rather than the catalog.
pub fn stream_all(store: &Store) -> BoxStream<'_, Result<Row_>> {
    sqlx::query("SELECT uid, entity_ref, body, etag, generation, location_key FROM entities")
        .fetch(store.pool())
        .map_err(Error::from)
        .and_then(|r| async move {
            Ok(Row_ {
                uid: r.try_get("uid")?,
                entity_ref: r.try_get("entity_ref")?,
                body: r.try_get("body")?,
                etag: r.try_get("etag")?,
                generation: r.try_get("generation")?,
                location_key: r.try_get("location_key")?,
            })
        })
        .boxed()
}

/// `rows` parenthesised groups of `columns` parameters. SQLite gets anonymous `?` parameters:
/// it resolves each numbered `$N` by walking a list of every parameter of the statement, so a
/// thousand-row statement with numbered parameters costs time quadratic in its size.
fn placeholders(engine: Engine, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            if c > 1 {
                sql.push_str(", ");
            }
            match engine {
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => {
                    let _ = write!(sql, "${}", r * columns + c);
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Bumps the catalog version inside `tx` and returns the new value.
async fn bump(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<i64> {
    sqlx::query("UPDATE catalog_meta SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT version FROM catalog_meta WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("version")?)
}

/// Inserts or updates `entities` and bumps the catalog version, in one transaction; returns the
/// new version.
pub async fn upsert(store: &Store, entities: &[Stored]) -> Result<i64> {
    let now = now_millis();
    let mut tx = store.pool().begin().await?;
    for chunk in entities.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO entities (uid, entity_ref, kind, namespace, name, owner_ref, body, etag, generation, location_key, body_hash, created_at, updated_at) \
             VALUES {} ON CONFLICT (entity_ref) DO UPDATE SET kind = excluded.kind, namespace = excluded.namespace, name = excluded.name, \
             owner_ref = excluded.owner_ref, body = excluded.body, etag = excluded.etag, generation = excluded.generation, \
             location_key = excluded.location_key, body_hash = excluded.body_hash, updated_at = excluded.updated_at",
            placeholders(store.engine(), chunk.len(), 13)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            // Entities on their way to the store are built from documents; only the index packs
            // bodies, after they are stored.
            let Some(body) = e.body.plain() else {
                return Err(crate::Error::invalid(
                    "body",
                    format!("{}: a packed body cannot be stored", e.entity_ref()),
                ));
            };
            let owner = e
                .edges
                .iter()
                .find(|edge| edge.kind() == "ownedBy")
                .map(|edge| edge.target.to_string());
            query = query
                .bind(e.uid.to_string())
                .bind(e.entity_ref().to_owned())
                .bind(e.kind())
                .bind(e.namespace().to_owned())
                .bind(e.name().to_owned())
                .bind(owner)
                .bind(body.to_owned())
                .bind(e.etag.to_string())
                .bind(e.generation)
                .bind(e.location_key.to_string())
                .bind(hash(body))
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    let version = bump(&mut tx).await?;
    tx.commit().await?;
    Ok(version)
}

/// Deletes the entities with these references and bumps the catalog version; returns the new
/// version.
pub async fn delete(store: &Store, refs: &[String]) -> Result<i64> {
    let mut tx = store.pool().begin().await?;
    for chunk in refs.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM entities WHERE entity_ref IN ({})",
            in_list(store.engine(), chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query.bind(r.clone());
        }
        query.execute(&mut *tx).await?;
    }
    let version = bump(&mut tx).await?;
    tx.commit().await?;
    Ok(version)
}

/// The catalog version: changes whenever any replica writes.
pub async fn version(store: &Store) -> Result<i64> {
    let row = sqlx::query("SELECT version FROM catalog_meta WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get("version")?)
}

/// `$1, $2, …` (or `?, ?, …` on SQLite) for an `IN (…)` list of `n` items.
fn in_list(engine: Engine, n: usize) -> String {
    let one = placeholders(engine, n, 1);
    // `(?), (?)` → `?, ?`: a list of single parameters without the row parentheses.
    one.replace(['(', ')'], "")
}

/// A user or team row: reference, display name, and e-mail (users) or parent team (teams).
pub type IdentityRow = (String, String, Option<String>);

/// Writes users and teams from their entities, removes those whose entity is gone, and replaces
/// the memberships of every user and team touched. Every step is a few multi-row statements, so
/// an organisation of thousands of users syncs in milliseconds.
pub async fn sync_identity(
    store: &Store,
    users: &[IdentityRow],
    teams: &[IdentityRow],
    gone: &[String],
    user_teams: &[(String, Vec<String>)],
    team_users: &[(String, Vec<String>)],
) -> Result<()> {
    if users.is_empty() && teams.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let engine = store.engine();
    let now = now_millis();
    let mut tx = store.pool().begin().await?;
    for (table, third, rows) in [("users", "email", users), ("teams", "parent_ref", teams)] {
        for chunk in rows.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO {table} (entity_ref, display_name, {third}, created_at, updated_at) VALUES {} \
                 ON CONFLICT (entity_ref) DO UPDATE SET display_name = excluded.display_name, {third} = excluded.{third}, updated_at = excluded.updated_at",
                placeholders(engine, chunk.len(), 5)
            );
            let mut query = sqlx::query(&sql);
            for (entity_ref, display, extra) in chunk {
                query = query
                    .bind(entity_ref.as_str())
                    .bind(display.as_str())
                    .bind(extra.as_deref())
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
    }
    for chunk in gone.chunks(BATCH) {
        for table in ["users", "teams"] {
            let sql = format!(
                "DELETE FROM {table} WHERE entity_ref IN ({})",
                in_list(engine, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for entity_ref in chunk {
                query = query.bind(entity_ref.as_str());
            }
            query.execute(&mut *tx).await?;
        }
    }
    for (column, owners) in [("user_ref", user_teams), ("team_ref", team_users)] {
        for chunk in owners.chunks(BATCH) {
            let sql = format!(
                "DELETE FROM memberships WHERE {column} IN ({})",
                in_list(engine, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (owner, _) in chunk {
                query = query.bind(owner.as_str());
            }
            query.execute(&mut *tx).await?;
        }
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (user, teams) in user_teams {
        pairs.extend(teams.iter().map(|team| (user.as_str(), team.as_str())));
    }
    for (team, users) in team_users {
        pairs.extend(users.iter().map(|user| (user.as_str(), team.as_str())));
    }
    pairs.sort_unstable();
    pairs.dedup();
    for chunk in pairs.chunks(BATCH) {
        // A membership is kept only when both sides exist; a dangling reference is reported
        // elsewhere. `column1`/`column2` name the columns of a VALUES list on both engines.
        let sql = format!(
            "INSERT INTO memberships (user_ref, team_ref) SELECT v.column1, v.column2 FROM (VALUES {}) AS v \
             WHERE EXISTS (SELECT 1 FROM users WHERE entity_ref = v.column1) AND EXISTS (SELECT 1 FROM teams WHERE entity_ref = v.column2) \
             ON CONFLICT (user_ref, team_ref) DO NOTHING",
            placeholders(engine, chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for (user, team) in chunk {
            query = query.bind(*user).bind(*team);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hash;

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
