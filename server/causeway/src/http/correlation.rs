//! Client-supplied request ids, kept apart from the server's own.
//!
//! The request id ends up in audit records, Kubernetes annotations, GitOps commit messages and the
//! check a provisioning task makes that a record is its own, so it must be one the server chose:
//! `SetRequestIdLayer` always assigns a fresh UUID. A caller's `x-request-id` is still useful to
//! follow a request across systems, so it is kept as the correlation id (`x-correlation-id`),
//! recorded in the request's tracing span and echoed on the response, and trusted for nothing.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The server's request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's own id for a request, echoed back and logged, never used as the request id.
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// The longest correlation id kept; longer ones are dropped rather than cut.
const MAX_LEN: usize = 128;

/// Moves an incoming `x-request-id` to `x-correlation-id` (unless the caller sent one), drops
/// correlation ids that are not short visible ASCII, and echoes the one kept on the response.
/// It must run before `SetRequestIdLayer`, which then finds no request id and makes one.
pub async fn correlate(mut request: Request, next: Next) -> Response {
    let correlation = correlation_id(request.headers_mut());
    let mut response = next.run(request).await;
    if let Some(value) = correlation {
        response.headers_mut().insert(CORRELATION_ID, value);
    }
    response
}

/// Takes the client's request id out of `headers` and leaves the correlation id to keep in them.
fn correlation_id(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let claimed = headers.remove(REQUEST_ID);
    let sent = headers.remove(CORRELATION_ID);
    let kept = sent.or(claimed).filter(is_sane)?;
    headers.insert(CORRELATION_ID, kept.clone());
    Some(kept)
}

/// Whether `value` is safe to log and echo: 1 to 128 visible ASCII characters (no spaces or
/// control characters, which could forge log lines or headers downstream).
fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&HeaderName, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                (*name).clone(),
                HeaderValue::from_bytes(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn the_request_id_moves_to_the_correlation_id() {
        let mut map = headers(&[(&REQUEST_ID, b"abc-123")]);
        assert_eq!(correlation_id(&mut map).expect("kept"), "abc-123");
        assert!(map.get(REQUEST_ID).is_none(), "the server assigns its own");
        assert_eq!(map[CORRELATION_ID], "abc-123");
    }

    #[test]
    fn a_sent_correlation_id_wins() {
        let mut map = headers(&[(&REQUEST_ID, b"mine"), (&CORRELATION_ID, b"trace-7")]);
        assert_eq!(correlation_id(&mut map).expect("kept"), "trace-7");
        assert!(map.get(REQUEST_ID).is_none());
    }

    #[test]
    fn odd_values_are_dropped() {
        let long = "a".repeat(MAX_LEN + 1);
        for value in [
            b"two words".as_slice(),
            b"tab\there",
            b"caf\xc3\xa9",
            long.as_bytes(),
        ] {
            let mut map = headers(&[(&REQUEST_ID, value)]);
            assert!(correlation_id(&mut map).is_none(), "{value:?}");
            assert!(map.get(REQUEST_ID).is_none() && map.get(CORRELATION_ID).is_none());
        }
        let mut map = headers(&[(&REQUEST_ID, "a".repeat(MAX_LEN).as_bytes())]);
        assert!(correlation_id(&mut map).is_some());
    }
}
