//! The reaper against the real control plane: an ephemeral environment with a short time to live
//! is announced once to a webhook (a real HTTP listener in the test), then destroyed by a task
//! submitted as `system:reaper`, everything audited; an environment that has been made protected
//! since it was applied as an ephemeral one is never reaped, however long ago it expired; two
//! replicas' reapers act as one.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;
#[path = "support/webhook.rs"]
mod webhook;

use std::time::Duration;

use causeway_platform::notify::Notifier;
use causeway_platform::provision::config::Expiry;
use causeway_platform::provision::expiry::{EXPIRING, REAPER};
use causeway_platform::provision::records::Status;
use causeway_platform::provision::{Provisioner, Request};
use causeway_platform::tasks::Filter;
use causeway_platform::tasks::runner::{Runner, Settings};
use causeway_platform::time::now_millis;
use cluster::{Identity, client, eventually, unique_name};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use testbed::{engine_and_platform, team_a_service};

fn request(service: &str, environment: &str) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        request_id: format!("req-{environment}"),
        ..Request::default()
    }
}

async fn namespace_exists(namespace: &str) -> bool {
    Api::<Namespace>::all(client(Identity::Admin).await)
        .get_opt(namespace)
        .await
        .expect("read the namespace")
        .is_some()
}

#[tokio::test]
async fn an_expired_preview_is_reaped_after_one_reminder_and_a_protected_one_never() {
    let service = unique_name("reap");
    let mut receiver = webhook::Receiver::start().await;
    let url = receiver.url.clone();
    let (engine, platform) = engine_and_platform(&team_a_service(&service), |config| {
        config.notifications.webhooks = vec![url];
        config.notifications.remind_before_seconds = 3;
        for environment in &mut config.environments {
            match environment.name.as_str() {
                "preview" => {
                    environment.expiry = Some(Expiry {
                        ttl_seconds: 5,
                        max_seconds: 60,
                    });
                }
                // Expired almost at once; protected below, before any reaper runs.
                "dev" => {
                    environment.expiry = Some(Expiry {
                        ttl_seconds: 1,
                        max_seconds: 60,
                    });
                }
                _ => {}
            }
        }
    })
    .await;
    let applied_at = now_millis();
    let preview = engine
        .apply(&request(&service, "preview"))
        .await
        .expect("preview");
    let dev = engine.apply(&request(&service, "dev")).await.expect("dev");
    assert!(preview.failed.is_empty() && dev.failed.is_empty());
    let record = engine
        .records()
        .get(&preview.namespace)
        .await
        .expect("read")
        .expect("recorded");
    let expires_at = record.expires_at_millis.expect("an expiry");
    assert!(
        (expires_at - (applied_at + 5_000)).abs() < 5_000,
        "{record:?}"
    );

    // The platform team then protects dev, which may no longer expire (the configuration refuses
    // both at once), while its record still holds the expiry it was applied with. The replicas
    // that reap run with that configuration.
    let mut protected = engine.config().as_ref().clone();
    for environment in &mut protected.environments {
        if environment.name == "dev" {
            environment.protected = true;
            environment.expiry = None;
        }
    }
    let engine = Provisioner::new(protected.clone(), &platform);

    // A worker, and the reapers of two replicas (engines of their own) over one database.
    let _worker = Runner::new(
        platform.tasks.clone(),
        engine.task_handlers(),
        "reaper-test".to_owned(),
        Settings::default(),
    )
    .spawn();
    let every = Duration::from_millis(200);
    let _first = engine
        .reaper(platform.tasks.clone(), Notifier::new())
        .spawn(every);
    let other = Provisioner::new(protected, &platform);
    let _second = other
        .reaper(platform.tasks.clone(), Notifier::new())
        .spawn(every);

    // The reminder, before the expiry.
    let reminder = receiver.next().await;
    let received_at = now_millis();
    assert!(received_at < expires_at, "reminded after the expiry");
    assert_eq!(reminder["type"], EXPIRING);
    assert_eq!(reminder["subject"], preview.namespace.as_str());
    assert_eq!(reminder["data"]["environment"], "preview");
    assert_eq!(
        reminder["data"]["service"],
        format!("component:default/{service}")
    );
    assert_eq!(reminder["data"]["owner"], "group:default/team-a");
    assert!(reminder["data"]["expires_at"].is_string(), "{reminder}");
    let reminded = engine
        .records()
        .get(&preview.namespace)
        .await
        .expect("read")
        .expect("recorded");
    assert!(reminded.reminded_at_millis.is_some(), "{reminded:?}");

    // Then the destroy: the namespace and the record are gone.
    eventually(
        "the expired preview to be destroyed",
        Duration::from_secs(60),
        || async {
            let gone = !namespace_exists(&preview.namespace).await
                && engine
                    .records()
                    .get(&preview.namespace)
                    .await
                    .expect("read")
                    .is_none();
            gone.then_some(())
        },
    )
    .await;
    assert!(now_millis() >= expires_at, "destroyed before it expired");
    assert!(receiver.quiet().await, "a second reminder was sent");

    // As the reaper, by one task, audited.
    let tasks = platform
        .tasks
        .list(&Filter {
            limit: 100,
            ..Filter::default()
        })
        .await
        .expect("tasks");
    let destroys: Vec<_> = tasks
        .iter()
        .filter(|t| t.kind == "provision.destroy" && t.title.contains(&preview.namespace))
        .collect();
    assert_eq!(destroys.len(), 1, "{destroys:?}");
    assert_eq!(destroys[0].requester, REAPER);
    assert_eq!(destroys[0].owner.as_deref(), Some("group:default/team-a"));
    let audit = platform.audit.recent(200).await.expect("audit");
    let about = |namespace: &str, action: &str| {
        audit
            .iter()
            .filter(|r| r.target == namespace && r.action == action)
            .collect::<Vec<_>>()
    };
    let reminders = about(&preview.namespace, "provision.remind");
    assert_eq!(reminders.len(), 1, "{audit:?}");
    assert_eq!(reminders[0].actor, REAPER);
    assert_eq!(reminders[0].detail["delivered"], 1);
    let reaps = about(&preview.namespace, "provision.reap");
    assert_eq!(reaps.len(), 1, "{audit:?}");
    assert_eq!(
        (reaps[0].actor.as_str(), reaps[0].outcome.as_str()),
        (REAPER, "success")
    );
    assert_eq!(reaps[0].detail["task"], destroys[0].id.as_str());
    let destroyed = about(&preview.namespace, "provision.destroy");
    assert_eq!(destroyed.len(), 1, "{audit:?}");
    assert_eq!(
        (destroyed[0].actor.as_str(), destroyed[0].outcome.as_str()),
        (REAPER, "success")
    );

    // The environment protected since expired seconds ago and is still there, unannounced.
    let kept = engine
        .records()
        .get(&dev.namespace)
        .await
        .expect("read")
        .expect("still recorded");
    assert!(kept.expires_at_millis.is_some_and(|at| at < now_millis()));
    assert_eq!(kept.status, Status::Ready);
    assert_eq!(kept.reminded_at_millis, None);
    assert!(namespace_exists(&dev.namespace).await);
    assert!(about(&dev.namespace, "provision.reap").is_empty());
    assert!(about(&dev.namespace, "provision.remind").is_empty());
}
