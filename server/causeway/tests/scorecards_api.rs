//! Scorecards through the real router: the definitions, an entity's and a team's results with
//! their history, the evaluation only platform admins start, every refusal in Backstage's error
//! envelope, and a configuration revision that changes a check: an invalid one refused with its
//! field while the serving one keeps scoring, a valid one recorded as a new result.

use axum::http::StatusCode;
use causeway_platform::guardrails::{Source, export};

mod support;

use support::App;

#[tokio::test]
async fn scorecards_are_read_by_everyone_and_evaluated_by_platform_admins() {
    let app = App::new().await;
    let (status, definitions) = app.json("GET", "/api/scorecards", &app.grace, None).await;
    assert_eq!(status, StatusCode::OK, "{definitions}");
    assert_eq!(definitions[0]["name"], "operational-maturity");
    let levels: Vec<&str> = definitions[0]["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(levels, ["bronze", "silver", "gold"]);
    assert_eq!(definitions[0]["filter"], "entity.kind == 'Component'");

    // Developers and tokens without the admin scope do not start an evaluation.
    let (status, body) = app
        .json("POST", "/api/scorecards/evaluate", &app.ada, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["name"], "NotAllowedError", "{body}");
    let (status, pass) = app
        .json("POST", "/api/scorecards/evaluate", &app.linus, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{pass}");
    assert!(pass["entities"].as_u64() > Some(1), "{pass}");
    assert_eq!(pass["changed"], pass["entities"], "{pass}");
    let (_, again) = app
        .json("POST", "/api/scorecards/evaluate", &app.linus, None)
        .await;
    assert_eq!(
        again["changed"], 0,
        "an unchanged result is not recorded again"
    );

    // payments-api is owned and described, with no on-call rota: bronze.
    let (status, results) = app
        .json(
            "GET",
            "/api/scorecards/results?entity=payments-api",
            &app.grace,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    let entity = &results["entities"][0];
    assert_eq!(entity["entity"], "component:default/payments-api");
    let result = &entity["results"][0];
    assert_eq!(result["scorecard"], "operational-maturity");
    assert_eq!(result["level"], "bronze");
    assert_eq!(result["rank"], 1);
    let on_call = result["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "on-call")
        .expect("on-call");
    assert_eq!(on_call["passed"], false);
    assert_eq!(on_call["level"], "silver");
    assert!(
        on_call["fix"]
            .as_str()
            .is_some_and(|f| f.contains("causeway.dev/on-call")),
        "{on_call}"
    );
    assert_eq!(result["history"].as_array().map(Vec::len), Some(1));

    // The team's results hold its components'.
    let (status, team) = app
        .json(
            "GET",
            "/api/scorecards/results?team=payments",
            &app.grace,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert_eq!(team["team"], "group:default/payments");
    assert!(
        team["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .any(|e| e["entity"] == "component:default/payments-api"),
        "{team}"
    );

    // Refusals name the field, in the error envelope.
    for (uri, status, words) in [
        ("/api/scorecards/results", StatusCode::BAD_REQUEST, "entity"),
        (
            "/api/scorecards/results?entity=payments-api&team=payments",
            StatusCode::BAD_REQUEST,
            "team",
        ),
        (
            "/api/scorecards/results?entity=nothing-here",
            StatusCode::NOT_FOUND,
            "component:default/nothing-here is not in the catalog",
        ),
        (
            "/api/scorecards/results?team=nobody",
            StatusCode::NOT_FOUND,
            "group:default/nobody is not in the catalog",
        ),
    ] {
        let (answer, body) = app.json("GET", uri, &app.grace, None).await;
        assert_eq!(answer, status, "{uri}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(words)),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn a_revision_that_changes_a_check_is_scored_and_an_invalid_one_is_refused() {
    let app = App::new().await;
    let platform = &app.state.platform;
    // The configuration in force, written to a directory the server then reads from.
    let dir = app.dir.join("platform");
    std::fs::create_dir_all(&dir).expect("dir");
    let text = export::export(&platform.guardrails.current().config);
    assert!(text.contains("onCall != null"), "{text}");
    std::fs::write(dir.join("platform.yaml"), &text).expect("write");
    platform
        .guardrails
        .configure(
            Source::Path(dir.clone()),
            (*platform.guardrails.provision()).clone(),
        )
        .expect("configure");
    let (status, _) = app
        .json(
            "POST",
            "/api/scorecards/evaluate?entity=payments-api",
            &app.linus,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A check that does not compile: refused with its field; the serving scorecard stays.
    std::fs::write(
        dir.join("platform.yaml"),
        text.replace("onCall != null", "onCall !="),
    )
    .expect("write");
    let (status, reload) = app
        .json("POST", "/api/platform/config/reload", &app.linus, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{reload}");
    assert_eq!(reload["outcome"], "rejected", "{reload}");
    assert_eq!(
        reload["problems"][0]["field"],
        "spec.levels[1].checks[0].expression"
    );
    let (_, definitions) = app.json("GET", "/api/scorecards", &app.grace, None).await;
    assert_eq!(
        definitions[0]["levels"][1]["checks"][0]["expression"],
        "onCall != null"
    );

    // A valid change: on-call no longer asked for. Scored again, payments-api gets a new result.
    std::fs::write(
        dir.join("platform.yaml"),
        text.replace("onCall != null", "size(entity.ref) > 0"),
    )
    .expect("write");
    let (_, reload) = app
        .json("POST", "/api/platform/config/reload", &app.linus, None)
        .await;
    assert_eq!(reload["outcome"], "loaded", "{reload}");
    let (status, pass) = app
        .json(
            "POST",
            "/api/scorecards/evaluate?entity=component:default/payments-api",
            &app.linus,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pass}");
    assert_eq!(pass["changed"], 1, "{pass}");
    let (_, results) = app
        .json(
            "GET",
            "/api/scorecards/results?entity=payments-api",
            &app.ada,
            None,
        )
        .await;
    let history = results["entities"][0]["results"][0]["history"]
        .as_array()
        .expect("history")
        .clone();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_ne!(history[0]["revision"], history[1]["revision"]);
    assert!(
        history[1]["failing"]
            .as_array()
            .expect("failing")
            .iter()
            .any(|f| f == "on-call")
    );
    assert!(
        !history[0]["failing"]
            .as_array()
            .expect("failing")
            .iter()
            .any(|f| f == "on-call")
    );
}
