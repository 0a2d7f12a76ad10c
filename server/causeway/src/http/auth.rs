//! Authentication, CSRF protection and the sign-in/sign-out endpoints.
//!
//! Every request passes [`authenticate`]: it resolves the caller from a bearer token or the session
//! cookie, puts the [`Principal`] into the request's extensions (where handlers and server
//! functions find it), refuses cross-site state changes, and turns away anonymous callers: 401 on
//! the API, a redirect to the sign-in page for pages.

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use causeway_platform::Error as DomainError;
use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::identity::provider::{DISABLED_MESSAGE, Trigger};
use causeway_platform::identity::{Principal, TokenCheck, TokenGrant};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;

/// Name of the session cookie.
pub use causeway_platform::identity::SESSION_COOKIE;

/// Paths anyone may reach without signing in.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/metrics"
            | "/sign-in"
            | "/favicon.ico"
            | "/api/portal/session"
            | "/api/portal/sign-in-options"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/auth/")
        // The push webhooks check the signature that stands for a credential themselves.
        || super::webhooks::SIGNED_PATHS.contains(&path)
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    None,
    Cookie,
    Bearer,
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    causeway_platform::identity::session_secret(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

fn bearer(headers: &HeaderMap) -> Option<Result<String, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ());
    Some(text.and_then(|t| {
        let (scheme, token) = t.split_once(' ').ok_or(())?;
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            Ok(token.trim().to_owned())
        } else {
            Err(())
        }
    }))
}

/// The request id that `SetRequestIdLayer` assigned, for audit records.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request came from Causeway's own pages. Browsers send `Origin` on
/// every cross-site POST (and `Sec-Fetch-Site`), so a request whose origin is neither the public
/// URL nor the host it was sent to is forged. A request with no origin information at all is
/// accepted only when it carries no session cookie: it then cannot ride on a user's session.
fn same_origin(state: &AppState, headers: &HeaderMap, has_cookie: bool) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return false;
    }
    let public = state.config.public_url.origin().ascii_serialization();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let allowed = |origin: &str| {
        origin == public
            || host.is_some_and(|h| {
                origin == format!("http://{h}") || origin == format!("https://{h}")
            })
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return allowed(origin);
    }
    if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        return url::Url::parse(referer).is_ok_and(|u| allowed(&u.origin().ascii_serialization()));
    }
    !has_cookie
}

fn deny(request: &Request, error: ApiError) -> Response {
    if request.uri().path().starts_with("/api/portal/") {
        // The portal's own client reads its error type (`causeway_app::error::PortalError`)
        // from every server function's answer, this one included, and shows the page for its
        // status; Backstage's envelope is for the REST API.
        let portal = causeway_app::error::PortalError::new(error.status.as_u16(), error.message);
        return (error.status, axum::Json(portal)).into_response();
    }
    error.to_response(request.method(), request.uri())
}

/// Resolves the caller, enforces CSRF rules and keeps anonymous callers out of private paths.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path == "/metrics" {
        // `/metrics` has its own credential (`metrics_token_file`), which is not an API token;
        // `health::metrics` checks it.
        return next.run(request).await;
    }
    let headers = request.headers();
    let cookie = session_cookie(headers);
    let mut grant = None;
    let (principal, credential) = match bearer(headers) {
        Some(Err(())) => {
            return deny(
                &request,
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`"),
            );
        }
        Some(Ok(secret)) => match token_principal(
            &state,
            &secret,
            request.method(),
            request_id(request.headers()).as_deref(),
        )
        .await
        {
            Ok((principal, token)) => {
                grant = Some(token);
                (Some(principal), Credential::Bearer)
            }
            Err(error) => return deny(&request, error),
        },
        None => match &cookie {
            // A session's principal is its user's, with what an OpenID Connect sign-in added.
            Some(secret) => {
                match super::oidc::session_principal(&state, secret, request_id(headers).as_deref())
                    .await
                {
                    Ok(super::oidc::SessionCaller::Signed(p)) => (Some(p), Credential::Cookie),
                    Ok(super::oidc::SessionCaller::Nobody) => (None, Credential::None),
                    // The session has just ended; the API says why, pages go to the sign-in page.
                    Ok(super::oidc::SessionCaller::Disabled) if is_api(&path) => {
                        return deny(&request, ApiError::unauthorized(DISABLED_MESSAGE));
                    }
                    Ok(super::oidc::SessionCaller::Disabled) => (None, Credential::None),
                    Err(e) => return deny(&request, ApiError::from(e)),
                }
            }
            None => (None, Credential::None),
        },
    };

    if !is_safe(request.method())
        && credential != Credential::Bearer
        && !same_origin(&state, request.headers(), cookie.is_some())
    {
        tracing::warn!(%path, "refused a state-changing request from another origin");
        return deny(
            &request,
            ApiError::forbidden(
                "cross-site request refused: the Origin does not match this server",
            ),
        );
    }

    match principal {
        Some(principal) => {
            request.extensions_mut().insert(principal);
            if let Some(grant) = grant {
                // `POST /api/tokens` holds a token's new tokens to it.
                request.extensions_mut().insert(grant);
            }
        }
        None if is_public(&path) => {}
        None if is_api(&path) => {
            return deny(
                &request,
                ApiError::unauthorized("sign in or send `Authorization: Bearer <token>`"),
            );
        }
        None => {
            let next_path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!("/sign-in?next={}", encode(next_path));
            return Redirect::to(&target).into_response();
        }
    }
    next.run(request).await
}

/// The principal a bearer token acts as, held to the token's rules (see
/// `causeway_platform::identity::Tokens::authenticate`): live, its user still in the catalog and
/// admitted by the identity provider (rechecked first when due), admin rights only with `admin`
/// and only while the user is a platform admin; and changes only with `write` or `admin`. Every
/// request with a token passes here, so no handler can forget one.
async fn token_principal(
    state: &AppState,
    secret: &str,
    method: &Method,
    request_id: Option<&str>,
) -> Result<(Principal, TokenGrant), ApiError> {
    let (principal, grant) = match state.platform.tokens.authenticate(secret).await? {
        TokenCheck::Live { principal, grant } => (principal, grant),
        TokenCheck::Expired { expired_at_millis } => {
            let when = causeway_platform::time::iso(expired_at_millis);
            return Err(ApiError::unauthorized(format!(
                "the token expired at {when}; create a new one"
            )));
        }
        TokenCheck::Unknown => {
            return Err(ApiError::unauthorized(
                "the token is unknown or has been revoked, or its user is no longer in the catalog",
            ));
        }
        TokenCheck::Disabled { .. } => return Err(ApiError::unauthorized(DISABLED_MESSAGE)),
    };
    if super::oidc::recheck_if_due(state, &grant.user_ref, Trigger::Token, request_id).await? {
        return Err(ApiError::unauthorized(DISABLED_MESSAGE));
    }
    if !matches!(*method, Method::GET | Method::HEAD) && !grant.scopes.allows_changes() {
        return Err(ApiError::forbidden(format!(
            "the token's scopes ({}) allow only GET and HEAD; {method} needs a token with scope write",
            grant.scopes.to_stored()
        )));
    }
    Ok((principal, grant))
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A same-origin path to return to after sign-in; anything else becomes `/`. Browsers drop tabs
/// and line breaks from addresses and read `\\` as `/`, so `/\t/evil.example` or `/\\evil.example`
/// would lead to another site: the path must start with a single `/` and hold no `//` and no
/// backslash, and nothing may hold a control character (which also could not be put in a
/// `Location` header). The query may carry addresses (`?url=https://…`).
pub(crate) fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.chars().any(char::is_control)
                && p.split(['?', '#'])
                    .next()
                    .is_some_and(|path| !path.contains("//") && !path.contains('\\')) =>
        {
            p
        }
        _ => "/",
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    user: Option<String>,
    next: Option<String>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"))
}

pub(crate) fn session_cookie_header(
    state: &AppState,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("causeway_session=; Path=/; Max-Age=0"))
}

/// `POST /auth/dev/sign-in` with form field `user=<entity ref>`: signs in as that user. Only routed
/// when `auth_mode = "dev"`, which the configuration allows on loopback addresses only.
pub async fn dev_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let request_id = request_id(&headers);
    let json = wants_json(&headers);
    let text = form.user.unwrap_or_default();
    let next = local_path(form.next.as_deref()).to_owned();
    let failure = |code: &str, status: StatusCode, message: String| -> Response {
        if json {
            let name = if status == StatusCode::BAD_REQUEST {
                "InputError"
            } else {
                "AuthenticationError"
            };
            ApiError::new(status, name, message).into_response()
        } else {
            Redirect::to(&format!(
                "/sign-in?error={code}&user={}&next={}",
                encode(&text),
                encode(&next)
            ))
            .into_response()
        }
    };
    let principal = match state.platform.directory.find_user(&text, "user").await {
        Ok(p) => p,
        Err(e @ DomainError::InvalidInput { .. }) => {
            audit(
                &state,
                "anonymous",
                &text,
                Outcome::Denied,
                json!({ "reason": e.to_string() }),
                request_id.as_deref(),
            )
            .await;
            return failure("invalid-user", StatusCode::BAD_REQUEST, e.to_string());
        }
        Err(DomainError::NotFound(_)) => {
            audit(
                &state,
                "anonymous",
                &text,
                Outcome::Denied,
                json!({ "reason": "unknown user" }),
                request_id.as_deref(),
            )
            .await;
            return failure(
                "unknown-user",
                StatusCode::UNAUTHORIZED,
                format!("user: no user {text:?} is known"),
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let session = match state.platform.sessions.create(&principal.entity_ref).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    audit(
        &state,
        &principal.entity_ref,
        &principal.entity_ref,
        Outcome::Success,
        json!({ "method": "dev" }),
        request_id.as_deref(),
    )
    .await;
    let max_age = i64::try_from(state.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let cookie = session_cookie_header(&state, &session.secret, max_age);
    let mut response = if json {
        axum::Json(json!({ "user": principal.entity_ref })).into_response()
    } else {
        Redirect::to(&next).into_response()
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `POST /auth/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    principal: Option<axum::Extension<Principal>>,
) -> Response {
    let mut provider_logout = None;
    if let Some(secret) = session_cookie(&headers) {
        // With OpenID Connect, the provider's session ends too where it offers RP-initiated logout.
        provider_logout = super::oidc::end_session(&state, &secret).await;
        if let Err(e) = state.platform.sessions.end(&secret).await {
            return ApiError::from(e).into_response();
        }
    }
    if let Some(axum::Extension(p)) = &principal {
        let actor = p.entity_ref.clone();
        state
            .record(Entry {
                actor: &actor,
                action: "auth.sign-out",
                target: &actor,
                outcome: Outcome::Success,
                detail: json!({}),
                request_id: request_id(&headers).as_deref(),
            })
            .await;
    }
    let mut response = Redirect::to(
        provider_logout
            .as_deref()
            .unwrap_or("/sign-in?error=signed-out"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&state, "", 0));
    response
}

async fn audit(
    state: &AppState,
    actor: &str,
    target: &str,
    outcome: Outcome,
    detail: serde_json::Value,
    request_id: Option<&str>,
) {
    state
        .record(Entry {
            actor,
            action: "auth.sign-in",
            target,
            outcome,
            detail,
            request_id,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/catalog?x=1")), "/catalog?x=1");
        assert_eq!(
            local_path(Some("/catalog/import?url=https://example.com/a")),
            "/catalog/import?url=https://example.com/a"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/x\ny",
            "/\r\nSet-Cookie: a=b",
            "/a//b",
            "/a\\b",
            "/\u{7f}",
            "catalog",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; causeway_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("causeway_session="),
        );
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer cwt_x"),
        );
        assert_eq!(bearer(&headers), Some(Ok("cwt_x".to_owned())));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), Some(Err(())));
    }
}
