//! The organisation: users, teams and the entities they own, imported from descriptor files in
//! Backstage's format (`kind: User`, `kind: Group`, and owned kinds such as `Component`).
//!
//! This is the seam the catalog grows from: today it understands the fields identity and the home
//! page need (`metadata`, `spec.profile`, `spec.memberOf`, `spec.members`, `spec.parent`,
//! `spec.owner`, `spec.type`, `spec.lifecycle`) and stores every entity's body unchanged.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::entity_ref::{DEFAULT_NAMESPACE, EntityRef};
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// What an import stored, and the references it could not resolve.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub users: usize,
    pub teams: usize,
    pub entities: usize,
    pub memberships: usize,
    /// Non-fatal findings, e.g. a `memberOf` naming a group that does not exist.
    pub warnings: Vec<String>,
}

/// A short description of an entity, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitySummary {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
}

struct Parsed {
    entity_ref: EntityRef,
    kind: String,
    body: Value,
    owner: Option<EntityRef>,
}

/// Parses a multi-document YAML text. Every error names the document (1-based) and field; a text
/// with any error yields no entities at all.
pub fn parse_documents(text: &str) -> Result<Vec<Value>> {
    let mut documents = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = <Value as serde::Deserialize>::deserialize(document).map_err(|e| {
            Error::invalid(
                format!("document {}", index + 1),
                format!("is not valid YAML: {e}"),
            )
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

fn parse_entity(index: usize, body: Value) -> Result<Parsed> {
    let at = |field: &str| format!("document {}: {field}", index + 1);
    let text = |field: &str, value: Option<&Value>| -> Result<String> {
        match value.and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => Ok(s.to_owned()),
            _ => Err(Error::invalid(
                at(field),
                "is required and must be a non-empty string",
            )),
        }
    };
    text("apiVersion", body.get("apiVersion"))?;
    let kind = text("kind", body.get("kind"))?;
    let metadata = body.get("metadata");
    let name = text("metadata.name", metadata.and_then(|m| m.get("name")))?;
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    let entity_ref = EntityRef::parse(
        &format!("{kind}:{namespace}/{name}"),
        None,
        &at("metadata.name"),
    )?;
    let owner = match body.pointer("/spec/owner").and_then(Value::as_str) {
        Some(owner) => Some(EntityRef::parse(owner, Some("group"), &at("spec.owner"))?),
        None => None,
    };
    Ok(Parsed {
        entity_ref,
        kind,
        body,
        owner,
    })
}

fn refs_in(body: &Value, pointer: &str, default_kind: &str, field: &str) -> Result<Vec<EntityRef>> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(s) => EntityRef::parse(s, Some(default_kind), field),
                None => Err(Error::invalid(field, "must be a list of entity references")),
            })
            .collect(),
        Some(_) => Err(Error::invalid(field, "must be a list of entity references")),
    }
}

fn str_at(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Imports the org and its entities from `documents` in one transaction.
pub async fn import(store: &Store, documents: Vec<Value>) -> Result<ImportSummary> {
    let parsed = documents
        .into_iter()
        .enumerate()
        .map(|(i, body)| parse_entity(i, body))
        .collect::<Result<Vec<_>>>()?;
    let mut memberships = BTreeSet::new();
    for (index, entity) in parsed.iter().enumerate() {
        let field = |f: &str| format!("document {}: {f}", index + 1);
        match entity.entity_ref.kind() {
            "user" => {
                for team in refs_in(
                    &entity.body,
                    "/spec/memberOf",
                    "group",
                    &field("spec.memberOf"),
                )? {
                    memberships.insert((entity.entity_ref.to_string(), team.to_string()));
                }
            }
            "group" => {
                for user in refs_in(
                    &entity.body,
                    "/spec/members",
                    "user",
                    &field("spec.members"),
                )? {
                    memberships.insert((user.to_string(), entity.entity_ref.to_string()));
                }
            }
            _ => {}
        }
    }

    let now = now_millis();
    let mut summary = ImportSummary::default();
    let mut tx = store.pool().begin().await?;
    for entity in &parsed {
        let entity_ref = entity.entity_ref.to_string();
        let display_name = str_at(&entity.body, "/spec/profile/displayName")
            .or_else(|| str_at(&entity.body, "/metadata/title"))
            .unwrap_or_else(|| entity.entity_ref.name().to_owned());
        match entity.entity_ref.kind() {
            "user" => {
                sqlx::query(
                    "INSERT INTO users (entity_ref, display_name, email, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (entity_ref) DO UPDATE SET \
                     display_name = excluded.display_name, email = excluded.email, updated_at = excluded.updated_at",
                )
                .bind(&entity_ref)
                .bind(&display_name)
                .bind(str_at(&entity.body, "/spec/profile/email"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                summary.users += 1;
            }
            "group" => {
                let parent = match str_at(&entity.body, "/spec/parent") {
                    Some(p) => {
                        Some(EntityRef::parse(&p, Some("group"), "spec.parent")?.to_string())
                    }
                    None => None,
                };
                sqlx::query(
                    "INSERT INTO teams (entity_ref, display_name, parent_ref, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (entity_ref) DO UPDATE SET \
                     display_name = excluded.display_name, parent_ref = excluded.parent_ref, updated_at = excluded.updated_at",
                )
                .bind(&entity_ref)
                .bind(&display_name)
                .bind(parent)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                summary.teams += 1;
            }
            _ => {}
        }
        sqlx::query(
            "INSERT INTO entities (uid, entity_ref, kind, namespace, name, owner_ref, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (entity_ref) DO UPDATE SET \
             kind = excluded.kind, owner_ref = excluded.owner_ref, body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&entity_ref)
        .bind(&entity.kind)
        .bind(entity.entity_ref.namespace())
        .bind(str_at(&entity.body, "/metadata/name").unwrap_or_default())
        .bind(entity.owner.as_ref().map(ToString::to_string))
        .bind(entity.body.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        summary.entities += 1;
    }
    for (user, team) in &memberships {
        let user_known = sqlx::query("SELECT 1 AS one FROM users WHERE entity_ref = $1")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let team_known = sqlx::query("SELECT 1 AS one FROM teams WHERE entity_ref = $1")
            .bind(team)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !(user_known && team_known) {
            let missing = if user_known { team } else { user };
            summary.warnings.push(format!(
                "membership {user} in {team} skipped: {missing} does not exist"
            ));
            continue;
        }
        sqlx::query(
            "INSERT INTO memberships (user_ref, team_ref) VALUES ($1, $2) ON CONFLICT (user_ref, team_ref) DO NOTHING",
        )
        .bind(user)
        .bind(team)
        .execute(&mut *tx)
        .await?;
        summary.memberships += 1;
    }
    tx.commit().await?;
    Ok(summary)
}

/// Entities owned by any of `team_refs` (normalised), ordered by kind and name.
pub async fn owned_by(store: &Store, team_refs: &[String]) -> Result<Vec<EntitySummary>> {
    let mut owned = Vec::new();
    for team in team_refs {
        let rows = sqlx::query(
            "SELECT entity_ref, kind, namespace, body FROM entities WHERE owner_ref = $1",
        )
        .bind(team)
        .fetch_all(store.pool())
        .await?;
        for row in rows {
            let body: String = row.try_get("body")?;
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            owned.push(EntitySummary {
                entity_ref: row.try_get("entity_ref")?,
                kind: row.try_get("kind")?,
                namespace: row.try_get("namespace")?,
                name: str_at(&body, "/metadata/name").unwrap_or_default(),
                title: str_at(&body, "/metadata/title"),
                description: str_at(&body, "/metadata/description"),
                spec_type: str_at(&body, "/spec/type"),
                lifecycle: str_at(&body, "/spec/lifecycle"),
                owner_ref: Some(team.clone()),
            });
        }
    }
    owned.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    Ok(owned)
}
