//! The GitOps target: with no cluster configured, environments are committed to a local bare
//! repository as `clusters/<cluster>/<namespace>/<kind>-<name>.yaml`, one commit per change,
//! authored by the requester, with the request id in the message. Checked with git itself.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::path::{Path, PathBuf};
use std::process::Command;

use causeway_platform::provision::apply::Change;
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::records::Status;
use causeway_platform::provision::tasks::APPLY;
use causeway_platform::provision::{Provisioner, Request, Requester};
use causeway_platform::tasks::TaskStatus;
use causeway_platform::tasks::runner::{Context, Handler, Runner, Settings, StepError};
use futures::future::BoxFuture;
use testbed::{platform_with_catalog, team_a_service};

fn git(repository: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repository)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn request(service: &str, environment: &str, id: &str, set: &[(&str, &str)]) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        request_id: id.to_owned(),
        requester: Requester {
            entity_ref: "user:default/ada".to_owned(),
            name: "Ada Lovelace".to_owned(),
            email: "ada@example.com".to_owned(),
        },
        adopt: false,
    }
}

#[tokio::test]
async fn environments_become_commits_in_the_gitops_repository() {
    let repository: PathBuf =
        std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
    let service = "payments-api";
    // The embedded configuration without a kubeconfig: every environment goes to the repository.
    let platform = platform_with_catalog(&team_a_service(service)).await;
    let engine = Provisioner::new(
        ProvisionConfig::embedded(None, repository.clone()),
        &platform,
    );

    let plan = engine
        .plan(&request(service, "dev", "req-1", &[]))
        .await
        .expect("plan");
    assert!(plan.steps.iter().all(|s| matches!(s, Step::Create { .. })));

    let first = engine
        .apply(&request(service, "dev", "req-1", &[]))
        .await
        .expect("commit");
    let namespace = first.namespace.clone();
    assert!(first.commit.is_some());
    assert!(first.applied.iter().all(|a| a.change == Change::Created));
    let dir = format!("clusters/local/{namespace}");
    let files = git(
        &repository,
        &["ls-tree", "--name-only", "HEAD", &format!("{dir}/")],
    );
    let files: Vec<&str> = files.lines().collect();
    for expected in [
        format!("{dir}/namespace-{namespace}.yaml"),
        format!("{dir}/resourcequota-causeway-quota.yaml"),
        format!("{dir}/limitrange-causeway-defaults.yaml"),
        format!("{dir}/rolebinding-team-edit.yaml"),
        format!("{dir}/networkpolicy-default-deny-ingress.yaml"),
        format!("{dir}/pipeline-delivery.yaml"),
        format!("{dir}/grafanadashboard-{service}-red.yaml"),
        format!("{dir}/prometheusrule-{service}-slo.yaml"),
    ] {
        assert!(
            files.contains(&expected.as_str()),
            "{expected} in {files:?}"
        );
    }
    assert_eq!(files.len(), first.applied.len());
    let quota = git(
        &repository,
        &[
            "show",
            &format!("HEAD:{dir}/resourcequota-causeway-quota.yaml"),
        ],
    );
    let quota: serde_json::Value = serde_yaml_ng::from_str(&quota).expect("YAML");
    assert_eq!(quota["kind"], "ResourceQuota");
    assert_eq!(quota["spec"]["hard"]["pods"], "20");
    assert_eq!(
        quota["metadata"]["annotations"]["causeway.dev/request-id"],
        "req-1"
    );

    // The same state asked for again: no commit.
    let again = engine
        .apply(&request(service, "dev", "req-2", &[]))
        .await
        .expect("no change");
    assert_eq!(again.commit, None);
    assert!(again.applied.iter().all(|a| a.change == Change::Unchanged));

    // A change: one commit touching one file, by the requester, naming the request.
    let changed = engine
        .apply(&request(service, "dev", "req-3", &[("pods", "30")]))
        .await
        .expect("change");
    let commit = changed.commit.expect("a commit");
    assert_eq!(git(&repository, &["rev-parse", "HEAD"]).trim(), commit);
    let touched = git(&repository, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        touched.trim(),
        format!("{dir}/resourcequota-causeway-quota.yaml")
    );
    let author = git(&repository, &["log", "-1", "--format=%an <%ae>%n%B"]);
    assert!(
        author.starts_with("Ada Lovelace <ada@example.com>"),
        "{author}"
    );
    assert!(author.contains("Request-Id: req-3"), "{author}");
    let status = engine
        .records()
        .get(&namespace)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(status.status, Status::Committed);
    assert_eq!(status.requested_by, "user:default/ada");

    // A second environment, then the first destroyed: history has one commit per change.
    engine
        .apply(&request(service, "staging", "req-4", &[]))
        .await
        .expect("staging");
    let destroyed = engine
        .destroy(&request(service, "dev", "req-5", &[]))
        .await
        .expect("destroy");
    assert!(destroyed.commit.is_some());
    let listing = git(
        &repository,
        &["ls-tree", "--name-only", "HEAD", "clusters/local/"],
    );
    assert_eq!(listing.trim(), format!("clusters/local/{service}-staging"));
    let history = git(&repository, &["log", "--format=%s"]);
    let subjects: Vec<&str> = history.lines().collect();
    assert_eq!(
        subjects,
        [
            format!("Destroy {service} in dev ({namespace})"),
            format!("Provision {service} in staging ({service}-staging)"),
            format!("Provision {service} in dev ({namespace})"),
            format!("Provision {service} in dev ({namespace})"),
        ]
    );
    assert_eq!(
        git(&repository, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    git(&repository, &["fsck", "--strict"]);

    // Protected environments are not destroyed here either.
    engine
        .apply(&request(service, "prod", "req-6", &[]))
        .await
        .expect("prod");
    assert!(
        engine
            .destroy(&request(service, "prod", "req-7", &[]))
            .await
            .is_err()
    );
    std::fs::remove_dir_all(&repository).ok();
}

#[tokio::test]
async fn concurrent_requests_each_get_their_commit_and_none_is_lost() {
    let repository: PathBuf =
        std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
    let services: Vec<String> = (0..10).map(|i| format!("svc-{i}")).collect();
    let catalog: Vec<String> = services.iter().map(|s| team_a_service(s)).collect();
    // Each service's catalog repeats the group; one copy of it is enough.
    let catalog = catalog
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            if i == 0 {
                doc.clone()
            } else {
                doc.split_once("---\n")
                    .map(|(_, rest)| rest.to_owned())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let platform = platform_with_catalog(&catalog).await;
    let engine = Provisioner::new(
        ProvisionConfig::embedded(None, repository.clone()),
        &platform,
    );
    let applies = services.iter().map(|service| {
        let engine = engine.clone();
        let request = request(service, "dev", &format!("req-{service}"), &[]);
        async move { engine.apply(&request).await }
    });
    for report in futures::future::join_all(applies).await {
        assert!(report.expect("committed").commit.is_some());
    }
    let history = git(&repository, &["rev-list", "--count", "HEAD"]);
    assert_eq!(history.trim(), "10");
    let listing = git(
        &repository,
        &["ls-tree", "--name-only", "HEAD", "clusters/local/"],
    );
    assert_eq!(listing.lines().count(), 10, "{listing}");
    std::fs::remove_dir_all(&repository).ok();
}

/// A handler that lets another worker take the task (as a worker paused past its lease would
/// find on waking) just before step `before` starts, then runs the step as usual.
struct TakenOverBefore {
    inner: std::sync::Arc<dyn Handler>,
    before: &'static str,
    database: sqlx::AnyPool,
}

impl Handler for TakenOverBefore {
    fn run_step<'a>(
        &'a self,
        context: &'a Context,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            if step == self.before {
                sqlx::query("UPDATE tasks SET lease_owner = 'other-worker/0' WHERE id = $1")
                    .bind(&context.id)
                    .execute(&self.database)
                    .await
                    .expect("another worker takes the task");
            }
            self.inner.run_step(context, step).await
        })
    }

    fn finished<'a>(
        &'a self,
        context: &'a Context,
        status: TaskStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        self.inner.finished(context, status, error)
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_writes_neither_the_record_nor_the_repository() {
    let repository: PathBuf =
        std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
    let dir = std::env::temp_dir().join(format!("causeway-fence-{}", uuid::Uuid::new_v4()));
    let catalog = format!(
        "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        team_a_service("billing")
    );
    let platform = testbed::platform_in(&dir, &catalog).await;
    let engine = Provisioner::new(
        ProvisionConfig::embedded(None, repository.clone()),
        &platform,
    );
    let database = sqlx::AnyPool::connect(&format!("sqlite://{}/causeway.db", dir.display()))
        .await
        .expect("a second connection to the database");
    for (service, before) in [("billing", "record"), ("ledger", "commit")] {
        let handlers = engine.task_handlers();
        let inner = handlers[APPLY].clone();
        let runner = Runner::new(
            platform.tasks.clone(),
            std::collections::BTreeMap::from([(
                APPLY.to_owned(),
                std::sync::Arc::new(TakenOverBefore {
                    inner,
                    before,
                    database: database.clone(),
                }) as std::sync::Arc<dyn Handler>,
            )]),
            "paused-worker".to_owned(),
            Settings::default(),
        );
        let task = engine
            .submit_apply(&platform.tasks, &request(service, "dev", "req-1", &[]))
            .await
            .expect("submitted");
        runner.drain().await.expect("drain");
        let task = platform
            .tasks
            .get(&task.id)
            .await
            .expect("get")
            .expect("task");
        assert_eq!(
            task.status,
            TaskStatus::Processing,
            "the task is the other worker's to finish"
        );
        let record = engine
            .records()
            .get(&format!("{service}-dev"))
            .await
            .expect("get");
        match before {
            // Taken over before the record was written: there is none.
            "record" => assert_eq!(record, None),
            // Taken over after: the record stays as the step before left it, and nothing was
            // committed.
            _ => assert_eq!(record.expect("record").status, Status::Applying),
        }
    }
    assert!(
        !repository.join("refs/heads/main").exists()
            && Command::new("git")
                .arg("--git-dir")
                .arg(&repository)
                .args(["rev-parse", "--verify", "main"])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true),
        "nothing was committed"
    );
    std::fs::remove_dir_all(&repository).ok();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_directory_someone_else_wrote_is_neither_overwritten_nor_removed() {
    let root = std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
    let repository = root.join("repo.git");
    let work = root.join("work");
    // The platform team's repository already holds a directory for `billing-dev`, written by
    // another tool.
    let run = |dir: &Path, args: &[&str]| {
        let output = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::create_dir_all(&work).expect("work dir");
    run(&root, &["init", "--bare", "-b", "main", "repo.git"]);
    run(&work, &["init", "-b", "main"]);
    let dir = work.join("clusters/local/billing-dev");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("configmap-ledger.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ledger\n  namespace: billing-dev\ndata:\n  rate: \"7\"\n",
    )
    .expect("file");
    run(&work, &["add", "."]);
    run(
        &work,
        &[
            "-c",
            "user.name=Platform",
            "-c",
            "user.email=platform@example.com",
            "commit",
            "-m",
            "ledger settings",
        ],
    );
    run(
        &work,
        &["push", repository.to_str().expect("path"), "main:main"],
    );

    let platform = platform_with_catalog(&team_a_service("billing")).await;
    let engine = Provisioner::new(
        ProvisionConfig::embedded(None, repository.clone()),
        &platform,
    );
    let plan = engine
        .plan(&request("billing", "dev", "req-1", &[]))
        .await
        .expect("plan");
    assert!(
        plan.steps.iter().any(|s| matches!(s,
            Step::Conflict { message, .. } if message.contains("configmap-ledger.yaml"))),
        "{:?}",
        plan.steps
    );
    let refused = engine
        .apply(&request("billing", "dev", "req-1", &[]))
        .await
        .expect_err("the commit is refused");
    assert!(
        matches!(&refused, causeway_platform::Error::Conflict(m) if m.contains("not created by Causeway")),
        "{refused:?}"
    );
    assert_eq!(
        engine.records().get("billing-dev").await.expect("get"),
        None,
        "a refused request records nothing"
    );
    let refused = engine
        .destroy(&request("billing", "dev", "req-2", &[]))
        .await
        .expect_err("the removal is refused");
    assert!(
        matches!(refused, causeway_platform::Error::Conflict(_)),
        "{refused:?}"
    );
    let files = git(
        &repository,
        &["ls-tree", "-r", "--name-only", "HEAD", "clusters/local/"],
    );
    assert_eq!(
        files.trim(),
        "clusters/local/billing-dev/configmap-ledger.yaml"
    );
    assert_eq!(
        git(&repository, &["rev-list", "--count", "HEAD"]).trim(),
        "1"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test]
async fn a_destroy_of_a_name_no_component_can_have_is_refused_naming_the_field() {
    let repository: PathBuf =
        std::env::temp_dir().join(format!("causeway-gitops-{}", uuid::Uuid::new_v4()));
    let platform = platform_with_catalog(&team_a_service("billing")).await;
    let engine = Provisioner::new(
        ProvisionConfig::embedded(None, repository.clone()),
        &platform,
    );
    // Each of these once mapped to a namespace (`p-dev`, `dev`, `team-a-dev`).
    for service in ["\u{ad}P", "Õ\u{4}ü", "group:default/team-a", "a/b/c"] {
        let refused = engine
            .destroy(&request(service, "dev", "req-1", &[]))
            .await
            .expect_err("refused");
        assert!(
            matches!(&refused, causeway_platform::Error::InvalidInput { field, .. } if field == "service"),
            "{service:?}: {refused:?}"
        );
    }
    assert!(!repository.exists(), "nothing was written");
}
