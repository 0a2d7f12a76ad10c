//! Upgrading a service whose repository is on a real Gitea (`tests/scripts/with-gitea.sh`, which
//! `make test` runs every suite under): the service is published there by running version 1
//! for real, its team edits it, and the upgrade to version 2 opens a pull request listing what
//! it kept deleted — found again when the upgrade runs a second time, and followed until it is
//! merged through Gitea's API.

#[path = "support/upgrade_bed.rs"]
mod bed;

use std::time::Duration;

use base64::Engine as _;
use bed::{Bed, V2, git, team_edits};
use causeway_platform::scaffolder::actions::integrations::GitIntegration;
use causeway_platform::scaffolder::upgrade::{ChangeState, UpgradeStatus, branch_name};
use serde_json::{Value, json};

/// The private Gitea: its URL, host (as `repoUrl` names it), admin user, token and organisation.
fn gitea() -> (String, String, String, String, String) {
    let url = std::env::var("GITEA_URL").unwrap_or_else(|_| {
        panic!("GITEA_URL is not set: run this suite through tests/scripts/with-gitea.sh (make test does)")
    });
    let host = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let user = std::env::var("GITEA_ADMIN_USER").expect("GITEA_ADMIN_USER");
    let token = std::env::var("GITEA_TOKEN").expect("GITEA_TOKEN");
    let org = std::env::var("GITEA_ORG").expect("GITEA_ORG");
    (url.trim_end_matches('/').to_owned(), host, user, token, org)
}

/// Gitea's API with the admin token.
async fn api(method: reqwest::Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("Authorization", format!("token {token}"));
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("Gitea answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn on_gitea_an_upgrade_is_a_pull_request_followed_until_merged() {
    let (url, host, user, token, org) = gitea();
    let integration = GitIntegration {
        host: host.clone(),
        kind: "gitea".to_owned(),
        clone_url: url.clone(),
        api_url: None,
        web_url: None,
        username: user.clone(),
        token_file: None,
        token_env: Some("GITEA_TOKEN".to_owned()),
    };
    let bed = Bed::new(vec![integration], &host, &org).await;
    let name = format!("upg-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let service = bed.create(&name).await;
    assert_eq!(
        service["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        format!("git:{url}/{org}/{name}.git#main:catalog-info.yaml")
    );

    // The team clones over HTTP, changes the port and deletes notes.txt.
    let header = format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    );
    let auth = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "http.extraHeader"),
        ("GIT_CONFIG_VALUE_0", header.as_str()),
    ];
    let clone = bed.clone_of(&format!("{url}/{org}/{name}.git"), "clone", &auth);
    let head = team_edits(&clone, &auth);

    let request = bed
        .request(&service, bed.template(2, json!({})), "ada")
        .await;
    let outcome = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("upgraded");
    let branch = branch_name("upgradable", V2);
    assert_eq!(outcome.status, UpgradeStatus::Open, "{outcome:?}");
    assert_eq!(outcome.branch.as_deref(), Some(branch.as_str()));
    assert_eq!(outcome.kept_deleted, ["notes.txt"]);
    let number = outcome.change_number.expect("a pull request");
    let change_url = outcome.change_url.clone().expect("its page");
    assert_eq!(change_url, format!("{url}/{org}/{name}/pulls/{number}"));

    // The pull request proposes the branch to main, and says what stayed deleted.
    let pulls = format!("{url}/api/v1/repos/{org}/{name}/pulls");
    let (status, pull) = api(
        reqwest::Method::GET,
        &format!("{pulls}/{number}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{pull}");
    assert_eq!(pull["head"]["ref"], branch.as_str());
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(
        pull["head"]["sha"],
        outcome.commit.clone().unwrap().as_str()
    );
    let body = pull["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("- notes.txt") && body.contains("tier"),
        "{body}"
    );
    // main is untouched.
    git(&clone, &["fetch", "--quiet", "origin"], &auth);
    assert_eq!(git(&clone, &["rev-parse", "origin/main"], &[]), head);
    let app = git(&clone, &["show", &format!("origin/{branch}:app.txt")], &[]);
    assert!(
        app.contains("port = 9090") && app.contains("timeout = 45"),
        "{app}"
    );

    // Run again: the same branch, commit and pull request.
    let again = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("again");
    assert_eq!(again, outcome);
    let (_, open) = api(
        reqwest::Method::GET,
        &format!("{pulls}?state=open"),
        &token,
        None,
    )
    .await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");

    let state = bed
        .scaffolder
        .change_state(&service, &branch, Some(number))
        .await
        .unwrap();
    assert_eq!(state, ChangeState::Open);

    // Merged through Gitea's API (which may still be checking that it can be merged).
    let mut merged = false;
    for _ in 0..60 {
        let (status, answer) = api(
            reqwest::Method::POST,
            &format!("{pulls}/{number}/merge"),
            &token,
            Some(json!({ "Do": "merge" })),
        )
        .await;
        if status == 200 {
            merged = true;
            break;
        }
        assert!(matches!(status, 405 | 409), "{status} {answer}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(merged, "the pull request merged");
    let state = bed
        .scaffolder
        .change_state(&service, &branch, Some(number))
        .await
        .unwrap();
    assert_eq!(state, ChangeState::Merged);
    let state = bed
        .scaffolder
        .change_state(&service, &branch, None)
        .await
        .unwrap();
    assert_eq!(state, ChangeState::Merged);

    let (status, _) = api(
        reqwest::Method::DELETE,
        &format!("{url}/api/v1/repos/{org}/{name}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let _ = std::fs::remove_dir_all(&bed.dir);
}
