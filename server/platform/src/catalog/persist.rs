//! The catalog's SQL. Entities are written in batches of multi-row statements so that a 100 000
//! entity import is a few hundred round trips, not hundreds of thousands.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::index::Stored;
use crate::time::now_millis;
use crate::{Result, Store};

/// Rows per multi-row statement on PostgreSQL.
const BATCH: usize = 1000;
/// Rows per multi-row statement on SQLite, which finds each numbered parameter by walking a list:
/// the cost of a statement grows with the square of its parameters, so statements stay small.
const SQLITE_BATCH: usize = 100;

fn batch(store: &Store) -> usize {
    match store.engine() {
        crate::store::Engine::Sqlite => SQLITE_BATCH,
        crate::store::Engine::Postgres => BATCH,
    }
}

/// One stored row, as loaded at start.
pub struct Row_ {
    pub uid: String,
    pub entity_ref: String,
    pub body: String,
    pub etag: String,
    pub generation: i64,
    pub location_key: String,
}

/// Hex SHA-256 of an entity body, to detect unchanged entities.
pub fn hash(body: &str) -> String {
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn load_all(store: &Store) -> Result<Vec<Row_>> {
    let rows =
        sqlx::query("SELECT uid, entity_ref, body, etag, generation, location_key FROM entities")
            .fetch_all(store.pool())
            .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Row_ {
                uid: r.try_get("uid")?,
                entity_ref: r.try_get("entity_ref")?,
                body: r.try_get("body")?,
                etag: r.try_get("etag")?,
                generation: r.try_get("generation")?,
                location_key: r.try_get("location_key")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
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
    for chunk in entities.chunks(batch(store)) {
        let sql = format!(
            "INSERT INTO entities (uid, entity_ref, kind, namespace, name, owner_ref, body, etag, generation, location_key, body_hash, created_at, updated_at) \
             VALUES {} ON CONFLICT (entity_ref) DO UPDATE SET kind = excluded.kind, namespace = excluded.namespace, name = excluded.name, \
             owner_ref = excluded.owner_ref, body = excluded.body, etag = excluded.etag, generation = excluded.generation, \
             location_key = excluded.location_key, body_hash = excluded.body_hash, updated_at = excluded.updated_at",
            placeholders(chunk.len(), 13)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            let owner = e
                .edges
                .iter()
                .find(|edge| edge.kind == "ownedBy")
                .map(|edge| edge.target.clone());
            query = query
                .bind(e.uid.clone())
                .bind(e.entity_ref.clone())
                .bind(e.kind.clone())
                .bind(e.namespace.clone())
                .bind(e.name.clone())
                .bind(owner)
                .bind(e.body.to_string())
                .bind(e.etag.clone())
                .bind(e.generation)
                .bind(e.location_key.clone())
                .bind(hash(&e.body))
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
    for chunk in refs.chunks(batch(store)) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "DELETE FROM entities WHERE entity_ref IN ({})",
            list.join(", ")
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

/// Writes users and teams from their entities, removes those whose entity is gone, and replaces
/// the memberships of every user and team touched.
pub async fn sync_identity(
    store: &Store,
    users: &[(String, String, Option<String>)],
    teams: &[(String, String, Option<String>)],
    gone: &[String],
    user_teams: &[(String, Vec<String>)],
    team_users: &[(String, Vec<String>)],
) -> Result<()> {
    if users.is_empty() && teams.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let now = now_millis();
    let mut tx = store.pool().begin().await?;
    for (entity_ref, display, email) in users {
        sqlx::query(
            "INSERT INTO users (entity_ref, display_name, email, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (entity_ref) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, updated_at = excluded.updated_at",
        )
        .bind(entity_ref)
        .bind(display)
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    for (entity_ref, display, parent) in teams {
        sqlx::query(
            "INSERT INTO teams (entity_ref, display_name, parent_ref, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (entity_ref) DO UPDATE SET display_name = excluded.display_name, parent_ref = excluded.parent_ref, updated_at = excluded.updated_at",
        )
        .bind(entity_ref)
        .bind(display)
        .bind(parent)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    for entity_ref in gone {
        sqlx::query("DELETE FROM users WHERE entity_ref = $1")
            .bind(entity_ref)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM teams WHERE entity_ref = $1")
            .bind(entity_ref)
            .execute(&mut *tx)
            .await?;
    }
    for (user, teams) in user_teams {
        sqlx::query("DELETE FROM memberships WHERE user_ref = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        for team in teams {
            insert_membership(&mut tx, user, team).await?;
        }
    }
    for (team, users) in team_users {
        sqlx::query("DELETE FROM memberships WHERE team_ref = $1")
            .bind(team)
            .execute(&mut *tx)
            .await?;
        for user in users {
            insert_membership(&mut tx, user, team).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Adds a membership when both sides exist (a dangling reference is reported elsewhere).
async fn insert_membership(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &str,
    team: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memberships (user_ref, team_ref) SELECT $1, $2 \
         WHERE EXISTS (SELECT 1 FROM users WHERE entity_ref = $1) AND EXISTS (SELECT 1 FROM teams WHERE entity_ref = $2) \
         ON CONFLICT (user_ref, team_ref) DO NOTHING",
    )
    .bind(user)
    .bind(team)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
