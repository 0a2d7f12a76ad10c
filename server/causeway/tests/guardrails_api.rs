//! Guardrails through the real router: policy denials with their field and fix, warnings in the
//! plan, waivers, the test bench, and the platform configuration reloaded from its files (an
//! invalid revision never replacing the one serving).

use axum::http::StatusCode;
use serde_json::json;

mod support;

use support::App;

#[tokio::test]
async fn a_denied_request_names_each_policy_its_field_and_its_fix() {
    let app = App::new().await;
    let (status, body) = app.json("POST",
        "/api/provision/plan",
        &app.ada,
        Some(json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "9", "pods": "500" } })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["name"], "NotAllowedError");
    let errors = body["errors"].as_array().expect("errors");
    let cpu = errors
        .iter()
        .find(|e| e["policy"] == "ceiling-cpu")
        .expect("cpu denial");
    assert_eq!(cpu["path"], json!(["set", "cpu"]));
    assert_eq!(
        cpu["message"],
        "9000m of CPU is above the ceiling of 8000m for dev"
    );
    assert!(
        cpu["fix"].as_str().is_some_and(|f| f.contains("waiver")),
        "{cpu}"
    );
    assert!(
        errors.iter().any(|e| e["policy"] == "ceiling-pods"),
        "{body}"
    );
    // The same request through apply stores nothing.
    let (status, _) = app
        .json(
            "POST",
            "/api/provision/apply",
            &app.ada,
            Some(json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "9" } })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, tasks) = app.json("GET", "/api/tasks", &app.ada, None).await;
    assert_eq!(tasks["items"].as_array().map_or(0, Vec::len), 0, "{tasks}");
}

#[tokio::test]
async fn warnings_show_in_the_plan_without_blocking() {
    let app = App::new().await;
    // payments-api has no cost-centre annotation: staging warns.
    let (status, plan) = app
        .json(
            "POST",
            "/api/provision/plan",
            &app.ada,
            Some(json!({ "service": "payments-api", "environment": "staging" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let warning = plan["policies"]
        .as_array()
        .and_then(|p| p.iter().find(|v| v["policy"] == "cost-centre"))
        .expect("cost-centre warning");
    assert_eq!(warning["outcome"], "warned");
    assert!(
        warning["message"]
            .as_str()
            .is_some_and(|m| m.contains("no causeway.dev/cost-centre annotation"))
    );
}

#[tokio::test]
async fn platform_admins_waive_a_policy_for_one_service() {
    let app = App::new().await;
    let expires = causeway_platform::time::iso(causeway_platform::time::now_millis() + 3_600_000);
    let waiver = json!({ "policy": "ceiling-cpu", "service": "payments-api", "reason": "load test this week", "expires": expires });
    // A developer cannot waive.
    let (status, body) = app
        .json(
            "POST",
            "/api/policies/waivers",
            &app.ada,
            Some(waiver.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Bad input names the field.
    let (status, body) = app.json("POST",
        "/api/policies/waivers",
        &app.linus,
        Some(json!({ "policy": "no-such", "service": "payments-api", "reason": "x", "expires": expires })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("policy:")),
        "{body}"
    );
    let (status, granted) = app
        .json("POST", "/api/policies/waivers", &app.linus, Some(waiver))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(granted["service"], "component:default/payments-api");
    let request = json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "9" } });
    let (status, plan) = app
        .json(
            "POST",
            "/api/provision/plan",
            &app.ada,
            Some(request.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let waived = plan["policies"]
        .as_array()
        .and_then(|p| p.iter().find(|v| v["policy"] == "ceiling-cpu"))
        .expect("waived");
    assert_eq!(waived["outcome"], "waived");
    assert!(
        waived["waiver"]
            .as_str()
            .is_some_and(|w| w.contains("load test this week"))
    );
    // Another service is still held to it.
    let (status, _) = app.json("POST",
        "/api/provision/plan",
        &app.ada,
        Some(json!({ "service": "payments-ledger", "environment": "dev", "set": { "cpu": "9" } })),
    )
    .await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
        "{status}"
    );
    // Revoked, the policy applies again; the grant and the revocation are audited.
    let id = granted["id"].as_str().expect("id");
    let (status, _) = app
        .json(
            "DELETE",
            &format!("/api/policies/waivers/{id}"),
            &app.linus,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .json("POST", "/api/provision/plan", &app.ada, Some(request))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let audit = app.state.platform.audit.recent(20).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.action == "policy.waive" && r.actor == "user:default/linus")
    );
    assert!(audit.iter().any(|r| r.action == "policy.waiver-revoke"));
}

#[tokio::test]
async fn the_test_bench_shows_every_verdict_to_platform_admins_only() {
    let app = App::new().await;
    let test = json!({ "service": "payments-api", "environment": "prod", "set": { "cpu": "40" }, "requester": "ada" });
    let (status, _) = app
        .json("POST", "/api/policies/test", &app.ada, Some(test.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, result) = app
        .json("POST", "/api/policies/test", &app.linus, Some(test))
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["allowed"], false);
    let outcome = |policy: &str| {
        result["verdicts"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["policy"] == policy))
            .map(|v| v["outcome"].clone())
    };
    assert_eq!(outcome("ceiling-cpu"), Some(json!("denied")));
    // payments-api is production but has no on-call annotation.
    assert_eq!(outcome("production-readiness"), Some(json!("denied")));
    assert_eq!(outcome("ceiling-memory"), Some(json!("allowed")));
    assert_eq!(outcome("team-templates"), Some(json!("notapplicable")));
    assert_eq!(result["input"]["requester"]["ref"], "user:default/ada");
    assert_eq!(result["input"]["request"]["cpuMillis"], 40000);
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

const ENVIRONMENTS: &str = "apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata:
  name: dev
spec:
  gitops: { repository: var/gitops, cluster: local }
  quota: { cpu: 2, memory: 4Gi, pods: 20 }
  podSecurity: baseline
";

const POLICY: &str = "apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata:
  name: small-pods
  description: Keep pod counts small.
spec:
  appliesTo: [environment]
  field: set.pods
  expression: request.pods <= params.max
  message: \"string(request.pods) + ' pods is more than ' + string(params.max)\"
  fix: Ask for fewer pods.
  parameters:
    default: { max: 10 }
";

#[tokio::test]
async fn an_invalid_revision_never_replaces_the_one_serving() {
    let dir = std::env::temp_dir().join(format!("causeway-platform-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    // The environment's GitOps repository lives in the test's own directory.
    let gitops = dir.join("gitops").display().to_string();
    write(
        &dir,
        "environments.yaml",
        &ENVIRONMENTS.replace("var/gitops", &gitops),
    );
    write(&dir, "policies.yaml", POLICY);
    let app = App::with_vars(vec![(
        "CAUSEWAY_PLATFORM_CONFIG".to_owned(),
        dir.display().to_string(),
    )])
    .await;
    app.state
        .platform
        .guardrails
        .record_active()
        .await
        .expect("record");
    let (status, config) = app
        .json("GET", "/api/platform/config", &app.ada, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    let first = config["active"]["hash"].as_str().expect("hash").to_owned();
    assert_eq!(config["active"]["source"], dir.display().to_string());
    let plan = json!({ "service": "payments-api", "environment": "dev", "set": { "pods": "12" } });
    let (status, body) = app
        .json("POST", "/api/provision/plan", &app.ada, Some(plan.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["errors"][0]["message"], "12 pods is more than 10");

    // A broken edit: reported with its file, line and field; the revision serving stays.
    write(
        &dir,
        "policies.yaml",
        &POLICY.replace("request.pods <= params.max", "request.pods <="),
    );
    let (status, _) = app
        .json("POST", "/api/platform/config/reload", &app.ada, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "developers do not reload");
    let (status, reload) = app
        .json("POST", "/api/platform/config/reload", &app.linus, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{reload}");
    assert_eq!(reload["outcome"], "rejected");
    assert_eq!(reload["problems"][0]["at"], "policies.yaml:9");
    assert_eq!(reload["problems"][0]["field"], "spec.expression");
    let (_, config) = app
        .json("GET", "/api/platform/config", &app.linus, None)
        .await;
    assert_eq!(config["active"]["hash"], first.as_str());
    assert_eq!(config["rejected"]["problems"][0]["at"], "policies.yaml:9");
    let (_, developer_view) = app
        .json("GET", "/api/platform/config", &app.ada, None)
        .await;
    assert!(developer_view.get("rejected").is_none(), "{developer_view}");
    let (status, _) = app
        .json("POST", "/api/provision/plan", &app.ada, Some(plan.clone()))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the last good policy still applies"
    );

    // A valid edit loads, is recorded and audited with its diff.
    write(&dir, "policies.yaml", &POLICY.replace("max: 10", "max: 16"));
    let (_, reload) = app
        .json("POST", "/api/platform/config/reload", &app.linus, None)
        .await;
    assert_eq!(reload["outcome"], "loaded", "{reload}");
    let (status, _) = app
        .json("POST", "/api/provision/plan", &app.ada, Some(plan))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, config) = app
        .json("GET", "/api/platform/config", &app.linus, None)
        .await;
    assert!(config.get("rejected").is_none(), "{config}");
    assert_eq!(
        config["history"].as_array().map(Vec::len),
        Some(2),
        "{config}"
    );
    let audit = app.state.platform.audit.recent(20).await.expect("audit");
    let loaded = audit
        .iter()
        .find(|r| {
            r.action == "platform.config-load"
                && r.outcome == "success"
                && r.actor == "user:default/linus"
        })
        .expect("audited load");
    let diff = loaded.detail["diff"].as_str().expect("diff");
    assert!(
        diff.contains("-    default: { max: 10 }") && diff.contains("+    default: { max: 16 }"),
        "{diff}"
    );
    assert!(
        audit
            .iter()
            .any(|r| r.action == "platform.config-load" && r.outcome == "failed")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn policies_and_the_export_are_served() {
    let app = App::new().await;
    let (status, policies) = app.json("GET", "/api/policies", &app.ada, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        policies
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["id"] == "team-cpu-budget")),
        "{policies}"
    );
    let response = app
        .call("GET", "/api/platform/config/export", &app.ada, None)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call("GET", "/api/platform/config/export", &app.linus, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(
        text.contains("kind: Environment") && text.contains("kind: Policy"),
        "{text}"
    );
}
