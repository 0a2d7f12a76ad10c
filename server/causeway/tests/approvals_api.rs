//! The approvals API through the whole router, with the GitOps target of the embedded
//! configuration (`prod` needs `group:default/platform`'s approval) and a real webhook receiver
//! (an axum listener on a loopback port): a prod apply stops at an approval, the requester and
//! outsiders cannot decide it, an approver's approve runs the apply, and a changed catalog entity
//! voids it with the reason.

mod support;

use std::time::Duration;

use axum::http::{StatusCode, header};
use causeway::serve;
use causeway_platform::guardrails::source::Source;
use serde_json::{Value, json};
use support::{App, json_of};
use tokio::sync::mpsc;

/// A component of payments that the starter policies allow in prod.
fn settlement(cost_centre: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: settlement\n  annotations:\n    causeway.dev/on-call: payments-rota\n    causeway.dev/cost-centre: {cost_centre}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n"
    )
}

/// A webhook receiver: every JSON body posted to `/hook` is handed to the test.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (sender, bodies) = mpsc::unbounded_channel();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, hook).await });
    (url, bodies)
}

async fn next(bodies: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), bodies.recv())
        .await
        .expect("a notification within ten seconds")
        .expect("the receiver runs")
}

/// The demo application with `settlement` imported, its notifications sent to a receiver, and a
/// worker running tasks.
async fn app() -> (App, mpsc::UnboundedReceiver<Value>) {
    let app = App::new().await;
    let (url, bodies) = receiver().await;
    let mut config = (*app.state.provisioner.config()).clone();
    config.notifications.webhooks = vec![url];
    app.state
        .provisioner
        .guardrails()
        .configure(Source::Embedded, config)
        .expect("configure");
    let (status, body) = app
        .post_text("/api/catalog/import", &settlement("cc-4711"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serve::runner(
        &app.state.config,
        &app.state.platform,
        &app.state.provisioner,
    )
    .spawn();
    (app, bodies)
}

async fn send(
    app: &App,
    method: &str,
    uri: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = app.call(method, uri, auth, body).await;
    (response.status(), json_of(response).await)
}

async fn request_prod(app: &App) -> Value {
    let response = app
        .call(
            "POST",
            "/api/provision/apply",
            &app.ada,
            Some(
                json!({ "service": "settlement", "environment": "prod", "set": { "pods": "12" } }),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("Location");
    let approval = json_of(response).await;
    assert_eq!(
        location,
        format!("/api/approvals/{}", approval["id"].as_str().expect("id"))
    );
    approval
}

#[tokio::test]
async fn an_approver_approves_a_prod_plan_and_the_apply_runs() {
    let (app, mut hook) = app().await;
    let approval = request_prod(&app).await;
    let id = approval["id"].as_str().expect("id").to_owned();
    assert_eq!(approval["status"], "pending", "{approval}");
    assert_eq!(approval["requested_by"], "user:default/ada");
    assert_eq!(approval["approvers"], json!(["group:default/platform"]));
    assert_eq!(approval["can_decide"], false, "the requester never decides");
    assert_eq!(approval["resolved"]["pods"], "12");
    let steps = approval["steps"].as_array().expect("steps");
    assert!(
        !steps.is_empty() && steps.iter().all(|s| s["action"] == "create"),
        "{approval}"
    );
    let requested = next(&mut hook).await;
    assert_eq!(requested["type"], "approval.requested");
    assert_eq!(requested["data"]["id"], id.as_str());

    let (status, listed) = send(
        &app,
        "GET",
        "/api/approvals?status=pending&service=settlement",
        &app.grace,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["can_decide"], false);
    let (_, seen) = send(
        &app,
        "GET",
        &format!("/api/approvals/{id}"),
        &app.linus,
        None,
    )
    .await;
    assert_eq!(seen["can_decide"], true, "{seen}");

    let approve = format!("/api/approvals/{id}/approve");
    for (who, expected) in [
        (&app.ada, "you requested this change"),
        (&app.grace, "only members of group:default/platform"),
    ] {
        let (status, refused) = send(&app, "POST", &approve, who, Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        let message = refused["error"]["message"].as_str().expect("message");
        assert!(message.contains(expected), "{message}");
    }
    let (status, refused) = send(
        &app,
        "POST",
        &format!("/api/approvals/{id}/reject"),
        &app.linus,
        Some(json!({ "comment": "" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("comment: "),
        "{refused}"
    );
    let (status, refused) = send(
        &app,
        "POST",
        &approve,
        &app.linus,
        Some(json!({ "note": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("note"),
        "{refused}"
    );

    let (status, approved) = send(
        &app,
        "POST",
        &approve,
        &app.linus,
        Some(json!({ "comment": "Checked the quota." })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["approval"]["status"], "approved");
    assert_eq!(approved["approval"]["decided_by"], "user:default/linus");
    assert_eq!(approved["approval"]["comment"], "Checked the quota.");
    let task = approved["task"]["id"].as_str().expect("task").to_owned();
    assert_eq!(approved["approval"]["task_id"], task.as_str());
    let decided = next(&mut hook).await;
    assert_eq!(decided["type"], "approval.approved");
    assert_eq!(decided["data"]["task"], task.as_str());

    let mut ended = Value::Null;
    for _ in 0..300 {
        let (_, found) = send(&app, "GET", &format!("/api/tasks/{task}"), &app.ada, None).await;
        if ["completed", "failed", "cancelled"]
            .contains(&found["task"]["status"].as_str().unwrap_or(""))
        {
            ended = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ended["task"]["status"], "completed", "{ended}");
    let (_, environments) = send(&app, "GET", "/api/provision/environments", &app.ada, None).await;
    assert!(
        environments
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e["namespace"] == "settlement-prod"),
        "{environments}"
    );

    let (status, again) = send(&app, "POST", &approve, &app.linus, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, _) = send(&app, "GET", "/api/approvals?status=maybe", &app.ada, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        &app,
        "GET",
        "/api/approvals/no-such-approval",
        &app.ada,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = send(&app, "GET", "/api/audit?limit=50", &app.linus, None).await;
    let actions: Vec<(String, String, String)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| {
            r["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("approval."))
        })
        .map(|r| {
            (
                r["action"].as_str().unwrap_or("").to_owned(),
                r["actor"].as_str().unwrap_or("").to_owned(),
                r["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("approval.approve", "user:default/linus", "success"),
        ("approval.approve", "user:default/grace", "denied"),
        ("approval.approve", "user:default/ada", "denied"),
        ("approval.request", "user:default/ada", "success"),
    ];
    assert_eq!(
        actions,
        expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
        "{audit}"
    );
}

#[tokio::test]
async fn a_changed_catalog_entity_voids_the_approval_and_says_why() {
    let (app, mut hook) = app().await;
    let approval = request_prod(&app).await;
    let id = approval["id"].as_str().expect("id").to_owned();
    assert_eq!(next(&mut hook).await["type"], "approval.requested");

    let (status, body) = app
        .post_text("/api/catalog/import", &settlement("cc-0815"))
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(
        body["updated"],
        json!(["component:default/settlement"]),
        "{body}"
    );
    let (status, refused) = send(
        &app,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        &app.linus,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("is void") && message.contains("after the catalog entity changed"),
        "{message}"
    );

    let (_, void) = send(&app, "GET", &format!("/api/approvals/{id}"), &app.ada, None).await;
    assert_eq!(void["status"], "void", "{void}");
    assert_eq!(void["task_id"], Value::Null);
    assert_eq!(void["can_decide"], false);
    let changes = void["changes"].as_array().expect("changes");
    assert!(
        !changes.is_empty() && changes.iter().all(|c| c["part"] == "objects"),
        "{void}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["object"] == "Namespace/settlement-prod"),
        "{void}"
    );
    let notified = next(&mut hook).await;
    assert_eq!(notified["type"], "approval.void");
    assert_eq!(notified["data"]["reason"], void["reason"]);
    let (_, environments) = send(&app, "GET", "/api/provision/environments", &app.ada, None).await;
    assert_eq!(environments, json!([]), "nothing was applied");
}
