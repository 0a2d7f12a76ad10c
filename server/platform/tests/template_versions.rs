//! Template versions on SQLite and on PostgreSQL: a version is named by the template's content
//! (the entity without what the catalog adds, and every file of its directory), captured once
//! whoever captures it first, compared file by file, and stored whole before a run starts, so
//! that the run reads exactly the files of the version it is stamped with.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use causeway_platform::catalog::locations::ReadPolicy;
use causeway_platform::identity::{Principal, Role, Team};
use causeway_platform::scaffolder::runs::Runs;
use causeway_platform::scaffolder::versions::{
    Change, ORIGIN_AUTHORING, ORIGIN_CATALOG, ORIGIN_RUN, TemplateVersion,
};
use causeway_platform::scaffolder::{FileEntry, Request, Source};
use causeway_platform::tasks::TaskStatus;
use causeway_platform::tasks::runner::{Runner, Settings};
use causeway_platform::{Error, Platform, Store};
use serde_json::{Value, json};

const TEMPLATE_REF: &str = "template:default/service";

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: service
  title: A service
spec:
  owner: group:default/payments
  type: service
  parameters:
    - title: Service
      required: [name]
      properties:
        name: { type: string }
  steps:
    - id: fetch
      name: Fetch
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{ parameters.name }}
    - id: write
      name: Describe
      action: catalog:write
      input:
        entity:
          apiVersion: backstage.io/v1alpha1
          kind: Component
          metadata: { name: '${{ parameters.name }}' }
          spec: { type: service, lifecycle: experimental, owner: group:default/payments }
";

fn ada() -> Principal {
    Principal {
        entity_ref: "user:default/ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: None,
        teams: vec![Team {
            entity_ref: "group:default/payments".to_owned(),
            display_name: "Payments".to_owned(),
        }],
        role: Role::Developer,
    }
}

fn linus() -> Principal {
    Principal {
        entity_ref: "user:default/linus".to_owned(),
        display_name: "Linus".to_owned(),
        email: None,
        teams: Vec::new(),
        role: Role::PlatformAdmin,
    }
}

async fn platform(store: Store) -> Platform {
    let settings = causeway_platform::Settings {
        admin_teams: Vec::new(),
        session_ttl: Duration::from_secs(3600),
    };
    let platform = Platform::new(store, &settings).expect("platform");
    platform.load().await.expect("load");
    platform
}

/// A fresh directory holding the template and its skeleton.
fn template_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("causeway-versions-{}", uuid::Uuid::new_v4()));
    write(&dir.join("template.yaml"), TEMPLATE);
    write(
        &dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nFirst.\n",
    );
    write(&dir.join("skeleton/run.sh"), "#!/bin/sh\necho run\n");
    set_executable(&dir.join("skeleton/run.sh"), true);
    dir
}

/// Versions are listed by the millisecond they were first captured: a pause keeps two captures
/// of one test apart.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn set_executable(path: &Path, on: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if on { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

async fn register(
    platform: &Platform,
    dir: &Path,
) -> causeway_platform::catalog::locations::Location {
    platform
        .catalog
        .register(
            "file",
            &dir.join("template.yaml").display().to_string(),
            false,
            &ReadPolicy::default(),
        )
        .await
        .expect("register the template")
        .location
}

async fn versions_of(platform: &Platform) -> Vec<String> {
    platform
        .scaffolder
        .versions()
        .expect("versions")
        .list(TEMPLATE_REF)
        .await
        .expect("list")
        .into_iter()
        .map(|v| v.version)
        .collect()
}

async fn get(platform: &Platform, version: &str) -> TemplateVersion {
    platform
        .scaffolder
        .versions()
        .expect("versions")
        .get(TEMPLATE_REF, version)
        .await
        .expect("get")
        .expect("the version is stored")
}

async fn the_same_content_is_one_version_wherever_it_is_read(store: Store) {
    let platform = platform(store).await;
    let dir = template_dir();
    let location = register(&platform, &dir).await;
    // Registering the location stored the template, and with it its first version.
    let versions = platform.scaffolder.versions().expect("versions");
    let listed = versions.list(TEMPLATE_REF).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let first = listed[0].clone();
    assert_eq!(first.origin, ORIGIN_CATALOG);
    assert_eq!(
        first.author,
        format!("catalog registration of {}", location.key())
    );
    assert_eq!(first.files, 3, "template.yaml and two skeleton files");
    assert!(first.version.starts_with("sha256:") && first.version.len() == 7 + 64);

    // A refresh with nothing changed, and a copy of the same files elsewhere (other
    // managed-by annotations), are the same version: one row, its first author kept.
    platform
        .catalog
        .refresh_location(&location, &ReadPolicy::default())
        .await
        .expect("refresh");
    let copy = template_dir();
    let mut entity: Value = serde_yaml_ng::from_str(TEMPLATE).expect("yaml");
    entity["metadata"]["namespace"] = json!("default");
    entity["metadata"]["uid"] = json!("another-uid");
    entity["metadata"]["annotations"] = json!({
        "backstage.io/managed-by-location": format!("file:{}/template.yaml", copy.display()),
        "backstage.io/managed-by-origin-location": format!("file:{}/template.yaml", copy.display()),
    });
    let template = platform
        .scaffolder
        .load(&entity, Source::dir(&copy))
        .expect("load the copy");
    let again = versions
        .capture(&template, "user:default/linus", ORIGIN_RUN)
        .await
        .expect("capture");
    assert_eq!(
        again, first,
        "the same content captured again keeps its first row"
    );
    assert_eq!(versions_of(&platform).await, vec![first.version.clone()]);
    assert_eq!(
        causeway_platform::scaffolder::version_of(&template)
            .await
            .expect("version"),
        first.version
    );

    // One changed byte of a skeleton file, with the entity unchanged, is a new version, and so
    // is a changed executable bit; the newest is listed first.
    tick().await;
    write(
        &dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nSecond.\n",
    );
    platform
        .catalog
        .refresh_location(&location, &ReadPolicy::default())
        .await
        .expect("refresh");
    let after_edit = versions_of(&platform).await;
    assert_eq!(after_edit.len(), 2, "{after_edit:?}");
    assert_eq!(after_edit[1], first.version);
    tick().await;
    set_executable(&dir.join("skeleton/run.sh"), false);
    platform
        .catalog
        .refresh_location(&location, &ReadPolicy::default())
        .await
        .expect("refresh");
    let after_mode = versions_of(&platform).await;
    assert_eq!(after_mode.len(), 3, "{after_mode:?}");
    assert_eq!(after_mode[1..], after_edit[..]);
}

async fn versions_are_compared_file_by_file(store: Store) {
    let platform = platform(store).await;
    let dir = template_dir();
    let location = register(&platform, &dir).await;
    let from = versions_of(&platform).await.remove(0);
    tick().await;
    write(
        &dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nSecond.\n",
    );
    std::fs::remove_file(dir.join("skeleton/run.sh")).expect("remove");
    write(&dir.join("skeleton/docs/index.md"), "Docs.\n");
    std::fs::write(
        dir.join("skeleton/logo.png"),
        [0x89, b'P', b'N', b'G', 0, 1, 2],
    )
    .expect("png");
    platform
        .catalog
        .refresh_location(&location, &ReadPolicy::default())
        .await
        .expect("refresh");
    let to = versions_of(&platform).await.remove(0);
    assert_ne!(from, to);
    let versions = platform.scaffolder.versions().expect("versions");
    let diff = versions.diff(TEMPLATE_REF, &from, &to).await.expect("diff");
    let changes: Vec<(&str, Change)> = diff.iter().map(|d| (d.path.as_str(), d.change)).collect();
    assert_eq!(
        changes,
        vec![
            ("skeleton/README.md", Change::Modified),
            ("skeleton/docs/index.md", Change::Added),
            ("skeleton/logo.png", Change::Added),
            ("skeleton/run.sh", Change::Removed),
        ]
    );
    let readme = &diff[0].unified;
    assert!(readme.contains("--- a/skeleton/README.md"), "{readme}");
    assert!(
        readme.contains("-First.") && readme.contains("+Second."),
        "{readme}"
    );
    assert!(diff[1].unified.contains("+Docs."), "{}", diff[1].unified);
    assert_eq!(diff[2].unified, "binary file added\n");
    assert!(diff[3].unified.contains("-echo run"), "{}", diff[3].unified);
    // The other way round, and a version with itself.
    let back = versions.diff(TEMPLATE_REF, &to, &from).await.expect("diff");
    assert_eq!(back[3].change, Change::Added);
    assert!(
        versions
            .diff(TEMPLATE_REF, &to, &to)
            .await
            .expect("diff")
            .is_empty()
    );
    // A version that is not stored is refused, naming its parameter.
    match versions.diff(TEMPLATE_REF, "sha256:nope", &to).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "from"),
        other => panic!("expected a refusal of from, got {other:?}"),
    }
    match versions.diff(TEMPLATE_REF, &from, "sha256:nope").await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "to"),
        other => panic!("expected a refusal of to, got {other:?}"),
    }
    // Only the executable bit changed.
    tick().await;
    set_executable(&dir.join("skeleton/docs/index.md"), true);
    platform
        .catalog
        .refresh_location(&location, &ReadPolicy::default())
        .await
        .expect("refresh");
    let mode = versions_of(&platform).await.remove(0);
    let diff = versions.diff(TEMPLATE_REF, &to, &mode).await.expect("diff");
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert_eq!(diff[0].change, Change::Mode);
    assert_eq!(diff[0].unified, "old mode 100644\nnew mode 100755\n");
}

async fn a_run_is_stamped_with_the_version_it_stored_and_reads_it(store: Store) {
    let platform = platform(store.clone()).await;
    let dir = template_dir();
    register(&platform, &dir).await;
    // The skeleton changes on disk after the catalog read it: the run's submission captures the
    // version it is about to use, as its requester.
    tick().await;
    write(
        &dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nAt submission.\n",
    );
    let task = platform
        .scaffolder
        .submit(
            TEMPLATE_REF,
            Request {
                values: json!({ "name": "remittance" }),
                secrets: Default::default(),
            },
            &ada(),
        )
        .await
        .expect("submit");
    let version = task.input["version"].as_str().expect("version").to_owned();
    let listed = platform
        .scaffolder
        .versions()
        .expect("versions")
        .list(TEMPLATE_REF)
        .await
        .expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].version, version);
    assert_eq!(listed[0].origin, ORIGIN_RUN);
    assert_eq!(listed[0].author, "user:default/ada");

    // The stored version holds every file, whole, and loads as a template.
    let stored = get(&platform, &version).await;
    assert_eq!(
        stored.files.keys().collect::<Vec<_>>(),
        vec!["skeleton/README.md", "skeleton/run.sh", "template.yaml"]
    );
    assert_eq!(
        stored.files["skeleton/README.md"].content,
        b"# ${{ values.name }}\n\nAt submission.\n"
    );
    assert!(stored.files["skeleton/run.sh"].executable);
    assert!(!stored.files["template.yaml"].executable);
    assert!(
        stored.entity["metadata"].get("annotations").is_none(),
        "the catalog's annotations are not part of a version: {}",
        stored.entity
    );
    let template = platform
        .scaffolder
        .versions()
        .expect("versions")
        .template(&stored)
        .expect("a stored version loads");
    assert_eq!(template.entity_ref, TEMPLATE_REF);

    // Changed again before a worker takes the run: the run still reads the version it stored.
    write(
        &dir.join("skeleton/README.md"),
        "# ${{ values.name }}\n\nLater.\n",
    );
    let runner = Runner::new(
        platform.tasks.clone(),
        platform.scaffolder.task_handlers(),
        "versions-test".to_owned(),
        Settings::default(),
    );
    assert!(runner.run_task(&task.id).await.expect("run"));
    let ended = platform
        .tasks
        .get(&task.id)
        .await
        .expect("get")
        .expect("task");
    assert_eq!(ended.status, TaskStatus::Completed, "{ended:?}");
    let (state, _) = Runs::new(store)
        .load(&task.id)
        .await
        .expect("load")
        .expect("the run's state");
    let readme = state.workspace.get("README.md").expect("README.md");
    assert_eq!(readme.content, b"# remittance\n\nAt submission.\n");
    let descriptor: Value = serde_yaml_ng::from_slice(
        &state
            .workspace
            .get("catalog-info.yaml")
            .expect("catalog-info.yaml")
            .content,
    )
    .expect("yaml");
    assert_eq!(
        descriptor["metadata"]["annotations"]["causeway.dev/template-version"],
        json!(version)
    );
}

async fn a_directory_is_read_whole_and_within_itself(store: Store) {
    let platform = platform(store).await;
    let versions = platform.scaffolder.versions().expect("versions");
    let entity: Value = serde_yaml_ng::from_str(TEMPLATE).expect("yaml");
    // Version-control metadata is not the template's content.
    let dir = template_dir();
    write(&dir.join(".git/HEAD"), "ref: refs/heads/main\n");
    let template = platform
        .scaffolder
        .load(&entity, Source::dir(&dir))
        .expect("load");
    let summary = versions
        .capture(&template, "user:default/linus", ORIGIN_CATALOG)
        .await
        .expect("capture");
    assert_eq!(summary.files, 3);
    // A symbolic link inside the directory is followed; one that leaves it is refused, the
    // template named.
    std::os::unix::fs::symlink(
        dir.join("skeleton/README.md"),
        dir.join("skeleton/again.md"),
    )
    .expect("symlink");
    let summary = versions
        .capture(&template, "user:default/linus", ORIGIN_CATALOG)
        .await
        .expect("capture");
    assert_eq!(summary.files, 4);
    let outside = template_dir();
    std::os::unix::fs::symlink(outside.join("skeleton"), dir.join("skeleton/shared"))
        .expect("symlink");
    match versions
        .capture(&template, "user:default/linus", ORIGIN_CATALOG)
        .await
    {
        Err(error) => {
            let text = error.to_string();
            assert!(
                text.contains(TEMPLATE_REF)
                    && text.contains("skeleton/shared")
                    && text.contains("symbolic link"),
                "{text}"
            );
        }
        Ok(summary) => panic!("a link leaving the directory was followed: {summary:?}"),
    }
    std::fs::remove_file(dir.join("skeleton/shared")).expect("unlink");
    // Too large a directory is refused with the limit and the template named (a sparse file
    // costs nothing to make).
    let big = std::fs::File::create(dir.join("skeleton/big.bin")).expect("create");
    big.set_len(65 * 1024 * 1024).expect("grow");
    let error = versions
        .capture(&template, "user:default/linus", ORIGIN_CATALOG)
        .await
        .expect_err("too large");
    let text = error.to_string();
    assert!(
        text.contains(TEMPLATE_REF) && text.contains("64 MiB"),
        "{text}"
    );
    // Unknown origins are refused.
    std::fs::remove_file(dir.join("skeleton/big.bin")).expect("remove");
    assert!(matches!(
        versions
            .capture(&template, "user:default/linus", "elsewhere")
            .await,
        Err(Error::InvalidInput { .. })
    ));
}

async fn platform_admins_publish_versions_of_catalog_templates(store: Store) {
    let platform = platform(store).await;
    let dir = template_dir();
    register(&platform, &dir).await;
    tick().await;
    let mut entity: Value = serde_yaml_ng::from_str(TEMPLATE).expect("yaml");
    entity["metadata"]["title"] = json!("A better service");
    let files = BTreeMap::from([(
        "skeleton/README.md".to_owned(),
        FileEntry::text("# ${{ values.name }}\n\nAuthored.\n"),
    )]);
    // A developer may not: publishing is authoring.
    match platform
        .scaffolder
        .publish_authored(&ada(), &entity, files.clone())
        .await
    {
        Err(Error::Forbidden(_)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A template the catalog does not hold is refused, naming metadata.name.
    let mut stranger = entity.clone();
    stranger["metadata"]["name"] = json!("stranger");
    match platform
        .scaffolder
        .publish_authored(&linus(), &stranger, files.clone())
        .await
    {
        Err(Error::InvalidInput { field, rule }) => {
            assert_eq!(field, "metadata.name");
            assert!(rule.contains("template:default/stranger"), "{rule}");
        }
        other => panic!("expected a refusal naming metadata.name, got {other:?}"),
    }
    let published = platform
        .scaffolder
        .publish_authored(&linus(), &entity, files.clone())
        .await
        .expect("publish");
    assert_eq!(published.origin, ORIGIN_AUTHORING);
    assert_eq!(published.author, "user:default/linus");
    assert_eq!(published.files, 1);
    assert_eq!(versions_of(&platform).await[0], published.version);
    // Publishing the same again is the same version.
    let again = platform
        .scaffolder
        .publish_authored(&linus(), &entity, files)
        .await
        .expect("publish");
    assert_eq!(again, published);
    assert_eq!(versions_of(&platform).await.len(), 2);
    // The entity changed though template.yaml is not among the files: the diff shows it.
    let first = versions_of(&platform).await[1].clone();
    let diff = platform
        .scaffolder
        .versions()
        .expect("versions")
        .diff(TEMPLATE_REF, &first, &published.version)
        .await
        .expect("diff");
    assert_eq!(diff[0].path, "(template entity)");
    assert!(
        diff[0].unified.contains("+  title: A better service"),
        "{}",
        diff[0].unified
    );
    // Every attempt is audited, refusals included.
    let audit = platform.audit.recent(50).await.expect("audit");
    let publishes: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "scaffolder.template.publish")
        .map(|r| (r.actor.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(publishes.len(), 4, "{publishes:?}");
    assert!(
        publishes.contains(&("user:default/ada", "denied")),
        "{publishes:?}"
    );
    assert!(
        publishes.contains(&("user:default/linus", "failed")),
        "{publishes:?}"
    );
}

async fn an_uploaded_template_is_its_entity_alone(store: Store) {
    let platform = platform(store).await;
    // Its uploader claims a directory of the server as its location: the annotations of an
    // upload are the uploader's, so nothing there is read, captured or run.
    let elsewhere = template_dir();
    write(&elsewhere.join("secret.txt"), "not for templates\n");
    let claimed = format!("file:{}/template.yaml", elsewhere.display());
    let text = TEMPLATE.replace(
        "  title: A service\n",
        &format!(
            "  title: A service\n  annotations:\n    backstage.io/managed-by-location: {claimed}\n    backstage.io/managed-by-origin-location: {claimed}\n"
        ),
    );
    let documents = causeway_platform::catalog::yaml::parse("upload", &text).expect("yaml");
    platform
        .catalog
        .ingest("upload:test", documents, Default::default())
        .await
        .expect("import");
    let listed = platform
        .scaffolder
        .versions()
        .expect("versions")
        .list(TEMPLATE_REF)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].files, 0);
    assert_eq!(listed[0].author, "catalog import of upload:test");
    let template = platform
        .scaffolder
        .catalog_template(TEMPLATE_REF)
        .expect("the template loads");
    assert!(
        matches!(template.source, Source::Unreadable(_)),
        "{:?}",
        template.source
    );
    // Its versions load too; Files over nothing reads nothing, as the uploaded one could not.
    let stored = get(&platform, &listed[0].version).await;
    assert!(stored.files.is_empty());
    let loaded = Arc::new(stored.files.clone());
    assert!(
        Source::Files(loaded)
            .read("./skeleton", "input.url")
            .is_err()
    );
}

on_both_engines!(
    the_same_content_is_one_version_wherever_it_is_read,
    versions_are_compared_file_by_file,
    a_run_is_stamped_with_the_version_it_stored_and_reads_it,
    a_directory_is_read_whole_and_within_itself,
    platform_admins_publish_versions_of_catalog_templates,
    an_uploaded_template_is_its_entity_alone,
);
