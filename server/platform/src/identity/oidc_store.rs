//! What OpenID Connect sign-in keeps in the store: sign-ins in progress (`oidc_logins`) and what a
//! sign-in added to a session (`oidc_sessions`).
//!
//! A sign-in in progress is kept on the server rather than in a signed cookie: the row can be
//! taken exactly once (a replayed `state` finds nothing, which a cookie cannot guarantee before it
//! expires), every replica behind a load balancer sees it through the shared database, and the
//! PKCE verifier and nonce never travel to the browser. The browser still holds a random binding
//! value in a short-lived cookie whose hash the row keeps, so a callback address sent to someone
//! else (login CSRF) does not sign them in.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::cache::TtlCache;
use super::tokens::{hash_secret, random_secret};
use super::{NewSession, Team};
use crate::time::now_millis;
use crate::{Result, Store};

/// A sign-in in progress, as the callback needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    /// The local path to return to.
    pub next_path: String,
}

/// Why a callback's `state` was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingLoginError {
    /// No sign-in with this state is in progress (never started, or already used).
    Unknown,
    /// It was started too long ago.
    Expired,
    /// It was started in another browser.
    OtherBrowser,
}

/// Sign-ins in progress.
#[derive(Debug, Clone)]
pub struct PendingLogins {
    store: Store,
}

impl PendingLogins {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records a sign-in started with `state` in the browser holding `browser`, for `ttl`; expired
    /// sign-ins are deleted on the way.
    pub async fn begin(
        &self,
        state: &str,
        browser: &str,
        login: &PendingLogin,
        ttl: Duration,
    ) -> Result<()> {
        let now = now_millis();
        sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(self.store.pool())
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, browser_hash, nonce, pkce_verifier, next_path, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hash_secret(state))
        .bind(hash_secret(browser))
        .bind(&login.nonce)
        .bind(&login.pkce_verifier)
        .bind(&login.next_path)
        .bind(now)
        .bind(now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Takes the sign-in started with `state`: it is deleted whatever the outcome, so a state is
    /// used once. `browser` is the binding cookie's value the callback came with.
    pub async fn take(
        &self,
        state: &str,
        browser: Option<&str>,
    ) -> Result<std::result::Result<PendingLogin, PendingLoginError>> {
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1 \
             RETURNING browser_hash, nonce, pkce_verifier, next_path, expires_at",
        )
        .bind(hash_secret(state))
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(Err(PendingLoginError::Unknown));
        };
        if row.try_get::<i64, _>("expires_at")? <= now_millis() {
            return Ok(Err(PendingLoginError::Expired));
        }
        let stored: String = row.try_get("browser_hash")?;
        if browser.map(hash_secret).as_deref() != Some(stored.as_str()) {
            return Ok(Err(PendingLoginError::OtherBrowser));
        }
        Ok(Ok(PendingLogin {
            nonce: row.try_get("nonce")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            next_path: row.try_get("next_path")?,
        }))
    }
}

/// What a sign-in added to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    pub user_ref: String,
    /// Admitted without a catalog user: the principal is made from this row alone.
    pub guest: bool,
    pub display_name: String,
    pub email: Option<String>,
    /// Teams added by groups the catalog maps by annotation.
    pub teams: Vec<Team>,
}

/// The `oidc_sessions` table.
#[derive(Debug, Clone)]
pub struct OidcSessions {
    store: Store,
    ttl: Duration,
    /// Session hash → grant (or none), for a few seconds, like the sessions' own cache.
    cache: Arc<TtlCache<Option<SessionGrant>>>,
}

impl OidcSessions {
    /// Rows expire `ttl` after they are made, with the session they belong to.
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            cache: Arc::default(),
        }
    }

    /// Records what the sign-in that made the session `secret` added to it. `id_token` is kept
    /// for RP-initiated logout only.
    pub async fn record(
        &self,
        secret: &str,
        grant: &SessionGrant,
        id_token: Option<&str>,
    ) -> Result<()> {
        let now = now_millis();
        sqlx::query("DELETE FROM oidc_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.store.pool())
            .await?;
        let teams: Vec<(&str, &str)> = grant
            .teams
            .iter()
            .map(|t| (t.entity_ref.as_str(), t.display_name.as_str()))
            .collect();
        sqlx::query(
            "INSERT INTO oidc_sessions (id_hash, user_ref, guest, display_name, email, teams, \
             id_token, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(hash_secret(secret))
        .bind(&grant.user_ref)
        .bind(i64::from(grant.guest))
        .bind(&grant.display_name)
        .bind(&grant.email)
        .bind(serde_json::to_string(&teams).unwrap_or_else(|_| "[]".to_owned()))
        .bind(id_token)
        .bind(now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Starts a session for a guest: a new secret whose only record is its grant.
    pub async fn create_guest(
        &self,
        grant: &SessionGrant,
        id_token: Option<&str>,
    ) -> Result<NewSession> {
        let secret = random_secret();
        self.record(&secret, grant, id_token).await?;
        let expires_at =
            now_millis().saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX));
        Ok(NewSession {
            secret,
            expires_at_millis: expires_at,
        })
    }

    /// The live grant of the session `secret`, if its sign-in recorded one.
    pub async fn grant_of(&self, secret: &str) -> Result<Option<SessionGrant>> {
        let hash = hash_secret(secret);
        if let Some(grant) = self.cache.get(&hash) {
            return Ok(grant);
        }
        let row = sqlx::query(
            "SELECT user_ref, guest, display_name, email, teams FROM oidc_sessions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(&hash)
        .bind(now_millis())
        .fetch_optional(self.store.pool())
        .await?;
        let grant = match row {
            Some(row) => {
                let teams: Vec<(String, String)> =
                    serde_json::from_str(&row.try_get::<String, _>("teams")?).unwrap_or_default();
                Some(SessionGrant {
                    user_ref: row.try_get("user_ref")?,
                    guest: row.try_get::<i64, _>("guest")? != 0,
                    display_name: row.try_get("display_name")?,
                    email: row.try_get("email")?,
                    teams: teams
                        .into_iter()
                        .map(|(entity_ref, display_name)| Team {
                            entity_ref,
                            display_name,
                        })
                        .collect(),
                })
            }
            None => None,
        };
        self.cache.put(hash, grant.clone());
        Ok(grant)
    }

    /// Ends what sign-ins added to every session of `user_ref` (a guest's sessions end with it)
    /// and returns how many there were.
    pub async fn end_all_of(&self, user_ref: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM oidc_sessions WHERE user_ref = $1")
            .bind(user_ref)
            .execute(self.store.pool())
            .await?;
        self.cache.clear();
        Ok(done.rows_affected())
    }

    /// Replaces the teams the sign-ins of `user_ref` added to their sessions (a recheck read the
    /// provider's groups afresh). Guests have no teams and are left alone.
    pub async fn set_teams_of(&self, user_ref: &str, teams: &[Team]) -> Result<()> {
        let teams: Vec<(&str, &str)> = teams
            .iter()
            .map(|t| (t.entity_ref.as_str(), t.display_name.as_str()))
            .collect();
        sqlx::query("UPDATE oidc_sessions SET teams = $1 WHERE user_ref = $2 AND guest = 0")
            .bind(serde_json::to_string(&teams).unwrap_or_else(|_| "[]".to_owned()))
            .bind(user_ref)
            .execute(self.store.pool())
            .await?;
        self.cache.clear();
        Ok(())
    }

    /// Ends the grant of the session `secret` and returns the ID token kept for logout, if any.
    pub async fn end(&self, secret: &str) -> Result<Option<String>> {
        let hash = hash_secret(secret);
        self.cache.remove(&hash);
        let row = sqlx::query("DELETE FROM oidc_sessions WHERE id_hash = $1 RETURNING id_token")
            .bind(&hash)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("id_token")?,
            None => None,
        })
    }
}
