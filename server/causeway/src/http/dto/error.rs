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
        }
    }
}
