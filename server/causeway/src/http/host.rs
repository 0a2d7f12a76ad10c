//! The development sign-in's guard against DNS rebinding. `auth_mode = "dev"` listens on loopback
//! only, but a web page can point a name it controls at 127.0.0.1 and then read this server as
//! its own origin; such requests carry that name in `Host`. In development mode only the public
//! URL's host and loopback names are answered; others get 421 Misdirected Request.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.config.auth_mode != crate::config::AuthMode::Dev {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    match host {
        // HTTP/1.0 and in-process callers send no Host; browsers always do, so a request
        // without one is not a rebinding page's.
        None => next.run(request).await,
        Some(host) if allowed(&state.config.public_url, host) => next.run(request).await,
        Some(host) => {
            tracing::warn!(%host, "refused a request for another host name (auth_mode = dev)");
            (
                StatusCode::MISDIRECTED_REQUEST,
                "this development server answers only for its public_url's host and loopback names",
            )
                .into_response()
        }
    }
}

/// Whether `host` (a `Host` header: name or address, and maybe a port) is the public URL's or a
/// loopback one.
fn allowed(public_url: &url::Url, host: &str) -> bool {
    let public = public_url.host_str().map(|h| match public_url.port() {
        Some(port) => format!("{h}:{port}"),
        None => h.to_owned(),
    });
    if public.is_some_and(|p| p.eq_ignore_ascii_case(host)) {
        return true;
    }
    let Ok(url) = url::Url::parse(&format!("http://{host}/")) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn only_the_public_host_and_loopback_are_answered() {
        let public = url::Url::parse("http://dev.example.test:3000").expect("url");
        for host in [
            "dev.example.test:3000",
            "localhost:3000",
            "127.0.0.1:3000",
            "127.0.0.2",
            "[::1]:3000",
            "LOCALHOST",
        ] {
            assert!(allowed(&public, host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3000",
            "dev.example.test:4000",
            "localhost.evil.example",
            "",
            "a b",
        ] {
            assert!(!allowed(&public, host), "{host}");
        }
    }
}
