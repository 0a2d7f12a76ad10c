//! Backstage's error envelope, the body of every error the REST API answers.

use serde::Serialize;
use utoipa::ToSchema;

/// Backstage's error envelope, used by every error response:
/// `{"error":{"name","message"},"request":{"method","url"},"response":{"statusCode"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
    pub request: RequestInfo,
    pub response: ResponseInfo,
    /// Every problem, one per field, when the input broke several rules at once (the shape of
    /// Backstage's scaffolder validation errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path, one segment per level.
    pub path: Vec<String>,
    /// `instance.<field>`, as Backstage's scaffolder names it.
    pub property: String,
    pub message: String,
    /// `property` and `message` in one sentence.
    pub stack: String,
    /// The policy that refused the field's value, for a policy denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What to do about it, for a policy denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> Self {
        let path: Vec<String> = if field.is_empty() {
            Vec::new()
        } else {
            field.split('.').map(str::to_owned).collect()
        };
        let property = if field.is_empty() {
            "instance".to_owned()
        } else {
            format!("instance.{field}")
        };
        Self {
            stack: format!("{property} {message}"),
            path,
            property,
            message: message.to_owned(),
            policy: None,
            fix: None,
        }
    }

    /// A policy's denial of the field's value, with the policy and the fix.
    pub fn denied(verdict: &causeway_platform::guardrails::Verdict) -> Self {
        Self {
            policy: Some(verdict.policy.clone()),
            fix: Some(verdict.fix.clone()),
            ..Self::new(&verdict.field, &verdict.message)
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Backstage's error name: `InputError`, `AuthenticationError`, `NotAllowedError`,
    /// `NotFoundError`, `ConflictError`, `PayloadTooLargeError`, `ServiceUnavailableError`, …
    pub name: String,
    /// The field and the rule, e.g. `name: must be 1 to 100 characters`.
    pub message: String,
}

/// The request that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
}

/// The status answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseInfo {
    pub status_code: u16,
}

impl ErrorEnvelope {
    pub fn new(name: &str, message: &str, method: &str, url: &str, status_code: u16) -> Self {
        Self {
            error: ErrorBody {
                name: name.to_owned(),
                message: message.to_owned(),
            },
            request: RequestInfo {
                method: method.to_owned(),
                url: url.to_owned(),
            },
            response: ResponseInfo { status_code },
            errors: Vec::new(),
        }
    }
}
