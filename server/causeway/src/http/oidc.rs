//! OpenID Connect sign-in: `GET /auth/oidc/start` sends the browser to the provider,
//! `GET /auth/oidc/callback` validates what comes back, matches the person to the catalog (the rule
//! lives in `causeway_platform::identity::oidc`) and starts a new session. Only routed when
//! `auth_mode = "oidc"`. A signed-in person is rechecked with the provider while their sessions
//! and API tokens are used ([`recheck_if_due`]; the rule lives in
//! `causeway_platform::identity::provider`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use causeway_platform::Error as DomainError;
use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::identity::oidc::{Refusal, SignInClaims, SignInMatch};
use causeway_platform::identity::provider::Trigger;
use causeway_platform::identity::{
    OidcSessions, PendingLogin, PendingLoginError, PendingLogins, Principal, ProviderAccounts,
    Role, SessionGrant,
};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{local_path, request_id, session_cookie, session_cookie_header};
use crate::oidc::Relying;

/// The cookie that binds a sign-in in progress to the browser that started it.
const BINDING_COOKIE: &str = "causeway_oidc";
/// How long a sign-in may take at the provider.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// How long a request waits for a recheck it set off before it goes on with the person's last
/// standing; the recheck itself finishes in the background.
const RECHECK_WAIT: Duration = Duration::from_secs(3);
/// Sign-ins one client address may start per [`RATE_WINDOW`].
const RATE_LIMIT: u32 = 10;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The relying party and what it keeps, shared by the handlers.
#[derive(Debug)]
pub struct Oidc {
    pub relying: Relying,
    pub logins: PendingLogins,
    pub sessions: OidcSessions,
    /// The people who signed in through the provider, and their rechecks.
    pub accounts: ProviderAccounts,
    limiter: RateLimiter,
}

impl Oidc {
    pub fn new(
        relying: Relying,
        logins: PendingLogins,
        sessions: OidcSessions,
        accounts: ProviderAccounts,
    ) -> Self {
        Self {
            relying,
            logins,
            sessions,
            accounts,
            limiter: RateLimiter::default(),
        }
    }
}

/// Fixed one-minute windows per client address. Sign-ins are counted where they start, since a
/// callback does nothing without a sign-in started here. Behind a reverse proxy every client
/// shares the proxy's address, so the limit then applies to all of them together.
#[derive(Debug, Default)]
struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `Err(seconds to wait)` when `client` has used up its attempts.
    fn check(&self, client: &str) -> Result<(), u64> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| start.elapsed() < RATE_WINDOW);
        }
        let entry = windows
            .entry(client.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= RATE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= RATE_LIMIT {
            return Err(RATE_WINDOW
                .saturating_sub(entry.0.elapsed())
                .as_secs()
                .max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/oidc/start?next=/path`: records a new sign-in and redirects to the provider.
pub async fn start(State(state): State<AppState>, parts: Parts) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let next = Query::<StartQuery>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.next);
    // Requests served in process (tests) have no peer address and share one window.
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    if let Err(wait) = oidc.limiter.check(&client) {
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            &format!(
                "This address started more than {RATE_LIMIT} sign-ins within a minute. Try again in {wait} seconds."
            ),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&wait.to_string()).unwrap_or(HeaderValue::from_static("60")),
        );
        return response;
    }
    let authorization = match oidc.relying.authorize().await {
        Ok(a) => a,
        Err(error) => {
            tracing::error!(%error, "could not start an OpenID Connect sign-in");
            return page(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                &format!(
                    "{} could not be reached; try again shortly, or tell the platform team if it persists.",
                    oidc.relying.provider_name()
                ),
            );
        }
    };
    let browser =
        uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    let login = PendingLogin {
        nonce: authorization.nonce,
        pkce_verifier: authorization.pkce_verifier,
        next_path: local_path(next.as_deref()).to_owned(),
    };
    if let Err(error) = oidc
        .logins
        .begin(&authorization.state, &browser, &login, LOGIN_TTL)
        .await
    {
        return super::error::ApiError::from(error).into_response();
    }
    let mut response = Redirect::to(authorization.url.as_str()).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        binding_cookie(&state, &browser, LOGIN_TTL.as_secs()),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback?code=…&state=…`: validates the sign-in, matches the person and starts
/// a new session.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request_id = request_id(&headers);
    let audit = |target: String, outcome: Outcome, detail: serde_json::Value| {
        let state = state.clone();
        let request_id = request_id.clone();
        async move {
            let actor = if outcome == Outcome::Success {
                target.clone()
            } else {
                "anonymous".to_owned()
            };
            state
                .record(Entry {
                    actor: &actor,
                    action: "auth.sign-in",
                    target: &target,
                    outcome,
                    detail,
                    request_id: request_id.as_deref(),
                })
                .await;
        }
    };
    let provider = oidc.relying.provider_name().to_owned();
    if let Some(error) = &query.error {
        let description = query.error_description.clone().unwrap_or_default();
        audit(
            "anonymous".into(),
            Outcome::Denied,
            json!({ "method": "oidc", "reason": "provider error", "error": error, "description": description }),
        )
        .await;
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign-in did not complete",
            &format!(
                "{provider} answered {error:?}: {description}. Start again from the sign-in page."
            ),
        );
    }
    let (Some(code), Some(login_state)) = (&query.code, &query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            "The callback needs the parameters code and state from the identity provider. Start again from the sign-in page.",
        );
    };
    let browser = cookie_value(&headers, BINDING_COOKIE);
    let login = match oidc.logins.take(login_state, browser.as_deref()).await {
        Ok(Ok(login)) => login,
        Ok(Err(why)) => {
            let reason = match why {
                PendingLoginError::Unknown => {
                    "state: no sign-in with this state is in progress (unknown, or already used)"
                }
                PendingLoginError::Expired => {
                    "state: the sign-in was started more than ten minutes ago"
                }
                PendingLoginError::OtherBrowser => {
                    "state: the sign-in was started in another browser"
                }
            };
            audit(
                "anonymous".into(),
                Outcome::Denied,
                json!({ "method": "oidc", "reason": reason }),
            )
            .await;
            return page(
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                &format!("{reason}. Start again from the sign-in page."),
            );
        }
        Err(error) => return super::error::ApiError::from(error).into_response(),
    };
    let verified = match oidc
        .relying
        .exchange(code, &login.pkce_verifier, &login.nonce)
        .await
    {
        Ok(v) => v,
        Err(error) => {
            tracing::warn!(%error, "an OpenID Connect sign-in was refused");
            audit(
                "anonymous".into(),
                Outcome::Denied,
                json!({ "method": "oidc", "reason": error.to_string() }),
            )
            .await;
            return page(
                StatusCode::UNAUTHORIZED,
                "Sign-in refused",
                &format!("{error}. Start again from the sign-in page."),
            );
        }
    };
    let claims = &verified.claims;
    let matched = match state
        .platform
        .directory
        .match_sign_in(
            &state.platform.catalog,
            claims,
            &state.config.oidc.match_rules(),
        )
        .await
    {
        Ok(m) => m,
        Err(error) => return super::error::ApiError::from(error).into_response(),
    };
    let keep_token = oidc.relying.has_end_session().await;
    let id_token = keep_token.then_some(verified.id_token.as_str());
    let detail = |extra: serde_json::Value| {
        let mut detail = json!({
            "method": "oidc",
            "subject": claims.subject,
            "email": claims.email,
            "groups": claims.groups,
        });
        if let (Some(d), Some(e)) = (detail.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        detail
    };
    // A sign-in always starts a new session: a session that was open in this browser (perhaps
    // planted by someone else) ends, so the session id changes whenever someone signs in.
    if let Some(old) = session_cookie(&headers) {
        let _ = oidc.sessions.end(&old).await;
        if let Err(error) = state.platform.sessions.end(&old).await {
            return super::error::ApiError::from(error).into_response();
        }
    }
    // The provider has just admitted the person: their account is recorded with the refresh token
    // that rechecks use, and a disablement an earlier recheck found is lifted.
    let remember = |user_ref: String| {
        let oidc = oidc.clone();
        let subject = claims.subject.clone();
        let refresh_token = verified.refresh_token.clone();
        async move {
            if refresh_token.is_none() && !oidc.accounts.interval().is_zero() {
                tracing::warn!(
                    user = %user_ref,
                    "the identity provider sent no refresh token (does it grant offline_access to this client?); this person cannot be rechecked"
                );
            }
            oidc.accounts
                .remember(&user_ref, &subject, refresh_token.as_ref())
                .await
        }
    };
    let (user_ref, session) = match matched {
        SignInMatch::Refused(refusal) => {
            audit(
                claims.signed_in_as().to_owned(),
                Outcome::Denied,
                detail(json!({ "reason": refusal.to_string() })),
            )
            .await;
            return refused(&provider, claims, &refusal);
        }
        SignInMatch::Known {
            user_ref,
            added_teams,
            named_groups,
        } => {
            let cleared = match remember(user_ref.clone()).await {
                Ok(cleared) => cleared,
                Err(error) => return super::error::ApiError::from(error).into_response(),
            };
            let session = match state.platform.sessions.create(&user_ref).await {
                Ok(s) => s,
                Err(error) => return super::error::ApiError::from(error).into_response(),
            };
            let grant = SessionGrant {
                user_ref: user_ref.clone(),
                guest: false,
                display_name: String::new(),
                email: claims.email.clone(),
                teams: added_teams.clone(),
            };
            if let Err(error) = oidc
                .sessions
                .record(&session.secret, &grant, id_token)
                .await
            {
                return super::error::ApiError::from(error).into_response();
            }
            let added: Vec<&str> = added_teams.iter().map(|t| t.entity_ref.as_str()).collect();
            audit(
                user_ref.clone(),
                Outcome::Success,
                detail(json!({
                    "added_teams": added,
                    "groups_matched_by_name": named_groups,
                    "cleared_disablement": cleared,
                })),
            )
            .await;
            (user_ref, session)
        }
        SignInMatch::Guest {
            user_ref,
            display_name,
        } => {
            let cleared = match remember(user_ref.clone()).await {
                Ok(cleared) => cleared,
                Err(error) => return super::error::ApiError::from(error).into_response(),
            };
            let grant = SessionGrant {
                user_ref: user_ref.clone(),
                guest: true,
                display_name,
                email: claims.email.clone(),
                teams: Vec::new(),
            };
            let session = match oidc.sessions.create_guest(&grant, id_token).await {
                Ok(s) => s,
                Err(error) => return super::error::ApiError::from(error).into_response(),
            };
            audit(
                user_ref.clone(),
                Outcome::Success,
                detail(json!({ "guest": true, "cleared_disablement": cleared })),
            )
            .await;
            (user_ref, session)
        }
    };
    tracing::info!(user = %user_ref, "signed in with OpenID Connect");
    let max_age = i64::try_from(state.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let mut response = Redirect::to(&login.next_path).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session_cookie_header(&state, &session.secret, max_age),
    );
    headers.append(header::SET_COOKIE, binding_cookie(&state, "", 0));
    response
}

/// Who a session cookie stands for.
#[derive(Debug)]
pub enum SessionCaller {
    Signed(Principal),
    /// No live session.
    Nobody,
    /// A session of a person the identity provider no longer admits: it has just ended.
    Disabled,
}

/// The caller of the session cookie `secret`: a catalog user's session with the teams its sign-in
/// added, or a guest's, or nobody; a person due for a recheck is rechecked first
/// ([`recheck_if_due`]). Without OpenID Connect this is the user's principal.
pub async fn session_principal(
    state: &AppState,
    secret: &str,
    request_id: Option<&str>,
) -> Result<SessionCaller, DomainError> {
    let Some(principal) = session_principal_as_recorded(state, secret).await? else {
        return Ok(SessionCaller::Nobody);
    };
    if recheck_if_due(state, &principal.entity_ref, Trigger::Session, request_id).await? {
        return Ok(SessionCaller::Disabled);
    }
    Ok(SessionCaller::Signed(principal))
}

/// Rechecks `user_ref` with the provider when their last check is older than
/// `oidc_recheck_secs`, and answers whether the provider no longer admits them. The request waits
/// at most [`RECHECK_WAIT`] for the provider; after that it goes on with the last standing, and
/// the recheck completes on its own. Without OpenID Connect nobody is rechecked.
pub async fn recheck_if_due(
    state: &AppState,
    user_ref: &str,
    trigger: Trigger,
    request_id: Option<&str>,
) -> Result<bool, DomainError> {
    let Some(oidc) = state.oidc.clone() else {
        return Ok(false);
    };
    if !oidc.accounts.is_due(user_ref).await? {
        return Ok(oidc.accounts.standing(user_ref).await?.is_disabled());
    }
    let user = user_ref.to_owned();
    let request_id = request_id.map(str::to_owned);
    let check = tokio::spawn(async move {
        oidc.accounts
            .check_if_due(&user, &oidc.relying, trigger, request_id.as_deref())
            .await
    });
    match tokio::time::timeout(RECHECK_WAIT, check).await {
        Ok(Ok(standing)) => Ok(standing?.is_disabled()),
        Ok(Err(error)) => {
            tracing::error!(%error, "a recheck with the identity provider stopped");
            Ok(false)
        }
        Err(_) => {
            tracing::warn!(
                user = user_ref,
                "the identity provider is slow to answer a recheck; the request goes on with the person's last standing"
            );
            Ok(false)
        }
    }
}

/// The principal of the session `secret` as its rows say, without asking the provider.
async fn session_principal_as_recorded(
    state: &AppState,
    secret: &str,
) -> Result<Option<Principal>, DomainError> {
    let user = state.platform.sessions.user_of(secret).await?;
    let grant = match &state.oidc {
        Some(oidc) => oidc.sessions.grant_of(secret).await?,
        None => None,
    };
    match (user, grant) {
        (Some(user), grant) => match state.platform.directory.principal(&user).await {
            Ok(principal) => Ok(Some(match grant {
                Some(g) if !g.guest && g.user_ref == user => state
                    .platform
                    .directory
                    .with_added_teams(principal, &g.teams),
                _ => principal,
            })),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        },
        (None, Some(g)) if g.guest => Ok(Some(Principal {
            entity_ref: g.user_ref,
            display_name: g.display_name,
            email: g.email,
            teams: Vec::new(),
            role: Role::Developer,
        })),
        _ => Ok(None),
    }
}

/// Ends what a sign-in added to the session `secret` and returns where the browser goes next:
/// the provider's logout (RP-initiated), when it offers one, else `None`.
pub async fn end_session(state: &AppState, secret: &str) -> Option<String> {
    let oidc = state.oidc.as_ref()?;
    let id_token = match oidc.sessions.end(secret).await {
        Ok(t) => t,
        Err(error) => {
            tracing::error!(%error, "could not end an OpenID Connect session record");
            None
        }
    };
    let back = state
        .config
        .public_url
        .join("/sign-in?error=signed-out")
        .ok()?;
    oidc.relying
        .end_session_url(id_token.as_deref(), &back)
        .await
        .map(String::from)
}

/// The 403 page for a person who signed in at the provider but may not use Causeway.
fn refused(provider: &str, claims: &SignInClaims, refusal: &Refusal) -> Response {
    let who = claims.signed_in_as();
    let ask = match refusal {
        Refusal::Unknown => format!(
            "Ask a platform admin to add a User to the catalog with spec.profile.email {who:?} (or to allow people without one)."
        ),
        Refusal::Ambiguous(_) => "Ask a platform admin to give that email to one catalog User only.".to_owned(),
        Refusal::DomainNotAllowed(_) => "Sign in with an account of an allowed domain, or ask a platform admin to allow yours (oidc_allowed_domains).".to_owned(),
        Refusal::UnverifiedEmail => format!("Verify your email with {provider}, then sign in again."),
        Refusal::MissingClaim(claim) => format!("Ask the platform team to have {provider} send the {claim:?} claim."),
    };
    page(
        StatusCode::FORBIDDEN,
        "You cannot sign in to Causeway",
        &format!("You signed in to {provider} as {who}, but {refusal}. {ask}"),
    )
}

/// A plain page for outcomes that happen outside the portal (the provider sent the browser here).
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/pkg/causeway.css\"></head><body><main class=\"panel panel--narrow\">\
         <h1>{title}</h1><p class=\"error-box\" role=\"alert\" data-testid=\"sign-in-refused\">{message}</p>\
         <p><a href=\"/sign-in\">Back to sign-in</a></p></main></body></html>",
        title = escape(title),
        message = escape(message),
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The binding cookie: only sent to `/auth/oidc/` and `Lax`, which a top-level navigation back
/// from the provider still carries.
fn binding_cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path=/auth/oidc/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("causeway_oidc=; Path=/auth/oidc/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_counts_per_address() {
        let limiter = RateLimiter::default();
        for _ in 0..RATE_LIMIT {
            assert!(limiter.check("10.0.0.1").is_ok());
        }
        let wait = limiter.check("10.0.0.1").expect_err("limited");
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limiter.check("10.0.0.2").is_ok());
    }

    #[test]
    fn refusal_pages_escape_what_the_provider_sent() {
        let claims = SignInClaims {
            email: Some("<b>mallory@example.com".into()),
            ..SignInClaims::default()
        };
        let response = refused("Dex", &claims, &Refusal::Unknown);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
