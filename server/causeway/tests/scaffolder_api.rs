//! The scaffolder API (`/api/scaffolder/v2`) through the real router, in Backstage's shapes:
//! actions, a registered template's parameter pages, dry runs with skeleton files, and invalid
//! answers reported property by property.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

mod support;

use support::{App, json_of};

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
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.ada, Some(body))
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
        .call("POST", "/api/scaffolder/v2/dry-run", &app.ada, Some(body))
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
    let body = json!({ "template": bad, "values": { "name": "ledger", "owner": "group:default/payments" }, "directoryContents": skeleton() });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.ada, Some(body))
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
    let body = json!({ "template": escaping, "values": { "name": "ledger", "owner": "group:default/payments" }, "directoryContents": skeleton() });
    let response = app
        .call("POST", "/api/scaffolder/v2/dry-run", &app.ada, Some(body))
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
