//! The caller, API tokens and the audit log.

use causeway_platform::audit;
use causeway_platform::identity::{self, ApiToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The caller (`GET /api/me`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Me {
    /// Normalised entity reference, e.g. `user:default/ada`; the user's id.
    pub entity_ref: String,
    pub display_name: String,
    pub email: Option<String>,
    pub teams: Vec<Team>,
    pub role: Role,
}

/// A team the caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Team {
    /// e.g. `group:default/payments`.
    pub entity_ref: String,
    pub display_name: String,
}

/// What the caller may do across the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Developer,
    PlatformAdmin,
}

impl From<&identity::Principal> for Me {
    fn from(principal: &identity::Principal) -> Self {
        Self {
            entity_ref: principal.entity_ref.clone(),
            display_name: principal.display_name.clone(),
            email: principal.email.clone(),
            teams: principal
                .teams
                .iter()
                .map(|t| Team {
                    entity_ref: t.entity_ref.clone(),
                    display_name: t.display_name.clone(),
                })
                .collect(),
            role: match principal.role {
                identity::Role::Developer => Role::Developer,
                identity::Role::PlatformAdmin => Role::PlatformAdmin,
            },
        }
    }
}

/// A token's scope. Scopes are cumulative: `write` includes `read`, `admin` includes `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// `GET` and `HEAD` only.
    Read,
    /// Everything its user may do, except what needs a platform admin.
    Write,
    /// Platform-admin actions too, while its user is a platform admin.
    Admin,
}

impl From<identity::Scope> for TokenScope {
    fn from(scope: identity::Scope) -> Self {
        match scope {
            identity::Scope::Read => Self::Read,
            identity::Scope::Write => Self::Write,
            identity::Scope::Admin => Self::Admin,
        }
    }
}

/// An API token, never with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Token {
    pub id: String,
    /// The user it acts as.
    pub user_ref: String,
    pub name: String,
    /// What it may do, narrowest first.
    pub scopes: Vec<TokenScope>,
    pub created_at_millis: i64,
    /// It stops working at this time.
    pub expires_at_millis: i64,
    /// Recorded at most once a minute.
    pub last_used_at_millis: Option<i64>,
    pub revoked_at_millis: Option<i64>,
}

impl From<&ApiToken> for Token {
    fn from(token: &ApiToken) -> Self {
        Self {
            id: token.id.clone(),
            user_ref: token.user_ref.clone(),
            name: token.name.clone(),
            scopes: token.scopes.iter().map(TokenScope::from).collect(),
            created_at_millis: token.created_at_millis,
            expires_at_millis: token.expires_at_millis,
            last_used_at_millis: token.last_used_at_millis,
            revoked_at_millis: token.revoked_at_millis,
        }
    }
}

/// `GET /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<Token>,
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1 to 100 bytes once trimmed, e.g. `laptop`.
    pub name: String,
    /// `read`, `write` or `admin` (platform admins only). Default: `write`, or the creating
    /// token's own scope when that is narrower. A token cannot create a broader one (403).
    #[schema(nullable = false)]
    pub scopes: Option<Vec<String>>,
    /// Days until it expires, 1 to the server's `token_max_days` (365 by default). Default: 90,
    /// or the creating token's own expiry when that is sooner. A token cannot create one that
    /// outlives it (403).
    #[serde(rename = "expiresInDays", alias = "expires_in_days")]
    #[schema(nullable = false, minimum = 1)]
    pub expires_in_days: Option<i64>,
}

/// A token just created: the secret is shown here only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: Token,
    /// `cwt_…`; send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// A token just revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevokedToken {
    pub token: Token,
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at_millis: i64,
    /// Entity reference of the user, or `anonymous`, or `system…`.
    pub actor: String,
    /// Dotted verb, e.g. `auth.sign-in`, `token.create`.
    pub action: String,
    pub target: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// Free-form details of the action.
    pub detail: Value,
    pub request_id: Option<String>,
}

impl From<&audit::AuditRecord> for AuditRecord {
    fn from(record: &audit::AuditRecord) -> Self {
        Self {
            id: record.id,
            at_millis: record.at_millis,
            actor: record.actor.clone(),
            action: record.action.clone(),
            target: record.target.clone(),
            outcome: record.outcome.clone(),
            detail: record.detail.clone(),
            request_id: record.request_id.clone(),
        }
    }
}

/// `GET /api/audit`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditRecord>,
}
