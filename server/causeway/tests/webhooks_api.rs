//! The delivery adapters' webhooks through the real router, with the payloads their senders
//! send (Alertmanager's version 4 notification, GitHub's and Gitea's push payloads as their
//! documentation shows them): Causeway's burn-rate alerts open and close incidents and other
//! alerts are skipped; pushes become changes of the component built from the repository, signed
//! with the webhook secret or sent with a token; every refusal names its reason.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use causeway_platform::delivery::adapters::push::signature;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

mod support;

use support::{App, json_of};

const SECRET: &str = "a-webhook-secret-of-some-length";

async fn app() -> App {
    let dir = std::env::temp_dir().join(format!("causeway-webhooks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("secret dir");
    let file = dir.join("github-secret");
    std::fs::write(&file, format!("{SECRET}\n")).expect("secret file");
    App::with_vars(vec![(
        "CAUSEWAY_GITHUB_WEBHOOK_SECRET_FILE".to_owned(),
        file.display().to_string(),
    )])
    .await
}

async fn database(app: &App) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&format!("sqlite:{}/c.db", app.dir.display()))
        .await
        .expect("a second pool")
}

/// An alert as Alertmanager sends it for one of the rules of `provision/observability.rs`.
fn burn(status: &str, starts: &str, ends: &str) -> Value {
    json!({
        "status": status,
        "labels": { "alertname": "ErrorBudgetBurn1H5M", "service": "payments-api", "severity": "page" },
        "annotations": { "summary": "payments-api is burning its error budget 14.4 times too fast" },
        "startsAt": starts, "endsAt": ends,
        "generatorURL": "http://prometheus.example/graph?g0.expr=...",
        "fingerprint": "c6c8a3f2d5e1b409",
    })
}

fn notification(status: &str, alerts: Vec<Value>) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"ErrorBudgetBurn1H5M\"}", "truncatedAlerts": 0,
        "status": status, "receiver": "causeway",
        "groupLabels": { "alertname": "ErrorBudgetBurn1H5M" },
        "commonLabels": { "alertname": "ErrorBudgetBurn1H5M" }, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "alerts": alerts,
    })
}

#[tokio::test]
async fn burn_rate_alerts_open_and_close_incidents() {
    let app = app().await;
    let db = database(&app).await;
    let watchdog = json!({
        "status": "firing", "labels": { "alertname": "Watchdog", "severity": "none" },
        "annotations": {}, "startsAt": "2026-12-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "e0f1a2b3c4d5e6f7",
    });
    let firing = notification(
        "firing",
        vec![
            burn("firing", "2026-12-01T10:00:00.123Z", "0001-01-01T00:00:00Z"),
            watchdog,
        ],
    );
    let post = |body: Value, auth: String| {
        let app = &app;
        async move {
            app.json("POST", "/api/events/alertmanager", &auth, Some(body))
                .await
        }
    };
    let (status, body) = post(firing.clone(), app.ada.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "accepted": 1, "duplicates": 0, "skipped": 1 })
    );
    // Alertmanager repeats a notification until it is resolved: the same event again.
    let (_, body) = post(firing.clone(), app.ada.clone()).await;
    assert_eq!(
        body,
        json!({ "accepted": 0, "duplicates": 1, "skipped": 1 })
    );

    let resolved = notification(
        "resolved",
        vec![burn(
            "resolved",
            "2026-12-01T10:00:00.123Z",
            "2026-12-01T10:45:00.123Z",
        )],
    );
    let (status, body) = post(resolved, app.ada.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
    // A re-fire is a new incident.
    let refire = notification(
        "firing",
        vec![burn(
            "firing",
            "2026-12-02T08:00:00Z",
            "0001-01-01T00:00:00Z",
        )],
    );
    assert_eq!(post(refire, app.ada.clone()).await.1["accepted"], 1);

    let incidents: Vec<(String, i64, Option<i64>, String)> = sqlx::query(
        "SELECT id, opened_at, resolved_at, severity FROM delivery_incidents ORDER BY opened_at",
    )
    .fetch_all(&db)
    .await
    .expect("incidents")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(incidents[0].0, "c6c8a3f2d5e1b409@2026-12-01T10:00:00.123Z");
    assert_eq!(incidents[0].2, Some(incidents[0].1 + 45 * 60_000));
    assert_eq!(incidents[0].3, "page");
    assert_eq!(incidents[1].2, None, "the re-fire is still open");

    // Another team's token is refused for payments-api; a broken alert of Causeway's is named.
    let (status, body) = post(firing, app.grace.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut broken = burn("firing", "soon", "0001-01-01T00:00:00Z");
    broken.as_object_mut().unwrap().remove("fingerprint");
    let (status, body) = post(notification("firing", vec![broken]), app.ada.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["property"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "instance.alerts[0].fingerprint",
            "instance.alerts[0].startsAt"
        ],
        "{body}"
    );
}

/// GitHub's push payload (the fields of its documented example that Causeway reads, and some it
/// does not) for the repository payments-api's `github.com/project-slug` names.
fn github_push() -> Value {
    json!({
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "created": false, "deleted": false, "forced": false,
        "compare": "https://github.com/example-retail/payments-api/compare/6113728f27ae...0d1a26e67d8f",
        "commits": [
            {
                "id": "b1e0c7a5d0f9c2e4a3b6d8f1e2c3a4b5c6d7e8f9", "tree_id": "f9d2a07e0984f8de5b5d1b1f2a1d9c6b7e8f0a1b",
                "distinct": true, "message": "Retry captures once",
                "timestamp": "2026-12-01T09:15:00-05:00",
                "url": "https://github.com/example-retail/payments-api/commit/b1e0c7a5d0f9c2e4a3b6d8f1e2c3a4b5c6d7e8f9",
                "author": { "name": "Ada", "email": "ada@example.com", "username": "ada" },
                "committer": { "name": "GitHub", "email": "noreply@github.com", "username": "web-flow" },
                "added": [], "removed": [], "modified": ["src/capture.rs"]
            },
            {
                "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "tree_id": "a8d2a07e0984f8de5b5d1b1f2a1d9c6b7e8f0a1c",
                "distinct": true, "message": "Log the retry",
                "timestamp": "2026-12-01T15:30:00Z",
                "url": "https://github.com/example-retail/payments-api/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                "author": { "name": "Ada", "email": "ada@example.com", "username": "ada" },
                "committer": { "name": "Ada", "email": "ada@example.com", "username": "ada" },
                "added": [], "removed": [], "modified": ["src/capture.rs"]
            }
        ],
        "head_commit": { "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" },
        "repository": {
            "id": 35129377, "name": "payments-api", "full_name": "example-retail/payments-api",
            "private": false, "owner": { "login": "example-retail" },
            "html_url": "https://github.com/example-retail/payments-api",
            "url": "https://github.com/example-retail/payments-api",
            "git_url": "git://github.com/example-retail/payments-api.git",
            "ssh_url": "git@github.com:example-retail/payments-api.git",
            "clone_url": "https://github.com/example-retail/payments-api.git",
            "default_branch": "main", "master_branch": "main"
        },
        "pusher": { "name": "ada", "email": "ada@example.com" },
        "sender": { "login": "ada", "type": "User" }
    })
}

/// Posts `body` as a webhook would: exactly these bytes, with `headers`.
async fn deliver(
    app: &App,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .send(request.body(Body::from(body.to_owned())).expect("request"))
        .await;
    let status = response.status();
    (status, json_of(response).await)
}

#[tokio::test]
async fn signed_github_pushes_are_changes_of_the_repositorys_component() {
    let app = app().await;
    let db = database(&app).await;
    let body = github_push().to_string();
    let signed = signature(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-Hub-Signature-256", signed.as_str()),
    ];
    let (status, answer) = deliver(&app, "/api/events/github", &body, &headers).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({ "accepted": 2, "duplicates": 0, "skipped": 0 })
    );
    // GitHub redelivers on a timeout: the same commits again.
    let (_, answer) = deliver(&app, "/api/events/github", &body, &headers).await;
    assert_eq!(
        answer,
        json!({ "accepted": 0, "duplicates": 2, "skipped": 0 })
    );

    let changes: Vec<(String, String, i64)> =
        sqlx::query("SELECT service, sha, authored_at FROM delivery_changes ORDER BY authored_at")
            .fetch_all(&db)
            .await
            .expect("changes")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|c| c.0 == "component:default/payments-api")
    );
    // 09:15 at -05:00 is 14:15 UTC, before the second commit's 15:30 UTC.
    assert_eq!(changes[1].2 - changes[0].2, 75 * 60_000);
    let actor: String = sqlx::query(
        "SELECT actor FROM audit_log WHERE action = 'delivery.events' ORDER BY id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("audited")
    .get(0);
    assert_eq!(actor, "system:github");

    // Without a signature, with one of another body or secret, nothing is recorded.
    for signature_header in [
        None,
        Some(signature(SECRET.as_bytes(), b"another body")),
        Some(signature(b"another secret of some length", body.as_bytes())),
    ] {
        let mut headers = vec![("X-GitHub-Event", "push")];
        if let Some(value) = &signature_header {
            headers.push(("X-Hub-Signature-256", value.as_str()));
        }
        let (status, answer) = deliver(&app, "/api/events/github", &body, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("X-Hub-Signature-256")
        );
    }
    // GitHub's ping, sent when the webhook is made, records nothing; other events are refused.
    let ping = json!({ "zen": "Design for failure.", "hook_id": 1 }).to_string();
    let ping_signature = signature(SECRET.as_bytes(), ping.as_bytes());
    let (status, answer) = deliver(
        &app,
        "/api/events/github",
        &ping,
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &ping_signature),
        ],
    )
    .await;
    assert_eq!(
        (status, answer["accepted"].clone()),
        (StatusCode::OK, json!(0))
    );
    let (status, answer) = deliver(
        &app,
        "/api/events/github",
        &ping,
        &[
            ("X-GitHub-Event", "issues"),
            ("X-Hub-Signature-256", &ping_signature),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-GitHub-Event: issues")
    );
}

/// Gitea's push payload as its documentation shows it, for a repository on a Gitea host.
fn gitea_push(repository: &str, commit_id: &str) -> Value {
    json!({
        "ref": "refs/heads/main",
        "before": "28e1879d029cb852e4844d9c718537df08844e03",
        "after": commit_id,
        "compare_url": format!("https://gitea.example.org/{repository}/compare/28e1879d029cb852e4844d9c718537df08844e03...{commit_id}"),
        "commits": [{
            "id": commit_id,
            "message": "Add a readiness probe\n",
            "url": format!("https://gitea.example.org/{repository}/commit/{commit_id}"),
            "author": { "name": "ada", "email": "ada@example.com", "username": "ada" },
            "committer": { "name": "ada", "email": "ada@example.com", "username": "ada" },
            "verification": null,
            "timestamp": "2026-12-01T10:52:11+08:00",
            "added": [], "removed": [], "modified": ["chart/values.yaml"]
        }],
        "total_commits": 1,
        "head_commit": { "id": commit_id },
        "repository": {
            "id": 140, "owner": { "id": 1, "login": "payments", "username": "payments" },
            "name": repository.split('/').nth(1).unwrap_or_default(),
            "full_name": repository, "private": false, "fork": false,
            "html_url": format!("https://gitea.example.org/{repository}"),
            "ssh_url": format!("git@gitea.example.org:{repository}.git"),
            "clone_url": format!("https://gitea.example.org/{repository}.git"),
            "default_branch": "main"
        },
        "pusher": { "id": 1, "login": "ada", "username": "ada" },
        "sender": { "id": 1, "login": "ada", "username": "ada" }
    })
}

#[tokio::test]
async fn gitea_pushes_with_a_token_match_the_component_by_its_source_location() {
    let app = app().await;
    // A component whose descriptor names its repository on the Gitea host, as the catalog reader
    // records it for the locations it reads.
    let component = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: refunds\n  annotations:\n    backstage.io/source-location: url:https://gitea.example.org/payments/refunds/src/branch/main/\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n";
    let (status, body) = app.post_text("/api/catalog/import", component).await;
    assert!(status.is_success(), "{status} {body}");

    let push = gitea_push(
        "payments/refunds",
        "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
    )
    .to_string();
    let headers = [
        ("X-Gitea-Event", "push"),
        ("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
    ];
    fn with<'a>(headers: &[(&'a str, &'a str)], auth: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut all = headers.to_vec();
        all.push(("Authorization", auth));
        all
    }
    let (status, answer) =
        deliver(&app, "/api/events/gitea", &push, &with(&headers, &app.ada)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({ "accepted": 1, "duplicates": 0, "skipped": 0 })
    );

    // A repository no component is built from: its commits are skipped, not refused.
    let other = gitea_push("someone/else", "1111111222222233333334444444555555566666").to_string();
    let (status, answer) =
        deliver(&app, "/api/events/gitea", &other, &with(&headers, &app.ada)).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::OK,
            json!({ "accepted": 0, "duplicates": 0, "skipped": 1 })
        )
    );

    // Another team's token; no credential at all (no Gitea secret is configured); a commit
    // without its time.
    let (status, _) = deliver(
        &app,
        "/api/events/gitea",
        &push,
        &with(&headers, &app.grace),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = deliver(&app, "/api/events/gitea", &push, &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gitea_webhook_secret_file")
    );
    let mut broken = gitea_push(
        "payments/refunds",
        "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
    );
    broken["commits"][0]
        .as_object_mut()
        .unwrap()
        .remove("timestamp");
    let (status, answer) = deliver(
        &app,
        "/api/events/gitea",
        &broken.to_string(),
        &with(&headers, &app.ada),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["errors"][0]["property"], "instance.commits[0].timestamp",
        "{answer}"
    );
}

/// A CDEvent in its own layout (the spec's `service_deployed.json`, for payments-api) posted to
/// `POST /api/events`, and one without its environment named by its CDEvents path.
#[tokio::test]
async fn cdevents_in_their_own_layout_are_recorded() {
    let app = app().await;
    let mut event = json!({
        "context": {
            "version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "/event/source/123", "type": "dev.cdevents.service.deployed.0.2.0",
            "timestamp": "2026-12-01T14:27:05.315384Z"
        },
        "subject": {
            "id": "payments-api", "source": "/event/source/123", "type": "service",
            "content": {
                "environment": { "id": "prod" },
                "artifactId": "pkg:oci/payments-api@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
            }
        }
    });
    let (status, body) = app
        .json("POST", "/api/events", &app.ada, Some(event.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "accepted": 1, "duplicates": 0 }));
    event["context"]["id"] = json!("another");
    event["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("environment");
    let (status, body) = app.json("POST", "/api/events", &app.ada, Some(event)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errors"][0]["property"],
        "instance.subject.content.environment"
    );
}
