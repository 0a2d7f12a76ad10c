//! The portal's one error type across the server-function boundary. A server function that fails
//! answers with a [`PortalError`]: the HTTP status its cause stands for and a message for people,
//! plus one entry per field when a policy refused the request. The same value reaches the
//! browser build (encoded as JSON), a page rendered on the server, and a form posted without
//! JavaScript (in the address it is sent back to), so a 403 stays a 403 wherever it is shown.

use std::fmt;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Why a server function failed, as the person who called it should see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalError {
    /// The HTTP status the cause stands for: 400, 401, 403, 404, 409, 500 or 503.
    pub status: u16,
    /// What went wrong, in a sentence for people.
    pub message: String,
    /// For a policy denial, one entry per refused field; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<Denial>,
}

/// One refusal of a policy: the field it concerns, why, and how to satisfy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub field: String,
    pub message: String,
    pub fix: String,
    pub policy: String,
}

impl PortalError {
    /// An error with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            denials: Vec::new(),
        }
    }

    /// A request whose input is not valid (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// Nobody is signed in (401).
    pub fn unauthenticated() -> Self {
        Self::new(401, "sign in first")
    }

    /// Something the server needs is missing or broken (500); the message must not describe the
    /// server's internals, since it reaches the browser.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The heading a page shows above the message.
    pub fn title(&self) -> &'static str {
        match self.status {
            400 => "This request is not valid",
            401 => "Sign in to see this page",
            403 => "Not allowed",
            404 => "Not found",
            409 => "This conflicts with the current state",
            503 => "A service this page needs is not available",
            _ => "Something went wrong",
        }
    }
}

impl fmt::Display for PortalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PortalError {}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself: arguments that do not decode are the
    /// caller's fault (400), a server that cannot be reached is unavailable (503), and anything
    /// else is the server's (500).
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let status = match &value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => 400,
            ServerFnErrorErr::Request(_) => 503,
            _ => 500,
        };
        Self::new(status, value.to_string())
    }
}

/// Reads the error a form posted without JavaScript left in its address (`__err`, the error's
/// JSON in URL-safe base64, as the server-function layer encodes it). `None` when there is none
/// or it does not decode.
#[cfg(feature = "ssr")]
pub fn decode_posted(encoded: &str) -> Option<PortalError> {
    use base64::Engine;
    if encoded.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(encoded))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn an_error_survives_the_address_a_form_post_carries_it_in() {
        use base64::Engine;
        let error = PortalError::new(403, "not allowed: only platform admins");
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(error.ser());
        assert_eq!(decode_posted(&encoded), Some(error));
        assert_eq!(decode_posted(""), None);
        assert_eq!(decode_posted("not base64!"), None);
    }

    #[test]
    fn machinery_failures_keep_the_caller_and_server_apart() {
        let args = PortalError::from_server_fn_error(ServerFnErrorErr::Args("x".into()));
        assert_eq!(args.status, 400);
        let other = PortalError::from_server_fn_error(ServerFnErrorErr::Response("x".into()));
        assert_eq!(other.status, 500);
    }
}
