//! The HTTP surface, in process: the real router, middleware stack and a real SQLite database
//! seeded with the demo organisation. No socket, no browser (the browser suite covers those).

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use causeway::config::Config;
use causeway::http::router;
use causeway::serve;
use serde_json::Value;
use tower::ServiceExt as _;

mod support;

const ORIGIN: &str = "http://127.0.0.1:3000";

/// The shared test application (`tests/support/mod.rs`) with this suite's small body limit,
/// one test at a time (see [`SERIAL`]).
struct TestApp {
    app: support::App,
    /// Held for the whole test; see [`SERIAL`].
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(database_url: &str) -> Config {
    let vars = [
        ("CAUSEWAY_DATABASE_URL", database_url),
        ("CAUSEWAY_BODY_LIMIT_BYTES", "4096"),
    ];
    Config::load(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .expect("valid configuration")
}

impl std::ops::Deref for TestApp {
    type Target = support::App;

    fn deref(&self) -> &support::App {
        &self.app
    }
}

impl TestApp {
    async fn new() -> Self {
        let serial = SERIAL.lock().await;
        let app = support::App::with_vars(vec![(
            "CAUSEWAY_BODY_LIMIT_BYTES".to_owned(),
            "4096".to_owned(),
        )])
        .await;
        Self {
            app,
            _serial: serial,
        }
    }

    /// Signs in through the development endpoint and returns the `Cookie` header value.
    async fn sign_in(&self, user: &str) -> String {
        let response = self
            .send(post_form(
                "/auth/dev/sign-in",
                &format!("user={user}"),
                None,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .expect("cookie")
            .to_str()
            .expect("ascii");
        cookie.split(';').next().expect("name=value").to_owned()
    }

    async fn token(&self, user: &str) -> String {
        self.state
            .platform
            .tokens
            .create(user, "test")
            .await
            .expect("token")
            .secret
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn with(mut request: Request<Body>, name: header::HeaderName, value: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert(name, value.parse().expect("header value"));
    request
}

fn post_form(path: &str, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(body.to_owned()))
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert(header::COOKIE, cookie.parse().expect("cookie"));
    }
    request
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

async fn json(response: Response<Body>) -> Value {
    serde_json::from_str(&text(response).await).expect("JSON body")
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::new().await;
    let response = app.send(get("/healthz")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.send(get("/readyz")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["status"], "ready");
    // `/metrics` is closed unless configured (`metrics_public`, `metrics_token_file`); the
    // configured cases are in `tests/access_fixes.rs`.
    let response = app.send(get("/metrics")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("metrics_token_file"));
}

#[tokio::test]
async fn readiness_reports_an_unreachable_database() {
    // Port 1 on loopback: nothing listens there, so connecting fails at once.
    let state =
        serve::state(config("postgres://causeway@127.0.0.1:1/causeway")).expect("lazy state");
    let app = router(state.clone());
    let response = app.clone().oneshot(get("/readyz")).await.expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        json(response).await["reason"]
            .as_str()
            .expect("reason")
            .contains("migrations")
    );
    state.migrated.store(true, Ordering::Release);
    let response = app.clone().oneshot(get("/readyz")).await.expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A fixed message: the database's error (hosts, users, database names) stays in the log.
    assert_eq!(json(response).await["reason"], "database unreachable");
    assert_eq!(
        app.oneshot(get("/healthz"))
            .await
            .expect("response")
            .status(),
        StatusCode::OK,
        "the process stays alive"
    );
}

#[tokio::test]
async fn anonymous_callers_are_turned_away() {
    let app = TestApp::new().await;
    let response = app.send(get("/catalog?kind=component")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/sign-in?next=%2Fcatalog%3Fkind%3Dcomponent"
    );

    let response = app.send(get("/api/me")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json(response).await;
    assert_eq!(body["error"]["name"], "AuthenticationError");
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(body["request"]["url"], "/api/me");
    assert_eq!(body["response"]["statusCode"], 401);

    let response = app
        .send(
            Request::post("/api/portal/home")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "server functions are guarded too"
    );

    let response = app.send(get("/sign-in")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains("Sign in to Causeway") && body.contains("user:default/ada"),
        "dev sign-in lists users"
    );
}

#[tokio::test]
async fn dev_sign_in_starts_a_server_side_session() {
    let app = TestApp::new().await;
    let response = app
        .send(post_form(
            "/auth/dev/sign-in",
            "user=ada&next=%2Fcatalog",
            None,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/catalog");
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set_cookie.starts_with("causeway_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "plain-HTTP loopback server");
    let cookie = set_cookie.split(';').next().expect("pair");

    let response = app.send(with(get("/"), header::COOKIE, cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Hydration markers (`<!>`) sit between text nodes; assertions read the text without them.
    let html = text(response).await.replace("<!>", "");
    assert!(html.starts_with("<!DOCTYPE html>"), "server-rendered HTML");
    assert!(
        html.contains("Ada Okafor") && html.contains("payments-api"),
        "home shows the user and what the team owns"
    );

    let response = app.send(with(get("/api/me"), header::COOKIE, cookie)).await;
    let me = json(response).await;
    assert_eq!(me["entity_ref"], "user:default/ada");
    assert_eq!(me["role"], "developer");
    assert_eq!(me["teams"][0]["entity_ref"], "group:default/payments");

    // An open redirect through `next` is refused.
    let response = app
        .send(post_form(
            "/auth/dev/sign-in",
            "user=ada&next=%2F%2Fevil.example",
            None,
        ))
        .await;
    assert_eq!(response.headers()[header::LOCATION], "/");

    // Signing out ends the session on the server, not just in the browser.
    let response = app
        .send(post_form("/auth/sign-out", "", Some(cookie)))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = app.send(with(get("/api/me"), header::COOKIE, cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_or_malformed_users_cannot_sign_in() {
    let app = TestApp::new().await;
    let response = app
        .send(post_form("/auth/dev/sign-in", "user=mallory", None))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/sign-in?error=unknown-user&user=mallory&next=%2F"
    );
    assert!(response.headers().get(header::SET_COOKIE).is_none());

    let request = with(
        post_form("/auth/dev/sign-in", "user=a%2Fb%2Fc", None),
        header::ACCEPT,
        "application/json",
    );
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["error"]["name"], "InputError");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("user: "),
        "{body}"
    );

    let request = with(
        post_form("/auth/dev/sign-in", "user=mallory", None),
        header::ACCEPT,
        "application/json",
    );
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let audit = app.state.platform.audit.recent(10).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.action == "auth.sign-in" && r.outcome == "denied" && r.target == "mallory")
    );
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = TestApp::new().await;
    let cookie = app.sign_in("ada").await;
    let mut forged = post_form("/auth/sign-out", "", Some(&cookie));
    forged.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("origin"),
    );
    let response = app.send(forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(response).await["error"]["name"], "NotAllowedError");

    // No Origin or Referer at all, but a session cookie: refused as well.
    let mut bare = post_form("/auth/sign-out", "", Some(&cookie));
    bare.headers_mut().remove(header::ORIGIN);
    assert_eq!(app.send(bare).await.status(), StatusCode::FORBIDDEN);

    let mut fetch_metadata = post_form("/auth/sign-out", "", Some(&cookie));
    fetch_metadata
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("value"));
    assert_eq!(
        app.send(fetch_metadata).await.status(),
        StatusCode::FORBIDDEN
    );

    // The session survived every forged attempt.
    assert_eq!(
        app.send(with(get("/api/me"), header::COOKIE, &cookie))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked() {
    let app = TestApp::new().await;
    let secret = app.token("user:default/grace").await;
    let bearer = format!("Bearer {secret}");
    let response = app
        .send(with(get("/api/me"), header::AUTHORIZATION, &bearer))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["entity_ref"], "user:default/grace");

    // Create a second token over the API; bearer-authenticated calls need no Origin.
    let request = Request::post("/api/tokens")
        .header(header::AUTHORIZATION, &bearer)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name":"deploy"}"#))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = json(response).await;
    let id = created["token"]["id"].as_str().expect("id").to_owned();
    assert!(
        created["secret"]
            .as_str()
            .expect("secret")
            .starts_with("cwt_")
    );

    let response = app
        .send(with(get("/api/tokens"), header::AUTHORIZATION, &bearer))
        .await;
    let listed = json(response).await;
    // Grace's own tokens only: the one the shared application made for her, and these two.
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{listed}");
    assert!(items.iter().any(|t| t["id"] == id.as_str()), "{listed}");
    assert!(
        !listed.to_string().contains("cwt_"),
        "secrets are never listed"
    );

    // Another user cannot revoke grace's token, and cannot even tell that it exists.
    let ada = format!("Bearer {}", app.token("user:default/ada").await);
    let revoke = |auth: &str| {
        Request::delete(format!("/api/tokens/{id}"))
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request")
    };
    let response = app.send(revoke(&ada)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(response).await["error"]["name"], "NotFoundError");
    assert_eq!(app.send(revoke(&bearer)).await.status(), StatusCode::OK);

    let response = app
        .send(with(get("/api/tokens"), header::AUTHORIZATION, &bearer))
        .await;
    let listed = json(response).await;
    let revoked = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("listed");
    assert!(revoked["revoked_at_millis"].is_number());

    // A revoked token, an unknown token and a malformed header are each refused with a reason.
    let first = app
        .state
        .platform
        .tokens
        .list(Some("user:default/grace"))
        .await
        .expect("list");
    let original = first.iter().find(|t| t.id != id).expect("first token");
    app.state
        .platform
        .tokens
        .revoke(&original.id)
        .await
        .expect("revoke");
    for auth in [bearer.as_str(), "Bearer cwt_unknown", "Token abc"] {
        let response = app
            .send(with(get("/api/me"), header::AUTHORIZATION, auth))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth}");
        let message = json(response).await["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned();
        assert!(
            message.contains("revoked") || message.contains("Bearer"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn bad_api_input_names_the_field() {
    let app = TestApp::new().await;
    let bearer = format!("Bearer {}", app.token("user:default/ada").await);
    for (body, expected) in [
        (r#"{"name":""}"#, "name: must be 1 to 100 characters"),
        (r#"{"nmae":"x"}"#, "request body:"),
        ("not json", "request body:"),
    ] {
        let request = Request::post("/api/tokens")
            .header(header::AUTHORIZATION, &bearer)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = app.send(request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let envelope = json(response).await;
        assert_eq!(envelope["error"]["name"], "InputError");
        assert!(
            envelope["error"]["message"]
                .as_str()
                .expect("message")
                .starts_with(expected),
            "{envelope}"
        );
    }
    let huge = "x".repeat(10_000);
    let request = Request::post("/api/tokens")
        .header(header::AUTHORIZATION, &bearer)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(r#"{{"name":"{huge}"}}"#)))
        .expect("request");
    assert_eq!(
        app.send(request).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn audit_log_is_for_platform_admins() {
    let app = TestApp::new().await;
    let developer = format!("Bearer {}", app.token("user:default/ada").await);
    let response = app
        .send(with(get("/api/audit"), header::AUTHORIZATION, &developer))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    app.sign_in("grace").await;
    let admin = format!("Bearer {}", app.token("user:default/linus").await);
    let response = app
        .send(with(
            get("/api/audit?limit=5"),
            header::AUTHORIZATION,
            &admin,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let records = json(response).await;
    let first = &records["items"][0];
    assert_eq!(first["action"], "auth.sign-in");
    assert_eq!(first["actor"], "user:default/grace");
    assert_eq!(first["outcome"], "success");
    assert!(
        first["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "audit records carry the request id"
    );
    let response = app
        .send(with(
            get("/api/audit?limit=0"),
            header::AUTHORIZATION,
            &admin,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn responses_carry_security_headers_and_request_ids() {
    let app = TestApp::new().await;
    let response = app.send(get("/healthz")).await;
    let headers = response.headers();
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .contains("frame-ancestors 'none'")
    );
    let generated = app.send(get("/healthz")).await;
    assert_eq!(
        generated.headers()["x-request-id"].len(),
        36,
        "a UUID is assigned when none is sent"
    );

    let compressed = app
        .send(with(get("/sign-in"), header::ACCEPT_ENCODING, "gzip"))
        .await;
    assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn client_request_ids_are_only_correlation_ids() {
    let app = TestApp::new().await;
    let bearer = format!("Bearer {}", app.token("user:default/grace").await);
    let request = Request::post("/api/tokens")
        .header(header::AUTHORIZATION, &bearer)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", "attacker-chosen")
        .body(Body::from(r#"{"name":"correlated"}"#))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let headers = response.headers();
    let id = headers["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "the server assigns its own request id, got {id:?}"
    );
    assert_eq!(headers["x-correlation-id"], "attacker-chosen");

    let records = app.state.platform.audit.recent(10).await.expect("audit");
    let created = records
        .iter()
        .find(|r| r.action == "token.create")
        .expect("the token's creation is audited");
    assert_eq!(created.request_id.as_deref(), Some(id.as_str()));

    // A correlation id the client sends itself is kept; one that could forge log lines is not.
    let response = app
        .send(with(
            get("/healthz"),
            "x-correlation-id".parse().expect("name"),
            "trace-42",
        ))
        .await;
    assert_eq!(response.headers()["x-correlation-id"], "trace-42");
    let response = app
        .send(with(
            get("/healthz"),
            "x-request-id".parse().expect("name"),
            "two words",
        ))
        .await;
    assert!(response.headers().get("x-correlation-id").is_none());
    assert_ne!(response.headers()["x-request-id"], "two words");
}

#[tokio::test]
async fn a_cancellation_is_audited_as_whoever_cancelled() {
    let app = TestApp::new().await;
    let task = app
        .state
        .platform
        .tasks
        .create(causeway_platform::tasks::NewTask {
            kind: "test".to_owned(),
            title: "Waits for a worker".to_owned(),
            input: serde_json::json!({}),
            requester: "user:default/ada".to_owned(),
            owner: Some("group:default/payments".to_owned()),
            subject: None,
            steps: vec![("a".to_owned(), "Step a".to_owned())],
        })
        .await
        .expect("task");
    let cancel = |user: &'static str| {
        let app = &app;
        let path = format!("/api/tasks/{}/cancel", task.id);
        async move {
            let bearer = format!("Bearer {}", app.token(user).await);
            let request = Request::post(path)
                .header(header::AUTHORIZATION, bearer)
                .body(Body::empty())
                .expect("request");
            app.send(request).await
        }
    };
    // Grace is not in payments; Linus is a platform admin.
    assert_eq!(
        cancel("user:default/grace").await.status(),
        StatusCode::FORBIDDEN
    );
    let response = cancel("user:default/linus").await;
    assert_eq!(response.status(), StatusCode::OK);
    let request = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let records = app.state.platform.audit.recent(5).await.expect("audit");
    let cancels: Vec<_> = records
        .iter()
        .filter(|r| r.action == "task.cancel")
        .collect();
    assert_eq!(cancels.len(), 2, "{records:?}");
    let (done, denied) = (cancels[0], cancels[1]);
    assert_eq!(
        (done.actor.as_str(), done.outcome.as_str()),
        ("user:default/linus", "success")
    );
    assert_eq!(done.target, task.id);
    assert_eq!(done.detail["task"], task.id.as_str());
    assert_eq!(done.detail["requester"], "user:default/ada");
    assert_eq!(done.request_id.as_deref(), Some(request.as_str()));
    assert_eq!(
        (denied.actor.as_str(), denied.outcome.as_str()),
        ("user:default/grace", "denied")
    );
}

#[tokio::test]
async fn unknown_pages_are_404_for_signed_in_users() {
    let app = TestApp::new().await;
    let cookie = app.sign_in("ada").await;
    let response = app
        .send(with(get("/no/such/page"), header::COOKIE, &cookie))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("Page not found"));
}

#[tokio::test]
async fn the_catalog_page_renders_filters_counts_and_rows_on_the_server() {
    let app = TestApp::new().await;
    let cookie = app.sign_in("user:default/ada").await;
    let response = app
        .send(with(
            get("/catalog?kind=component&sort=name&dir=desc"),
            header::COOKIE,
            &cookie,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Hydration markers (`<!>`) sit between text nodes; assertions read the text without them.
    let html = text(response).await.replace("<!>", "");
    assert!(html.contains("6 results"), "six demo components");
    let rows: Vec<&str> = html
        .match_indices("data-ref=\"")
        .map(|(i, _)| {
            let rest = &html[i + 10..];
            &rest[..rest.find('"').expect("closing quote")]
        })
        .collect();
    assert_eq!(
        rows,
        [
            "component:default/payments-api",
            "component:default/ledger",
            "component:default/fraud-scoring",
            "component:default/checkout-web",
            "component:default/causeway",
            "component:default/basket",
        ],
        "only components, by name descending"
    );
    // The kind facet counts every kind within the other filters (none), and marks the choice.
    assert!(html.contains(r#"data-selected="true" data-value="Component""#));
    // Facet links keep the other filters and the sort order.
    assert!(
        html.contains(r#"href="/catalog?kind=component&amp;tag=java&amp;dir=desc""#),
        "{html}"
    );
    // Owners are links to their pages.
    assert!(html.contains(r#"<a href="/catalog/default/group/payments">Payments</a>"#));
}

#[tokio::test]
async fn entity_pages_show_owner_relations_and_404_for_unknown_entities() {
    let app = TestApp::new().await;
    let cookie = app.sign_in("user:default/ada").await;
    let response = app
        .send(with(
            get("/catalog/default/api/payments-rest"),
            header::COOKIE,
            &cookie,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Hydration markers (`<!>`) sit between text nodes; assertions read the text without them.
    let html = text(response).await.replace("<!>", "");
    assert!(
        html.contains("mailto:payments@example.com"),
        "owner's email"
    );
    assert!(html.contains(r#"data-testid="owner-link""#));
    assert!(html.contains("<svg"), "relations graph");
    assert!(html.contains(r#"<a href="/catalog/default/component/checkout-web""#));
    assert!(html.contains("openapi: 3.0.0"), "the API definition");

    let response = app
        .send(with(
            get("/catalog/default/component/nothing-here"),
            header::COOKIE,
            &cookie,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("No such entity"));
}

#[tokio::test]
async fn portal_imports_preview_then_store_and_are_audited() {
    let app = TestApp::new().await;
    // A platform admin, because the owner named below does not exist and developers may only
    // register what their own teams own.
    let cookie = app.sign_in("user:default/linus").await;
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: imported\nspec:\n  type: service\n  lifecycle: production\n  owner: nobody\n";
    let body = |mode: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("yaml", yaml)
            .append_pair("mode", mode)
            .finish()
    };
    let preview = app
        .send(with(
            post_form(
                "/api/portal/catalog-import",
                &body("preview"),
                Some(&cookie),
            ),
            header::ACCEPT,
            "application/json",
        ))
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    let outcome = json(preview).await;
    assert_eq!(outcome["dry_run"], true);
    assert_eq!(outcome["added"][0], "component:default/imported");
    assert!(
        outcome["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("group:default/nobody")),
        "{outcome}"
    );
    assert!(
        app.state
            .platform
            .catalog
            .index()
            .by_ref("component:default/imported")
            .is_none(),
        "a preview stores nothing"
    );

    // A plain form post (no JavaScript) is redirected back to the page with the outcome.
    let stored = app
        .send(with(
            post_form("/api/portal/catalog-import", &body("import"), Some(&cookie)),
            header::ACCEPT,
            "text/html",
        ))
        .await;
    assert_eq!(stored.status(), StatusCode::FOUND);
    let location = stored.headers()[header::LOCATION].to_str().expect("ascii");
    assert!(
        location.starts_with("/catalog/import?outcome="),
        "{location}"
    );
    assert!(
        app.state
            .platform
            .catalog
            .index()
            .by_ref("component:default/imported")
            .is_some()
    );
    // The address shows the outcome only to the session it was signed for: a link crafted or
    // passed on shows nothing.
    let shown = |cookie: String, location: String| {
        let app = &app;
        async move {
            let page = app
                .send(with(get(&location), header::COOKIE, &cookie))
                .await;
            assert_eq!(page.status(), StatusCode::OK);
            text(page).await.contains("data-testid=\"import-outcome\"")
        }
    };
    assert!(shown(cookie.clone(), location.to_owned()).await);
    let other = app.sign_in("user:default/ada").await;
    assert!(!shown(other, location.to_owned()).await);
    let forged = location.replace("imported", "forged");
    assert!(!shown(cookie.clone(), forged).await);
    let unsigned = location.split("&sig=").next().expect("outcome").to_owned();
    assert!(!shown(cookie.clone(), unsigned).await);

    let audit = app.state.platform.audit.recent(5).await.expect("audit");
    assert!(
        audit.iter().any(|r| r.action == "catalog.import"
            && r.actor == "user:default/linus"
            && r.outcome == "success"),
        "{audit:?}"
    );

    // The stored entity's page warns about the owner that does not exist.
    let page = app
        .send(with(
            get("/catalog/default/component/imported"),
            header::COOKIE,
            &cookie,
        ))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(html.contains("Missing references"), "dangling warning");
    assert!(html.contains("group:default/nobody"));
    assert!(html.contains("This owner is not in the catalog."));
}

#[tokio::test]
async fn portal_functions_answer_malformed_arguments_with_400() {
    let app = TestApp::new().await;
    let cookie = app.sign_in("user:default/ada").await;
    for (path, body) in [
        ("/api/portal/catalog-import", "yaml=kind%3A%20x"),
        ("/api/portal/catalog-import", ""),
        ("/api/portal/entity", "nothing=1"),
    ] {
        let response = app
            .send(with(
                post_form(path, body, Some(&cookie)),
                header::ACCEPT,
                "application/json",
            ))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{path} {body:?}"
        );
        let message = text(response).await;
        assert!(message.contains("missing field"), "{path}: {message}");
    }
}
