//! The scaffolder API (`/api/scaffolder/v2`) through the real router, in Backstage's shapes:
//! actions, a registered template's parameter pages, dry runs with skeleton files, and invalid
//! answers reported property by property.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

mod support;

use support::{App, git, json_of};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn template() -> Value {
    json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "service", "title": "A service" },
        "spec": {
            "owner": "group:default/payments",
            "type": "service",
            "parameters": [{
                "title": "Service",
                "required": ["name", "owner"],
                "properties": {
                    "name": { "type": "string", "pattern": "^[a-z][a-z0-9-]*$", "ui:field": "EntityNamePicker" },
                    "owner": { "type": "string", "ui:field": "OwnerPicker", "ui:options": { "allowArbitraryValues": false } },
                    "replicas": { "type": "integer", "minimum": 1, "maximum": 5 },
                    "token": { "type": "string", "ui:field": "Secret" }
                }
            }],
            "steps": [
                { "id": "fetch", "name": "Fetch", "action": "fetch:template",
                  "input": { "url": "./skeleton", "values": { "name": "${{ parameters.name }}", "owner": "${{ parameters.owner }}" } } },
                { "id": "log", "action": "debug:log", "input": { "message": "token ${{ secrets.token }} for ${{ parameters.name }}" } }
            ],
            "output": { "text": [{ "title": "Files", "content": "${{ parameters.name }} is ready" }] }
        }
    })
}

fn skeleton() -> Value {
    json!([
        { "path": "skeleton/README.md", "base64Content": b64("# ${{ values.name }}\nOwned by ${{ values.owner }}.\n") },
        { "path": "skeleton/${{ values.name }}/main.sh", "base64Content": b64("echo ${{ values.name }}\n"), "executable": true }
    ])
}

#[tokio::test]
async fn actions_are_listed_with_their_schemas() {
    let app = App::new().await;
    let (status, body) = app.get("/api/scaffolder/v2/actions").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for id in [
        "catalog:write",
        "debug:log",
        "fetch:plain",
        "fetch:template",
        "fs:delete",
        "fs:rename",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let fetch = body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "fetch:template")
        .unwrap();
    assert_eq!(fetch["schema"]["input"]["required"], json!(["url"]));
    assert!(
        fetch["examples"][0]["example"]
            .as_str()
            .unwrap()
            .contains("fetch:template")
    );
}

#[tokio::test]
async fn a_dry_run_renders_files_names_modes_and_output_and_hides_secrets() {
    let app = App::new().await;
    let body = json!({
        "template": template(),
        "values": { "name": "ledger", "owner": "group:default/payments", "token": "hunter22" },
        "directoryContents": skeleton(),
    });
    // Authoring — running a template sent with the request — is the platform team's.
    let refused = app
        .call(
            "POST",
            "/api/scaffolder/v2/dry-run",
            &app.ada,
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = json_of(refused).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("for platform admins")),
        "{refused}"
    );
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    let files: Vec<(String, String, bool)> = body["directoryContents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let content = base64::engine::general_purpose::STANDARD
                .decode(f["base64Content"].as_str().unwrap())
                .unwrap();
            (
                f["path"].as_str().unwrap().to_owned(),
                String::from_utf8(content).unwrap(),
                f["executable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                "README.md".to_owned(),
                "# ledger\nOwned by group:default/payments.\n".to_owned(),
                false
            ),
            (
                "ledger/main.sh".to_owned(),
                "echo ledger\n".to_owned(),
                true
            ),
        ]
    );
    assert_eq!(body["output"]["text"][0]["content"], "ledger is ready");
    let steps: Vec<(&str, &str)> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("fetch", "completed"), ("log", "completed")]);
    let text = body.to_string();
    assert!(text.contains("token *** for ledger"), "{text}");
    assert!(!text.contains("hunter22"));
}

#[tokio::test]
async fn invalid_answers_list_every_bad_property() {
    let app = App::new().await;
    let body = json!({
        "template": template(),
        "values": { "name": "Not Valid", "owner": "group:default/nobody", "replicas": 9 },
        "directoryContents": skeleton(),
    });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    assert_eq!(body["error"]["name"], "InputError");
    let properties: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["property"].as_str().unwrap())
        .collect();
    for expected in ["instance.name", "instance.owner", "instance.replicas"] {
        assert!(
            properties.contains(&expected),
            "{expected} missing from {properties:?}"
        );
    }
}

#[tokio::test]
async fn templates_that_cannot_run_are_refused_before_anything_runs() {
    let app = App::new().await;
    let mut bad = template();
    bad["spec"]["steps"][1]["action"] = json!("publish:github");
    bad["spec"]["steps"][0]["input"]["values"]["slug"] = json!("${{ parameters.name | now }}");
    let body = json!({ "template": bad, "values": { "name": "remittance", "owner": "group:default/payments" }, "directoryContents": skeleton() });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = json_of(response).await.to_string();
    assert!(
        text.contains("publish:github") && text.contains("\\\"now\\\""),
        "{text}"
    );
    // A skeleton path that climbs out of the template is refused with its field named.
    let mut escaping = template();
    escaping["spec"]["steps"][0]["input"]["url"] = json!("../../etc");
    let body = json!({ "template": escaping, "values": { "name": "remittance", "owner": "group:default/payments" }, "directoryContents": skeleton() });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = json_of(response).await.to_string();
    assert!(text.contains("input.url"), "{text}");
}

#[tokio::test]
async fn a_registered_templates_parameter_pages_are_served() {
    let app = App::new().await;
    let yaml = serde_yaml_ng::to_string(&template()).unwrap();
    let (status, body) = app.post_text("/api/catalog/import", &yaml).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = app
        .get("/api/scaffolder/v2/templates/default/template/service/parameter-schema")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["title"], "A service");
    assert_eq!(body["steps"][0]["title"], "Service");
    assert_eq!(
        body["steps"][0]["schema"]["required"],
        json!(["name", "owner"])
    );
    let (status, _) = app
        .get("/api/scaffolder/v2/templates/default/template/absent/parameter-schema")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/api/scaffolder/v2/templates/default/component/service/parameter-schema")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

const SERVICE_TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: golden-service
  title: Golden service
spec:
  owner: group:default/payments
  type: service
  parameters:
    - title: Service
      required: [name, owner]
      properties:
        name: { type: string, ui:field: EntityNamePicker }
        owner: { type: string, ui:field: OwnerPicker }
        token: { type: string, ui:field: Secret }
  steps:
    - id: fetch
      name: Fetch the skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{ parameters.name }}
    - id: describe
      name: Describe the service
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
      name: Publish
      action: publish:git
      input:
        repoUrl: local?owner=${{ parameters.owner | parseEntityRef | pick('name') }}&repo=${{ parameters.name }}
        gitCommitMessage: Create ${{ parameters.name }}
    - id: register
      name: Register
      action: catalog:register
      input:
        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}
        catalogInfoPath: /catalog-info.yaml
    - id: environment
      name: Dev environment
      action: causeway:provision
      input:
        service: ${{ steps.register.output.entityRef }}
        environment: dev
  output:
    links:
      - title: Repository
        url: ${{ steps.publish.output.remoteUrl }}
      - title: Open in catalog
        entityRef: ${{ steps.register.output.entityRef }}
    text:
      - title: Environment
        content: ${{ steps.environment.output.namespace }}
"#;

const README: (&str, &str, bool) = ("README.md", "# ${{ values.name }}\n", false);

/// Registers the golden-service template.
async fn register_template(app: &App) {
    let main = ("src/main.sh", "echo ${{ values.name }}\n", true);
    app.register_template_files("golden-service", SERVICE_TEMPLATE, &[README, main])
        .await;
}

/// Starts a run with `body` as the holder of `token` (it must be accepted) and runs the queued
/// tasks to their end; the run's id.
async fn run(app: &App, token: &str, body: Value) -> String {
    let response = app
        .call("POST", "/api/scaffolder/v2/tasks", token, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = json_of(response).await["id"].as_str().unwrap().to_owned();
    app.run_tasks().await;
    id
}

#[tokio::test]
async fn a_run_creates_the_repository_the_catalog_entry_and_the_environment() {
    let app = App::new().await;
    register_template(&app).await;
    let body = json!({
        "templateRef": "template:default/golden-service",
        "values": { "name": "remittance", "owner": "group:default/payments", "token": "s3cret-token" },
    });
    let id = run(&app, &app.ada, body).await;

    let (status, task) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, events) = app
        .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
        .await;
    assert_eq!(task["status"], "completed", "{events:#}");
    assert_eq!(task["createdBy"], "user:default/ada");
    assert!(!task.to_string().contains("s3cret-token"), "{task}");

    // The repository: the rendered files, authored by the requester.
    let bare = app.dir.join("git/payments/remittance.git");
    let clone = app.dir.join("clone");
    git(
        &app.dir,
        &[
            "clone",
            "--quiet",
            &bare.display().to_string(),
            &clone.display().to_string(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("README.md")).unwrap(),
        "# remittance\n"
    );
    let catalog_info = std::fs::read_to_string(clone.join("catalog-info.yaml")).unwrap();
    assert!(
        catalog_info.contains("backstage.io/source-template: template:default/golden-service"),
        "{catalog_info}"
    );
    assert!(
        catalog_info.contains("causeway.dev/template-version: sha256:"),
        "{catalog_info}"
    );
    assert!(!catalog_info.contains("s3cret-token"));
    let log = git(&clone, &["log", "--format=%an <%ae>|%s"]);
    assert!(log.starts_with("Ada"), "{log}");
    assert!(log.contains("|Create remittance"), "{log}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(clone.join("src/main.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "the executable bit was lost");
    }

    // The catalog entry, with its provenance.
    let (status, entity) = app
        .get("/api/catalog/entities/by-name/component/default/remittance")
        .await;
    assert_eq!(status, StatusCode::OK, "{entity}");
    assert_eq!(entity["spec"]["owner"], "group:default/payments");

    // The environment, through the provisioning engine.
    let (_, environments) = app.get("/api/provision/environments").await;
    assert!(
        environments.to_string().contains("remittance-dev"),
        "{environments}"
    );

    // Events in Backstage's shape, ending with the completion and the output.
    let (status, events) = app
        .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_array().unwrap();
    let completion = events.last().unwrap();
    assert_eq!(completion["type"], "completion");
    assert_eq!(
        completion["body"]["message"],
        "Run completed with status: completed"
    );
    let output = &completion["body"]["output"];
    assert_eq!(
        output["links"][1]["entityRef"],
        "component:default/remittance"
    );
    assert_eq!(output["text"][0]["content"], "remittance-dev");
    assert!(!json!(events).to_string().contains("s3cret-token"));

    // The audit trail names the run and what it created; no secret in it.
    let audit = app.state.platform.audit.recent(50).await.unwrap();
    let audited = audit
        .iter()
        .find(|a| a.action == "scaffolder.run")
        .expect("the run is audited");
    assert_eq!(audited.outcome, "success");
    assert!(audited.detail.to_string().contains("remittance.git"));
    assert!(
        !serde_json::to_string(&audit.iter().map(|a| &a.detail).collect::<Vec<_>>())
            .unwrap()
            .contains("s3cret-token")
    );

    // Another run for the same repository is refused by the publish step, which never writes
    // into a repository it did not create.
    let body = json!({
        "templateRef": "golden-service",
        "values": { "name": "remittance", "owner": "group:default/payments" },
    });
    let second = run(&app, &app.ada, body).await;
    let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{second}")).await;
    assert_eq!(task["status"], "failed");
    let (_, events) = app
        .get(&format!("/api/scaffolder/v2/tasks/{second}/events"))
        .await;
    assert!(events.to_string().contains("already exists"), "{events}");
}

#[tokio::test]
async fn another_teams_developer_cannot_provision_for_a_team_they_are_not_in() {
    let app = App::new().await;
    register_template(&app).await;
    // grace is in checkout, not payments: the picker refuses nothing (any owner may be named),
    // but the catalog refuses to register payments' component for her, and nothing is
    // provisioned.
    let body = json!({
        "templateRef": "template:default/golden-service",
        "values": { "name": "sneaky", "owner": "group:default/payments" },
    });
    let id = run(&app, &app.grace, body).await;
    let response = app
        .call(
            "GET",
            &format!("/api/scaffolder/v2/tasks/{id}"),
            &app.grace,
            None,
        )
        .await;
    let task = json_of(response).await;
    assert_eq!(task["status"], "failed", "{task}");
    let (status, _) = app
        .get("/api/catalog/entities/by-name/component/default/sneaky")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, environments) = app.get("/api/provision/environments").await;
    assert!(
        !environments.to_string().contains("sneaky-dev"),
        "{environments}"
    );
    // Runs are private to their requester (and platform admins).
    let (status, _) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&format!("/api/tasks/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .call("GET", &format!("/api/tasks/{id}"), &app.linus, None)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "platform admins read every run"
    );
}

#[tokio::test]
async fn the_demo_golden_paths_create_a_service_a_docs_site_and_a_library() {
    let app = App::new().await;
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/templates");
    let policy = app.state.read_policy();
    for name in ["service", "docs-site", "library"] {
        let path = demo.join(name).join("template.yaml");
        app.state
            .platform
            .catalog
            .register("file", &path.display().to_string(), false, &policy)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let runs = [
        (
            "service",
            json!({ "name": "payouts", "description": "Pays sellers.", "owner": "group:default/payments", "language": "go" }),
        ),
        (
            "docs-site",
            json!({ "name": "payments-handbook", "description": "How payments works.", "owner": "group:default/payments" }),
        ),
        (
            "library",
            json!({ "name": "money-kit", "description": "Amounts and currencies.", "owner": "group:default/payments", "tags": ["rust", "money"] }),
        ),
    ];
    let mut ids = Vec::new();
    for (template, values) in &runs {
        let body =
            json!({ "templateRef": format!("template:default/{template}"), "values": values });
        let response = app
            .call("POST", "/api/scaffolder/v2/tasks", &app.ada, Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{template}");
        ids.push(json_of(response).await["id"].as_str().unwrap().to_owned());
    }
    app.run_tasks().await;
    for ((template, _), id) in runs.iter().zip(&ids) {
        let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
        let (_, events) = app
            .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
            .await;
        assert_eq!(task["status"], "completed", "{template}: {events:#}");
    }
    // The service: Go files only, a pipeline-ready entity, and its dev environment.
    let clone = app.dir.join("payouts");
    git(
        &app.dir,
        &[
            "clone",
            "--quiet",
            &app.dir
                .join("git/payments/payouts.git")
                .display()
                .to_string(),
            &clone.display().to_string(),
        ],
    );
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![clone.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == ".git" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path.strip_prefix(&clone).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    assert_eq!(
        files,
        [
            "README.md",
            "catalog-info.yaml",
            "docs/index.md",
            "go.mod",
            "main.go",
            "mkdocs.yml"
        ]
    );
    let (_, entity) = app
        .get("/api/catalog/entities/by-name/component/default/payouts")
        .await;
    assert!(
        entity["metadata"]["annotations"]["backstage.io/source-location"]
            .as_str()
            .unwrap()
            .contains("payouts.git"),
        "{entity}"
    );
    assert_eq!(
        entity["metadata"]["annotations"]["backstage.io/source-template"],
        "template:default/service"
    );
    let (_, environments) = app.get("/api/provision/environments").await;
    assert!(
        environments.to_string().contains("payouts-dev"),
        "{environments}"
    );
    let (_, library) = app
        .get("/api/catalog/entities/by-name/component/default/money-kit")
        .await;
    assert_eq!(library["metadata"]["tags"], json!(["rust", "money"]));
    let (_, docs) = app
        .get("/api/catalog/entities/by-name/component/default/payments-handbook")
        .await;
    assert_eq!(
        docs["metadata"]["annotations"]["backstage.io/techdocs-ref"],
        "dir:."
    );
}

/// The private Gitea of `tests/scripts/with-gitea.sh`: its URL, host (as `repoUrl` names it),
/// admin user and organisation.
fn gitea() -> (String, String, String, String) {
    let url = std::env::var("GITEA_URL").unwrap_or_else(|_| {
        panic!("GITEA_URL is not set: run this suite through tests/scripts/with-gitea.sh (make test does)")
    });
    let host = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let user = std::env::var("GITEA_ADMIN_USER").expect("GITEA_ADMIN_USER");
    let org = std::env::var("GITEA_ORG").expect("GITEA_ORG");
    (url, host, user, org)
}

#[tokio::test]
async fn publish_gitea_creates_the_repository_on_a_real_git_server() {
    let (url, host, user, org) = gitea();
    let integrations = json!([{
        "host": host, "type": "gitea", "clone_url": url, "username": user, "token_env": "GITEA_TOKEN"
    }]);
    let app = App::with_vars(vec![(
        "CAUSEWAY_GIT_INTEGRATIONS".to_owned(),
        integrations.to_string(),
    )])
    .await;
    let name = format!("svc-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let template = SERVICE_TEMPLATE
        .replace("name: golden-service", "name: gitea-service")
        .replace(
            "action: publish:git\n      input:\n        repoUrl: local?owner=${{ parameters.owner | parseEntityRef | pick('name') }}&repo=${{ parameters.name }}",
            &format!("action: publish:gitea\n      input:\n        repoUrl: {host}?owner={org}&repo=${{{{ parameters.name }}}}\n        description: A service"),
        );
    assert!(template.contains("publish:gitea"), "{template}");
    app.register_template_files("gitea-service", &template, &[README])
        .await;
    let body = json!({
        "templateRef": "template:default/gitea-service",
        "values": { "name": name, "owner": "group:default/payments" },
    });
    let id = run(&app, &app.ada, body).await;
    let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
    let (_, events) = app
        .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
        .await;
    assert_eq!(task["status"], "completed", "{events:#}");
    let output = &events.as_array().unwrap().last().unwrap()["body"]["output"];
    assert_eq!(output["links"][0]["url"], format!("{url}/{org}/{name}.git"));

    // The repository exists on the server, and a clone shows the files and the requester as author.
    let token = std::env::var("GITEA_TOKEN").unwrap();
    let status = reqwest::Client::new()
        .get(format!("{url}/api/v1/repos/{org}/{name}"))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    let clone = app.dir.join("gitea-clone");
    git(
        &app.dir,
        &[
            "clone",
            "--quiet",
            &format!("{url}/{org}/{name}.git"),
            &clone.display().to_string(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("README.md")).unwrap(),
        format!("# {name}\n")
    );
    let log = git(&clone, &["log", "--format=%an <%ae>%n%B"]);
    assert!(log.starts_with("Ada Okafor <ada@example.com>"), "{log}");
    assert!(log.contains(&format!("Causeway-Task: {id}")), "{log}");
    // Registered from the server: the entity's source is the Gitea repository.
    let (status, entity) = app
        .get(&format!(
            "/api/catalog/entities/by-name/component/default/{name}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{entity}");
    assert_eq!(
        entity["metadata"]["annotations"]["backstage.io/source-location"],
        format!("url:{url}/{org}/{name}.git")
    );

    // A second run for the same name finds someone's repository and refuses to write to it.
    let body = json!({
        "templateRef": "template:default/gitea-service",
        "values": { "name": name, "owner": "group:default/payments" },
    });
    let second = run(&app, &app.ada, body).await;
    let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{second}")).await;
    assert_eq!(task["status"], "failed");
    let (_, events) = app
        .get(&format!("/api/scaffolder/v2/tasks/{second}/events"))
        .await;
    assert!(
        events.to_string().contains("already has commits"),
        "{events}"
    );
}

#[tokio::test]
async fn a_failed_run_is_cleaned_up_and_only_what_it_created_goes() {
    let app = App::new().await;
    // The golden service, asked for an environment that does not exist: the run publishes and
    // registers, then fails at its last step.
    let template = SERVICE_TEMPLATE
        .replace("name: golden-service", "name: broken-service")
        .replace("environment: dev", "environment: nowhere");
    app.register_template_files("broken", &template, &[README])
        .await;
    let body = json!({ "templateRef": "broken-service", "values": { "name": "orphan", "owner": "group:default/payments" } });
    let id = run(&app, &app.ada, body).await;
    let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
    assert_eq!(task["status"], "failed");
    let bare = app.dir.join("git/payments/orphan.git");
    assert!(bare.exists());
    let (status, _) = app
        .get("/api/catalog/entities/by-name/component/default/orphan")
        .await;
    assert_eq!(status, StatusCode::OK);

    // Someone else may not clean it up; its requester may, once.
    let response = app
        .call(
            "POST",
            &format!("/api/scaffolder/v2/tasks/{id}/cleanup"),
            &app.grace,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .call(
            "POST",
            &format!("/api/scaffolder/v2/tasks/{id}/cleanup"),
            &app.ada,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let cleanup = json_of(response).await["id"].as_str().unwrap().to_owned();
    app.run_tasks().await;
    let (_, done) = app.get(&format!("/api/tasks/{cleanup}")).await;
    assert_eq!(done["task"]["status"], "completed", "{done:#}");
    assert!(!bare.exists(), "the repository the run created is deleted");
    let (status, _) = app
        .get("/api/catalog/entities/by-name/component/default/orphan")
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the location it registered is gone"
    );
    let audit = app.state.platform.audit.recent(50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "scaffolder.cleanup" && a.outcome == "success")
    );

    // A completed run is not cleaned up.
    let response = app
        .call(
            "POST",
            &format!("/api/scaffolder/v2/tasks/{cleanup}/cleanup"),
            &app.ada,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn causeway_provision_refuses_a_team_the_requester_is_not_in() {
    let app = App::new().await;
    let template = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: environment
spec:
  owner: group:default/platform
  type: environment
  parameters:
    - required: [service]
      properties:
        service: { type: string, ui:field: EntityPicker, ui:options: { catalogFilter: { kind: Component } } }
  steps:
    - id: environment
      action: causeway:provision
      input:
        service: ${{ parameters.service }}
        environment: dev
"#;
    app.register_template_files("environment", template, &[])
        .await;
    // grace is in checkout; ledger belongs to payments.
    let body = json!({ "templateRef": "environment", "values": { "service": "component:default/ledger" } });
    let id = run(&app, &app.grace, body).await;
    let response = app
        .call(
            "GET",
            &format!("/api/scaffolder/v2/tasks/{id}/events"),
            &app.grace,
            None,
        )
        .await;
    let events = json_of(response).await;
    let completion = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        completion["body"]["message"], "Run completed with status: failed",
        "{events:#}"
    );
    assert!(
        completion["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{completion}"
    );
    let (_, environments) = app.get("/api/provision/environments").await;
    assert!(
        !environments.to_string().contains("ledger-dev"),
        "{environments}"
    );
    // ada, of payments, may.
    let body = json!({ "templateRef": "environment", "values": { "service": "component:default/ledger" } });
    let id = run(&app, &app.ada, body).await;
    let (_, task) = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await;
    assert_eq!(task["status"], "completed");
    let (_, environments) = app.get("/api/provision/environments").await;
    assert!(
        environments.to_string().contains("ledger-dev"),
        "{environments}"
    );
}

#[tokio::test]
async fn catalog_fetch_reads_entities_in_a_dry_run() {
    let app = App::new().await;
    let template = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "fetching" },
        "spec": {
            "parameters": [{ "properties": { "team": { "type": "string" } } }],
            "steps": [
                { "id": "team", "action": "catalog:fetch", "input": { "entityRef": "${{ parameters.team }}", "defaultKind": "Group" } },
                { "id": "many", "action": "catalog:fetch", "input": { "entityRefs": ["component:default/ledger", "component:default/absent"], "optional": true } },
                { "id": "log", "action": "debug:log", "input": { "message": "team ${{ steps.team.output.entity.metadata.name }}; second ${{ steps.many.output.entities[1] }}!" } }
            ],
            "output": { "kind": "${{ steps.many.output.entities[0].kind }}" }
        }
    });
    let body = json!({ "template": template, "values": { "team": "payments" } });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert!(
        body["log"].to_string().contains("team payments; second !"),
        "{body}"
    );
    assert_eq!(body["output"]["kind"], "Component");
    // A missing entity fails the step unless optional.
    let body = json!({ "template": template, "values": { "team": "nobody" } });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = json_of(response).await.to_string();
    assert!(text.contains("group:default/nobody not found"), "{text}");
}
