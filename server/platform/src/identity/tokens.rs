//! API tokens for machines and CI. The secret is shown once, at creation; the store keeps its
//! SHA-256, which is enough because the secret has 256 bits of entropy (no slow hash needed).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use std::sync::Arc;

use super::cache::TtlCache;
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// Prefix of every token secret, so that secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "cwt_";

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_ref: String,
    pub name: String,
    pub created_at_millis: i64,
    pub last_used_at_millis: Option<i64>,
    pub revoked_at_millis: Option<i64>,
}

/// A token just created: `secret` is the only copy.
#[derive(Debug)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

/// Token storage.
#[derive(Debug, Clone)]
pub struct Tokens {
    store: Store,
    /// Secret hash → user, for a few seconds; see [`super::cache`].
    cache: Arc<TtlCache<String>>,
}

impl Tokens {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// Creates a token for `user_ref` (which must exist) named `name`.
    pub async fn create(&self, user_ref: &str, name: &str) -> Result<NewToken> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid("name", "must be 1 to 100 characters"));
        }
        let known = sqlx::query("SELECT 1 AS one FROM users WHERE entity_ref = $1")
            .bind(user_ref)
            .fetch_optional(self.store.pool())
            .await?;
        if known.is_none() {
            return Err(Error::NotFound(format!("user {user_ref}")));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_secret());
        let token = ApiToken {
            id: uuid::Uuid::new_v4().to_string(),
            user_ref: user_ref.to_owned(),
            name: name.to_owned(),
            created_at_millis: now_millis(),
            last_used_at_millis: None,
            revoked_at_millis: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, user_ref, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.user_ref)
        .bind(&token.name)
        .bind(hash_secret(&secret))
        .bind(token.created_at_millis)
        .execute(self.store.pool())
        .await?;
        Ok(NewToken { token, secret })
    }

    /// Tokens of `user_ref`, or of everyone when `None`, newest first.
    pub async fn list(&self, user_ref: Option<&str>) -> Result<Vec<ApiToken>> {
        let rows = match user_ref {
            Some(user) => sqlx::query(
                "SELECT id, user_ref, name, created_at, last_used_at, revoked_at FROM api_tokens \
                     WHERE user_ref = $1 ORDER BY created_at DESC, id",
            )
            .bind(user)
            .fetch_all(self.store.pool())
            .await?,
            None => sqlx::query(
                "SELECT id, user_ref, name, created_at, last_used_at, revoked_at FROM api_tokens \
                     ORDER BY created_at DESC, id",
            )
            .fetch_all(self.store.pool())
            .await?,
        };
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes the token `id`. Revoking twice is not an error; an unknown id is [`Error::NotFound`].
    pub async fn revoke(&self, id: &str) -> Result<ApiToken> {
        // Which secret belongs to `id` is not known here, so every cached token is dropped.
        self.cache.clear();
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_millis())
            .bind(id)
            .execute(self.store.pool())
            .await?;
        let row = sqlx::query(
            "SELECT id, user_ref, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("token {id}")))?;
        token_from_row(&row)
    }

    /// The user a live (unrevoked) token belongs to, if `secret` is one; records its use.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<String>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        if let Some(user) = self.cache.get(&hash) {
            return Ok(Some(user));
        }
        let row = sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL \
             RETURNING user_ref",
        )
        .bind(now_millis())
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await?;
        let user: Option<String> = match row {
            Some(row) => Some(row.try_get("user_ref")?),
            None => None,
        };
        if let Some(user) = &user {
            self.cache.put(hash, user.clone());
        }
        Ok(user)
    }
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_ref: row.try_get("user_ref")?,
        name: row.try_get("name")?,
        created_at_millis: row.try_get("created_at")?,
        last_used_at_millis: row.try_get("last_used_at")?,
        revoked_at_millis: row.try_get("revoked_at")?,
    })
}

/// 32 random bytes, URL-safe base64 without padding.
pub(crate) fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of a secret, as stored.
pub(crate) fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
