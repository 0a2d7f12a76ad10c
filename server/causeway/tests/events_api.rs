//! Delivery events and DORA's measures through the real router: CloudEvents and the plain form
//! recorded once, every bad field named in Backstage's error envelope, another team's service and
//! a read-only token refused, and the measures read back per service and team.

use axum::http::StatusCode;
use serde_json::{Value, json};

mod support;

use support::App;

fn deployed(id: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "tekton/payments",
        "type": "dev.cdevents.service.deployed.0.2.0", "time": "2026-12-01T11:00:00Z",
        "data": {
            "service": "payments-api", "environment": "prod", "version": "1.4.0",
            "status": "succeeded", "startedAt": "2026-12-01T10:50:00Z",
            "commits": [{ "sha": "0123abc", "authoredAt": "2026-12-01T08:00:00Z" }]
        }
    })
}

#[tokio::test]
async fn events_are_recorded_once_and_measured() {
    let app = App::new().await;
    let (status, body) = app
        .json("POST", "/api/events", &app.ada, Some(deployed("run-1")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "accepted": 1, "duplicates": 0 }));

    // The same event again, in a batch with a plain incident caused by it.
    let incident = json!({
        "kind": "incident", "id": "am-1", "service": "payments-api", "incident": "INC-9",
        "openedAt": "2026-12-01T12:00:00Z", "resolvedAt": "2026-12-01T12:30:00Z",
        "severity": "critical", "causedBy": "run-1"
    });
    let (status, body) = app
        .json(
            "POST",
            "/api/events",
            &app.ada,
            Some(json!([deployed("run-1"), incident])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "accepted": 1, "duplicates": 1 }));

    // One production deployment, which caused an incident resolved after 30 minutes; its
    // commit's lead time is 3 hours (08:00 → 11:00).
    let (status, dora) = app
        .json(
            "GET",
            "/api/delivery/dora?service=payments-api&from=2026-11-30&to=2026-12-06",
            &app.grace,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dora}");
    assert_eq!(dora["scope"], "service");
    assert_eq!(dora["target"], "component:default/payments-api");
    assert_eq!(dora["production"], "prod");
    let summary = &dora["summary"];
    assert_eq!(summary["deployments"], 1);
    assert_eq!(summary["deploymentsPerWeek"], 1.0);
    assert_eq!(summary["changeFailRate"], 1.0);
    assert_eq!(summary["leadTime"]["medianMillis"], 3 * 3_600_000);
    assert_eq!(summary["recoveryTime"]["medianMillis"], 30 * 60_000);
    assert_eq!(summary["reworkRate"], 0.0);
    assert_eq!(dora["weeks"].as_array().map(Vec::len), Some(1));
    assert_eq!(dora["weeks"][0]["week"], "2026-W49");

    // The owning team's measures hold the service's.
    let (status, team) = app
        .json(
            "GET",
            "/api/delivery/dora?team=payments&from=2026-11-30&to=2026-12-06",
            &app.ada,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert_eq!(team["summary"]["deployments"], 1);
    assert!(
        team["services"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("component:default/payments-api"))),
        "{team}"
    );
}

#[tokio::test]
async fn every_bad_field_is_named_in_the_envelope() {
    let app = App::new().await;
    let mut bad = deployed("run-2");
    bad["data"]["status"] = json!("done");
    bad["data"]["startedAt"] = json!("yesterday");
    let (status, body) = app
        .json(
            "POST",
            "/api/events",
            &app.ada,
            Some(json!([bad, { "kind": "release", "id": "x", "service": "payments-api" }])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["name"], "InputError");
    let paths: Vec<String> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            e["path"]
                .as_array()
                .expect("path")
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    assert_eq!(
        paths,
        ["[0].data.status", "[0].data.startedAt", "[1].kind"],
        "{body}"
    );

    let (status, body) = app
        .json(
            "GET",
            "/api/delivery/dora?service=payments-api&from=2026-12-10&to=2026-12-01",
            &app.ada,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("from:")),
        "{body}"
    );
}

#[tokio::test]
async fn only_the_owning_team_and_write_tokens_post_events() {
    let app = App::new().await;
    let (status, body) = app
        .json("POST", "/api/events", &app.grace, Some(deployed("run-3")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("payments")),
        "{body}"
    );
    let (status, _) = app
        .json("POST", "/api/events", &app.linus, Some(deployed("run-3")))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn neither_service_nor_team_is_the_organisation() {
    let app = App::new().await;
    let (status, body) = app
        .json("POST", "/api/events", &app.ada, Some(deployed("run-4")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, dora) = app
        .json(
            "GET",
            "/api/delivery/dora?from=2026-11-30&to=2026-12-06",
            &app.grace,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dora}");
    assert_eq!(dora["scope"], "organisation");
    assert!(dora.get("target").is_none(), "{dora}");
    assert_eq!(dora["summary"]["deployments"], 1);
    assert!(
        dora["services"]
            .as_array()
            .is_some_and(|s| s.len() > 1 && s.contains(&json!("component:default/payments-api"))),
        "{dora}"
    );
}
