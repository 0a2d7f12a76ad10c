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
use causeway_platform::guardrails::waivers::NewWaiver;
use causeway_platform::guardrails::{Guardrails, Reloaded, Source};
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

on_both_engines!(
    replicas_converge_on_one_recorded_revision,
    waivers_apply_until_they_expire_or_are_revoked,
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
