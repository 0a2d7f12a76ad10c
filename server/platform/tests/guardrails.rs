//! The platform configuration's revisions and the waivers, on SQLite and on PostgreSQL: two
//! replicas reading one source converge on one recorded revision with one audit record, an
//! invalid edit never replaces the revision serving, and waivers apply until they expire or are
//! revoked.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;

use std::path::PathBuf;
use std::time::Duration;

use causeway_platform::audit::AuditLog;
use causeway_platform::catalog::{Catalog, IngestOptions};
use causeway_platform::guardrails::waivers::NewWaiver;
use causeway_platform::guardrails::{Guardrails, Outcome, Reloaded, Source};
use causeway_platform::identity::{Principal, Role};
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::{Error, Store};

const ENVIRONMENT: &str = "apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata: { name: dev }
spec:
  gitops: { repository: var/gitops, cluster: local }
  quota: { cpu: 2, memory: 4Gi, pods: 20 }
  podSecurity: baseline
";

fn policy(max: u32) -> String {
    format!(
        "apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata: {{ name: small }}
spec:
  appliesTo: [environment]
  field: set.pods
  expression: request.pods <= params.max
  message: \"'too many pods'\"
  fix: Ask for fewer.
  parameters: {{ default: {{ max: {max} }} }}
"
    )
}

fn admin() -> Principal {
    Principal {
        entity_ref: "user:default/linus".to_owned(),
        display_name: "Linus".to_owned(),
        email: None,
        teams: Vec::new(),
        role: Role::PlatformAdmin,
    }
}

fn embedded() -> ProvisionConfig {
    ProvisionConfig::embedded(None, PathBuf::from("var/gitops"))
}

async fn replicas_converge_on_one_recorded_revision(store: Store) {
    store.migrate().await.expect("migrate");
    let dir = std::env::temp_dir().join(format!("causeway-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("environments.yaml"), ENVIRONMENT).expect("write");
    std::fs::write(dir.join("policies.yaml"), policy(10)).expect("write");
    let audit = AuditLog::new(store.clone());
    let replica = || {
        let guardrails = Guardrails::new(embedded(), store.clone(), audit.clone());
        guardrails
            .configure(Source::Path(dir.clone()), embedded())
            .expect("valid");
        guardrails
    };
    let (first, second) = (replica(), replica());
    first.record_active().await.expect("record");
    second.record_active().await.expect("record");
    assert_eq!(first.current().hash, second.current().hash);
    assert_eq!(first.history(10).await.expect("history").len(), 1);

    // An invalid edit: both keep serving the revision they had.
    std::fs::write(
        dir.join("policies.yaml"),
        policy(10).replace("<= params.max", "<="),
    )
    .expect("write");
    for replica in [&first, &second] {
        match replica.reload("system").await.expect("reload") {
            Reloaded::Rejected(problems) => {
                assert_eq!(problems[0].source, "policies.yaml:7", "{problems:?}");
                assert_eq!(problems[0].field, "spec.expression");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(replica.failure().is_some());
    }
    assert_eq!(
        first.current().config.policies[0].policy.parameters.default["max"],
        10
    );

    // A valid edit: both load it; it is recorded and audited once, with its diff.
    std::fs::write(dir.join("policies.yaml"), policy(12)).expect("write");
    assert!(matches!(
        first.reload("system").await.expect("reload"),
        Reloaded::Loaded(_)
    ));
    assert!(matches!(
        second.reload("system").await.expect("reload"),
        Reloaded::Loaded(_)
    ));
    assert!(matches!(
        second.reload("system").await.expect("reload"),
        Reloaded::Unchanged
    ));
    assert_eq!(first.current().hash, second.current().hash);
    assert!(first.failure().is_none() && second.failure().is_none());
    assert_eq!(first.history(10).await.expect("history").len(), 2);
    let records = audit.recent(50).await.expect("audit");
    let loads: Vec<_> = records
        .iter()
        .filter(|r| r.action == "platform.config-load" && r.outcome == "success")
        .collect();
    assert_eq!(loads.len(), 2, "the first revision and the edit, once each");
    let diff = loads[0].detail["diff"].as_str().expect("diff");
    assert!(
        diff.contains("-  parameters: { default: { max: 10 } }"),
        "{diff}"
    );
    assert!(
        diff.contains("+  parameters: { default: { max: 12 } }"),
        "{diff}"
    );
    // The refusal is audited once per replica that saw it, not at every refresh.
    let refusals = records
        .iter()
        .filter(|r| r.action == "platform.config-load" && r.outcome == "failed")
        .count();
    assert_eq!(refusals, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn waivers_apply_until_they_expire_or_are_revoked(store: Store) {
    store.migrate().await.expect("migrate");
    let guardrails = Guardrails::new(embedded(), store.clone(), AuditLog::new(store));
    let waivers = guardrails.waivers().expect("waivers");
    let known = guardrails.policy_ids();
    let now = causeway_platform::time::now_millis();
    let waiver = |expires_at_millis| NewWaiver {
        policy: "ceiling-cpu".to_owned(),
        service: "payments-api".to_owned(),
        reason: "load test".to_owned(),
        expires_at_millis,
    };
    let mut developer = admin();
    developer.role = Role::Developer;
    assert!(matches!(
        waivers
            .grant(&developer, waiver(now + 60_000), &known, None)
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        waivers.grant(&admin(), waiver(now - 1), &known, None).await,
        Err(Error::InvalidInput { field, .. }) if field == "expires"
    ));
    let lasting = waivers
        .grant(&admin(), waiver(now + 3_600_000), &known, None)
        .await
        .expect("granted");
    let brief = waivers
        .grant(&admin(), waiver(now + 300), &known, None)
        .await
        .expect("granted");
    let service = "component:default/payments-api";
    assert_eq!(
        waivers.active(Some(service)).await.expect("active").len(),
        2
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let active = waivers.active(Some(service)).await.expect("active");
    assert_eq!(
        active.iter().map(|w| &w.id).collect::<Vec<_>>(),
        vec![&lasting.id]
    );
    assert!(
        !active.iter().any(|w| w.id == brief.id),
        "an expired waiver stops by itself"
    );
    waivers
        .revoke(&admin(), &lasting.id, None)
        .await
        .expect("revoked");
    assert!(waivers.active(None).await.expect("active").is_empty());
    assert!(matches!(
        waivers.revoke(&admin(), &lasting.id, None).await,
        Err(Error::NotFound(_))
    ));
}

/// A Component named `name` with `lifecycle`, as an upload carries it.
fn component(name: &str, lifecycle: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": name },
        "spec": { "type": "service", "lifecycle": lifecycle, "owner": "group:default/payments" },
    })
}

/// An import policy that refuses components whose name starts with `legacy`, and a waiver for
/// one of them written in the configuration.
const DENY_LEGACY: &str = "apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata: { name: no-legacy }
spec:
  appliesTo: [import]
  severity: deny
  field: metadata.name
  expression: \"!entity.metadata.name.startsWith('legacy')\"
  message: entity.metadata.name + ' is a legacy name'
  fix: Rename it.
---
apiVersion: causeway.dev/v1alpha1
kind: Waiver
metadata: { name: legacy-ledger }
spec:
  policy: no-legacy
  service: legacy-ledger
  reason: Renamed next quarter.
  expires: 2999-01-01T00:00:00Z
";

/// The messages of a refused import's denials, checking each is a denial of `no-legacy` with its
/// field and fix.
fn denied(
    result: causeway_platform::Result<causeway_platform::catalog::IngestReport>,
) -> Vec<String> {
    match result {
        Err(Error::PolicyDenied(denials)) => denials
            .into_iter()
            .map(|v| {
                assert_eq!(
                    (
                        v.policy.as_str(),
                        v.outcome,
                        v.field.as_str(),
                        v.fix.as_str()
                    ),
                    ("no-legacy", Outcome::Denied, "metadata.name", "Rename it."),
                );
                v.message
            })
            .collect(),
        other => panic!("expected a policy denial, got {other:?}"),
    }
}

/// Imports on a person's behalf are held to the import policies: the starter policy's warnings
/// are reported in entity order, and a denying policy refuses the whole import naming every
/// entity it denies, unless a waiver (granted, or written in the configuration) covers it.
async fn imports_are_held_to_the_import_policies(store: Store) {
    store.migrate().await.expect("migrate");
    let audit = AuditLog::new(store.clone());
    let guardrails = Guardrails::new(embedded(), store.clone(), audit.clone());
    let catalog = Catalog::new(store.clone()).with_guardrails(guardrails.clone());
    let report = catalog
        .ingest_as(
            &admin(),
            "upload:lifecycles",
            vec![
                component("checkout", "beta"),
                component("ledger", "production"),
                component("search", "alpha"),
            ],
            IngestOptions::default(),
        )
        .await
        .expect("warnings do not block");
    assert_eq!(report.added.len(), 3);
    let warned: Vec<(&str, Outcome, &str)> = report
        .policies
        .iter()
        .map(|v| (v.policy.as_str(), v.outcome, v.message.as_str()))
        .collect();
    let known = "the platform knows experimental, production, deprecated";
    assert_eq!(
        warned,
        [
            (
                "component-lifecycle",
                Outcome::Warned,
                format!("checkout has lifecycle beta; {known}").as_str()
            ),
            (
                "component-lifecycle",
                Outcome::Warned,
                format!("search has lifecycle alpha; {known}").as_str()
            ),
        ]
    );

    // A configured source with a denying import policy; one legacy component has a waiver
    // granted in the API, another one written in the configuration, the third none.
    let dir = std::env::temp_dir().join(format!("causeway-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("environments.yaml"), ENVIRONMENT).expect("write");
    std::fs::write(dir.join("policies.yaml"), DENY_LEGACY).expect("write");
    guardrails
        .configure(Source::Path(dir.clone()), embedded())
        .expect("valid");
    let waiver = guardrails
        .waivers()
        .expect("waivers")
        .grant(
            &admin(),
            NewWaiver {
                policy: "no-legacy".to_owned(),
                service: "legacy-billing".to_owned(),
                reason: "Retired in March.".to_owned(),
                expires_at_millis: causeway_platform::time::now_millis() + 3_600_000,
            },
            &guardrails.policy_ids(),
            None,
        )
        .await
        .expect("granted");
    let legacy = || {
        vec![
            component("legacy-billing", "production"),
            component("payments", "production"),
            component("legacy-ledger", "production"),
        ]
    };
    let waived = catalog
        .ingest_as(
            &admin(),
            "upload:waived",
            legacy(),
            IngestOptions::default(),
        )
        .await
        .expect("both legacy components are waived");
    let listed: Vec<(&str, Outcome, &str)> = waived
        .policies
        .iter()
        .map(|v| (v.policy.as_str(), v.outcome, v.message.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "no-legacy",
                Outcome::Waived,
                "legacy-billing is a legacy name"
            ),
            (
                "no-legacy",
                Outcome::Waived,
                "legacy-ledger is a legacy name"
            ),
        ]
    );
    let by = |i: usize| waived.policies[i].waiver.clone().expect("waiver");
    assert!(by(0).starts_with(&waiver.id), "{}", by(0));
    assert!(by(1).starts_with("config:legacy-ledger"), "{}", by(1));

    // With a component no waiver covers among them, the import is refused naming that one
    // alone, and nothing of it is stored.
    let mut documents = legacy();
    documents.insert(1, component("legacy-invoices", "production"));
    let refused = catalog
        .ingest_as(
            &admin(),
            "upload:waived",
            documents,
            IngestOptions::default(),
        )
        .await;
    assert_eq!(denied(refused), ["legacy-invoices is a legacy name"]);
    assert!(
        catalog
            .index()
            .by_ref("component:default/legacy-invoices")
            .is_none()
    );

    // Once its waiver is revoked, the component it covered is denied too, in entity order.
    guardrails
        .waivers()
        .expect("waivers")
        .revoke(&admin(), &waiver.id, None)
        .await
        .expect("revoked");
    let mut documents = legacy();
    documents.push(component("legacy-invoices", "production"));
    let refused = catalog
        .ingest_as(
            &admin(),
            "upload:waived",
            documents,
            IngestOptions::default(),
        )
        .await;
    assert_eq!(
        denied(refused),
        [
            "legacy-billing is a legacy name",
            "legacy-invoices is a legacy name"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_engines!(
    replicas_converge_on_one_recorded_revision,
    waivers_apply_until_they_expire_or_are_revoked,
    imports_are_held_to_the_import_policies,
);

/// A git location is cloned and its directory read, file names relative to the repository.
#[test]
fn a_git_location_is_read_from_its_branch_and_directory() {
    let dir = std::env::temp_dir().join(format!("causeway-config-git-{}", uuid::Uuid::new_v4()));
    let work = dir.join("work");
    std::fs::create_dir_all(work.join("platform/policies")).expect("dir");
    std::fs::write(work.join("platform/environments.yaml"), ENVIRONMENT).expect("write");
    std::fs::write(work.join("platform/policies/small.yaml"), policy(10)).expect("write");
    std::fs::write(work.join("README.md"), "not configuration").expect("write");
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&work)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &dir)
            .output()
            .expect("git");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "platform"]);
    let source = Source::parse(&format!("file://{}#main:platform", work.display()));
    let files = source.read().expect("read");
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["platform/environments.yaml", "platform/policies/small.yaml"]
    );
    let guardrails = Guardrails::from_files(&files).expect("valid");
    assert_eq!(guardrails.current().config.policies.len(), 1);
    let missing = Source::parse(&format!("file://{}#nope:platform", work.display())).read();
    assert!(missing.is_err_and(|e| e.to_string().contains("cannot be cloned")));
    let _ = std::fs::remove_dir_all(&dir);
}
