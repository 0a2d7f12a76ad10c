//! Import outcomes carried through an address, signed for the session that produced them.
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

fn mac(secret: &str, text: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(b"causeway import outcome\0");
    mac.update(text.as_bytes());
    Some(mac)
}

/// The hex signature of `text` for the session with `secret`.
pub fn sign(secret: &str, text: &str) -> Option<String> {
    let tag = mac(secret, text)?.finalize().into_bytes();
    Some(tag.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `signature` is `text`'s signature for the session with `secret` (compared in
/// constant time).
pub fn verify(secret: &str, text: &str, signature: &str) -> bool {
    let Some(bytes) = hex(signature) else {
        return false;
    };
    mac(secret, text).is_some_and(|m| m.verify_slice(&bytes).is_ok())
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
}
