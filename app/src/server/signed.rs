//! Import outcomes and server function errors carried through an address, signed for the
//! session that produced them.
//!
//! A browser without JavaScript posts the import form and is sent back to the import page with
//! the outcome in the address. Unsigned, anyone could craft a link that shows a made-up outcome
//! to someone else; signed with the session's own secret (which only that browser and the server
//! know), only the session that imported can have it shown, and the server keeps no state.

use hmac::{Hmac, Mac};
use leptos::prelude::use_context;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The session secret of the current request, from its cookie.
pub fn session_secret() -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    causeway_platform::identity::session_secret(
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// What a signature is for, so that a signature made for one purpose never verifies for another.
const IMPORT_OUTCOME: &[u8] = b"causeway import outcome\0";
const POSTED_ERROR: &[u8] = b"causeway posted error\0";

fn mac(purpose: &[u8], secret: &str, text: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(purpose);
    mac.update(text.as_bytes());
    Some(mac)
}

fn sign_for(purpose: &[u8], secret: &str, text: &str) -> Option<String> {
    let tag = mac(purpose, secret, text)?.finalize().into_bytes();
    Some(tag.iter().map(|b| format!("{b:02x}")).collect())
}

fn verify_for(purpose: &[u8], secret: &str, text: &str, signature: &str) -> bool {
    let Some(bytes) = hex(signature) else {
        return false;
    };
    mac(purpose, secret, text).is_some_and(|m| m.verify_slice(&bytes).is_ok())
}

/// The hex signature of the import outcome `text` for the session with `secret`.
pub fn sign(secret: &str, text: &str) -> Option<String> {
    sign_for(IMPORT_OUTCOME, secret, text)
}

/// Whether `signature` is the import outcome `text`'s signature for the session with `secret`
/// (compared in constant time).
pub fn verify(secret: &str, text: &str, signature: &str) -> bool {
    verify_for(IMPORT_OUTCOME, secret, text, signature)
}

/// The query parameter that carries a posted error's signature (beside Leptos' `__err`).
pub const ERROR_SIGNATURE: &str = "__sig";

/// The hex signature of a server function's error as Leptos puts it in an address (`__err`),
/// for the session with `secret`. The host signs every such redirect; a page shows the message
/// only when [`verify_error`] accepts it, so a crafted link cannot put words in the alert box.
pub fn sign_error(secret: &str, encoded: &str) -> Option<String> {
    sign_for(POSTED_ERROR, secret, encoded)
}

/// Whether `signature` is `encoded`'s error signature for the session with `secret`.
pub fn verify_error(secret: &str, encoded: &str, signature: &str) -> bool {
    verify_for(POSTED_ERROR, secret, encoded, signature)
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_signing_session_verifies() {
        let signature = sign("session-a", "{\"added\":[]}").expect("signed");
        assert!(verify("session-a", "{\"added\":[]}", &signature));
        assert!(!verify("session-b", "{\"added\":[]}", &signature));
        assert!(!verify("session-a", "{\"added\":[\"x\"]}", &signature));
        assert!(!verify("session-a", "{\"added\":[]}", "zz"));
        assert!(!verify("session-a", "{\"added\":[]}", ""));
    }

    #[test]
    fn error_signatures_are_their_own() {
        let signature = sign_error("session-a", "SGVsbG8=").expect("signed");
        assert!(verify_error("session-a", "SGVsbG8=", &signature));
        assert!(!verify_error("session-a", "SGVsbG9v", &signature), "edited");
        assert!(
            !verify_error("session-b", "SGVsbG8=", &signature),
            "another session"
        );
        let outcome = sign("session-a", "SGVsbG8=").expect("signed");
        assert!(
            !verify_error("session-a", "SGVsbG8=", &outcome),
            "another purpose"
        );
    }
}
