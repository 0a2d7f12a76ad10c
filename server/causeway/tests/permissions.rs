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
use serde_json::json;

mod support;

use support::matrix::{Body, CALLERS, Caller, Fixture, template};

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
    // Events for a service are posted by its owning team and platform admins; the measures are
    // everyone's to read.
    row("POST", "/api/events", "UAFA"),
    // The adapters' webhooks follow the same rule, for the service their payload is about.
    row("POST", "/api/events/alertmanager", "UAFA"),
    row("POST", "/api/events/gitea", "UAFA"),
    row("POST", "/api/events/github", "UAFA"),
    row("GET", "/api/delivery/dora", "UAAA"),
    // Scorecards and results are everyone's to read; an evaluation on demand is the platform
    // admins'.
    row("GET", "/api/scorecards", "UAAA"),
    row("GET", "/api/scorecards/results", "UAAA"),
    row("POST", "/api/scorecards/evaluate", "UFFA"),
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
    row(
        "GET",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions",
        "UAAA",
    ),
    row(
        "GET",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff",
        "UAAA",
    ),
    row(
        "GET",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet",
        "UAAA",
    ),
    row(
        "POST",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet/refresh",
        "UAAA",
    ),
    // The whole fleet (an empty selection) is the platform admins'; nothing of hello's needs an
    // upgrade, so they get a 409, past the rule.
    row(
        "POST",
        "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/upgrades",
        "UFFA",
    ),
    row("POST", "/api/scaffolder/v2/dry-run", "UFFA"),
    row("POST", "/api/scaffolder/v2/tasks", "UAAA"),
    row("GET", "/api/scaffolder/v2/tasks", "UAAA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}", "UANA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}/events", "UANA"),
    row("GET", "/api/scaffolder/v2/tasks/{id}/eventstream", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/cancel", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/retry", "UANA"),
    row("POST", "/api/scaffolder/v2/tasks/{id}/cleanup", "UANA"),
];

impl Fixture {
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
            ("POST", "/api/events") => (
                row.path.to_owned(),
                Some(Body::Json(json!({
                    "kind": "deployment", "id": "matrix", "service": "payments-api",
                    "environment": "prod", "version": "1.0.0", "status": "succeeded",
                    "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:05:00Z",
                }))),
            ),
            ("POST", "/api/events/alertmanager") => (
                row.path.to_owned(),
                Some(Body::Json(json!({
                    "version": "4", "status": "firing", "receiver": "causeway",
                    "alerts": [{
                        "status": "firing", "fingerprint": "a1b2c3d4e5f60718",
                        "labels": { "alertname": "ErrorBudgetBurn1H5M", "service": "payments-api", "severity": "page" },
                        "annotations": {}, "startsAt": "2026-12-01T10:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }],
                }))),
            ),
            ("POST", "/api/events/gitea" | "/api/events/github") => {
                let header = if row.path.ends_with("gitea") {
                    "X-Gitea-Event"
                } else {
                    "X-GitHub-Event"
                };
                (
                    row.path.to_owned(),
                    Some(Body::JsonWith(
                        json!({
                            "ref": "refs/heads/main",
                            "commits": [{ "id": "0123456789abcdef0123456789abcdef01234567",
                                          "timestamp": "2026-12-01T09:00:00+01:00" }],
                            "repository": { "full_name": "example-retail/payments-api",
                                            "html_url": "https://github.com/example-retail/payments-api",
                                            "clone_url": "https://github.com/example-retail/payments-api.git" },
                        }),
                        header,
                        "push",
                    )),
                )
            }
            ("GET", "/api/delivery/dora") => {
                ("/api/delivery/dora?service=payments-api".to_owned(), None)
            }
            ("GET", "/api/scorecards/results") => (
                "/api/scorecards/results?entity=payments-api".to_owned(),
                None,
            ),
            ("POST", "/api/scorecards/evaluate") => (
                "/api/scorecards/evaluate?entity=payments-api".to_owned(),
                Some(Body::Json(json!({}))),
            ),
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
            (method, p)
                if p.starts_with(
                    "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet",
                ) || p.ends_with("/upgrades") =>
            {
                let body = (method == "POST").then(|| Body::Json(json!({})));
                (
                    p.replace("{namespace}/{kind}/{name}", "default/template/hello"),
                    body,
                )
            }
            (_, "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions") => (
                "/api/scaffolder/v2/templates/default/template/hello/versions".to_owned(),
                None,
            ),
            (_, "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff") => {
                // The version the catalog stored when the fixture imported hello, with itself.
                let versions = self
                    .app
                    .state
                    .platform
                    .scaffolder
                    .versions()
                    .expect("versions")
                    .list("template:default/hello")
                    .await
                    .expect("list");
                let version = &versions.first().expect("a version of hello").version;
                (
                    format!(
                        "/api/scaffolder/v2/templates/default/template/hello/versions/diff?from={version}&to={version}"
                    ),
                    None,
                )
            }
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
