//! Approvals bound to the exact plan, on SQLite and on PostgreSQL, against a real GitOps
//! repository (the embedded configuration without a cluster, where `prod` needs the platform
//! team's approval) and a real webhook receiver: approve → the apply runs; the requester never
//! approves their own; a changed catalog entity or a changed repository voids the approval and
//! says which part changed; a rejection needs a comment; every decision is audited and notified.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
#[path = "support/webhook.rs"]
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::identity::{Principal, Role, Team};
use causeway_platform::provision::approvals::{ApprovalStatus, Decision, Submission};
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::{Provisioner, Request, Requester};
use causeway_platform::tasks::TaskStatus;
use causeway_platform::tasks::runner::{Runner, Settings};
use causeway_platform::{Error, Platform, Store};
use webhook::Receiver;

on_both_engines!(
    approve_runs_the_apply_and_only_an_approver_decides,
    a_changed_catalog_entity_voids_the_approval,
    a_changed_repository_voids_the_approval,
    rejecting_needs_a_comment_and_a_newer_request_supersedes,
);

const SERVICE: &str = "payments-api";

fn catalog(cost_centre: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {SERVICE}\n  annotations:\n    causeway.dev/cost-centre: {cost_centre}\n    causeway.dev/on-call: payments-rota\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

struct Bed {
    platform: Platform,
    engine: Provisioner,
    repository: PathBuf,
    hook: Receiver,
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.repository);
    }
}

async fn bed(store: Store) -> Bed {
    let platform = Platform::new(
        store,
        &causeway_platform::Settings {
            admin_teams: vec!["group:default/admins".to_owned()],
            session_ttl: Duration::from_secs(60),
        },
    )
    .expect("platform");
    platform.load().await.expect("load");
    ingest(&platform, "cc-4711").await;
    let hook = Receiver::start().await;
    let repository =
        std::env::temp_dir().join(format!("causeway-approvals-{}", uuid::Uuid::new_v4()));
    let mut config = ProvisionConfig::embedded(None, repository.clone());
    config.notifications.webhooks = vec![hook.url.clone()];
    Bed {
        engine: Provisioner::new(config, &platform),
        platform,
        repository,
        hook,
    }
}

async fn ingest(platform: &Platform, cost_centre: &str) {
    platform
        .catalog
        .ingest(
            "test",
            yaml::parse("test", &catalog(cost_centre)).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
}

fn principal(name: &str, teams: &[&str], role: Role) -> Principal {
    Principal {
        entity_ref: format!("user:default/{name}"),
        display_name: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        teams: teams
            .iter()
            .map(|t| Team {
                entity_ref: format!("group:default/{t}"),
                display_name: (*t).to_owned(),
            })
            .collect(),
        role,
    }
}

fn request(id: &str, pods: &str) -> Request {
    Request {
        service: SERVICE.to_owned(),
        environment: "prod".to_owned(),
        set: [("pods".to_owned(), pods.to_owned())].into(),
        request_id: id.to_owned(),
        requester: Requester::of(&principal("ada", &["team-a"], Role::Developer)),
        adopt: false,
    }
}

fn runner(bed: &Bed) -> Runner {
    Runner::new(
        bed.platform.tasks.clone(),
        bed.engine.task_handlers(),
        "test-worker".to_owned(),
        Settings::default(),
    )
}

/// Requests `request` and expects it to stop at a pending approval.
async fn pending(
    bed: &Bed,
    request: &Request,
) -> causeway_platform::provision::approvals::Approval {
    match bed
        .engine
        .request_apply(&bed.platform.tasks, request)
        .await
        .expect("requested")
    {
        Submission::Approval(approval) => *approval,
        Submission::Task(task) => panic!("prod started task {} without an approval", task.id),
    }
}

async fn approve_runs_the_apply_and_only_an_approver_decides(store: Store) {
    let mut bed = bed(store).await;
    // Ada is even a platform admin here: being one never lets a requester approve their own.
    let ada = principal("ada", &["team-a", "admins"], Role::PlatformAdmin);
    let grace = principal("grace", &["team-a"], Role::Developer);
    let linus = principal("linus", &["platform"], Role::Developer);
    let asked = request("req-1", "30");

    let approval = pending(&bed, &asked).await;
    assert_eq!(approval.status, ApprovalStatus::Pending);
    assert_eq!(approval.approvers, ["group:default/platform"]);
    assert_eq!(approval.plan_hash.len(), 64);
    assert!(!approval.plan.steps.is_empty());
    assert!(
        approval
            .plan
            .steps
            .iter()
            .all(|s| matches!(s, Step::Create { .. })),
        "{:?}",
        approval.plan.steps
    );
    assert_eq!(runner(&bed).drain().await.expect("drain"), 0, "no task yet");
    let requested = bed.hook.next().await;
    assert_eq!(requested["type"], "approval.requested");
    assert_eq!(requested["subject"], approval.id.as_str());
    assert_eq!(requested["data"]["plan_hash"], approval.plan_hash.as_str());
    assert_eq!(requested["data"]["requested_by"], "user:default/ada");

    // Asking again for the same plan finds the same approval; applying directly is refused.
    assert_eq!(pending(&bed, &asked).await.id, approval.id);
    match bed.engine.submit_apply(&bed.platform.tasks, &asked).await {
        Err(Error::Forbidden(message)) => {
            assert!(message.contains("needs an approval"), "{message}")
        }
        other => panic!("a direct apply of prod must be refused: {other:?}"),
    }

    let tasks = &bed.platform.tasks;
    for (who, expected) in [
        (&ada, "you requested this change"),
        (&grace, "only members of group:default/platform"),
    ] {
        match bed
            .engine
            .decide(tasks, who, &approval.id, Decision::Approve, "", None)
            .await
        {
            Err(Error::Forbidden(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("{} must not decide: {other:?}", who.entity_ref),
        }
    }
    assert!(bed.hook.quiet().await, "a refused decision notifies nobody");

    let (approved, task) = bed
        .engine
        .decide(
            tasks,
            &linus,
            &approval.id,
            Decision::Approve,
            "Looks right.",
            Some("req-approve"),
        )
        .await
        .expect("approved");
    let task = task.expect("the apply task");
    assert_eq!(approved.status, ApprovalStatus::Approved);
    assert_eq!(approved.task_id.as_deref(), Some(task.id.as_str()));
    assert_eq!(approved.decided_by.as_deref(), Some("user:default/linus"));
    assert_eq!(approved.comment.as_deref(), Some("Looks right."));
    assert_eq!(task.input["plan_hash"], approval.plan_hash.as_str());
    let decided = bed.hook.next().await;
    assert_eq!(decided["type"], "approval.approved");
    assert_eq!(decided["data"]["task"], task.id.as_str());
    assert_eq!(decided["data"]["decided_by"], "user:default/linus");

    assert_eq!(runner(&bed).drain().await.expect("drain"), 1);
    let ran = tasks.get(&task.id).await.expect("get").expect("task");
    assert_eq!(ran.status, TaskStatus::Completed, "{:?}", ran.error);
    let events = tasks.events(&task.id, 0, 100).await.expect("events");
    assert!(
        events.iter().any(|e| e.message.contains("approved plan") && e.message.contains(&approval.plan_hash)),
        "the task checked the approved plan: {events:?}"
    );
    let record = bed
        .engine
        .records()
        .get(&format!("{SERVICE}-prod"))
        .await
        .expect("record");
    assert_eq!(record.expect("recorded").parameters["pods"], "30");

    match bed
        .engine
        .decide(tasks, &linus, &approval.id, Decision::Approve, "", None)
        .await
    {
        Err(Error::Conflict(message)) => assert!(message.contains("already approved"), "{message}"),
        other => panic!("an approval is decided once: {other:?}"),
    }

    let audit = bed.platform.audit.recent(50).await.expect("audit");
    let seen: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|r| r.action.starts_with("approval."))
        .map(|r| (r.action.as_str(), r.actor.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("approval.approve", "user:default/linus", "success"),
            ("approval.approve", "user:default/grace", "denied"),
            ("approval.approve", "user:default/ada", "denied"),
            ("approval.request", "user:default/ada", "success"),
        ]
    );
    let approved_entry = &audit[audit
        .iter()
        .position(|r| r.action == "approval.approve")
        .expect("entry")];
    assert_eq!(approved_entry.target, format!("{SERVICE}-prod"));
    assert_eq!(approved_entry.detail["task"], task.id.as_str());
    assert_eq!(approved_entry.detail["comment"], "Looks right.");
    assert_eq!(approved_entry.request_id.as_deref(), Some("req-approve"));
}

async fn a_changed_catalog_entity_voids_the_approval(store: Store) {
    let mut bed = bed(store).await;
    let linus = principal("linus", &["platform"], Role::Developer);
    let approval = pending(&bed, &request("req-1", "30")).await;
    assert_eq!(bed.hook.next().await["type"], "approval.requested");

    // The cost centre is a label on every object: the rendering changes under the approval.
    ingest(&bed.platform, "cc-9999").await;
    let refused = bed
        .engine
        .decide(
            &bed.platform.tasks,
            &linus,
            &approval.id,
            Decision::Approve,
            "",
            None,
        )
        .await;
    let Err(Error::Conflict(message)) = refused else {
        panic!("a changed plan must not be applied: {refused:?}");
    };
    assert!(message.contains("is void"), "{message}");
    assert!(
        message.contains("after the catalog entity changed"),
        "{message}"
    );

    let void = bed.engine.approval(&approval.id).await.expect("approval");
    assert_eq!(void.status, ApprovalStatus::Void);
    assert!(void.task_id.is_none());
    assert!(!void.changes.is_empty());
    assert!(
        void.changes.iter().all(|c| c.part == "objects"),
        "{:?}",
        void.changes
    );
    assert!(
        void.changes
            .iter()
            .any(|c| c.object.as_deref() == Some(&format!("Namespace/{SERVICE}-prod"))),
        "{:?}",
        void.changes
    );
    let notified = bed.hook.next().await;
    assert_eq!(notified["type"], "approval.void");
    assert_eq!(
        notified["data"]["reason"],
        void.reason.clone().expect("reason").as_str()
    );
    assert_eq!(
        runner(&bed).drain().await.expect("drain"),
        0,
        "nothing was applied"
    );
    assert!(
        bed.engine
            .records()
            .get(&format!("{SERVICE}-prod"))
            .await
            .expect("get")
            .is_none()
    );
    let audit = bed.platform.audit.recent(10).await.expect("audit");
    assert_eq!(audit[0].action, "approval.void");
    assert_eq!(audit[0].outcome, "failed");
}

async fn a_changed_repository_voids_the_approval(store: Store) {
    let mut bed = bed(store).await;
    let linus = principal("linus", &["platform"], Role::Developer);
    let approval = pending(&bed, &request("req-1", "30")).await;
    assert_eq!(bed.hook.next().await["type"], "approval.requested");

    // Another change reaches the GitOps repository meanwhile (the engine's own apply stands in
    // for any commit there): the same rendering would now update files, not create them.
    bed.engine
        .apply(&request("req-other", "40"))
        .await
        .expect("the other change");
    let refused = bed
        .engine
        .decide(
            &bed.platform.tasks,
            &linus,
            &approval.id,
            Decision::Approve,
            "",
            None,
        )
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    let void = bed.engine.approval(&approval.id).await.expect("approval");
    assert_eq!(void.status, ApprovalStatus::Void);
    assert!(!void.changes.is_empty());
    assert!(
        void.changes.iter().all(|c| c.part == "live"),
        "{:?}",
        void.changes
    );
    assert!(
        void.reason
            .as_deref()
            .is_some_and(|r| r.contains("to be created when requested")),
        "{:?}",
        void.reason
    );
    assert_eq!(bed.hook.next().await["type"], "approval.void");
}

async fn rejecting_needs_a_comment_and_a_newer_request_supersedes(store: Store) {
    let mut bed = bed(store).await;
    let admin = principal("root", &["admins"], Role::PlatformAdmin);
    let first = pending(&bed, &request("req-1", "30")).await;
    let second = pending(&bed, &request("req-2", "31")).await;
    assert_ne!(first.id, second.id);
    let superseded = bed.engine.approval(&first.id).await.expect("first");
    assert_eq!(superseded.status, ApprovalStatus::Void);
    assert!(
        superseded
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(&format!("superseded by approval {}", second.id))),
        "{:?}",
        superseded.reason
    );
    for _ in 0..2 {
        assert_eq!(bed.hook.next().await["type"], "approval.requested");
    }

    let tasks = &bed.platform.tasks;
    match bed
        .engine
        .decide(tasks, &admin, &second.id, Decision::Reject, "  ", None)
        .await
    {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "comment"),
        other => panic!("a rejection says why: {other:?}"),
    }
    let long = "x".repeat(2001);
    match bed
        .engine
        .decide(tasks, &admin, &second.id, Decision::Approve, &long, None)
        .await
    {
        Err(Error::InvalidInput { field, rule }) => {
            assert_eq!(field, "comment");
            assert!(rule.contains("2000"), "{rule}");
        }
        other => panic!("a comment has a limit: {other:?}"),
    }
    // A platform admin outside the approvers' group may decide.
    let (rejected, task) = bed
        .engine
        .decide(
            tasks,
            &admin,
            &second.id,
            Decision::Reject,
            "Not during the freeze.",
            None,
        )
        .await
        .expect("rejected");
    assert!(task.is_none());
    assert_eq!(rejected.status, ApprovalStatus::Rejected);
    let notified = bed.hook.next().await;
    assert_eq!(notified["type"], "approval.rejected");
    assert_eq!(notified["data"]["comment"], "Not during the freeze.");
    match bed
        .engine
        .decide(tasks, &admin, &second.id, Decision::Approve, "", None)
        .await
    {
        Err(Error::Conflict(message)) => assert!(message.contains("already rejected"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(runner(&bed).drain().await.expect("drain"), 0);
}
