//! The provisioning API against the real control plane (`TEST_KUBECONFIG`, which
//! `tests/scripts/with-controlplane.sh` sets): who may change an environment, what the answers
//! look like, and that changes are audited.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use causeway::config::Config;
use causeway::http::{AppState, router};
use causeway::serve;
use causeway_platform::catalog::{IngestOptions, yaml};
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: Router,
    state: AppState,
    dir: std::path::PathBuf,
}

impl App {
    async fn new() -> Self {
        let kubeconfig = std::env::var("TEST_KUBECONFIG").unwrap_or_else(|_| {
            panic!("TEST_KUBECONFIG is not set; run through `make test` or tests/scripts/with-controlplane.sh")
        });
        let dir =
            std::env::temp_dir().join(format!("causeway-provision-api-{}", uuid::Uuid::new_v4()));
        let vars = [
            (
                "CAUSEWAY_DATABASE_URL".to_owned(),
                format!("sqlite://{}/c.db", dir.display()),
            ),
            ("CAUSEWAY_KUBECONFIG".to_owned(), kubeconfig),
        ];
        let state = serve::state(Config::load(vars).expect("config")).expect("state");
        state.platform.load().await.expect("load");
        state.migrated.store(true, Ordering::Release);
        let documents = yaml::parse("demo", causeway::cli::DEMO_ORG).expect("demo YAML");
        state
            .platform
            .catalog
            .ingest("demo", documents, IngestOptions::default())
            .await
            .expect("seed");
        Self {
            router: router(state.clone()),
            state,
            dir,
        }
    }

    async fn token(&self, user: &str) -> String {
        let token = self
            .state
            .platform
            .tokens
            .create(user, "t")
            .await
            .expect("token");
        format!("Bearer {}", token.secret)
    }

    async fn post(&self, uri: &str, auth: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(request).await
    }

    async fn get(&self, uri: &str, auth: &str) -> (StatusCode, Value) {
        let request = Request::get(uri)
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response: Response<Body> = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn owners_change_environments_others_may_only_look() {
    let app = App::new().await;
    let ada = app.token("user:default/ada").await; // payments, which owns payments-api
    let grace = app.token("user:default/grace").await; // checkout
    let target = json!({ "service": "payments-api", "environment": "dev", "set": { "pods": "8" } });

    let (status, plan) = app
        .post("/api/provision/plan", &grace, target.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["namespace"], "payments-api-dev");
    assert_eq!(
        plan["pipeline_run"]["spec"]["params"][0]["value"],
        "https://github.com/example-retail/payments-api.git"
    );
    assert!(
        plan["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["action"] == "create"),
        "{plan}"
    );

    let (status, refused) = app
        .post("/api/provision/apply", &grace, target.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["name"], "NotAllowedError");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("group:default/payments")
    );

    let (status, report) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["failed"], json!([]));
    // The baseline (10), the pipeline (4 Tasks and the Pipeline: payments-api names its
    // repository) and observability (dashboard, ServiceMonitor, PrometheusRule).
    assert_eq!(
        report["applied"].as_array().expect("applied").len(),
        18,
        "{report}"
    );
    let audit = app.state.platform.audit.recent(5).await.expect("audit");
    assert!(audit.iter().any(|r| r.action == "provision.apply"
        && r.actor == "user:default/ada"
        && r.target == "payments-api-dev"));

    let (status, again) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        again["applied"]
            .as_array()
            .expect("applied")
            .iter()
            .all(|a| a["change"] == "unchanged"),
        "{again}"
    );

    // Everyone signed in may look: the record, every object unchanged, no drift.
    let (status, seen) = app
        .post("/api/provision/status", &grace, target.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["record"]["status"], "ready", "{seen}");
    assert_eq!(seen["record"]["requested_by"], "user:default/ada");
    assert_eq!(seen["record"]["parameters"], json!({ "pods": "8" }));
    assert_eq!(seen["drift"], json!([]));
    assert!(
        seen["plan"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["action"] == "unchanged"),
        "{seen}"
    );
    let (status, listed) = app.get("/api/provision/environments", &grace).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e["namespace"] == "payments-api-dev"
                && e["service"] == "component:default/payments-api"),
        "{listed}"
    );

    let (status, protected) = app
        .post(
            "/api/provision/destroy",
            &ada,
            json!({ "service": "payments-api", "environment": "prod" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{protected}");
    let (status, refused) = app
        .post(
            "/api/provision/destroy",
            &grace,
            json!({ "service": "payments-api", "environment": "dev" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, gone) = app
        .post(
            "/api/provision/destroy",
            &ada,
            json!({ "service": "payments-api", "environment": "dev" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["namespace"], "payments-api-dev");
    let (_, listed) = app.get("/api/provision/environments", &grace).await;
    assert_eq!(listed, json!([]), "a destroyed environment is forgotten");
}

#[tokio::test]
async fn bad_requests_name_the_field_in_the_error_envelope() {
    let app = App::new().await;
    let ada = app.token("user:default/ada").await;
    for (body, field) in [
        (
            json!({ "service": "payments-api", "environment": "qa" }),
            "environment",
        ),
        (
            json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "100" } }),
            "set.cpu",
        ),
        (
            json!({ "service": "nothing-here", "environment": "dev" }),
            "service",
        ),
        (
            json!({ "service": "payments-api", "environment": "dev", "extra": 1 }),
            "extra",
        ),
        (json!({ "environment": "dev" }), "service"),
    ] {
        let (status, error) = app.post("/api/provision/plan", &ada, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["response"]["statusCode"], 400);
        let message = error["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{body}: {message}");
    }
}
