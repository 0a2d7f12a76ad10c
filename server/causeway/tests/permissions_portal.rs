//! The permission matrix of the portal's server functions (`/api/portal/*`): every registered
//! server function (read from the server-function registry, so a new one without a row here
//! fails this test), and every page behind the one page function, called through the real router
//! as each kind of caller — nobody, a developer of the owning team (ada, payments), a developer
//! of another team (grace, checkout) and a platform admin (linus) with their portal sessions, and
//! the owner's read-only API token — with a request that is otherwise valid. The answers must
//! agree with the REST matrix (`permissions.rs`): both doors call the same domain rules.
//!
//! Classes as in the REST matrix: `A` allowed, `F` forbidden (403), `N` hidden (404, or a
//! function that answers "nothing here" — `null` — as the portal's pages do for a task that is
//! not the caller's), `U` unauthenticated (401). Every server function is a `POST`, so a
//! read-only token is refused all of them.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

mod support;

use support::ORIGIN;
use support::matrix::{CALLERS, Caller, Fixture};

/// One row: a server function (with, for `page`, the page's address) and the expected class for
/// nobody, the owner, the outsider and the admin, in [`CALLERS`] order.
struct Row {
    endpoint: &'static str,
    /// The page's address, for the `page` function; empty for the others.
    page: &'static str,
    expect: &'static str,
}

const fn row(endpoint: &'static str, expect: &'static str) -> Row {
    Row {
        endpoint,
        page: "",
        expect,
    }
}

const fn page(page: &'static str, expect: &'static str) -> Row {
    Row {
        endpoint: "page",
        page,
        expect,
    }
}

/// The matrix. `{task}` in a page's address is a task of the owning team.
const ROWS: &[Row] = &[
    // Who is signed in, and how to sign in: nothing to hide, answered to everyone.
    row("session", "NAAA"),
    row("sign-in-options", "AAAA"),
    row("home", "UAAA"),
    row("catalog", "UAAA"),
    row("entity", "UAAA"),
    row("catalog-import", "UAFA"),
    // An outcome not signed for this session shows nothing.
    row("import-outcome", "UNNN"),
    row("environment-request", "UAFA"),
    row("environment-destroy", "UAFA"),
    row("environment-extend", "UAFA"),
    row("task", "UANA"),
    row("task-cancel", "UAFA"),
    row("template-create", "UAAA"),
    // Publishing a version is authoring: platform admins only.
    row("template-publish", "UFFA"),
    // A whole fleet is the platform admins' to upgrade (hello's needs nothing: a 409 for them).
    row("fleet-upgrade", "UFFA"),
    row("fleet-refresh", "UAAA"),
    row("approval-decide", "UFFA"),
    row("platform-reload", "UFFA"),
    row("waiver-grant", "UFFA"),
    row("waiver-revoke", "UFFA"),
    page(
        "/catalog/default/component/payments-api/environments",
        "UAAA",
    ),
    page(
        "/catalog/default/component/payments-api/environments/dev/plan",
        "UAAA",
    ),
    // Delivery feedback is shared: anyone signed in reads a component's, a team's and the
    // organisation's.
    page("/catalog/default/component/payments-api/delivery", "UAAA"),
    page("/catalog/default/group/payments/delivery", "UAAA"),
    page("/delivery", "UAAA"),
    // Scorecard results are everyone's to read, a component's and a team's.
    page("/catalog/default/component/payments-api/scorecard", "UAAA"),
    page("/catalog/default/group/payments/scorecard", "UAAA"),
    page("/tasks", "UAAA"),
    page("/tasks/{task}", "UANA"),
    page("/platform", "UAAA"),
    page("/platform/policies/test", "UFFA"),
    page("/create", "UAAA"),
    page("/create/templates/default/hello", "UAAA"),
    page("/create/templates/default/hello/versions", "UAAA"),
    page("/create/templates/default/hello/fleet", "UAAA"),
    page("/create/author", "UFFA"),
];

struct Portal {
    fixture: Fixture,
    /// Session cookies by caller; none for nobody and the token.
    sessions: BTreeMap<&'static str, String>,
}

impl Portal {
    async fn new() -> Self {
        let fixture = Fixture::new().await;
        let mut sessions = BTreeMap::new();
        for (caller, user) in [("owner", "ada"), ("outsider", "grace"), ("admin", "linus")] {
            sessions.insert(caller, fixture.app.session(user).await);
        }
        Self { fixture, sessions }
    }

    /// The form body of `row` (JSON for `catalog`), with fresh resources where it acts on one.
    async fn body(&self, row: &Row) -> String {
        let fixture = &self.fixture;
        let form = |pairs: &[(&str, &str)]| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        let service = "component:default/payments-api";
        match row.endpoint {
            "catalog" => json!({ "params": { "q": "", "selected": [], "sort": "", "descending": false, "page": 1 } }).to_string(),
            "entity" => form(&[("namespace", "default"), ("kind", "component"), ("name", "payments-api")]),
            "catalog-import" => {
                let yaml = format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: p-{}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n",
                    uuid::Uuid::new_v4().simple()
                );
                form(&[("yaml", &yaml), ("mode", "import")])
            }
            "import-outcome" => form(&[("outcome", "{}"), ("signature", "x")]),
            "environment-request" => form(&[
                ("service", service),
                ("environment", "staging"),
                ("cpu", ""),
                ("memory", ""),
                ("pods", ""),
                ("availability", ""),
            ]),
            "environment-destroy" => form(&[
                ("service", service),
                ("environment", "dev"),
                ("confirm", "payments-api-dev"),
            ]),
            "environment-extend" => form(&[
                ("service", service),
                ("environment", "preview"),
                ("hours", "1"),
            ]),
            "task" => form(&[("id", &fixture.make("task").await), ("after", "0")]),
            "task-cancel" => form(&[("id", &fixture.make("task").await)]),
            "template-publish" => {
                let yaml = serde_yaml_ng::to_string(&support::matrix::template()).expect("yaml");
                form(&[("yaml", &yaml), ("files", "[]")])
            }
            "template-create" => form(&[
                ("template", "template:default/hello"),
                ("values", r#"{"name":"x"}"#),
            ]),
            "approval-decide" => form(&[
                ("id", &fixture.make("approval").await),
                ("decision", "approve"),
                ("comment", "matrix"),
            ]),
            "waiver-grant" => {
                // A day (the form's date) a week from now.
                let expires = causeway_platform::time::iso(
                    causeway_platform::time::now_millis() + 7 * 86_400_000,
                )[..10]
                    .to_owned();
                form(&[
                    ("policy", "ceiling-cpu"),
                    ("service", "payments-api"),
                    ("reason", "matrix"),
                    ("expires", &expires),
                ])
            }
            "fleet-upgrade" => form(&[
                ("template", "template:default/hello"),
                ("services", ""),
                ("to_version", ""),
            ]),
            "fleet-refresh" => form(&[("template", "template:default/hello")]),
            "waiver-revoke" => form(&[("id", &fixture.make("waiver").await)]),
            "page" => {
                let path = if row.page.contains("{task}") {
                    row.page.replace("{task}", &fixture.make("task").await)
                } else {
                    row.page.to_owned()
                };
                form(&[("path", &path), ("query", "")])
            }
            _ => String::new(),
        }
    }

    /// Calls `row` as `caller` the way the portal's own client does; the status and the answer.
    async fn call(&self, row: &Row, caller: Caller) -> (StatusCode, Value) {
        let content_type = if row.endpoint == "catalog" {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut request = Request::post(format!("/api/portal/{}", row.endpoint))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, ORIGIN);
        let session = match caller {
            Caller::Owner => self.sessions.get("owner"),
            Caller::Outsider => self.sessions.get("outsider"),
            Caller::Admin => self.sessions.get("admin"),
            Caller::Anonymous | Caller::ReadOnly => None,
        };
        if let Some(cookie) = session {
            request = request.header(header::COOKIE, cookie);
        }
        if caller == Caller::ReadOnly {
            request = request.header(header::AUTHORIZATION, &self.fixture.read_only);
        }
        let request = request
            .body(Body::from(self.body(row).await))
            .expect("request");
        let response = self.fixture.app.send(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let answer = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, answer)
    }
}

/// The class `row` expects for `caller`.
fn expected(row: &Row, caller: Caller) -> char {
    match caller {
        Caller::ReadOnly => 'F',
        other => {
            let index = CALLERS.iter().position(|x| *x == other).expect("caller");
            row.expect.chars().nth(index).expect("a class per caller")
        }
    }
}

/// The functions that answer "nothing here" (`null`) rather than a 404; the others' `null` is
/// their empty success.
const OPTIONAL: [&str; 5] = ["session", "entity", "import-outcome", "task", "page"];

fn class(row: &Row, status: StatusCode, answer: &Value) -> char {
    match status.as_u16() {
        401 => 'U',
        403 => 'F',
        404 => 'N',
        200 if answer.is_null() && OPTIONAL.contains(&row.endpoint) => 'N',
        _ => 'A',
    }
}

#[tokio::test]
async fn every_server_function_answers_each_caller_as_its_row_says() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .filter_map(|(path, _)| path.strip_prefix("/api/portal/").map(str::to_owned))
        .collect();
    let rows: BTreeSet<String> = ROWS.iter().map(|r| r.endpoint.to_owned()).collect();
    let missing: Vec<_> = registered.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "server functions without a row in the portal's permission matrix: {missing:?}"
    );
    let stale: Vec<_> = rows.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rows for server functions that no longer exist: {stale:?}"
    );

    let portal = Portal::new().await;
    let mut wrong = Vec::new();
    for row in ROWS {
        for caller in CALLERS {
            let (status, answer) = portal.call(row, caller).await;
            let seen = class(row, status, &answer);
            let wanted = expected(row, caller);
            if seen != wanted {
                wrong.push(format!(
                    "{} {} as {caller:?}: expected {wanted}, got {status} {answer}",
                    row.endpoint, row.page
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

/// A refusal keeps its status and its reason across the boundary, as the portal's error type:
/// the browser build decodes the same JSON and shows the page for its status.
#[tokio::test]
async fn a_refusal_reaches_the_portal_as_its_status_and_reason() {
    let portal = Portal::new().await;
    let (status, answer) = portal
        .call(&page("/create/author", ""), Caller::Outsider)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["status"], 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("for platform admins")),
        "{answer}"
    );
    let (status, answer) = portal.call(&row("home", ""), Caller::Anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["status"], 401, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("sign in")),
        "{answer}"
    );
}
