//! The permission matrix: every operation of the REST API (read from the OpenAPI document the
//! router serves, so a new endpoint without a row here fails this test) called as each kind of
//! caller — nobody, a developer of the owning team (ada, payments), a developer of another team
//! (grace, checkout), a platform admin (linus), and the owner's read-only token — with a request
//! that is otherwise valid, and the answer's class compared with the row. A read-only token may
//! do what its person may with `GET`, and nothing else (403).
//!
//! Classes: `A` allowed (any answer but 401 and 403: the request reached the rule and passed it,
//! though it may still be refused for its content), `F` forbidden (403), `N` hidden (404: the
//! resource is not the caller's to see), `U` unauthenticated (401).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

mod support;

use support::{App, json_of};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Owner,
    Outsider,
    Admin,
    /// The owner's token with the `read` scope only.
    ReadOnly,
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::Outsider,
    Caller::Admin,
    Caller::ReadOnly,
];

/// One row: the operation and the expected class per caller, in [`CALLERS`] order (the
/// read-only token's class follows from the owner's and the method).
struct Row {
    method: &'static str,
    path: &'static str,
    expect: &'static str,
}

const fn row(method: &'static str, path: &'static str, expect: &'static str) -> Row {
    Row {
        method,
        path,
        expect,
    }
}

/// The matrix. Every documented operation has exactly one row.
const ROWS: &[Row] = &[
    row("GET", "/api/me", "UAAA"),
    row("GET", "/api/tokens", "UAAA"),
    row("POST", "/api/tokens", "UAAA"),
    row("DELETE", "/api/tokens/{id}", "UANA"),
    row("GET", "/api/audit", "UFFA"),
    row("GET", "/api/catalog/entities", "UAAA"),
    row("GET", "/api/catalog/entities/by-query", "UAAA"),
    row(
        "GET",
        "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
        "UAAA",
    ),
    row("GET", "/api/catalog/entities/by-uid/{uid}", "UAAA"),
    row("DELETE", "/api/catalog/entities/by-uid/{uid}", "UAFA"),
    row("POST", "/api/catalog/entities/by-refs", "UAAA"),
    row("GET", "/api/catalog/entity-facets", "UAAA"),
    row("POST", "/api/catalog/validate-entity", "UAAA"),
    row("GET", "/api/catalog/locations", "UAAA"),
    row("GET", "/api/catalog/locations/{id}", "UAAA"),
    row("POST", "/api/catalog/locations", "UFFA"),
    row("DELETE", "/api/catalog/locations/{id}", "UFFA"),
    row("POST", "/api/catalog/refresh", "UAFA"),
    row("POST", "/api/catalog/import", "UAFA"),
    row("POST", "/api/provision/plan", "UAAA"),
    row("POST", "/api/provision/apply", "UAFA"),
    row("POST", "/api/provision/destroy", "UAFA"),
    row("POST", "/api/provision/extend", "UAFA"),
    row("POST", "/api/provision/status", "UAAA"),
    row("GET", "/api/provision/environments", "UAAA"),
    row("GET", "/api/provision/kubeconfig", "UAFA"),
    row("GET", "/api/tasks", "UAAA"),
    row("GET", "/api/tasks/{id}", "UANA"),
    row("GET", "/api/tasks/{id}/events", "UANA"),
    row("POST", "/api/tasks/{id}/cancel", "UAFA"),
    row("GET", "/api/approvals", "UAAA"),
    row("GET", "/api/approvals/{id}", "UAAA"),
    row("POST", "/api/approvals/{id}/approve", "UFFA"),
    row("POST", "/api/approvals/{id}/reject", "UFFA"),
    row("GET", "/api/platform/config", "UAAA"),
    row("POST", "/api/platform/config/reload", "UFFA"),
    row("GET", "/api/platform/config/export", "UFFA"),
    row("GET", "/api/policies", "UAAA"),
    row("POST", "/api/policies/test", "UFFA"),
    row("GET", "/api/policies/waivers", "UAAA"),
    row("POST", "/api/policies/waivers", "UFFA"),
    row("DELETE", "/api/policies/waivers/{id}", "UFFA"),
    row("GET", "/api/scaffolder/v2/actions", "UAAA"),
    row(
        "GET",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema",
        "UAAA",
    ),
    row("POST", "/api/scaffolder/v2/dry-run", "UAAA"),
    row("POST", "/api/scaffolder/v2/tasks", "UAAA"),
    row("GET", "/api/scaffolder/v2/tasks", "UAAA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}", "UANA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}/events", "UANA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}/eventstream", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/cancel", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/retry", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/cleanup", "UANA"),
];

/// A component of payments the starter policies let into prod (for approvals).
const SETTLEMENT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: settlement\n  annotations:\n    causeway.dev/on-call: payments-rota\n    causeway.dev/cost-centre: cc-1\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n";

/// A small template owned by payments, with one step that only logs.
fn template() -> Value {
    json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "hello", "namespace": "default" },
        "spec": {
            "owner": "group:default/payments",
            "type": "service",
            "parameters": [{ "properties": { "name": { "type": "string" } } }],
            "steps": [{ "id": "log", "name": "Log", "action": "debug:log", "input": { "message": "hi" } }],
        },
    })
}

struct Fixture {
    app: App,
    /// `Bearer …` of ada's read-only token.
    read_only: String,
    /// The one apply task of payments-api's dev (a second would wait for the first, which no
    /// worker runs here).
    task: std::sync::Mutex<Option<String>>,
}

impl Fixture {
    async fn new() -> Self {
        let app = App::new().await;
        let (status, token) = {
            let response = app
                .call(
                    "POST",
                    "/api/tokens",
                    &app.ada,
                    Some(json!({ "name": "read-only", "scopes": ["read"] })),
                )
                .await;
            (response.status(), json_of(response).await)
        };
        assert!(status.is_success(), "{status} {token}");
        let read_only = format!("Bearer {}", token["secret"].as_str().expect("secret"));
        let fixture = Self {
            app,
            read_only,
            task: std::sync::Mutex::new(None),
        };
        let (status, body) = fixture
            .send(
                "POST",
                "/api/catalog/import",
                Caller::Admin,
                Some(Body::Yaml(SETTLEMENT.to_owned())),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
        // dev's one apply task, made before any row runs (the rows' destroys of dev then find it
        // unfinished, after the rule has let them through).
        fixture.make("task").await;
        // A provisioned preview (through the engine, since no worker runs tasks here), so that
        // extending it reaches its rule.
        fixture
            .app
            .state
            .provisioner
            .apply(&causeway_platform::provision::Request {
                service: "payments-api".to_owned(),
                environment: "preview".to_owned(),
                request_id: "matrix".to_owned(),
                ..Default::default()
            })
            .await
            .expect("preview");
        let template = serde_yaml_ng::to_string(&template()).expect("yaml");
        let (status, body) = fixture
            .send(
                "POST",
                "/api/catalog/import",
                Caller::Admin,
                Some(Body::Yaml(template)),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
        fixture
    }

    fn auth(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Owner => Some(&self.app.ada),
            Caller::Outsider => Some(&self.app.grace),
            Caller::Admin => Some(&self.app.linus),
            Caller::ReadOnly => Some(&self.read_only),
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        caller: Caller,
        body: Option<Body>,
    ) -> (StatusCode, Value) {
        use axum::http::{Request, header};
        use tower::ServiceExt as _;
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(auth) = self.auth(caller) {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        let request = match body {
            Some(Body::Json(value)) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(value.to_string())),
            Some(Body::Yaml(text)) => builder
                .header(header::CONTENT_TYPE, "application/yaml")
                .body(axum::body::Body::from(text)),
            None => builder.body(axum::body::Body::empty()),
        }
        .expect("request");
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let body = if response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.to_str()
                    .unwrap_or_default()
                    .starts_with("text/event-stream")
            }) {
            Value::Null
        } else {
            json_of(response).await
        };
        (status, body)
    }

    /// A fresh resource of `kind` owned by the owning team, made by the owner (or an admin where
    /// only admins may make one); its id.
    async fn make(&self, kind: &str) -> String {
        if kind == "task"
            && let Some(id) = self.task.lock().expect("lock").clone()
        {
            return id;
        }
        let made = match kind {
            "token" => self.send("POST", "/api/tokens", Caller::Owner, Some(Body::Json(json!({ "name": "victim" })))).await,
            "entity" => {
                let name = format!("spare-{}", uuid::Uuid::new_v4().simple());
                let yaml = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n");
                let (status, _) = self.send("POST", "/api/catalog/import", Caller::Owner, Some(Body::Yaml(yaml))).await;
                assert!(status.is_success(), "{status}");
                let (_, entity) = self.send("GET", &format!("/api/catalog/entities/by-name/component/default/{name}"), Caller::Admin, None).await;
                return entity["metadata"]["uid"].as_str().expect("uid").to_owned();
            }
            "location" => {
                let file = self.app.dir.join(format!("location-{}.yaml", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&self.app.dir).expect("dir");
                std::fs::write(&file, format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: loc-{}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n", uuid::Uuid::new_v4().simple())).expect("write");
                let (status, body) = self.send("POST", "/api/catalog/locations", Caller::Admin, Some(Body::Json(json!({ "type": "file", "target": file.display().to_string() })))).await;
                assert!(status.is_success(), "{status} {body}");
                return body["location"]["id"].as_str().expect("id").to_owned();
            }
            "task" => self.send("POST", "/api/provision/apply", Caller::Owner, Some(Body::Json(json!({ "service": "payments-api", "environment": "dev" })))).await,
            "approval" => self.send("POST", "/api/provision/apply", Caller::Owner, Some(Body::Json(json!({ "service": "settlement", "environment": "prod" })))).await,
            "waiver" => {
                let expires = causeway_platform::time::iso(causeway_platform::time::now_millis() + 3_600_000);
                self.send("POST", "/api/policies/waivers", Caller::Admin, Some(Body::Json(json!({ "policy": "ceiling-cpu", "service": "payments-api", "reason": "matrix", "expires": expires })))).await
            }
            "run" => self.send("POST", "/api/scaffolder/v2/tasks", Caller::Owner, Some(Body::Json(json!({ "templateRef": "template:default/hello", "values": { "name": "x" } })))).await,
            other => panic!("no fixture for {other}"),
        };
        let (status, body) = made;
        assert!(status.is_success(), "making a {kind}: {status} {body}");
        let id = body["id"]
            .as_str()
            .or_else(|| body["token"]["id"].as_str())
            .unwrap_or_else(|| panic!("no id in {body}"))
            .to_owned();
        if kind == "task" {
            *self.task.lock().expect("lock") = Some(id.clone());
        }
        id
    }

    /// The request for `row` as `caller`: its address with real identifiers and a valid body.
    async fn request(&self, row: &Row) -> (String, Option<Body>) {
        let with = |id: &str| {
            row.path
                .replace("{id}", id)
                .replace("{taskId}", id)
                .replace("{uid}", id)
        };
        let target = json!({ "service": "payments-api", "environment": "dev" });
        match (row.method, row.path) {
            ("DELETE", "/api/tokens/{id}") => (with(&self.make("token").await), None),
            ("POST", "/api/tokens") => (
                row.path.to_owned(),
                Some(Body::Json(json!({ "name": "matrix" }))),
            ),
            (_, "/api/catalog/entities/by-name/{kind}/{namespace}/{name}") => (
                "/api/catalog/entities/by-name/component/default/payments-api".to_owned(),
                None,
            ),
            ("GET", "/api/catalog/entities/by-uid/{uid}")
            | ("DELETE", "/api/catalog/entities/by-uid/{uid}") => {
                (with(&self.make("entity").await), None)
            }
            ("POST", "/api/catalog/entities/by-refs") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "entityRefs": ["component:default/payments-api"] }),
                )),
            ),
            ("POST", "/api/catalog/validate-entity") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "location": "url:https://example.com/x.yaml", "entity": { "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "v" }, "spec": { "type": "service", "lifecycle": "production", "owner": "payments" } } }),
                )),
            ),
            (_, "/api/catalog/locations/{id}") => (with(&self.make("location").await), None),
            ("POST", "/api/catalog/locations") => {
                let file = self
                    .app
                    .dir
                    .join(format!("new-{}.yaml", uuid::Uuid::new_v4().simple()));
                std::fs::write(&file, format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: n-{}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n", uuid::Uuid::new_v4().simple())).expect("write");
                (
                    row.path.to_owned(),
                    Some(Body::Json(
                        json!({ "type": "file", "target": file.display().to_string() }),
                    )),
                )
            }
            ("POST", "/api/catalog/refresh") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "entityRef": "component:default/payments-api" }),
                )),
            ),
            ("POST", "/api/catalog/import") => (
                row.path.to_owned(),
                Some(Body::Yaml(format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: i-{}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n",
                    uuid::Uuid::new_v4().simple()
                ))),
            ),
            // Its own environment: the tasks' rows use dev's one task.
            ("POST", "/api/provision/apply") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "service": "payments-api", "environment": "staging" }),
                )),
            ),
            ("GET", "/api/provision/kubeconfig") => (
                "/api/provision/kubeconfig?service=payments-api&environment=dev".to_owned(),
                None,
            ),
            ("POST", "/api/provision/extend") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "service": "payments-api", "environment": "preview" }),
                )),
            ),
            ("POST", p) if p.starts_with("/api/provision/") => {
                (row.path.to_owned(), Some(Body::Json(target)))
            }
            (_, p) if p.starts_with("/api/tasks/{id}") => {
                let body = (row.method == "POST").then(|| Body::Json(json!({})));
                (with(&self.make("task").await), body)
            }
            (_, p) if p.starts_with("/api/approvals/{id}") => {
                let body =
                    (row.method == "POST").then(|| Body::Json(json!({ "comment": "matrix" })));
                (with(&self.make("approval").await), body)
            }
            ("POST", "/api/policies/test") => (row.path.to_owned(), Some(Body::Json(target))),
            ("POST", "/api/policies/waivers") => {
                let expires =
                    causeway_platform::time::iso(causeway_platform::time::now_millis() + 3_600_000);
                (
                    row.path.to_owned(),
                    Some(Body::Json(
                        json!({ "policy": "ceiling-cpu", "service": "payments-api", "reason": "matrix", "expires": expires }),
                    )),
                )
            }
            ("DELETE", "/api/policies/waivers/{id}") => (with(&self.make("waiver").await), None),
            (_, "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema") => (
                "/api/scaffolder/v2/templates/default/template/hello/parameter-schema".to_owned(),
                None,
            ),
            ("POST", "/api/scaffolder/v2/dry-run") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "template": template(), "values": { "name": "x" } }),
                )),
            ),
            ("POST", "/api/scaffolder/v2/tasks") => (
                row.path.to_owned(),
                Some(Body::Json(
                    json!({ "templateRef": "template:default/hello", "values": { "name": "x" } }),
                )),
            ),
            (_, p) if p.starts_with("/api/scaffolder/v2/tasks/{id}") => {
                let body = (row.method == "POST").then(|| Body::Json(json!({})));
                (with(&self.make("run").await), body)
            }
            ("POST", _) => (row.path.to_owned(), Some(Body::Json(json!({})))),
            _ => (row.path.to_owned(), None),
        }
    }
}

/// The class `row` expects for `caller`.
fn expected(row: &Row, caller: Caller) -> char {
    let class = |c: Caller| {
        let index = CALLERS.iter().position(|x| *x == c).expect("caller");
        row.expect.chars().nth(index).expect("a class per caller")
    };
    match caller {
        // A read-only token answers reads as its person would, and refuses every other method.
        Caller::ReadOnly if row.method == "GET" => class(Caller::Owner),
        Caller::ReadOnly => 'F',
        other => class(other),
    }
}

enum Body {
    Json(Value),
    Yaml(String),
}

fn class(status: StatusCode) -> char {
    match status.as_u16() {
        401 => 'U',
        403 => 'F',
        404 => 'N',
        _ => 'A',
    }
}

#[tokio::test]
async fn every_operation_answers_each_caller_as_its_row_says() {
    let fixture = Fixture::new().await;
    let (status, document) = fixture
        .send("GET", "/api/openapi.json", Caller::Admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let rows: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the permission matrix: {missing:?}"
    );
    let stale: Vec<_> = rows.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "rows for operations that no longer exist: {stale:?}"
    );

    let mut wrong = Vec::new();
    for row in ROWS {
        for caller in CALLERS {
            let (uri, body) = fixture.request(row).await;
            let (status, answer) = fixture.send(row.method, &uri, caller, body).await;
            let seen = class(status);
            let wanted = expected(row, caller);
            if seen != wanted {
                wrong.push(format!(
                    "{} {} as {caller:?}: expected {wanted}, got {status} {}",
                    row.method, row.path, answer["error"]["message"]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the matrix:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
