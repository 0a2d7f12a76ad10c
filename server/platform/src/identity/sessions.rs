//! Server-side portal sessions. The cookie carries a random secret; the store keeps only its hash,
//! so a leaked database does not hand out live sessions.

/// The name of the cookie that carries a session's secret.
pub const SESSION_COOKIE: &str = "causeway_session";

/// The session secret among the values of a request's `Cookie` headers, if there is one.
pub fn session_secret<'a>(cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<String> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::cache::TtlCache;
use super::tokens::{hash_secret, random_secret};
use crate::time::now_millis;
use crate::{Result, Store};

/// A freshly created session: `secret` goes into the cookie and is never seen again.
#[derive(Debug)]
pub struct NewSession {
    pub secret: String,
    pub expires_at_millis: i64,
}

/// Session storage.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: Store,
    ttl: Duration,
    /// Secret hash → (user, expiry), for a few seconds; see [`super::cache`].
    cache: Arc<TtlCache<(String, i64)>>,
}

impl Sessions {
    /// Sessions expire `ttl` after they are created.
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            cache: Arc::default(),
        }
    }

    /// Starts a session for `user_ref`.
    pub async fn create(&self, user_ref: &str) -> Result<NewSession> {
        let secret = random_secret();
        let now = now_millis();
        let expires_at =
            now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX));
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_ref, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(hash_secret(&secret))
        .bind(user_ref)
        .bind(now)
        .bind(expires_at)
        .execute(self.store.pool())
        .await?;
        Ok(NewSession {
            secret,
            expires_at_millis: expires_at,
        })
    }

    /// The user of the live session whose cookie value is `secret`, if any.
    pub async fn user_of(&self, secret: &str) -> Result<Option<String>> {
        let now = now_millis();
        let hash = hash_secret(secret);
        if let Some((user, expires_at)) = self.cache.get(&hash) {
            return Ok((expires_at > now).then_some(user));
        }
        let row = sqlx::query(
            "SELECT user_ref, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user: String = row.try_get("user_ref")?;
        self.cache
            .put(hash, (user.clone(), row.try_get("expires_at")?));
        Ok(Some(user))
    }

    /// Ends the session whose cookie value is `secret`; ending an unknown session is not an error.
    pub async fn end(&self, secret: &str) -> Result<()> {
        let hash = hash_secret(secret);
        self.cache.remove(&hash);
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&hash)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of `user_ref` (the identity provider no longer admits them) and returns
    /// how many there were.
    pub async fn end_all_of(&self, user_ref: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_ref = $1")
            .bind(user_ref)
            .execute(self.store.pool())
            .await?;
        // Which secrets were theirs is not known here, so every cached session is dropped.
        self.cache.clear();
        Ok(done.rows_affected())
    }

    /// Deletes expired sessions and returns how many there were.
    pub async fn purge_expired(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_millis())
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
