//! The callers and fixtures of the permission matrices (`permissions.rs` for the REST API,
//! `permissions_portal.rs` for the portal's server functions): who calls, and resources of the
//! owning team (payments) made fresh for each row — tokens, entities, locations, tasks,
//! approvals, waivers and template runs — so that every row reaches its rule.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{App, json_of};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Owner,
    Outsider,
    Admin,
    /// The owner's token with the `read` scope only.
    ReadOnly,
}

pub const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::Outsider,
    Caller::Admin,
    Caller::ReadOnly,
];

/// A component of payments the starter policies let into prod (for approvals).
pub const SETTLEMENT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: settlement\n  annotations:\n    causeway.dev/on-call: payments-rota\n    causeway.dev/cost-centre: cc-1\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n";

/// A small template owned by payments, with one step that only logs.
pub fn template() -> Value {
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

pub struct Fixture {
    pub app: App,
    /// `Bearer …` of ada's read-only token.
    pub read_only: String,
    /// The one apply task of payments-api's dev (a second would wait for the first, which no
    /// worker runs here).
    task: std::sync::Mutex<Option<String>>,
}

impl Fixture {
    pub async fn new() -> Self {
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

    pub fn auth(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Owner => Some(&self.app.ada),
            Caller::Outsider => Some(&self.app.grace),
            Caller::Admin => Some(&self.app.linus),
            Caller::ReadOnly => Some(&self.read_only),
        }
    }

    pub async fn send(
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
            Some(Body::JsonWith(value, name, header_value)) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .header(name, header_value)
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
    pub async fn make(&self, kind: &str) -> String {
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
}

/// A request body: JSON, or YAML for the catalog's import.
pub enum Body {
    Json(Value),
    Yaml(String),
    /// JSON with one more header (a webhook's event name).
    JsonWith(Value, &'static str, &'static str),
}
