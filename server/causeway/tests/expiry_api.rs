//! Extending ephemeral environments through the REST API and the portal: the owning team and
//! platform admins move the expiry of a `preview` environment, never beyond its maximum nor
//! before its current expiry; refusals name the field and the rule; every extension is audited.
//! The environments go to a GitOps repository, so no cluster is needed.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use causeway::serve;
use causeway_platform::time::now_millis;
use serde_json::{Value, json};
use support::{App, json_of};
use tower::ServiceExt as _;

const HOUR: i64 = 3_600_000;
const NAMESPACE: &str = "payments-api-preview";

async fn post(app: &App, uri: &str, auth: &str, body: Value) -> (StatusCode, Value) {
    let response = app.call("POST", uri, auth, Some(body)).await;
    let status = response.status();
    (status, json_of(response).await)
}

async fn extend(app: &App, auth: &str, body: Value) -> (StatusCode, Value) {
    post(app, "/api/provision/extend", auth, body).await
}

/// The application with a worker, and payments-api's preview environment applied by ada.
async fn with_preview() -> App {
    let app = App::new().await;
    serve::runner(
        &app.state.config,
        &app.state.platform,
        &app.state.provisioner,
    )
    .spawn();
    let target = json!({ "service": "payments-api", "environment": "preview" });
    let (status, task) = post(&app, "/api/provision/apply", &app.ada, target).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let id = task["id"].as_str().expect("task id").to_owned();
    for _ in 0..300 {
        let (_, found) = app.get(&format!("/api/tasks/{id}")).await;
        match found["task"]["status"].as_str() {
            Some("completed") => return app,
            Some("failed" | "cancelled") => panic!("the apply did not complete: {found}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("the apply did not end within 30 s");
}

/// The preview environment as `GET /api/provision/environments` answers it.
async fn preview(app: &App) -> Value {
    let (status, environments) = app.get("/api/provision/environments").await;
    assert_eq!(status, StatusCode::OK);
    environments
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["namespace"] == NAMESPACE)
        .cloned()
        .expect("the preview environment is recorded")
}

fn expires_at(environment: &Value) -> i64 {
    environment["expires_at_millis"]
        .as_i64()
        .expect("an expiry")
}

/// Asserts an error answer's status and that its message contains every one of `parts`.
fn refused(answer: (StatusCode, Value), status: StatusCode, parts: &[&str]) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    for part in parts {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

#[tokio::test]
async fn the_owning_team_extends_a_preview_up_to_its_maximum_and_is_audited() {
    let app = with_preview().await;
    let first = preview(&app).await;
    let now = now_millis();
    // 72 hours from the first apply, a few seconds ago at most.
    assert!(
        (expires_at(&first) - (now + 72 * HOUR)).abs() < 60_000,
        "{first}"
    );
    assert_eq!(first["reminded_at_millis"], Value::Null);
    let target = |ttl: Value| json!({ "service": "payments-api", "environment": "preview", "ttl_seconds": ttl });

    // Another team may not; beyond the maximum, zero, or sooner than now are refused by rule.
    refused(
        extend(&app, &app.grace, target(json!(3600 * 96))).await,
        StatusCode::FORBIDDEN,
        &["payments"],
    );
    refused(
        extend(&app, &app.ada, target(json!(8 * 86_400))).await,
        StatusCode::BAD_REQUEST,
        &["ttl_seconds", "691200", "604800", "7 d", "preview"],
    );
    refused(
        extend(&app, &app.ada, target(json!(0))).await,
        StatusCode::BAD_REQUEST,
        &["ttl_seconds", "at least 1"],
    );
    refused(
        extend(&app, &app.ada, target(json!(3600))).await,
        StatusCode::BAD_REQUEST,
        &["ttl_seconds", "only moves the expiry later"],
    );
    refused(
        extend(&app, &app.ada, target(json!(-5))).await,
        StatusCode::BAD_REQUEST,
        &["ttl_seconds"],
    );
    refused(
        extend(
            &app,
            &app.ada,
            json!({ "service": "payments-api", "environment": "dev" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        &["environment", "dev does not expire", "preview"],
    );
    refused(
        extend(
            &app,
            &app.ada,
            json!({ "service": "gone-from-the-catalog", "environment": "preview" }),
        )
        .await,
        StatusCode::FORBIDDEN,
        &["not in the catalog", "platform admins"],
    );
    refused(
        extend(
            &app,
            &app.ada,
            json!({ "service": "ledger", "environment": "preview" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        &["ledger-preview"],
    );
    refused(
        extend(
            &app,
            &app.ada,
            json!({ "service": "payments-api", "environment": "preview", "days": 3 }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        &["days"],
    );
    assert_eq!(expires_at(&preview(&app).await), expires_at(&first));

    // Five days from now, by the team; then the full week, by a platform admin.
    let (status, extended) = extend(&app, &app.ada, target(json!(5 * 86_400))).await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert_eq!(extended["namespace"], NAMESPACE);
    let five_days = now_millis() + 120 * HOUR;
    assert!(
        (expires_at(&extended) - five_days).abs() < 60_000,
        "{extended}"
    );
    assert_eq!(expires_at(&preview(&app).await), expires_at(&extended));
    let (status, longest) = extend(&app, &app.linus, target(json!(7 * 86_400))).await;
    assert_eq!(status, StatusCode::OK, "{longest}");
    assert!(expires_at(&longest) > expires_at(&extended));

    let (status, audit) = {
        let response = app
            .call("GET", "/api/audit?limit=20", &app.linus, None)
            .await;
        (response.status(), json_of(response).await)
    };
    assert_eq!(status, StatusCode::OK);
    let extensions: Vec<&Value> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["action"] == "provision.extend")
        .collect();
    assert_eq!(extensions.len(), 2, "{audit}");
    assert_eq!(extensions[0]["actor"], "user:default/linus");
    assert_eq!(extensions[1]["actor"], "user:default/ada");
    assert_eq!(extensions[1]["target"], NAMESPACE);
    assert_eq!(extensions[1]["detail"]["ttl_seconds"], 5 * 86_400);
}

#[tokio::test]
async fn an_expired_environment_is_not_extended() {
    let app = with_preview().await;
    // As if the expiry had passed while the reaper was about to act: the reaper wins. The
    // database is written as another process would, through its own connection.
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut database =
        sqlx::AnyConnection::connect(&format!("sqlite://{}/c.db", app.dir.display()))
            .await
            .expect("connect");
    sqlx::query("UPDATE environments SET expires_at = $1 WHERE namespace = $2")
        .bind(now_millis() - 1000)
        .bind(NAMESPACE)
        .execute(&mut database)
        .await
        .expect("expire");
    refused(
        extend(
            &app,
            &app.ada,
            json!({ "service": "payments-api", "environment": "preview" }),
        )
        .await,
        StatusCode::CONFLICT,
        &[NAMESPACE, "expired", "reaper"],
    );
}

/// A form post from the portal, as a browser without JavaScript sends it.
async fn form(app: &App, cookie: &str, path: &str, body: &str) -> (StatusCode, String) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(
            header::REFERER,
            "http://127.0.0.1:3000/catalog/default/component/payments-api/environments",
        )
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status(), location)
}

#[tokio::test]
async fn the_portal_shows_the_expiry_and_extends_without_javascript() {
    let app = with_preview().await;
    let signed_in = app
        .router
        .clone()
        .oneshot(
            Request::post("/auth/dev/sign-in")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, "http://127.0.0.1:3000")
                .body(Body::from("user=ada"))
                .expect("request"),
        )
        .await
        .expect("response");
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let page = app
        .router
        .clone()
        .oneshot(
            Request::get("/catalog/default/component/payments-api/environments")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(page.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(page.into_body(), usize::MAX)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&bytes);
    // Three days, give or take the moments since the apply.
    assert!(
        html.contains("expires in 3 d (") || html.contains("expires in 2 d 23 h ("),
        "no expiry shown"
    );
    assert!(html.contains(r#"data-testid="extend-preview""#), "no form");
    assert!(
        !html.contains(r#"data-testid="extend-dev""#),
        "dev does not expire"
    );

    let body = |hours: &str| {
        format!("service=component%3Adefault%2Fpayments-api&environment=preview&hours={hours}")
    };
    let before = expires_at(&preview(&app).await);
    let (status, location) = form(
        &app,
        &cookie,
        "/api/portal/environment-extend",
        &body("200"),
    )
    .await;
    assert!(status.is_redirection(), "{status}");
    // Back to the page with the error in the address, as the page shows it next to the form.
    let (_, encoded) = location
        .split_once("__err=")
        .expect("an error in the address");
    let error = {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(encoded.split('&').next().unwrap_or_default())
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(encoded))
            .expect("base64");
        String::from_utf8(bytes).expect("UTF-8")
    };
    assert!(
        error.contains("hours: 720000 seconds (8 d 8 h) is beyond the limit"),
        "{error}"
    );
    assert_eq!(expires_at(&preview(&app).await), before);

    let (status, location) = form(
        &app,
        &cookie,
        "/api/portal/environment-extend",
        &body("120"),
    )
    .await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(
        location,
        "/catalog/default/component/payments-api/environments"
    );
    let after = expires_at(&preview(&app).await);
    assert!((after - (now_millis() + 120 * HOUR)).abs() < 60_000);
}
