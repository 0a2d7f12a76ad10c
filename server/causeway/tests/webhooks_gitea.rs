//! A real Gitea (tests/gitserver, through `tests/scripts/with-gitea.sh`) sending its push webhook
//! to a running Causeway: a commit made on the server arrives signed with the webhook's secret
//! and is recorded as a change of the component whose source location is that repository, at
//! the commit's authored time.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

mod support;

use support::App;

const SECRET: &str = "the-gitea-webhook-secret-for-tests";

/// The private Gitea's URL, admin token and organisation.
fn gitea() -> (String, String, String) {
    let url = std::env::var("GITEA_URL").unwrap_or_else(|_| {
        panic!("GITEA_URL is not set: run this suite through tests/scripts/with-gitea.sh (make test does)")
    });
    let token = std::env::var("GITEA_TOKEN").expect("GITEA_TOKEN");
    let org = std::env::var("GITEA_ORG").expect("GITEA_ORG");
    (url.trim_end_matches('/').to_owned(), token, org)
}

async fn api(method: reqwest::Method, url: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, url)
        .header("Authorization", format!("token {token}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("Gitea answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_commit_on_gitea_arrives_as_a_change_of_its_component() {
    let (gitea_url, token, org) = gitea();
    let dir = std::env::temp_dir().join(format!("causeway-gitea-hook-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("secret"), SECRET).expect("secret");
    let app = App::with_vars(vec![(
        "CAUSEWAY_GITEA_WEBHOOK_SECRET_FILE".to_owned(),
        dir.join("secret").display().to_string(),
    )])
    .await;
    // Causeway listening where Gitea can reach it (its webhooks may call loopback addresses).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("address");
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let repo = format!("hooked-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (status, created) = api(
        reqwest::Method::POST,
        &format!("{gitea_url}/api/v1/orgs/{org}/repos"),
        &token,
        json!({ "name": repo, "auto_init": true, "default_branch": "main" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let component = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {repo}\n  annotations:\n    backstage.io/source-location: url:{gitea_url}/{org}/{repo}/src/branch/main/\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:default/payments\n"
    );
    let (status, body) = app.post_text("/api/catalog/import", &component).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, hook) = api(
        reqwest::Method::POST,
        &format!("{gitea_url}/api/v1/repos/{org}/{repo}/hooks"),
        &token,
        json!({
            "type": "gitea", "active": true, "events": ["push"],
            "config": { "url": format!("http://{address}/api/events/gitea"),
                        "content_type": "json", "secret": SECRET },
        }),
    )
    .await;
    assert_eq!(status, 201, "{hook}");

    // A commit made on the server, authored a day before it is pushed.
    let (status, file) = api(
        reqwest::Method::POST,
        &format!("{gitea_url}/api/v1/repos/{org}/{repo}/contents/README.md.new"),
        &token,
        json!({
            "content": "aGVsbG8K", "message": "Add a note", "branch": "main",
            "dates": { "author": "2026-11-30T09:00:00+01:00", "committer": "2026-11-30T09:00:00+01:00" },
        }),
    )
    .await;
    assert_eq!(status, 201, "{file}");
    let sha = file["commit"]["sha"]
        .as_str()
        .expect("the commit")
        .to_owned();

    sqlx::any::install_default_drivers();
    let db = AnyPool::connect(&format!("sqlite:{}/c.db", app.dir.display()))
        .await
        .expect("a second pool");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (service, authored_at) = loop {
        let row = sqlx::query("SELECT service, authored_at FROM delivery_changes WHERE sha = $1")
            .bind(&sha)
            .fetch_optional(&db)
            .await
            .expect("read changes");
        if let Some(row) = row {
            break (row.get::<String, _>(0), row.get::<i64, _>(1));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Gitea's push webhook did not arrive within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(service, format!("component:default/{repo}"));
    assert_eq!(
        authored_at,
        "2026-11-30T08:00:00Z"
            .parse::<k8s_openapi::jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    );
    // Signed pushes are the platform's own records.
    let actor: String = sqlx::query("SELECT actor FROM audit_log WHERE action = 'delivery.events'")
        .fetch_one(&db)
        .await
        .expect("audited")
        .get(0);
    assert_eq!(actor, "system:gitea");
    server.abort();
}
