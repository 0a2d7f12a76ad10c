//! A template's versions through the real router: the REST list and diff (the refresh that stored
//! a new version attributed to the person who asked for it; unknown versions refused naming their
//! parameter), the portal's versions page with its compare form, and Publish as a new version
//! from the authoring page (platform admins; a refusal sent back to the form).

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::App;

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: versioned
  title: A versioned service
spec:
  owner: group:default/payments
  type: service
  parameters:
    - properties:
        name: { type: string }
  steps:
    - id: fetch
      name: Fetch
      action: fetch:template
      input: { url: ./skeleton, values: { name: '${{ parameters.name }}' } }
";

const VERSIONS: &str = "/api/scaffolder/v2/templates/default/template/versioned/versions";
const PAGE: &str = "/create/templates/default/versioned/versions";

/// Writes the template with a README below the test's directory and registers it from there.
async fn register(app: &App) -> std::path::PathBuf {
    let dir = app.dir.join("templates").join("versioned");
    std::fs::create_dir_all(dir.join("skeleton")).expect("mkdir");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("write");
    std::fs::write(
        dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nFirst.\n",
    )
    .expect("write");
    let policy = app.state.read_policy();
    app.state
        .platform
        .catalog
        .register(
            "file",
            &dir.join("template.yaml").display().to_string(),
            false,
            &policy,
        )
        .await
        .expect("register the template");
    dir
}

/// The template with its README changed, read again at linus's request; the two versions, older
/// first.
async fn two_versions(app: &App) -> (String, String) {
    let dir = register(app).await;
    let (_, body) = app.get(VERSIONS).await;
    let first = body["versions"][0]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    std::fs::write(
        dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nSecond.\n",
    )
    .expect("write");
    let (status, body) = app
        .json(
            "POST",
            "/api/catalog/refresh",
            &app.linus,
            Some(json!({ "entityRef": "template:default/versioned" })),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, body) = app.get(VERSIONS).await;
    let second = body["versions"][0]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    assert_ne!(first, second);
    (first, second)
}

/// Posts `body` to `/api/portal/template-publish` as a browser's plain form sent from `referer`
/// would (or, without a referer, as the portal's own client); the status, location and body.
async fn publish(
    app: &App,
    cookie: &str,
    body: &str,
    referer: Option<&str>,
) -> (StatusCode, String, String) {
    app.post_form(cookie, "/api/portal/template-publish", body, referer)
        .await
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[tokio::test]
async fn the_rest_api_lists_versions_and_compares_two() {
    let app = App::new().await;
    let (first, second) = two_versions(&app).await;
    let (status, body) = app.get(VERSIONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["templateRef"], "template:default/versioned");
    let versions = body["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{body}");
    assert_eq!(versions[0]["version"], json!(second));
    assert_eq!(versions[1]["version"], json!(first));
    // The registration is the catalog's own; the refresh was linus's.
    assert_eq!(versions[0]["origin"], "catalog");
    assert_eq!(versions[0]["author"], "user:default/linus");
    assert!(
        versions[1]["author"]
            .as_str()
            .is_some_and(|a| a.starts_with("catalog registration of file:")),
        "{body}"
    );
    assert_eq!(versions[0]["files"], 2);
    assert!(
        versions[0]["createdAt"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );

    let (status, body) = app
        .get(&format!("{VERSIONS}/diff?from={first}&to={second}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["from"], json!(first));
    let files = body["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{body}");
    assert_eq!(files[0]["path"], "skeleton/README.md");
    assert_eq!(files[0]["change"], "modified");
    let unified = files[0]["unified"].as_str().expect("unified");
    assert!(
        unified.contains("-First.") && unified.contains("+Second."),
        "{unified}"
    );

    // An unknown or missing version is refused naming its parameter.
    for (query, parameter) in [
        (format!("from=sha256:0&to={second}"), "from"),
        (format!("from={first}&to=sha256:0"), "to"),
        (format!("from={first}"), "to"),
        (format!("to={second}"), "from"),
    ] {
        let (status, body) = app.get(&format!("{VERSIONS}/diff?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{parameter}:")),
            "{query}: {body}"
        );
    }
    // A template nobody knows, and another kind.
    let (status, _) = app
        .get("/api/scaffolder/v2/templates/default/template/absent/versions")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/api/scaffolder/v2/templates/default/component/versioned/versions")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A run is stamped with the version it stored, which the list then shows first.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let dir = app.dir.join("templates").join("versioned");
    std::fs::write(
        dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nThird.\n",
    )
    .expect("write");
    let (status, body) = app
        .json(
            "POST",
            "/api/scaffolder/v2/tasks",
            &app.ada,
            Some(json!({ "templateRef": "template:default/versioned", "values": { "name": "x" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = app.get(VERSIONS).await;
    assert_eq!(body["versions"][0]["origin"], "run", "{body}");
    assert_eq!(body["versions"][0]["author"], "user:default/ada", "{body}");
}

#[tokio::test]
async fn the_versions_page_lists_them_and_shows_a_diff() {
    let app = App::new().await;
    let (first, second) = two_versions(&app).await;
    let ada = app.session("ada").await;
    let (status, html) = app.page(&ada, PAGE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        html.matches(r#"data-testid="template-version""#).count(),
        2,
        "{html}"
    );
    assert!(html.contains(&format!(r#"data-version="{second}""#)));
    assert!(html.contains(r#"data-testid="versions-compare""#));
    assert!(html.contains("A versioned service"));
    assert!(!html.contains(r#"data-testid="version-diff""#));

    let (status, html) = app
        .page(&ada, &format!("{PAGE}?from={first}&to={second}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-path="skeleton/README.md""#), "{html}");
    assert!(html.contains("+Second."), "{html}");
    let (_, html) = app
        .page(&ada, &format!("{PAGE}?from={second}&to={second}"))
        .await;
    assert!(
        html.contains(r#"data-testid="version-diff-empty""#),
        "{html}"
    );
    let (_, html) = app
        .page(&ada, &format!("{PAGE}?from=sha256:0&to={second}"))
        .await;
    assert!(
        html.contains(r#"data-testid="version-diff-error""#),
        "{html}"
    );
    assert!(html.contains("from: "), "{html}");

    // The wizard links to the versions.
    let (_, html) = app.page(&ada, "/create/templates/default/versioned").await;
    assert!(html.contains(r#"data-testid="versions-link""#), "{html}");
    // No such template: the portal's Not found panel, as for any page with nothing to show.
    let (_, html) = app
        .page(&ada, "/create/templates/default/absent/versions")
        .await;
    assert!(
        html.contains("There is no such template, and no version of one."),
        "{html}"
    );
}

#[tokio::test]
async fn platform_admins_publish_a_new_version_from_the_authoring_page() {
    let app = App::new().await;
    register(&app).await;
    let linus = app.session("linus").await;
    let ada = app.session("ada").await;
    let yaml = TEMPLATE.replace("title: A versioned service", "title: Published");
    let files = json!([["skeleton/README.md", "# ${{ values.name }}\n\nAuthored.\n"]]).to_string();

    // The authoring page offers it once the template loads.
    let author = format!(
        "/create/author?{}",
        form(&[
            ("yaml", &yaml),
            ("fp.0", "skeleton/README.md"),
            ("fc.0", "Authored.\n")
        ])
    );
    let (status, html) = app.page(&linus, &author).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-testid="publish-form""#), "{html}");

    let (status, location, body) = publish(
        &app,
        &linus,
        &form(&[("yaml", &yaml), ("files", &files)]),
        Some(&author),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert!(
        location.starts_with(&format!("{PAGE}?published=sha256")),
        "{location}"
    );
    let (_, html) = app.page(&linus, &location).await;
    assert!(
        html.contains(r#"data-testid="version-published""#),
        "{html}"
    );
    let (_, body) = app.get(VERSIONS).await;
    assert_eq!(body["versions"][0]["origin"], "authoring", "{body}");
    assert_eq!(
        body["versions"][0]["author"], "user:default/linus",
        "{body}"
    );
    assert_eq!(body["versions"][0]["files"], 1, "{body}");

    // A developer may not, whichever way the form is sent.
    let (status, _, body) = publish(
        &app,
        &ada,
        &form(&[("yaml", &yaml), ("files", &files)]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("platform admins")),
        "{body}"
    );

    // A template the catalog does not hold comes back to the authoring page, naming
    // metadata.name.
    let stranger = yaml.replace("name: versioned", "name: stranger");
    let (status, location, _) = publish(
        &app,
        &linus,
        &form(&[("yaml", &stranger), ("files", "[]")]),
        Some(&author),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("__err="), "{location}");
    let (_, html) = app.page(&linus, &location).await;
    assert!(html.contains(r#"data-testid="publish-error""#), "{html}");
    assert!(html.contains("metadata.name"), "{html}");
}
