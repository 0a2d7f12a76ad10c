//! A test bed for template upgrades: a platform over a fresh SQLite catalog (the team
//! `payments` with ada, the team `search` with grace, platform admins with linus), a scaffolder
//! that publishes and registers for real (to the embedded `local` host below a temporary
//! `git_dir`, or to a configured git host), two versions of a small template held in memory, and
//! a service made by running the first version for real.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use causeway_platform::catalog::locations::ReadPolicy;
use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::identity::Principal;
use causeway_platform::scaffolder::actions::integrations::GitIntegration;
use causeway_platform::scaffolder::actions::{self, GitSettings};
use causeway_platform::scaffolder::upgrade::UpgradeRequest;
use causeway_platform::scaffolder::{FileEntry, Run, Scaffolder, Source, Template, Workspace};
use causeway_platform::{Platform, Settings, Store};
use serde_json::{Map, Value, json};

/// The version the service is created from, and the version it is upgraded to.
pub const V1: &str = "sha256:1111aaaa2222bbbb";
pub const V2: &str = "sha256:3333cccc4444dddd";

const CATALOG: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: payments }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: search }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: platform }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: ada }
spec: { profile: { displayName: Ada Okafor, email: ada@example.com }, memberOf: [payments] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: grace }
spec: { profile: { displayName: Grace, email: grace@example.com }, memberOf: [search] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: linus }
spec: { profile: { displayName: Linus, email: linus@example.com }, memberOf: [platform] }
";

/// The platform, its scaffolder and the temporary directory they use.
pub struct Bed {
    pub dir: PathBuf,
    pub platform: Platform,
    pub scaffolder: Scaffolder,
    /// `repoUrl`'s host and owner: `local` and `payments`, or a configured host's.
    pub host: String,
    pub owner: String,
}

impl Bed {
    /// Publishing to the embedded `local` host.
    pub async fn local() -> Self {
        Self::new(Vec::new(), "local", "payments").await
    }

    /// Publishing to `integration`, in the organisation `owner`.
    pub async fn new(integrations: Vec<GitIntegration>, host: &str, owner: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("causeway-upgrade-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let store = Store::open(&format!("sqlite://{}/causeway.db", dir.display()))
            .await
            .expect("store");
        store.migrate().await.expect("migrate");
        let platform = Platform::new(
            store,
            &Settings {
                admin_teams: vec!["group:default/platform".to_owned()],
                session_ttl: Duration::from_secs(60),
            },
        )
        .expect("platform");
        platform.load().await.expect("load");
        platform
            .catalog
            .ingest(
                "test",
                yaml::parse("test", CATALOG).expect("yaml"),
                IngestOptions::default(),
            )
            .await
            .expect("ingest");
        let settings = GitSettings {
            root: dir.join("git"),
            integrations: integrations.clone(),
        };
        let policy = ReadPolicy {
            allowed_hosts: integrations.iter().filter_map(|i| i.clone_host()).collect(),
            delete_orphans: false,
        };
        let extra = actions::publish_actions(settings.clone())
            .into_iter()
            .chain(actions::register_actions(
                platform.catalog.clone(),
                platform.directory.clone(),
                policy,
                integrations,
            ))
            .collect();
        let scaffolder = platform
            .scaffolder
            .clone()
            .with_actions(extra)
            .with_git(settings);
        Self {
            dir,
            platform,
            scaffolder,
            host: host.to_owned(),
            owner: owner.to_owned(),
        }
    }

    pub async fn principal(&self, name: &str) -> Principal {
        self.platform
            .directory
            .principal(&format!("user:default/{name}"))
            .await
            .expect("principal")
    }

    /// The template at version 1 or 2 (see [`files`]); `extra` adds properties to its page.
    pub fn template(&self, version: u8, extra: Value) -> Template {
        let mut properties = json!({
            "name": { "type": "string" },
            "owner": { "type": "string" }
        });
        let mut values = json!({
            "name": "${{ parameters.name }}",
            "owner": "${{ parameters.owner }}"
        });
        if version == 2 {
            properties["tier"] = json!({ "type": "string", "default": "standard" });
            values["tier"] = json!("${{ parameters.tier }}");
        }
        let mut required = json!(["name", "owner"]);
        if let Some(extra) = extra.as_object() {
            for (name, property) in extra {
                properties[name] = property.clone();
                if property.get("default").is_none() {
                    required.as_array_mut().unwrap().push(json!(name));
                }
            }
        }
        let entity = json!({
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": { "name": "upgradable", "title": "Upgradable service" },
            "spec": {
                "owner": "group:default/platform",
                "type": "service",
                "parameters": [{ "title": "Service", "required": required, "properties": properties }],
                "steps": [
                    { "id": "fetch", "action": "fetch:template",
                      "input": { "url": "./skeleton", "values": values } },
                    { "id": "write", "action": "catalog:write",
                      "input": { "entity": {
                          "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                          "metadata": { "name": "${{ parameters.name }}" },
                          "spec": { "type": "service", "lifecycle": "experimental", "owner": "${{ parameters.owner }}" }
                      } } },
                    { "id": "publish", "action": "publish:git",
                      "input": { "repoUrl": format!("{}?owner={}&repo=${{{{ parameters.name }}}}", self.host, self.owner) } },
                    { "id": "register", "action": "catalog:register",
                      "input": { "repoContentsUrl": "${{ steps.publish.output.repoContentsUrl }}", "catalogInfoPath": "/catalog-info.yaml" } }
                ]
            }
        });
        let files: BTreeMap<String, FileEntry> = files(version)
            .into_iter()
            .map(|(path, text)| (format!("skeleton/{path}"), FileEntry::text(text)))
            .collect();
        self.scaffolder
            .load(&entity, Source::Files(Arc::new(files)))
            .expect("the test template loads")
    }

    /// Creates a service named `name` by running version 1 for real as ada: its repository is
    /// published and registered, and the catalog's entity is returned.
    pub async fn create(&self, name: &str) -> Value {
        let template = self.template(1, json!({}));
        let ada = self.principal("ada").await;
        let run = Run {
            template: Arc::new(template.clone()),
            values: json!({ "name": name, "owner": "group:default/payments" }),
            secrets: Map::new(),
            user_ref: ada.entity_ref.clone(),
            user_entity: Value::Null,
            task_id: format!("run-{}", uuid::Uuid::new_v4()),
            dry_run: false,
            template_version: V1.to_owned(),
        };
        let mut steps = Map::new();
        let mut workspace = Workspace::new();
        for index in 0..template.steps.len() {
            if let Err(failure) = self
                .scaffolder
                .engine()
                .step(&run, index, &mut steps, &mut workspace)
                .await
            {
                panic!("creating {name}: {}", failure.error.message);
            }
        }
        self.entity(name)
    }

    /// Adds `documents` (YAML) to the catalog, beside the bed's people and teams.
    pub async fn ingest(&self, documents: &str) {
        self.platform
            .catalog
            .ingest(
                "extra",
                yaml::parse("extra", documents).expect("yaml"),
                IngestOptions::default(),
            )
            .await
            .expect("ingest");
    }

    /// The catalog's entity of the service `name`.
    pub fn entity(&self, name: &str) -> Value {
        let index = self.platform.catalog.index();
        let stored = index
            .by_ref(&format!("component:default/{name}"))
            .unwrap_or_else(|| panic!("{name} is in the catalog"));
        index.body_value(stored)
    }

    /// An upgrade of `service` from version 1 to `target`, asked by `requester`.
    pub async fn request(
        &self,
        service: &Value,
        target: Template,
        requester: &str,
    ) -> UpgradeRequest {
        let answers = service["metadata"]["annotations"]["causeway.dev/template-answers"]
            .as_str()
            .map(|text| serde_json::from_str(text).expect("answers are JSON"))
            .unwrap_or_default();
        UpgradeRequest {
            service: service.clone(),
            base: self.template(1, json!({})),
            base_version: V1.to_owned(),
            target,
            target_version: V2.to_owned(),
            answers,
            requester: self.principal(requester).await,
            request_id: Some("req-upgrade".to_owned()),
        }
    }

    /// A clone of `remote` in the bed's directory, as a team member would make it.
    pub fn clone_of(&self, remote: &str, name: &str, auth: &[(&str, &str)]) -> PathBuf {
        let path = self.dir.join(name);
        git(
            &self.dir,
            &["clone", "--quiet", remote, &path.display().to_string()],
            auth,
        );
        path
    }
}

/// The template's files: version 2 changes the end of `app.txt`, the README and `notes.txt`,
/// and adds `tier.txt`.
pub fn files(version: u8) -> Vec<(&'static str, String)> {
    let mut app = vec![
        "# ${{ values.name }} settings",
        "port = 8080",
        "host = 0.0.0.0",
        "log = info",
        "workers = 4",
        "queue = default",
        "retries = 3",
        "cache = on",
        "metrics = on",
        "tracing = off",
        "timeout = 30",
        "keepalive = 60",
    ];
    let mut out = vec![(
        "README.md",
        "# ${{ values.name }}\n\nA service.\n".to_owned(),
    )];
    if version == 2 {
        app[10] = "timeout = 45";
        out[0].1.push_str("\nStart it with `make run`.\n");
        out.push((
            "notes.txt",
            "Notes for ${{ values.name }}, revised.\n".to_owned(),
        ));
        out.push(("tier.txt", "tier = ${{ values.tier }}\n".to_owned()));
    } else {
        out.push(("notes.txt", "Notes for ${{ values.name }}.\n".to_owned()));
    }
    out.push(("app.txt", format!("{}\n", app.join("\n"))));
    out
}

/// Runs git in `dir` as a team member, with no system or user configuration; its output.
pub fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = git_raw(dir, args, env);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// [`git`], whatever its exit status.
pub fn git_raw(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "A team member")
        .env("GIT_AUTHOR_EMAIL", "team@example.com")
        .env("GIT_COMMITTER_NAME", "A team member")
        .env("GIT_COMMITTER_EMAIL", "team@example.com")
        .envs(env.iter().copied())
        .output()
        .expect("git runs")
}

/// Replaces `from` with `to` in the file `path` of the clone `clone`.
pub fn edit(clone: &Path, path: &str, from: &str, to: &str) {
    let file = clone.join(path);
    let text = std::fs::read_to_string(&file).expect("the file exists");
    assert!(text.contains(from), "{path} holds {from:?}: {text}");
    std::fs::write(&file, text.replace(from, to)).expect("written");
}

/// The team's edits: `app.txt`'s port (far from what version 2 changes), and `notes.txt`
/// deleted; committed and pushed to `main`. The new head.
pub fn team_edits(clone: &Path, auth: &[(&str, &str)]) -> String {
    edit(clone, "app.txt", "port = 8080", "port = 9090");
    git(clone, &["rm", "--quiet", "notes.txt"], &[]);
    git(
        clone,
        &["commit", "--quiet", "-am", "Our port; no notes"],
        &[],
    );
    git(clone, &["push", "--quiet", "origin", "main"], auth);
    git(clone, &["rev-parse", "HEAD"], &[])
}
