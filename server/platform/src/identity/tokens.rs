//! API tokens for machines and CI. The secret is shown once, at creation; the store keeps its
//! SHA-256, which is enough because the secret has 256 bits of entropy (no slow hash needed).
//!
//! A token has scopes (see [`super::scopes`]) and an expiry, and it is held to them here, where
//! it is created and where it is resolved, so that no door can forget: a token never creates a
//! token broader than itself (scope or expiry), `admin` is for platform admins only, an expired
//! token or one whose user left the catalog resolves to nothing, a token of a person the identity
//! provider no longer admits is refused (see [`super::provider`]), and its last use is recorded at
//! most once a minute so that authenticating stays a read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::cache::TtlCache;
use super::scopes::{Scope, Scopes};
use super::{Directory, Principal};
use crate::time::now_millis;
use crate::{Error, Result, Store};

/// Prefix of every token secret, so that secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "cwt_";
/// A token's lifetime when its creator names none.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest lifetime a token may be given unless the host configures another
/// (`token_max_days`).
pub const DEFAULT_MAX_DAYS: i64 = 365;
const DAY_MILLIS: i64 = 86_400_000;
/// A token's last use is written at most this often, so that a busy token costs one write a
/// minute rather than one per request.
const LAST_USE_EVERY_MILLIS: i64 = 60_000;

const COLUMNS: &str =
    "id, user_ref, name, scopes, created_at, expires_at, last_used_at, revoked_at";

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_ref: String,
    pub name: String,
    pub scopes: Scopes,
    pub created_at_millis: i64,
    pub expires_at_millis: i64,
    pub last_used_at_millis: Option<i64>,
    pub revoked_at_millis: Option<i64>,
}

/// A token just created: `secret` is the only copy.
#[derive(Debug)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

/// What a live token grants: whose it is, its scopes and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub token_id: String,
    pub user_ref: String,
    pub scopes: Scopes,
    pub expires_at_millis: i64,
}

/// What a presented secret turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// A live token, and the user as it may act: read afresh, with a platform admin's rights
    /// only under `admin` (see [`Scopes::restrict`]).
    Live {
        grant: TokenGrant,
        principal: Principal,
    },
    /// A token that expired at this time.
    Expired { expired_at_millis: i64 },
    /// Not a token, revoked, or its user is no longer in the catalog.
    Unknown,
    /// A live token of a person the identity provider no longer admits (see
    /// [`super::provider`]); it works again once they sign in through the provider.
    Disabled { user_ref: String },
}

impl TokenCheck {
    /// The user of a live token.
    pub fn user_ref(&self) -> Option<&str> {
        match self {
            TokenCheck::Live { grant, .. } => Some(&grant.user_ref),
            TokenCheck::Expired { .. } | TokenCheck::Unknown | TokenCheck::Disabled { .. } => None,
        }
    }
}

/// Who asks for a new token, which bounds what it may be.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// The person, signed in to the portal: any token they may hold.
    Session,
    /// One of the person's tokens: nothing broader or longer-lived than itself.
    Token(&'a TokenGrant),
    /// The operator, on the command line with the database at hand: any token the user may hold,
    /// by default the broadest (`admin` for a platform admin, else `write`).
    Operator,
}

/// What the new token should be; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub name: String,
    /// Scope names, checked here so that errors name the entry (`scopes[1]`).
    pub scopes: Option<Vec<String>>,
    pub expires_in_days: Option<i64>,
}

/// Token storage.
#[derive(Debug, Clone)]
pub struct Tokens {
    store: Store,
    directory: Directory,
    max_days: Arc<AtomicI64>,
    /// Secret hash → grant and whether its person is disabled, for a few seconds; see
    /// [`super::cache`]. Expiry is checked on every use, cached or not.
    cache: Arc<TtlCache<(TokenGrant, bool)>>,
}

impl Tokens {
    pub(crate) fn new(store: Store, directory: Directory) -> Self {
        Self {
            store,
            directory,
            max_days: Arc::new(AtomicI64::new(DEFAULT_MAX_DAYS)),
            cache: Arc::default(),
        }
    }

    /// Sets the longest lifetime a new token may have (`token_max_days`); at least one day.
    pub fn set_max_days(&self, days: i64) {
        self.max_days.store(days.max(1), Ordering::Relaxed);
    }

    pub fn max_days(&self) -> i64 {
        self.max_days.load(Ordering::Relaxed)
    }

    /// Creates a token named `name` for `user_ref` (which must exist) as the operator does: the
    /// broadest scope the user may hold and the default lifetime.
    pub async fn create(&self, user_ref: &str, name: &str) -> Result<NewToken> {
        let holder = self.directory.principal(user_ref).await?;
        let request = TokenRequest {
            name: name.to_owned(),
            ..TokenRequest::default()
        };
        self.issue(&holder, Issuer::Operator, &request).await
    }

    /// Creates a token for `holder` (as a token of theirs would act, when `issuer` is one), held
    /// to what `issuer` may hand out.
    pub async fn issue(
        &self,
        holder: &Principal,
        issuer: Issuer<'_>,
        request: &TokenRequest,
    ) -> Result<NewToken> {
        let name = request.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid("name", "must be 1 to 100 characters"));
        }
        let scopes = self.scopes(holder, issuer, request.scopes.as_deref())?;
        let now = now_millis();
        let expires_at_millis = self.expiry(now, issuer, request.expires_in_days)?;
        // A token outlives the session that made it and acts as a catalog User; someone the
        // catalog does not know (a guest admitted by the identity provider) holds none.
        let known = sqlx::query("SELECT 1 FROM users WHERE entity_ref = $1")
            .bind(&holder.entity_ref)
            .fetch_optional(self.store.pool())
            .await?
            .is_some();
        if !known {
            return Err(Error::Forbidden(format!(
                "{} is not a user of the catalog; API tokens are for catalog users only",
                holder.entity_ref
            )));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_secret());
        let token = ApiToken {
            id: uuid::Uuid::new_v4().to_string(),
            user_ref: holder.entity_ref.clone(),
            name: name.to_owned(),
            scopes,
            created_at_millis: now,
            expires_at_millis,
            last_used_at_millis: None,
            revoked_at_millis: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, user_ref, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(&token.user_ref)
        .bind(&token.name)
        .bind(hash_secret(&secret))
        .bind(token.scopes.to_stored())
        .bind(token.created_at_millis)
        .bind(token.expires_at_millis)
        .execute(self.store.pool())
        .await?;
        Ok(NewToken { token, secret })
    }

    /// The scopes of a new token: those asked for, else the issuer's default, never beyond what
    /// the holder may hold or (for a token) the issuing token's own broadest scope.
    fn scopes(
        &self,
        holder: &Principal,
        issuer: Issuer<'_>,
        asked: Option<&[String]>,
    ) -> Result<Scopes> {
        let person = Scope::broadest_for(holder);
        let ceiling = match issuer {
            Issuer::Token(grant) => grant
                .scopes
                .broadest()
                .map_or(Scope::Read, |s| s.min(person)),
            Issuer::Session | Issuer::Operator => person,
        };
        let scopes = match asked {
            Some(names) => Scopes::new(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Scope::parse(s, &format!("scopes[{i}]")))
                    .collect::<Result<Vec<_>>>()?,
                "scopes",
            )?,
            None => match issuer {
                Issuer::Operator => Scopes::only(person),
                Issuer::Session | Issuer::Token(_) => Scopes::only(ceiling.min(Scope::Write)),
            },
        };
        match scopes.broadest() {
            Some(Scope::Admin) if person != Scope::Admin => Err(Error::Forbidden(
                "scopes: `admin` is only for platform admins".to_owned(),
            )),
            Some(broadest) if broadest > ceiling => Err(Error::Forbidden(format!(
                "scopes: a token cannot create a token broader than itself; this token's broadest scope is `{}`",
                ceiling.as_str()
            ))),
            _ => Ok(scopes),
        }
    }

    /// When a new token expires: after the days asked for (1 to `token_max_days`), else the
    /// default; a token cannot create one that outlives it, and the default is cut to its expiry.
    fn expiry(&self, now: i64, issuer: Issuer<'_>, days: Option<i64>) -> Result<i64> {
        let max = self.max_days();
        let lifetime = match days {
            Some(days) if !(1..=max).contains(&days) => {
                return Err(Error::invalid(
                    "expiresInDays",
                    format!("must be between 1 and {max} days (the server's token_max_days)"),
                ));
            }
            Some(days) => days,
            None => DEFAULT_DAYS.min(max),
        };
        let expires = now.saturating_add(lifetime.saturating_mul(DAY_MILLIS));
        match issuer {
            Issuer::Token(grant) if expires > grant.expires_at_millis => {
                if days.is_some() {
                    return Err(Error::Forbidden(format!(
                        "expiresInDays: a token cannot create a token that outlives itself; this token expires in {} day(s)",
                        (grant.expires_at_millis - now) / DAY_MILLIS
                    )));
                }
                Ok(grant.expires_at_millis)
            }
            _ => Ok(expires),
        }
    }

    /// Tokens of `user_ref`, or of everyone when `None`, newest first.
    pub async fn list(&self, user_ref: Option<&str>) -> Result<Vec<ApiToken>> {
        let rows = match user_ref {
            Some(user) => sqlx::query(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE user_ref = $1 ORDER BY created_at DESC, id"
            ))
            .bind(user)
            .fetch_all(self.store.pool())
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at DESC, id"
                ))
                .fetch_all(self.store.pool())
                .await?
            }
        };
        rows.iter().map(token_from_row).collect()
    }

    /// Drops every cached token, so that a change of a person's standing with the identity
    /// provider applies to their tokens at once in this process.
    pub(crate) fn forget_cached(&self) {
        self.cache.clear();
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
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("token {id}")))?;
        token_from_row(&row)
    }

    /// What `secret` grants, if it is a live token of a user still in the catalog, with the
    /// user as the token may act; records its use (at most once a minute).
    pub async fn authenticate(&self, secret: &str) -> Result<TokenCheck> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(TokenCheck::Unknown);
        }
        let now = now_millis();
        let hash = hash_secret(secret);
        let (grant, disabled) = match self.cache.get(&hash) {
            Some(cached) => cached,
            None => {
                // The join is the rule that a person's tokens stop when their User entity leaves
                // the catalog (the `users` table follows it), whatever the foreign keys do; the
                // outer join finds whether the identity provider still admits them.
                let row = sqlx::query(
                    "SELECT t.id, t.user_ref, t.scopes, t.expires_at, t.last_used_at, a.disabled_at \
                     FROM api_tokens t JOIN users u ON u.entity_ref = t.user_ref \
                     LEFT JOIN oidc_accounts a ON a.user_ref = t.user_ref \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                )
                .bind(&hash)
                .fetch_optional(self.store.pool())
                .await?;
                let Some(row) = row else {
                    return Ok(TokenCheck::Unknown);
                };
                let grant = TokenGrant {
                    token_id: row.try_get("id")?,
                    user_ref: row.try_get("user_ref")?,
                    scopes: Scopes::from_stored(&row.try_get::<String, _>("scopes")?),
                    expires_at_millis: row.try_get("expires_at")?,
                };
                let last_used: Option<i64> = row.try_get("last_used_at")?;
                let disabled = row.try_get::<Option<i64>, _>("disabled_at")?.is_some();
                if grant.expires_at_millis > now
                    && !disabled
                    && last_used.is_none_or(|at| at <= now - LAST_USE_EVERY_MILLIS)
                {
                    self.record_use(&grant.token_id, now).await?;
                }
                self.cache.put(hash, (grant.clone(), disabled));
                (grant, disabled)
            }
        };
        if grant.expires_at_millis <= now {
            return Ok(TokenCheck::Expired {
                expired_at_millis: grant.expires_at_millis,
            });
        }
        if disabled {
            return Ok(TokenCheck::Disabled {
                user_ref: grant.user_ref,
            });
        }
        // The user is read on every use (the directory's own cache is cleared whenever the
        // catalog changes users), so a token cached here stops as soon as its user leaves the
        // catalog, and an `admin` token loses admin rights with its user.
        match self.directory.principal(&grant.user_ref).await {
            Ok(principal) => Ok(TokenCheck::Live {
                principal: grant.scopes.restrict(principal),
                grant,
            }),
            Err(Error::NotFound(_)) => Ok(TokenCheck::Unknown),
            Err(e) => Err(e),
        }
    }

    /// Writes the last use, unless another replica wrote one within the minute.
    async fn record_use(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - LAST_USE_EVERY_MILLIS)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_ref: row.try_get("user_ref")?,
        name: row.try_get("name")?,
        scopes: Scopes::from_stored(&row.try_get::<String, _>("scopes")?),
        created_at_millis: row.try_get("created_at")?,
        expires_at_millis: row.try_get("expires_at")?,
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
