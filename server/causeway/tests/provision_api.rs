//! The provisioning API against the real control plane (`TEST_KUBECONFIG`, which
//! `tests/scripts/with-controlplane.sh` sets): who may change an environment, what the answers
//! look like, and that changes are audited.

#[path = "../../platform/tests/support/kube.rs"]
mod cluster;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use serde_json::{Value, json};

mod support;

use support::App;

/// The suite's own requests, on the shared test application.
impl App {
    async fn post(&self, uri: &str, auth: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send_json(request).await
    }

    async fn post_yaml(&self, uri: &str, auth: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(body.to_owned()))
            .expect("request");
        self.send_json(request).await
    }

    async fn get_as(&self, uri: &str, auth: &str) -> (StatusCode, Value) {
        let request = Request::get(uri)
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request");
        self.send_json(request).await
    }

    /// Waits until task `id` has ended; returns it with all its events.
    async fn finished(&self, id: &str, auth: &str) -> Value {
        for _ in 0..600 {
            let (status, found) = self.get_as(&format!("/api/tasks/{id}"), auth).await;
            assert_eq!(status, StatusCode::OK, "{found}");
            if ["completed", "failed", "cancelled"]
                .contains(&found["task"]["status"].as_str().unwrap_or(""))
            {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("task {id} did not end within a minute");
    }

    /// The messages of a finished task's events for `step`.
    fn messages(found: &Value, step: &str) -> Vec<String> {
        found["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["step"] == step)
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .collect()
    }

    async fn send_json(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response: Response<Body> = self.send(request).await;
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

#[tokio::test]
async fn owners_change_environments_others_may_only_look() {
    let app = App::with_cluster().await;
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

    let (status, task) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let steps: Vec<&str> = task["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        steps,
        ["check", "record", "namespace", "objects", "prune", "verify"]
    );
    let done = app.finished(task["id"].as_str().expect("id"), &ada).await;
    // Another team's developer may look at the environment, but not at the task's log.
    let (status, _) = app
        .get_as(
            &format!("/api/tasks/{}", task["id"].as_str().expect("id")),
            &grace,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(done["task"]["status"], "completed", "{done}");
    assert!(
        done["task"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "completed")
    );
    // The baseline (10), the pipeline (4 Tasks and the Pipeline: payments-api names its
    // repository) and observability (dashboard, ServiceMonitor, PrometheusRule).
    assert_eq!(done["task"]["output"]["objects"], 18, "{done}");
    let created = App::messages(&done, "objects");
    assert!(
        created
            .iter()
            .any(|m| m == "created ResourceQuota/causeway-quota"),
        "{created:?}"
    );
    let audit = app.state.platform.audit.recent(5).await.expect("audit");
    assert!(audit.iter().any(|r| r.action == "provision.apply"
        && r.actor == "user:default/ada"
        && r.target == "payments-api-dev"
        && r.outcome == "success"));

    let (status, again) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let again = app.finished(again["id"].as_str().expect("id"), &ada).await;
    let objects = App::messages(&again, "objects");
    assert_eq!(objects.len(), 17 + 1, "{objects:?}"); // the step's title, then one line per object
    assert!(
        objects.iter().skip(1).all(|m| m.starts_with("unchanged ")),
        "{objects:?}"
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
    // The list is the domain's: the owning team sees its environment, another team does not.
    let (status, listed) = app.get_as("/api/provision/environments", &ada).await;
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
    let (status, listed) = app.get_as("/api/provision/environments", &grace).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        json!([]),
        "another team's environments are not listed"
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
    assert_eq!(status, StatusCode::ACCEPTED, "{gone}");
    let gone = app.finished(gone["id"].as_str().expect("id"), &ada).await;
    assert_eq!(gone["task"]["status"], "completed", "{gone}");
    assert_eq!(gone["task"]["output"]["namespace"], "payments-api-dev");
    let (_, listed) = app.get_as("/api/provision/environments", &ada).await;
    assert_eq!(listed, json!([]), "a destroyed environment is forgotten");
}

#[tokio::test]
async fn bad_requests_name_the_field_in_the_error_envelope() {
    let app = App::with_cluster().await;
    let ada = app.token("user:default/ada").await;
    for (body, field) in [
        (
            json!({ "service": "payments-api", "environment": "qa" }),
            "environment",
        ),
        (
            json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "lots" } }),
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
    // Above a ceiling is the platform team's policy: 403, naming the field, the policy and the fix.
    let (status, error) = app
        .post(
            "/api/provision/plan",
            &ada,
            json!({ "service": "payments-api", "environment": "dev", "set": { "cpu": "100" } }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["errors"][0]["path"], json!(["set", "cpu"]));
    assert_eq!(error["errors"][0]["policy"], "ceiling-cpu");
    assert!(error["errors"][0]["fix"].is_string(), "{error}");
}

/// The events of a finished SSE body: (event type, id, data).
fn sse(body: &str) -> Vec<(String, Option<i64>, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut kind = None;
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            Some((
                kind?,
                id,
                serde_json::from_str(&data).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

impl App {
    async fn stream(&self, uri: &str, auth: &str, last_event_id: Option<i64>) -> String {
        let mut request = Request::get(uri).header(header::AUTHORIZATION, auth);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = self
            .send(request.body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        // The stream ends by itself once the task has ended and every event is sent.
        let bytes = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            axum::body::to_bytes(response.into_body(), usize::MAX),
        )
        .await
        .expect("the stream ends")
        .expect("body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }
}

#[tokio::test]
async fn task_events_stream_in_order_resume_after_a_disconnect_and_tasks_are_guarded() {
    let app = App::with_cluster().await;
    let ada = app.token("user:default/ada").await;
    let grace = app.token("user:default/grace").await;
    let target = json!({ "service": "payments-api", "environment": "staging" });
    let (status, task) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let id = task["id"].as_str().expect("id").to_owned();

    // Followed live from the start: every event, in order, then `end`.
    let events = sse(&app
        .stream(&format!("/api/tasks/{id}/events"), &ada, None)
        .await);
    let (last, logs) = events.split_last().expect("events");
    assert_eq!(last.0, "end");
    assert_eq!(last.2["status"], "completed", "{last:?}");
    let ids: Vec<i64> = logs
        .iter()
        .map(|(kind, id, _)| {
            assert_eq!(kind, "log");
            id.expect("every log event has an id")
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let (_, polled) = app.get_as(&format!("/api/tasks/{id}"), &ada).await;
    let polled_ids: Vec<i64> = polled["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert_eq!(ids, polled_ids, "the stream and the polling variant agree");
    assert!(
        logs.iter()
            .any(|(_, _, e)| e["message"] == "created ResourceQuota/causeway-quota")
    );

    // A client that saw the first three events reconnects: it gets exactly the rest.
    let resumed = sse(&app
        .stream(&format!("/api/tasks/{id}/events"), &ada, Some(ids[2]))
        .await);
    let resumed_ids: Vec<i64> = resumed.iter().filter_map(|(_, id, _)| *id).collect();
    assert_eq!(resumed_ids, ids[3..]);
    let (_, after) = app
        .get_as(&format!("/api/tasks/{id}?after={}", ids[2]), &ada)
        .await;
    assert_eq!(
        after["events"].as_array().map(Vec::len),
        Some(ids.len() - 3)
    );

    // Another team's developer sees neither the task nor its events.
    let (status, _) = app.get_as(&format!("/api/tasks/{id}"), &grace).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get_as(&format!("/api/tasks/{id}/events"), &grace).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Lists: mine and my teams'; everything only for platform admins.
    let (status, mine) = app.get_as("/api/tasks?scope=mine", &ada).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        mine.as_array()
            .expect("list")
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    let (_, theirs) = app.get_as("/api/tasks?scope=teams", &grace).await;
    assert!(
        !theirs
            .as_array()
            .expect("list")
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    let (status, all) = app.get_as("/api/tasks?scope=all", &grace).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{all}");
    for bad in ["/api/tasks?limit=many", "/api/tasks?whose=all"] {
        let (status, wrong) = app.get_as(bad, &ada).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {wrong}");
        assert_eq!(wrong["error"]["name"], "InputError", "{wrong}");
    }
    let (status, wrong) = app
        .get_as(&format!("/api/tasks/{id}/events?after=last"), &ada)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    assert!(
        wrong["error"]["message"]
            .as_str()
            .expect("message")
            .contains("after"),
        "{wrong}"
    );
    let (status, wrong) = app.get_as("/api/tasks?status=sleeping", &ada).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    assert!(
        wrong["error"]["message"]
            .as_str()
            .expect("message")
            .contains("status")
    );

    // State changes by another team: refused.
    let (status, _) = app
        .post(&format!("/api/tasks/{id}/cancel"), &grace, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post("/api/provision/destroy", &grace, target.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, ended) = app
        .post(&format!("/api/tasks/{id}/cancel"), &ada, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{ended}");

    let (status, gone) = app.post("/api/provision/destroy", &ada, target).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let gone = app.finished(gone["id"].as_str().expect("id"), &ada).await;
    assert_eq!(gone["task"]["status"], "completed", "{gone}");
}

#[tokio::test]
async fn a_developer_can_neither_destroy_nor_take_over_a_namespace_causeway_did_not_create() {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use k8s_openapi::api::rbac::v1::RoleBinding;
    use kube::api::{Api, DeleteParams, ListParams, PostParams};

    let app = App::with_cluster().await;
    let ada = app.token("user:default/ada").await; // payments
    let linus = app.token("user:default/linus").await; // platform
    let service = cluster::unique_name("billing");
    let namespace = format!("{service}-dev");

    // An admin's namespace with a ConfigMap in it, made before Causeway knew the name.
    let admin = cluster::client(cluster::Identity::Admin).await;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": namespace } }))
                .expect("namespace"),
        )
        .await
        .expect("namespace");
    let config_maps = Api::<ConfigMap>::namespaced(admin.clone(), &namespace);
    config_maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "ledger-settings" } }))
                .expect("config map"),
        )
        .await
        .expect("config map");

    // The developer registers a component of that name, owned by their team.
    let component = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n"
    );
    let (status, imported) = app.post_yaml("/api/catalog/import", &ada, &component).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let target = json!({ "service": service, "environment": "dev" });

    let (status, refused) = app
        .post("/api/provision/destroy", &ada, target.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("not created by Causeway"),
        "{refused}"
    );
    let (status, refused) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (status, refused) = app
        .post(
            "/api/provision/apply",
            &ada,
            json!({ "service": service, "environment": "dev", "adopt": true }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("adopt"),
        "{refused}"
    );
    assert!(
        config_maps
            .get_opt("ledger-settings")
            .await
            .expect("get")
            .is_some()
    );
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &namespace);
    assert!(
        bindings
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty(),
        "no RoleBinding was written"
    );

    // A platform admin adopts it: the environment is applied, the admin's objects stay, and the
    // adoption is audited as theirs.
    let (status, task) = app
        .post(
            "/api/provision/apply",
            &linus,
            json!({ "service": service, "environment": "dev", "adopt": true }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let done = app.finished(task["id"].as_str().expect("id"), &linus).await;
    assert_eq!(done["task"]["status"], "completed", "{done}");
    assert!(
        config_maps
            .get_opt("ledger-settings")
            .await
            .expect("get")
            .is_some()
    );
    let audit = app.state.platform.audit.recent(20).await.expect("audit");
    assert!(
        audit.iter().any(|r| r.action == "provision.adopt"
            && r.actor == "user:default/linus"
            && r.target == namespace),
        "{audit:?}"
    );
    // Adopted, it is the developer's team's environment like any other.
    let (status, task) = app.post("/api/provision/apply", &ada, target.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let _ = Api::<Namespace>::all(admin)
        .delete(&namespace, &DeleteParams::default())
        .await;
}
