//! The expiry of environment records on SQLite and on PostgreSQL: set on the first apply and kept
//! by later ones while it runs, moved by extensions only while it has not passed, a reminder
//! recorded once per expiry, and what the reaper reads.

#[macro_use]
#[path = "support/engines.rs"]
mod engines;

use std::collections::BTreeMap;

use causeway_platform::Store;
use causeway_platform::provision::records::{Record, Records, Status};
use causeway_platform::time::now_millis;

on_both_engines!(
    an_expiry_is_kept_by_applies_moved_by_extensions_and_announced_once,
    an_expired_or_departing_environment_is_not_extended,
);

fn record(namespace: &str, expires_at: Option<i64>) -> Record {
    Record {
        namespace: namespace.to_owned(),
        service: format!("component:default/{namespace}"),
        environment: "preview".to_owned(),
        target: "local".to_owned(),
        parameters: BTreeMap::new(),
        request_id: "r".to_owned(),
        requested_by: "user:default/ada".to_owned(),
        status: Status::Applying,
        message: None,
        task_id: None,
        created_at_millis: 0,
        updated_at_millis: 0,
        expires_at_millis: expires_at,
        reminded_at_millis: None,
    }
}

async fn records(store: Store) -> Records {
    store.migrate().await.expect("migrate");
    Records::new(store)
}

async fn get(records: &Records, namespace: &str) -> Record {
    records
        .get(namespace)
        .await
        .expect("read")
        .expect("recorded")
}

async fn an_expiry_is_kept_by_applies_moved_by_extensions_and_announced_once(store: Store) {
    let records = records(store).await;
    let now = now_millis();
    let first = now + 10_000;
    assert!(
        records
            .begin(&record("a", Some(first)), None)
            .await
            .expect("begin")
    );
    assert!(
        records
            .begin(&record("stays", None), None)
            .await
            .expect("begin")
    );
    let a = get(&records, "a").await;
    assert_eq!(
        (a.expires_at_millis, a.reminded_at_millis),
        (Some(first), None)
    );

    // The reaper sees only what expires by the time it asks about.
    let names = |found: Vec<Record>| found.into_iter().map(|r| r.namespace).collect::<Vec<_>>();
    assert!(names(records.expiring(now).await.expect("expiring")).is_empty());
    assert_eq!(
        names(records.expiring(now + 20_000).await.expect("expiring")),
        ["a"]
    );

    // One reminder per expiry, whoever asks twice.
    assert!(records.remind("a", first, now).await.expect("remind"));
    assert!(!records.remind("a", first, now + 1).await.expect("remind"));
    assert_eq!(get(&records, "a").await.reminded_at_millis, Some(now));

    // Applying again neither renews the expiry nor forgets the reminder.
    assert!(
        records
            .begin(&record("a", Some(now + 99_999)), None)
            .await
            .expect("begin")
    );
    let a = get(&records, "a").await;
    assert_eq!(
        (a.expires_at_millis, a.reminded_at_millis),
        (Some(first), Some(now))
    );

    // An extension moves it and clears the reminder, which a stale reminder cannot set again.
    assert!(
        records
            .extend("a", now + 50_000, now)
            .await
            .expect("extend")
    );
    let a = get(&records, "a").await;
    assert_eq!(
        (a.expires_at_millis, a.reminded_at_millis),
        (Some(now + 50_000), None)
    );
    assert!(!records.remind("a", first, now).await.expect("remind"));
    assert!(
        records
            .remind("a", now + 50_000, now)
            .await
            .expect("remind")
    );

    // An environment whose configuration no longer expires loses its expiry on its next apply.
    assert!(
        records
            .begin(&record("a", None), None)
            .await
            .expect("begin")
    );
    let a = get(&records, "a").await;
    assert_eq!((a.expires_at_millis, a.reminded_at_millis), (None, None));
    assert!(
        !records
            .extend("a", now + 50_000, now)
            .await
            .expect("extend")
    );
    assert!(
        !records
            .extend("stays", now + 50_000, now)
            .await
            .expect("extend")
    );
    assert!(
        records
            .expiring(i64::MAX)
            .await
            .expect("expiring")
            .is_empty()
    );
}

async fn an_expired_or_departing_environment_is_not_extended(store: Store) {
    let records = records(store).await;
    let now = now_millis();
    assert!(
        records
            .begin(&record("old", Some(now - 1_000)), None)
            .await
            .expect("begin")
    );
    assert!(
        !records
            .extend("old", now + 5_000, now)
            .await
            .expect("extend")
    );
    // An apply after the expiry has passed starts a new lifetime, unannounced so far.
    assert!(
        records
            .remind("old", now - 1_000, now)
            .await
            .expect("remind")
    );
    assert!(
        records
            .begin(&record("old", Some(now + 5_000)), None)
            .await
            .expect("begin")
    );
    let old = get(&records, "old").await;
    assert_eq!(
        (old.expires_at_millis, old.reminded_at_millis),
        (Some(now + 5_000), None)
    );

    // Once a destroy has begun, the reaper's or anybody's, there is nothing left to extend.
    assert!(
        records
            .set_status("old", Status::Destroying, None, None)
            .await
            .expect("status")
    );
    assert!(
        !records
            .extend("old", now + 9_000, now)
            .await
            .expect("extend")
    );
    assert_eq!(
        get(&records, "old").await.expires_at_millis,
        Some(now + 5_000)
    );
}
