//! The review's access findings, through the real router: the development sign-in's `next`,
//! signed posted errors, tasks readable only by those their lists show them to, `/metrics`
//! access, and the development mode's `Host` check (`/readyz`'s fixed message is in `http.rs`).

mod support;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use causeway_platform::tasks::NewTask;
use support::App;
use tower::ServiceExt as _;

const ORIGIN: &str = "http://127.0.0.1:3000";

async fn send(app: &App, request: Request<Body>) -> Response<Body> {
    app.router.clone().oneshot(request).await.expect("response")
}

async fn body(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn sign_in_request(form: &str) -> Request<Body> {
    Request::post("/auth/dev/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(form.to_owned()))
        .expect("request")
}

async fn cookie(app: &App, user: &str) -> String {
    let response = send(app, sign_in_request(&format!("user={user}"))).await;
    response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

#[tokio::test]
async fn sign_in_returns_only_to_same_origin_paths() {
    let app = App::new().await;
    for (next, expected) in [
        ("%2Fcatalog%3Fkind%3Dcomponent", "/catalog?kind=component"),
        ("%2F%09%2Fevil.example", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
        // A line break used to make the redirect panic.
        ("%2Fx%0Ay", "/"),
        ("%2Fx%0D%0ASet-Cookie%3A%20a%3Db", "/"),
    ] {
        let response = send(&app, sign_in_request(&format!("user=ada&next={next}"))).await;
        assert!(response.status().is_redirection(), "{next}");
        assert_eq!(response.headers()[header::LOCATION], expected, "{next}");
    }
}

#[tokio::test]
async fn only_signed_posted_errors_are_shown() {
    let app = App::new().await;
    let ada = cookie(&app, "ada").await;
    // A plain form that fails is sent back with its error and the error's signature.
    let response = send(
        &app,
        Request::post("/api/portal/environment-request")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, &ada)
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, format!("{ORIGIN}/platform"))
            .body(Body::from(
                "service=component%3Adefault%2Fpayments-api&environment=dev&cpu=9&memory=&pods=&availability=",
            ))
            .expect("request"),
    )
    .await;
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.contains("__err=") && location.contains("__sig="),
        "{location}"
    );
    let path = location.strip_prefix(ORIGIN).expect("same origin");
    let page = |uri: String, cookie: String| {
        let app = &app;
        async move {
            let request = Request::get(uri)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request");
            body(send(app, request).await).await
        }
    };
    let html = page(path.to_owned(), ada.clone()).await;
    assert!(
        html.contains(r#"data-testid="posted-error""#),
        "signed: shown"
    );
    assert!(html.contains("above the ceiling"), "{html}");

    // Another session's signature, an edited error and an unsigned one show nothing.
    let grace = cookie(&app, "grace").await;
    let html = page(path.to_owned(), grace).await;
    assert!(
        !html.contains(r#"data-testid="posted-error""#),
        "another session"
    );
    let forged = "/platform?__err=U2VydmVyRXJyb3J8WW91ciBhY2NvdW50IGlzIGxvY2tlZA%3D%3D";
    let html = page(forged.to_owned(), ada.clone()).await;
    assert!(!html.contains(r#"data-testid="posted-error""#), "unsigned");
    let sig = location.split("__sig=").nth(1).expect("sig");
    let edited = format!("{forged}&__sig={sig}");
    let html = page(edited, ada).await;
    assert!(!html.contains(r#"data-testid="posted-error""#), "edited");
}

#[tokio::test]
async fn a_task_is_read_by_its_requester_its_team_and_platform_admins_only() {
    let app = App::new().await;
    let task = app
        .state
        .platform
        .tasks
        .create(NewTask {
            kind: "test".to_owned(),
            title: "A payments task".to_owned(),
            input: serde_json::json!({}),
            requester: "user:default/ada".to_owned(),
            owner: Some("group:default/payments".to_owned()),
            subject: None,
            steps: vec![("one".to_owned(), "One".to_owned())],
        })
        .await
        .expect("task");
    for (who, auth, expected) in [
        ("requester", &app.ada, StatusCode::OK),
        ("platform admin", &app.linus, StatusCode::OK),
        ("another team", &app.grace, StatusCode::NOT_FOUND),
    ] {
        for uri in [
            format!("/api/tasks/{}", task.id),
            format!("/api/tasks/{}/events", task.id),
        ] {
            let response = app.call("GET", &uri, auth, None).await;
            assert_eq!(response.status(), expected, "{who} {uri}");
        }
    }
    // The portal's task page answers the same way.
    let grace = cookie(&app, "grace").await;
    let request = Request::get(format!("/tasks/{}", task.id))
        .header(header::COOKIE, grace)
        .body(Body::empty())
        .expect("request");
    let html = body(send(&app, request).await).await;
    assert!(!html.contains("A payments task"), "{html}");
}

#[tokio::test]
async fn metrics_need_their_secret_unless_public() {
    let app = App::new().await;
    let response = app.call("GET", "/metrics", &app.linus, None).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "an API token is not the secret"
    );

    let file = std::env::temp_dir().join(format!("metrics-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, "0123456789abcdef-scrape\n").expect("write");
    let app = App::with_vars(vec![(
        "CAUSEWAY_METRICS_TOKEN_FILE".to_owned(),
        file.display().to_string(),
    )])
    .await;
    let response = app
        .call("GET", "/metrics", "Bearer wrong-secret-0123456", None)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .call("GET", "/metrics", "Bearer 0123456789abcdef-scrape", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        body(response).await.contains("http_request"),
        "the Prometheus text"
    );
    std::fs::remove_file(&file).ok();

    let app = App::with_vars(vec![(
        "CAUSEWAY_METRICS_PUBLIC".to_owned(),
        "true".to_owned(),
    )])
    .await;
    let response = send(
        &app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn development_mode_answers_only_its_own_host_names() {
    let app = App::new().await;
    for (host, expected) in [
        ("127.0.0.1:3000", StatusCode::OK),
        ("localhost:3000", StatusCode::OK),
        ("evil.example:3000", StatusCode::MISDIRECTED_REQUEST),
    ] {
        let request = Request::get("/healthz")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request");
        assert_eq!(send(&app, request).await.status(), expected, "{host}");
    }
    // The sign-in a rebinding page would post is refused too.
    let mut request = sign_in_request("user=ada");
    request
        .headers_mut()
        .insert(header::HOST, "evil.example:3000".parse().expect("host"));
    request.headers_mut().insert(
        header::ORIGIN,
        "http://evil.example:3000".parse().expect("origin"),
    );
    assert_eq!(
        send(&app, request).await.status(),
        StatusCode::MISDIRECTED_REQUEST
    );
}
