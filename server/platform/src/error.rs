//! The one error type of the domain boundary. Adapters map each variant to their own vocabulary
//! (an HTTP status and Backstage's error envelope, a CLI exit code, a message next to a field).

/// What can go wrong in a domain operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule; `field` is the path of the offending field, `rule` says what was expected.
    #[error("{field}: {rule}")]
    InvalidInput { field: String, rule: String },
    /// Documents were refused; every problem is listed (nothing was stored).
    #[error("{} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<crate::catalog::Problem>),
    /// The platform team's policies refused the request; every denial is listed with its field,
    /// message and fix.
    #[error("denied by policy: {}", .0.iter().map(|v| format!("{} ({}): {}", v.policy, v.field, v.message)).collect::<Vec<_>>().join("; "))]
    PolicyDenied(Vec<crate::guardrails::Verdict>),
    /// The named thing does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// The request conflicts with existing state (for example a duplicate name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may not do this; the message says why and who may.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The store could not be reached or refused the statement.
    /// A Kubernetes cluster could not be reached or refused the connection's configuration.
    #[error("cluster unavailable: {0}")]
    Cluster(String),

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Result of a domain operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
