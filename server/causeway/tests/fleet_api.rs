//! A template's fleet through the REST API and the portal, on the embedded git host: two services
//! created by running version 1 for real, a new version published by changing the template's
//! location, the fleet counted per version, upgrades refused to those who may not ask for them,
//! a platform admin upgrading the whole fleet as one task (a branch per service, the team's edit
//! kept, default branches untouched, each service audited), the same request again refused as
//! done, and a merged branch moving its service to the new version once the change requests are
//! checked.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{App, git, json_of};

const FLEET: &str = "/api/scaffolder/v2/templates/default/template/fleet-demo/fleet";
const UPGRADES: &str = "/api/scaffolder/v2/templates/default/template/fleet-demo/upgrades";

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: fleet-demo
  title: Fleet demo
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, owner]
      properties:
        name: { type: string }
        owner: { type: string }
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{ parameters.name }}
    - id: describe
      action: catalog:write
      input:
        entity:
          apiVersion: backstage.io/v1alpha1
          kind: Component
          metadata:
            name: ${{ parameters.name }}
          spec:
            type: service
            lifecycle: experimental
            owner: ${{ parameters.owner }}
    - id: publish
      action: publish:git
      input:
        repoUrl: local?owner=payments&repo=${{ parameters.name }}
    - id: register
      action: catalog:register
      input:
        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}
        catalogInfoPath: /catalog-info.yaml
"#;

const APP_V1: &str = "name = ${{ values.name }}\nport = 8080\nworkers = 2\n\n\n\n\ntimeout = 30\n";
const APP_V2: &str = "name = ${{ values.name }}\nport = 8080\nworkers = 2\n\n\n\n\ntimeout = 60\n";

async fn call(
    app: &App,
    method: &str,
    uri: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = app.call(method, uri, auth, body).await;
    let status = response.status();
    (status, json_of(response).await)
}

/// The version of `service` in the fleet answer.
fn version_of<'a>(fleet: &'a Value, service: &str) -> &'a str {
    fleet["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["service"] == service)
        .and_then(|s| s["version"].as_str())
        .unwrap_or_else(|| panic!("{service} is not in the fleet: {fleet}"))
}

fn upgrade_of<'a>(fleet: &'a Value, service: &str) -> &'a Value {
    &fleet["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["service"] == service)
        .expect("service")["upgrade"]
}

#[tokio::test]
async fn a_fleet_is_upgraded_as_reviewed_changes_and_moves_when_they_merge() {
    let app = App::new().await;
    app.register_template_files(
        "fleet-demo",
        TEMPLATE,
        &[
            ("README.md", "# ${{ values.name }}\n", false),
            ("app.txt", APP_V1, false),
        ],
    )
    .await;
    for name in ["journal", "billing"] {
        let (status, run) = call(
            &app,
            "POST",
            "/api/scaffolder/v2/tasks",
            &app.ada,
            Some(json!({ "templateRef": "template:default/fleet-demo", "values": { "name": name, "owner": "group:default/payments" } })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
    }
    app.run_tasks().await;

    let (status, fleet) = call(&app, "GET", FLEET, &app.grace, None).await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    let v1 = fleet["newest"].as_str().expect("a version").to_owned();
    assert_eq!(version_of(&fleet, "component:default/journal"), v1);
    assert_eq!(version_of(&fleet, "component:default/billing"), v1);
    assert_eq!(fleet["versions"][0]["services"], 2, "{fleet}");

    // Nothing to upgrade to yet.
    let (status, body) = call(&app, "POST", UPGRADES, &app.linus, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The team edits journal's README on its default branch.
    let repo = app.dir.join("git").join("payments").join("journal.git");
    let clone = app.dir.join("journal-clone");
    git(
        &app.dir,
        &[
            "clone",
            "-q",
            repo.to_str().expect("path"),
            clone.to_str().expect("path"),
        ],
    );
    std::fs::write(
        clone.join("README.md"),
        "# journal\n\nRuns the journal. Owned by payments.\n",
    )
    .expect("edit");
    git(
        &clone,
        &[
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "commit",
            "-qam",
            "Describe the journal",
        ],
    );
    git(&clone, &["push", "-q", "origin", "HEAD"]);
    let edited = git(&clone, &["rev-parse", "HEAD"]);

    // Version 2: the template's location changes.
    app.register_template_files(
        "fleet-demo",
        TEMPLATE,
        &[
            ("README.md", "# ${{ values.name }}\n", false),
            ("app.txt", APP_V2, false),
            ("CHANGELOG.md", "Created from fleet-demo.\n", false),
        ],
    )
    .await;
    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    let v2 = fleet["newest"].as_str().expect("a version").to_owned();
    assert_ne!(v1, v2, "a changed skeleton is a new version: {fleet}");
    assert_eq!(version_of(&fleet, "component:default/journal"), v1);

    // Who may ask: not another team, not the whole fleet unless a platform admin.
    let only_journal = json!({ "services": ["component:default/journal"] });
    let (status, body) = call(
        &app,
        "POST",
        UPGRADES,
        &app.grace,
        Some(only_journal.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(&app, "POST", UPGRADES, &app.ada, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(
        &app,
        "POST",
        UPGRADES,
        &app.linus,
        Some(json!({ "to_version": "sha256:nope" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, task) = call(&app, "POST", UPGRADES, &app.linus, Some(json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    assert_eq!(task["kind"], "scaffolder.upgrade");
    assert_eq!(task["steps"].as_array().map(Vec::len), Some(2), "{task}");
    app.run_tasks().await;
    let (_, done) = call(
        &app,
        "GET",
        &format!("/api/tasks/{}", task["id"].as_str().expect("id")),
        &app.linus,
        None,
    )
    .await;
    assert_eq!(done["task"]["status"], "completed", "{done}");

    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    let journal = upgrade_of(&fleet, "component:default/journal").clone();
    assert_eq!(journal["status"], "open", "{fleet}");
    assert_eq!(
        upgrade_of(&fleet, "component:default/billing")["status"],
        "open",
        "{fleet}"
    );
    assert_eq!(fleet["upgrades"]["open"], 2, "{fleet}");
    let branch = journal["branch"].as_str().expect("branch").to_owned();
    assert!(
        branch.starts_with("causeway/upgrade-fleet-demo-"),
        "{branch}"
    );

    // The branch holds the template's change and the team's edit; the default branch is as the
    // team left it.
    git(&clone, &["fetch", "-q", "origin"]);
    assert_eq!(git(&clone, &["rev-parse", "origin/main"]), edited);
    let app_txt = git(&clone, &["show", &format!("origin/{branch}:app.txt")]);
    assert!(app_txt.contains("timeout = 60"), "{app_txt}");
    let readme = git(&clone, &["show", &format!("origin/{branch}:README.md")]);
    assert!(readme.contains("Owned by payments."), "{readme}");
    git(&clone, &["show", &format!("origin/{branch}:CHANGELOG.md")]);

    // Asking again finds the change requests.
    let (status, body) = call(&app, "POST", UPGRADES, &app.linus, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The team merges journal's upgrade; checking the change requests moves it to version 2.
    git(
        &clone,
        &["merge", "-q", "--ff-only", &format!("origin/{branch}")],
    );
    git(&clone, &["push", "-q", "origin", "HEAD:main"]);
    let (status, refreshed) = call(&app, "POST", &format!("{FLEET}/refresh"), &app.ada, None).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["changed"], 1, "{refreshed}");
    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    assert_eq!(
        version_of(&fleet, "component:default/journal"),
        v2,
        "{fleet}"
    );
    assert_eq!(
        upgrade_of(&fleet, "component:default/journal")["status"],
        "merged"
    );
    assert_eq!(version_of(&fleet, "component:default/billing"), v1);
    let entity = app
        .state
        .platform
        .catalog
        .index()
        .by_ref("component:default/journal")
        .map(|e| app.state.platform.catalog.index().body_value(e))
        .expect("journal");
    assert_eq!(
        entity["metadata"]["annotations"]["causeway.dev/template-version"], v2,
        "the catalog read the merged descriptor"
    );

    let audit = app.state.platform.audit.recent(200).await.expect("audit");
    let upgraded: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "scaffolder.upgrade")
        .collect();
    assert_eq!(upgraded.len(), 2, "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|r| r.action == "scaffolder.upgrade-start" && r.actor == "user:default/linus")
    );
    assert!(audit.iter().any(
        |r| r.action == "scaffolder.upgrade-change" && r.target == "component:default/journal"
    ));
}

#[tokio::test]
async fn the_fleet_page_lists_versions_and_offers_upgrades_by_the_domains_rule() {
    let app = App::new().await;
    app.register_template_files(
        "fleet-demo",
        TEMPLATE,
        &[
            ("README.md", "# ${{ values.name }}\n", false),
            ("app.txt", APP_V1, false),
        ],
    )
    .await;
    let (status, run) = call(
        &app,
        "POST",
        "/api/scaffolder/v2/tasks",
        &app.ada,
        Some(json!({ "templateRef": "template:default/fleet-demo", "values": { "name": "journal", "owner": "group:default/payments" } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    app.run_tasks().await;
    // Version 2 asks for a new parameter with no default.
    let with_tier = TEMPLATE
        .replace(
            "        owner: { type: string }\n",
            "        owner: { type: string }\n    - required: [tier]\n      properties:\n        tier: { type: string, title: Support tier }\n",
        )
        .replace(
            "          name: ${{ parameters.name }}\n    - id: describe",
            "          name: ${{ parameters.name }}\n          tier: ${{ parameters.tier }}\n    - id: describe",
        );
    app.register_template_files(
        "fleet-demo",
        &with_tier,
        &[
            ("README.md", "# ${{ values.name }}\n", false),
            ("app.txt", APP_V2, false),
            ("tier.txt", "${{ values.tier }}\n", false),
        ],
    )
    .await;

    let page = |user: &'static str| {
        let app = &app;
        async move {
            let cookie = app.session(user).await;
            app.page(&cookie, "/create/templates/default/fleet-demo/fleet")
                .await
        }
    };
    let (status, html) = page("ada").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"data-testid="fleet-versions""#), "{html}");
    assert!(
        html.contains(r#"data-service="component:default/journal""#),
        "{html}"
    );
    // Ada's team owns journal: she may upgrade it, not the whole fleet.
    assert!(html.contains(r#"data-testid="upgrade-one""#), "{html}");
    assert!(!html.contains(r#"data-testid="upgrade-all""#), "{html}");
    assert!(html.contains(r#"name="values[tier]""#), "{html}");
    let (_, html) = page("grace").await;
    assert!(!html.contains(r#"data-testid="upgrade-one""#), "{html}");
    let (_, html) = page("linus").await;
    assert!(html.contains(r#"data-testid="upgrade-all""#), "{html}");

    // The fleet names what the new version asks for; without it the upgrade fails naming it,
    // with it the service gets its change.
    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    assert_eq!(fleet["asks"][0]["name"], "tier", "{fleet}");
    let journal = json!({ "services": ["component:default/journal"] });
    let (status, task) = call(&app, "POST", UPGRADES, &app.ada, Some(journal)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    app.run_tasks().await;
    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    let upgrade = upgrade_of(&fleet, "component:default/journal");
    assert_eq!(upgrade["status"], "failed", "{fleet}");
    assert!(
        upgrade["message"]
            .as_str()
            .is_some_and(|m| m.contains("tier")),
        "{fleet}"
    );
    let journal =
        json!({ "services": ["component:default/journal"], "values": { "tier": "gold" } });
    let (status, task) = call(&app, "POST", UPGRADES, &app.ada, Some(journal)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    app.run_tasks().await;
    let (_, fleet) = call(&app, "GET", FLEET, &app.ada, None).await;
    let upgrade = upgrade_of(&fleet, "component:default/journal");
    assert_eq!(upgrade["status"], "open", "{fleet}");
    let repo = app.dir.join("git").join("payments").join("journal.git");
    let branch = upgrade["branch"].as_str().expect("branch");
    let tier = git(&repo, &["show", &format!("{branch}:tier.txt")]);
    assert_eq!(tier.trim(), "gold");
}
