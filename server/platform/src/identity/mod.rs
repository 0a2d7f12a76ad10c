//! Who is asking: users, their teams and role, sessions for the portal and API tokens for machines.
//!
//! Users and teams are read from the store, where the org import (and later the catalog) puts
//! them; a user's teams are the groups its `spec.memberOf` names.

pub(crate) mod cache;
pub mod oidc;
mod oidc_store;
pub mod provider;
mod scopes;
mod sessions;
mod token_rules;
mod tokens;

pub use oidc_store::{OidcSessions, PendingLogin, PendingLoginError, PendingLogins, SessionGrant};
pub use provider::{ProviderAccounts, RefreshSecret, Standing};
pub use scopes::{Scope, Scopes};
pub use sessions::{NewSession, SESSION_COOKIE, Sessions, session_secret};
pub use tokens::{
    ApiToken, DEFAULT_DAYS as TOKEN_DEFAULT_DAYS, DEFAULT_MAX_DAYS as TOKEN_DEFAULT_MAX_DAYS,
    Issuer, NewToken, TokenCheck, TokenGrant, TokenRequest, Tokens,
};

use serde::Serialize;
use sqlx::Row;

use crate::entity_ref::EntityRef;
use crate::{Error, Result, Store};

/// What a signed-in user may do across the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Works on the services its teams own.
    Developer,
    /// Runs the platform: sees and manages everything.
    PlatformAdmin,
}

/// A team the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub entity_ref: String,
    pub display_name: String,
}

/// The signed-in user, as every request and server function sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Normalised entity reference, e.g. `user:default/ada`; the user's id.
    pub entity_ref: String,
    pub display_name: String,
    pub email: Option<String>,
    pub teams: Vec<Team>,
    pub role: Role,
}

impl Principal {
    /// Whether the user belongs to the team `team_ref` (normalised).
    pub fn is_member_of(&self, team_ref: &str) -> bool {
        self.teams.iter().any(|t| t.entity_ref == team_ref)
    }

    /// Whether the user may act for `owner_ref`: it is one of their teams, or themselves.
    pub fn acts_for(&self, owner_ref: &str) -> bool {
        self.is_member_of(owner_ref) || owner_ref == self.entity_ref
    }
}

/// Resolves users into [`Principal`]s; knows which teams make a user a platform admin.
#[derive(Debug, Clone)]
pub struct Directory {
    store: Store,
    admin_teams: Vec<String>,
    /// User reference → principal, for a few seconds; see [`cache`]. Shared with the catalog,
    /// which clears it whenever it changes users, teams or memberships.
    cache: PrincipalCache,
}

/// The principals cache shared by the directory and the catalog.
pub(crate) type PrincipalCache = std::sync::Arc<cache::TtlCache<Principal>>;

impl Directory {
    /// `admin_teams` are group references whose members are platform admins; they are normalised
    /// here, and an invalid one is an error naming `auth.admin_teams`.
    pub(crate) fn new(store: Store, admin_teams: &[String], cache: PrincipalCache) -> Result<Self> {
        let admin_teams = admin_teams
            .iter()
            .map(|t| EntityRef::parse(t, Some("group"), "admin_teams").map(|r| r.to_string()))
            .collect::<Result<_>>()?;
        Ok(Self {
            store,
            admin_teams,
            cache,
        })
    }

    /// The store this directory reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The user named by `user_ref` (normalised), or [`Error::NotFound`].
    pub async fn principal(&self, user_ref: &str) -> Result<Principal> {
        if let Some(principal) = self.cache.get(user_ref) {
            return Ok(principal);
        }
        let principal = self.load_principal(user_ref).await?;
        self.cache.put(user_ref.to_owned(), principal.clone());
        Ok(principal)
    }

    async fn load_principal(&self, user_ref: &str) -> Result<Principal> {
        let row =
            sqlx::query("SELECT entity_ref, display_name, email FROM users WHERE entity_ref = $1")
                .bind(user_ref)
                .fetch_optional(self.store.pool())
                .await?
                .ok_or_else(|| Error::NotFound(format!("user {user_ref}")))?;
        let teams = sqlx::query(
            "SELECT t.entity_ref, t.display_name FROM memberships m \
             JOIN teams t ON t.entity_ref = m.team_ref \
             WHERE m.user_ref = $1 ORDER BY lower(t.display_name), t.entity_ref",
        )
        .bind(user_ref)
        .fetch_all(self.store.pool())
        .await?
        .into_iter()
        .map(|r| {
            Ok(Team {
                entity_ref: r.try_get("entity_ref")?,
                display_name: r.try_get("display_name")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let role = if teams
            .iter()
            .any(|t| self.admin_teams.contains(&t.entity_ref))
        {
            Role::PlatformAdmin
        } else {
            Role::Developer
        };
        Ok(Principal {
            entity_ref: row.try_get("entity_ref")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            teams,
            role,
        })
    }

    /// Parses `text` as a user reference (kind `user` implied) and resolves it. An unknown user is
    /// [`Error::NotFound`]; a malformed reference is [`Error::InvalidInput`] on `field`.
    pub async fn find_user(&self, text: &str, field: &str) -> Result<Principal> {
        let user_ref = EntityRef::parse(text, Some("user"), field)?;
        if user_ref.kind() != "user" {
            return Err(Error::invalid(
                field,
                format!("{text:?} refers to a {}, expected a user", user_ref.kind()),
            ));
        }
        self.principal(&user_ref.to_string()).await
    }

    /// Every known user, ordered by display name (for the development sign-in page).
    pub async fn users(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT entity_ref, display_name FROM users ORDER BY lower(display_name), entity_ref",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get("entity_ref")?, r.try_get("display_name")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}
