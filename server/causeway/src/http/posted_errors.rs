//! Signs the server function errors Leptos sends back through an address. A form posted without
//! JavaScript that fails is redirected to its page with the error in `__err`, which the page shows
//! in its alert box; unsigned, anyone could craft a link that shows made-up words there. Each such
//! redirect gets `__sig`, the error's HMAC under the session's own secret
//! (`causeway_app::server::signed::sign_error`, like import outcomes), and a page shows only
//! errors whose signature verifies for the session reading it.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use causeway_app::server::signed::{ERROR_SIGNATURE, sign_error};

use super::auth::session_cookie;

/// Adds `__sig` to a portal redirect that carries `__err` (and drops any other `__sig`, such as
/// one left in the page's address by an earlier failure).
pub async fn sign(request: Request, next: Next) -> Response {
    let secret = request
        .uri()
        .path()
        .starts_with("/api/portal/")
        .then(|| session_cookie(request.headers()))
        .flatten();
    let mut response = next.run(request).await;
    let Some(secret) = secret else {
        return response;
    };
    let signed = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| signed_location(&secret, location));
    if let Some(location) = signed.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `location` with the signature of its `__err`, or `None` when it carries no error.
fn signed_location(secret: &str, location: &str) -> Option<String> {
    let mut url = url::Url::parse(location).ok()?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != ERROR_SIGNATURE)
        .collect();
    let error = pairs.iter().find(|(k, _)| k == "__err")?.1.clone();
    let signature = sign_error(secret, &error)?;
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(ERROR_SIGNATURE, &signature);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_app::server::signed::verify_error;

    #[test]
    fn only_redirects_with_an_error_are_signed() {
        assert_eq!(signed_location("s", "http://localhost/tasks?x=1"), None);
        let signed = signed_location("s", "http://localhost/tasks?__path=p&__err=QUJD&__sig=old")
            .expect("signed");
        let url = url::Url::parse(&signed).expect("url");
        let sig: Vec<_> = url.query_pairs().filter(|(k, _)| k == "__sig").collect();
        assert_eq!(sig.len(), 1, "{signed}");
        assert!(verify_error("s", "QUJD", &sig[0].1));
    }
}
