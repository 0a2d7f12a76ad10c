//! The records of template upgrades on SQLite and on PostgreSQL: asked for once per service and
//! version (a failed or closed attempt may be asked for again, a change request that exists may
//! not), written only by the worker that holds the upgrade task, followed until the change
//! request merges, and listed per template and for the poller.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;

use std::time::Duration;

use causeway_platform::Store;
use causeway_platform::scaffolder::fleet::records::{Attempt, UpgradeRecords, UpgradeState};
use causeway_platform::tasks::lease::Fence;
use causeway_platform::tasks::{NewTask, Tasks};
use serde_json::json;

const TEMPLATE: &str = "template:default/service";

async fn claimed(tasks: &Tasks) -> (String, Fence) {
    let task = tasks
        .create(NewTask {
            kind: "scaffolder.upgrade".to_owned(),
            title: "Upgrade".to_owned(),
            input: json!({}),
            requester: "user:default/linus".to_owned(),
            owner: None,
            subject: None,
            steps: vec![("upgrade a".to_owned(), "Upgrade a".to_owned())],
        })
        .await
        .expect("task");
    let claim = tasks
        .claim_task("worker-a", Duration::from_secs(30), &task.id)
        .await
        .expect("claim")
        .expect("claimed");
    let fence = Fence {
        task: claim.id.clone(),
        holder: claim.holder.clone(),
    };
    (task.id, fence)
}

async fn asked_once_written_under_the_lease_and_followed(store: Store) {
    store.migrate().await.expect("migrate");
    let tasks = Tasks::new(store.clone());
    let records = UpgradeRecords::new(store.clone());
    let (task, fence) = claimed(&tasks).await;
    let service = "component:default/ledger";
    assert!(
        records
            .ask(
                service,
                TEMPLATE,
                "sha256:a",
                "sha256:b",
                &task,
                "user:default/linus"
            )
            .await
            .expect("ask")
    );
    let pending = records
        .get(service, "sha256:b")
        .await
        .expect("get")
        .expect("record");
    assert_eq!(pending.status, UpgradeState::Pending);
    assert_eq!(pending.task_id.as_deref(), Some(task.as_str()));

    // A worker that does not hold the task writes nothing.
    let stranger = Fence {
        task: task.clone(),
        holder: "worker-b/other".to_owned(),
    };
    let attempt = Attempt {
        branch: Some("causeway/upgrade-service-b".to_owned()),
        conflicts: vec!["app.txt".to_owned()],
        notes: vec!["notes.txt: deleted by the team".to_owned()],
        ..Attempt::default()
    };
    assert!(
        !records
            .finish(
                service,
                "sha256:b",
                UpgradeState::Conflict,
                &attempt,
                &stranger
            )
            .await
            .expect("finish")
    );
    assert!(
        records
            .finish(
                service,
                "sha256:b",
                UpgradeState::Conflict,
                &attempt,
                &fence
            )
            .await
            .expect("finish")
    );
    let conflict = records
        .get(service, "sha256:b")
        .await
        .expect("get")
        .expect("record");
    assert_eq!(conflict.status, UpgradeState::Conflict);
    assert_eq!(conflict.conflicts, ["app.txt"]);
    assert_eq!(conflict.notes, ["notes.txt: deleted by the team"]);

    // A change request that exists is not asked for again.
    assert!(
        !records
            .ask(
                service,
                TEMPLATE,
                "sha256:a",
                "sha256:b",
                &task,
                "user:default/linus"
            )
            .await
            .expect("ask")
    );
    assert_eq!(
        records
            .get(service, "sha256:b")
            .await
            .expect("get")
            .expect("record")
            .status,
        UpgradeState::Conflict
    );

    let waiting = records
        .awaiting_review(Some(TEMPLATE), 10)
        .await
        .expect("awaiting");
    assert_eq!(waiting.len(), 1);
    assert!(
        records
            .awaiting_review(Some("template:default/other"), 10)
            .await
            .expect("awaiting")
            .is_empty()
    );
    assert_eq!(
        records
            .awaiting_review(None, 10)
            .await
            .expect("awaiting")
            .len(),
        1
    );

    // Merged once, whoever asks second.
    assert!(
        records
            .settle(service, "sha256:b", UpgradeState::Merged)
            .await
            .expect("settle")
    );
    assert!(
        !records
            .settle(service, "sha256:b", UpgradeState::Closed)
            .await
            .expect("settle")
    );
    assert_eq!(
        records
            .get(service, "sha256:b")
            .await
            .expect("get")
            .expect("record")
            .status,
        UpgradeState::Merged
    );
    assert!(
        records
            .awaiting_review(None, 10)
            .await
            .expect("awaiting")
            .is_empty()
    );
    assert_eq!(records.of_template(TEMPLATE).await.expect("list").len(), 1);

    // A failed attempt may be asked for again.
    let other = "component:default/billing";
    records
        .ask(
            other,
            TEMPLATE,
            "sha256:a",
            "sha256:b",
            &task,
            "user:default/linus",
        )
        .await
        .expect("ask");
    let failed = Attempt {
        message: Some("the repository is gone".to_owned()),
        ..Attempt::default()
    };
    assert!(
        records
            .finish(other, "sha256:b", UpgradeState::Failed, &failed, &fence)
            .await
            .expect("finish")
    );
    assert!(
        records
            .ask(
                other,
                TEMPLATE,
                "sha256:a",
                "sha256:b",
                &task,
                "user:default/ada"
            )
            .await
            .expect("ask again")
    );
    let again = records
        .get(other, "sha256:b")
        .await
        .expect("get")
        .expect("record");
    assert_eq!(again.status, UpgradeState::Pending);
    assert_eq!(again.message, None);
    assert_eq!(again.requested_by, "user:default/ada");
}

on_both_engines!(asked_once_written_under_the_lease_and_followed);
