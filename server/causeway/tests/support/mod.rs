//! The application the REST suites share: the real router and middleware over a fresh SQLite
//! database seeded with the demo organisation, and API tokens for three of its people: `ada` of
//! payments, `grace` of checkout, and `linus`, a platform admin who is also in payments.

#![allow(dead_code)]

/// Dex's gRPC API, for suites that add and delete people at the test provider.
pub mod dex_api;

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use causeway::config::Config;
use causeway::http::{AppState, router};
use causeway::serve;
use causeway_platform::catalog::{IngestOptions, yaml};
use serde_json::Value;
use tower::ServiceExt as _;

pub mod matrix;

/// The portal's own origin, which state-changing requests from its pages carry.
pub const ORIGIN: &str = "http://127.0.0.1:3000";

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub dir: std::path::PathBuf,
    pub ada: String,
    pub linus: String,
    pub grace: String,
}

impl App {
    pub async fn new() -> Self {
        Self::with_vars(Vec::new()).await
    }

    /// An application with extra configuration variables.
    pub async fn with_vars(extra: Vec<(String, String)>) -> Self {
        let dir = std::env::temp_dir().join(format!("causeway-catalog-{}", uuid::Uuid::new_v4()));
        let vars = [
            (
                "CAUSEWAY_DATABASE_URL".to_owned(),
                format!("sqlite://{}/c.db", dir.display()),
            ),
            (
                "CAUSEWAY_CATALOG_ALLOWED_HOSTS".to_owned(),
                "catalog.example.com".to_owned(),
            ),
            ("CAUSEWAY_BODY_LIMIT_BYTES".to_owned(), "200000".to_owned()),
            (
                "CAUSEWAY_GITOPS_DIR".to_owned(),
                dir.join("gitops").display().to_string(),
            ),
            (
                "CAUSEWAY_GIT_DIR".to_owned(),
                dir.join("git").display().to_string(),
            ),
        ];
        let vars = vars.into_iter().chain(extra);
        let state = serve::state(Config::load(vars).expect("config")).expect("state");
        state.platform.load().await.expect("load");
        state.migrated.store(true, Ordering::Release);
        let documents = yaml::parse("demo", causeway::cli::DEMO_ORG).expect("demo YAML");
        state
            .platform
            .catalog
            .ingest("demo", documents, IngestOptions::default())
            .await
            .expect("seed");
        let ada = state
            .platform
            .tokens
            .create("user:default/ada", "t")
            .await
            .expect("token")
            .secret;
        let linus = state
            .platform
            .tokens
            .create("user:default/linus", "t")
            .await
            .expect("token")
            .secret;
        let grace = state
            .platform
            .tokens
            .create("user:default/grace", "t")
            .await
            .expect("token")
            .secret;
        Self {
            grace: format!("Bearer {grace}"),
            router: router(state.clone()),
            state,
            dir,
            ada: format!("Bearer {ada}"),
            linus: format!("Bearer {linus}"),
        }
    }

    /// The session cookie (`name=value`) of `user` signed in through development sign-in, as a
    /// browser on the portal's own origin gets it.
    pub async fn session(&self, user: &str) -> String {
        let response = self
            .send(
                Request::post("/auth/dev/sign-in")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ORIGIN, ORIGIN)
                    .body(Body::from(format!("user={user}")))
                    .expect("request"),
            )
            .await;
        response.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    }

    /// Writes a template and its skeleton (path, text, executable) below the test's directory
    /// and registers it from that file location, as the server reads registered templates; run
    /// again with other contents, it changes the files and reads the location again (a new
    /// version of the template).
    pub async fn register_template_files(
        &self,
        name: &str,
        yaml: &str,
        skeleton: &[(&str, &str, bool)],
    ) {
        let dir = self.dir.join("templates").join(name);
        let _ = std::fs::remove_dir_all(dir.join("skeleton"));
        std::fs::create_dir_all(&dir).expect("template directory");
        std::fs::write(dir.join("template.yaml"), yaml).expect("template.yaml");
        for (path, text, executable) in skeleton {
            let file = dir.join("skeleton").join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("skeleton directory");
            std::fs::write(&file, text).expect("skeleton file");
            #[cfg(unix)]
            if *executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
                    .expect("mode");
            }
        }
        let policy = self.state.read_policy();
        let target = dir.join("template.yaml").display().to_string();
        let catalog = &self.state.platform.catalog;
        let known = catalog
            .locations()
            .await
            .expect("locations")
            .into_iter()
            .find(|l| l.kind == "file" && l.target == target);
        match known {
            Some(location) => {
                catalog
                    .refresh_location(&location, &policy)
                    .await
                    .expect("read the template again");
            }
            None => {
                catalog
                    .register("file", &target, false, &policy)
                    .await
                    .expect("register the template");
            }
        }
    }

    /// Runs the queued tasks to their end with a task runner like the server's.
    pub async fn run_tasks(&self) {
        let runner = causeway::serve::runner(
            &self.state.config,
            &self.state.platform,
            &self.state.provisioner,
        );
        runner.drain().await.expect("run tasks");
    }

    /// `GET uri` as a browser holding the session `cookie`: the status and the page.
    pub async fn page(&self, cookie: &str, uri: &str) -> (StatusCode, String) {
        let response = self
            .send(
                Request::get(uri)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        let status = response.status();
        (status, text_of(response).await)
    }

    /// Posts the form `body` to the server function at `path` with the session `cookie`: as a
    /// browser's plain form sent from the page `referer` (`accept: text/html`), or, without a
    /// referer, as the portal's own client. The status, the location and the body.
    pub async fn post_form(
        &self,
        cookie: &str,
        path: &str,
        body: &str,
        referer: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie);
        request = match referer {
            Some(referer) => request
                .header(header::ACCEPT, "text/html")
                .header(header::REFERER, format!("{ORIGIN}{referer}")),
            None => request.header(header::ACCEPT, "application/json"),
        };
        let response = self
            .send(request.body(Body::from(body.to_owned())).expect("request"))
            .await;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location, text_of(response).await)
    }

    /// An application that provisions into the test control plane (`TEST_KUBECONFIG`, set by
    /// `tests/scripts/with-controlplane.sh`) with a task worker, as `causeway serve` runs one.
    pub async fn with_cluster() -> Self {
        let kubeconfig = std::env::var("TEST_KUBECONFIG").unwrap_or_else(|_| {
            panic!("TEST_KUBECONFIG is not set; run through `make test` or tests/scripts/with-controlplane.sh")
        });
        let app = Self::with_vars(vec![("CAUSEWAY_KUBECONFIG".to_owned(), kubeconfig)]).await;
        serve::runner(
            &app.state.config,
            &app.state.platform,
            &app.state.provisioner,
        )
        .spawn();
        app
    }

    /// `Bearer <secret>` of a new API token for `user` (the broadest scope they may hold).
    pub async fn token(&self, user: &str) -> String {
        let token = self
            .state
            .platform
            .tokens
            .create(user, "t")
            .await
            .expect("token");
        format!("Bearer {}", token.secret)
    }

    /// `request` through the router.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("response")
    }

    /// [`App::call`], answered as its status and JSON body.
    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let response = self.call(method, uri, auth, body).await;
        let status = response.status();
        (status, json_of(response).await)
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: &str,
        body: Option<Value>,
    ) -> Response<Body> {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, auth);
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.router
            .clone()
            .oneshot(request.expect("request"))
            .await
            .expect("response")
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let response = self.call("GET", uri, &self.ada, None).await;
        let status = response.status();
        (status, json_of(response).await)
    }

    /// `method uri` as `auth` with a YAML body.
    pub async fn call_text(
        &self,
        method: &str,
        uri: &str,
        auth: &str,
        text: &str,
    ) -> Response<Body> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(text.to_owned()))
            .expect("request");
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("response")
    }

    pub async fn post_text(&self, uri: &str, text: &str) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, &self.ada)
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(text.to_owned()))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        (status, json_of(response).await)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn json_of(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The body of `response` as text.
pub async fn text_of(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// Runs `git` in `dir` with `args`; its standard output. A failure fails the test with git's
/// message.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
