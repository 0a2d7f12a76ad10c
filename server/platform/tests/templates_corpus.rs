//! Every template of the compatibility corpus (`../shared/compat/backstage-templates`, real
//! public Backstage templates with their skeletons): each either dry-runs with the output
//! predicted here, or is refused before anything runs with an error naming every unsupported
//! action or filter. The skeletons are also rendered through the corpus templates' own
//! `fetch:template` steps, to hold the file-rendering rules to real skeletons.

use std::path::{Path, PathBuf};

use causeway_platform::identity::{Principal, Role};
use causeway_platform::scaffolder::{Request, Scaffolder, Source};
use serde_json::{Value, json};

/// The corpus: `$CAUSEWAY_TEMPLATE_CORPUS`, else `../shared/compat/backstage-templates` beside
/// the repository, else the machine's shared copy (for clones made elsewhere).
fn corpus() -> PathBuf {
    let candidates = [
        std::env::var_os("CAUSEWAY_TEMPLATE_CORPUS").map(PathBuf::from),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/compat/backstage-templates"),
        ),
        Some(PathBuf::from("/work/shared/compat/backstage-templates")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("SOURCES.md").is_file())
        .expect("the template corpus is missing: set CAUSEWAY_TEMPLATE_CORPUS to its directory")
}

/// The template document of `relative`, and its source (reads may reach the corpus folder of
/// its repository, as relative URLs in the originals do).
fn template(relative: &str) -> (Value, Source) {
    let corpus = corpus();
    let file = corpus.join(relative);
    let text = std::fs::read_to_string(&file).unwrap();
    let entity: Value = serde_yaml_ng::from_str(&text).unwrap();
    let repository = relative.split('/').next().unwrap();
    let source = Source::Dir {
        dir: file.parent().unwrap().to_path_buf(),
        root: corpus.join(repository),
    };
    (entity, source)
}

/// The engine with every action the server has (those with side effects are built over a
/// database and directories that a dry run never touches).
fn scaffolder() -> Scaffolder {
    use causeway_platform::scaffolder::actions;
    let unused = std::env::temp_dir().join("causeway-corpus-unused");
    let store =
        causeway_platform::Store::connect_lazy(&format!("sqlite://{}/unused.db", unused.display()))
            .unwrap();
    let settings = causeway_platform::Settings {
        admin_teams: Vec::new(),
        session_ttl: std::time::Duration::from_secs(60),
    };
    let platform = causeway_platform::Platform::new(store, &settings).unwrap();
    let provisioner = causeway_platform::provision::Provisioner::new(
        causeway_platform::provision::config::ProvisionConfig::embedded(
            None,
            unused.join("gitops"),
        ),
        &platform,
    );
    let extra = actions::publish_actions(actions::GitSettings {
        root: unused.join("git"),
        integrations: Vec::new(),
    })
    .into_iter()
    .chain(actions::register_actions(
        platform.catalog.clone(),
        platform.directory.clone(),
        Default::default(),
        Vec::new(),
    ))
    .chain(actions::catalog_fetch_actions(platform.catalog.clone()))
    .chain(actions::provision_actions(
        provisioner,
        platform.tasks.clone(),
        platform.directory.clone(),
    ))
    .collect();
    platform.scaffolder.clone().with_actions(extra)
}

fn ada() -> Principal {
    Principal {
        entity_ref: "user:default/ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: None,
        teams: Vec::new(),
        role: Role::Developer,
    }
}

fn refusal(relative: &str) -> String {
    let (entity, source) = template(relative);
    let error = scaffolder().load(&entity, source).unwrap_err();
    error.to_string()
}

#[test]
fn every_template_in_the_corpus_is_accounted_for() {
    let mut found = Vec::new();
    let root = corpus();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml")
                && std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .contains("kind: Template")
            {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    let mut expected: Vec<String> = REFUSED
        .iter()
        .map(|(t, _)| t.to_string())
        .chain(RUNS.iter().map(|t| t.to_string()))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

/// Templates that need what Causeway does not have, and the names the refusal must mention.
const REFUSED: &[(&str, &[&str])] = &[
    (
        "backstage-software-templates/scaffolder-templates/rails-demo/template.yaml",
        &["fetch:rails", "publish:github"],
    ),
    (
        "backstage-software-templates/scaffolder-templates/docs-template-cookiecutter/template.yaml",
        &["fetch:cookiecutter", "publish:github"],
    ),
    (
        "backstage-software-templates/scaffolder-templates/springboot-grpc-template/template.yaml",
        &["publish:github"],
    ),
    (
        "backstage-software-templates/scaffolder-templates/gitlab-merge-request/template.yaml",
        &["publish:gitlab:merge-request"],
    ),
    (
        "backstage-software-templates/scaffolder-templates/pull-request/template.yaml",
        &["publish:github:pull-request"],
    ),
    (
        "rhdh-software-templates/templates/github/spring-boot-backend/template.yaml",
        &["publish:github"],
    ),
    (
        "rhdh-software-templates/templates/create-backend-plugin/template.yaml",
        &["publish:github", "publish:github:pull-request"],
    ),
    (
        "roadie-software-templates/scaffolder-templates/create-rfc/template.yaml",
        &["publish:github:pull-request"],
    ),
    (
        "roadie-software-templates/scaffolder-templates/delete-entities/template.yaml",
        &["http:backstage:request", "roadiehq:utils:jsonata"],
    ),
    (
        "roadie-software-templates/scaffolder-templates/pr-with-catalog-entry/template.yaml",
        &["publish:github:pull-request", "filter \"now\""],
    ),
    (
        "acierto-software-templates/scaffolder-templates/docs-mocks-idempotent-template/template.yaml",
        &["publish:github"],
    ),
];

/// Templates that run here.
const RUNS: &[&str] = &[
    "backstage-backstage/plugins/scaffolder-backend/sample-templates/bui-kitchen-sink-demo/template.yaml",
    "backstage-backstage/plugins/scaffolder-backend/sample-templates/conditional-output-demo/template.yaml",
    "backstage-backstage/plugins/scaffolder-backend/sample-templates/conditional-parameters-demo/template.yaml",
    "roadie-software-templates/scaffolder-templates/oneof-example/oneof-example.yaml",
];

#[tokio::test]
async fn unsupported_templates_are_refused_naming_what_is_missing() {
    for (relative, names) in REFUSED {
        let message = refusal(relative);
        for present in [
            "catalog:register",
            "debug:wait",
            "fetch:template\"",
            "debug:log",
        ] {
            assert!(
                !message.contains(present),
                "{relative}: the refusal names {present}, which Causeway has: {message}"
            );
        }
        for name in *names {
            assert!(
                message.contains(name),
                "{relative}: the refusal does not name {name}: {message}"
            );
        }
    }
}

async fn dry_run(relative: &str, values: Value) -> causeway_platform::scaffolder::DryRun {
    let (entity, source) = template(relative);
    let scaffolder = scaffolder();
    let template = scaffolder.load(&entity, source).unwrap();
    let request = Request {
        values,
        secrets: Default::default(),
    };
    scaffolder.dry_run(template, request, &ada()).await.unwrap()
}

fn messages(run: &causeway_platform::scaffolder::DryRun) -> Vec<String> {
    run.log.iter().map(|l| l.message.clone()).collect()
}

#[tokio::test]
async fn conditional_output_keeps_only_the_entries_whose_if_holds() {
    let relative = RUNS[1];
    let run = dry_run(
        relative,
        json!({ "name": "billing", "enableCI": "No", "showDetails": true }),
    )
    .await;
    assert_eq!(run.error, None);
    assert!(
        messages(&run).contains(&"Creating billing".to_owned()),
        "{:?}",
        run.log
    );
    let links: Vec<&str> = run.output["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    assert_eq!(links, ["Backstage Homepage"]);
    let text: Vec<&str> = run.output["text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    assert_eq!(text, ["Summary", "CI Details"]);
    assert_eq!(run.output["text"][1]["content"], "**CI enabled:** No\n");
    let run = dry_run(
        relative,
        json!({ "name": "billing", "enableCI": "Yes", "showDetails": false }),
    )
    .await;
    let links = run.output["links"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(links[1]["url"], "https://ci.example.com/billing");
    assert!(links.iter().all(|l| l.get("if").is_none()));
}

#[tokio::test]
async fn conditional_pages_are_validated_only_when_shown() {
    let relative = RUNS[2];
    // GCP's page is hidden, so its required project id is not asked for, and the AWS page's
    // required region is.
    let (entity, source) = template(relative);
    let scaffolder = scaffolder();
    let loaded = scaffolder.load(&entity, source).unwrap();
    let error = scaffolder
        .dry_run(loaded, Request { values: json!({ "name": "x", "cloudProvider": "AWS", "enableMonitoring": true, "alertEmail": "not-an-email", "alertThreshold": 20 }), secrets: Default::default() }, &ada())
        .await
        .unwrap_err()
        .to_string();
    for expected in ["awsRegion: is required", "alertEmail", "alertThreshold"] {
        assert!(error.contains(expected), "{expected} missing from: {error}");
    }
    assert!(!error.contains("gcpProjectId"), "{error}");
    let run = dry_run(relative, json!({ "name": "edge", "cloudProvider": "GCP", "gcpProjectId": "p-1", "awsRegion": "us-east-1" })).await;
    assert_eq!(run.error, None);
    let text = run.output["text"].as_array().unwrap();
    assert_eq!(text.len(), 2);
    assert_eq!(text[1]["title"], "GCP Details");
    assert_eq!(text[1]["content"], "**Project ID:** p-1\n**Region:** \n");
}

#[tokio::test]
async fn one_of_pages_accept_either_shape_and_refuse_neither() {
    let relative = RUNS[3];
    let run = dry_run(relative, json!({ "lorem": "a" })).await;
    assert!(messages(&run).contains(&"a ".to_owned()), "{:?}", run.log);
    let (entity, source) = template(relative);
    let scaffolder = scaffolder();
    let loaded = scaffolder.load(&entity, source).unwrap();
    let error = scaffolder
        .dry_run(
            loaded,
            Request {
                values: json!({}),
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("oneOf"), "{error}");
}

#[tokio::test]
async fn the_kitchen_sink_checks_every_picker_on_the_server() {
    let relative = RUNS[0];
    let (entity, source) = template(relative);
    let scaffolder = scaffolder();
    let loaded = scaffolder.load(&entity, source).unwrap();
    let bad = json!({
        "name": "n", "email": "ada@example.com",
        "componentName": "-bad-", "entityTags": ["Has Space"],
        "repoUrl": "evil.example?owner=o&repo=r", "repoOwner": "mallory",
        "replicas": 0, "contacts": [{ "role": "PM" }],
    });
    let error = scaffolder
        .dry_run(
            loaded.clone(),
            Request {
                values: bad,
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .unwrap_err()
        .to_string();
    for expected in [
        "componentName",
        "entityTags",
        "repoUrl",
        "allowedHosts",
        "repoOwner",
        "replicas",
        "contacts.0.name: is required",
    ] {
        assert!(error.contains(expected), "{expected} missing from: {error}");
    }
    // A secret answer travels in secrets, never in the parameters the log and output see.
    let good = json!({
        "name": "sink", "email": "ada@example.com", "componentName": "sink-svc",
        "entityTags": ["java", "team:payments"], "repoUrl": "github.com?owner=backstage&repo=sink",
        "deployToken": "tok-123456",
    });
    let run = scaffolder
        .dry_run(
            loaded,
            Request {
                values: good,
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .unwrap();
    assert_eq!(run.error, None);
    let log = messages(&run).join("\n");
    assert!(log.contains("Submitted kitchen sink for sink."), "{log}");
    assert!(
        log.contains("Repo: github.com?owner=backstage&repo=sink"),
        "{log}"
    );
    assert!(!log.contains("tok-123456"));
    assert!(!run.output.to_string().contains("tok-123456"));
}

/// The corpus template at `relative` with only its file steps (fetch, fs, catalog:write) kept.
async fn render_skeleton(relative: &str, values: Value) -> causeway_platform::scaffolder::DryRun {
    let (mut entity, source) = template(relative);
    let steps = entity["spec"]["steps"].as_array().unwrap().clone();
    entity["spec"]["steps"] = Value::Array(
        steps
            .into_iter()
            .filter(|s| {
                let action = s["action"].as_str().unwrap_or("");
                action.starts_with("fetch:template") || action.starts_with("fs:")
            })
            .collect(),
    );
    entity["spec"]["output"] = json!({});
    let scaffolder = scaffolder();
    let loaded = scaffolder.load(&entity, source).unwrap();
    scaffolder
        .dry_run(
            loaded,
            Request {
                values,
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .unwrap()
}

fn file(run: &causeway_platform::scaffolder::DryRun, path: &str) -> String {
    let entry = run.files.get(path).unwrap_or_else(|| {
        panic!(
            "{path} missing; files: {:?}",
            run.files.files().map(|(p, _)| p).collect::<Vec<_>>()
        )
    });
    String::from_utf8(entry.content.clone()).unwrap()
}

#[tokio::test]
async fn a_skeleton_outside_the_templates_repository_is_refused() {
    let (mut entity, source) = template(RUNS[3]);
    entity["spec"]["steps"] = json!([{ "id": "f", "action": "fetch:plain", "input": { "url": "../../../backstage-software-templates" } }]);
    let scaffolder = scaffolder();
    let loaded = scaffolder.load(&entity, source).unwrap();
    let run = scaffolder
        .dry_run(
            loaded,
            Request {
                values: json!({ "lorem": "a" }),
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .unwrap();
    let error = run.error.expect("the fetch must fail");
    assert!(
        error.contains("input.url") && error.contains("leaves the template's location"),
        "{error}"
    );
    assert!(run.files.is_empty());
}

#[tokio::test]
async fn skeletons_render_with_templated_names_and_untouched_workflows() {
    let run = render_skeleton(
        "rhdh-software-templates/templates/github/spring-boot-backend/template.yaml",
        json!({
            "orgName": "acme", "repoName": "orders", "description": "Orders service",
            "owner": "group:default/payments", "system": "system:default/shop",
            "artifactId": "orders", "javaPackageName": "com/acme/orders",
            "ci": "../../../skeletons/github-actions/", "groupId": "com.acme",
            "port": 8080, "repoUrl": "github.com?owner=acme&repo=orders"
        }),
    )
    .await;
    assert_eq!(run.error, None, "{:?}", run.log);
    let paths: Vec<&String> = run.files.files().map(|(p, _)| p).collect();
    // Three fetches layered into one workspace, two of them from ../../../skeletons.
    assert_eq!(
        paths,
        [
            ".github/workflows/argocd.yaml",
            ".github/workflows/ci.yaml",
            ".mvn/wrapper/maven-wrapper.properties",
            "CI.md",
            "README.md",
            "catalog-info.yaml",
            "src/main/resources/application.properties",
        ]
    );
    let catalog_info = file(&run, "catalog-info.yaml");
    assert!(catalog_info.contains("name: orders"), "{catalog_info}");
    assert!(
        catalog_info.contains("owner: group:default/payments"),
        "{catalog_info}"
    );
    // GitHub Actions' own ${{ }} survive copyWithoutTemplating.
    let workflows: Vec<&&String> = paths
        .iter()
        .filter(|p| p.starts_with(".github/workflows/"))
        .collect();
    assert!(!workflows.is_empty(), "{paths:?}");
    for workflow in workflows {
        let text = file(&run, workflow);
        assert!(
            !text.contains("${{ values."),
            "{workflow} still holds a template value"
        );
    }
    let any_actions_expression = paths
        .iter()
        .filter(|p| p.starts_with(".github/workflows/"))
        .any(|p| file(&run, p).contains("${{"));
    assert!(
        any_actions_expression,
        "the workflows lost their own expressions"
    );
    // Nothing is left unrendered outside the copied workflows.
    for path in paths.iter().filter(|p| !p.starts_with(".github/")) {
        assert!(!path.contains("${{"), "{path}");
        let text = file(&run, path);
        assert!(!text.contains("${{ values"), "{path} was not rendered");
    }
}
