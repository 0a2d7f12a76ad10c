//! What the delivery adapters record, on SQLite and on PostgreSQL: the PipelineRun a deployment
//! names is stored with it; Alertmanager's burn-rate alerts are attributed through the
//! environment record of their namespace and anything else is skipped; a push is a change of
//! every component built from the repository.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
#[path = "support/delivery_bed.rs"]
mod delivery_bed;

use causeway_platform::delivery::adapters::Received;
use causeway_platform::delivery::adapters::push::Forge;
use causeway_platform::delivery::events;
use causeway_platform::identity::Principal;
use causeway_platform::provision::records::{Record, Records, Status};
use causeway_platform::{Platform, Store};
use delivery_bed::member_of;
use serde_json::json;
use sqlx::{AnyPool, Row};

/// Declares each test `name(platform, database)` once per engine; `database` is a second pool on
/// the same database, to read what was stored where no read model shows it yet.
macro_rules! with_database {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::run(crate::engines::sqlite_url(), super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::run(crate::engines::postgres_url().await, super::$name).await;
            }
        }
    )*};
}

with_database!(
    a_deployment_keeps_its_pipeline_run,
    alerts_are_attributed_through_their_namespace,
);
on_both_engines!(a_push_is_a_change_of_every_component_of_the_repository);

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: payments-api }
spec: { type: service, lifecycle: production, owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations:
    backstage.io/managed-by-origin-location: git:https://git.example.org/team-a/money.git#main:ledger/catalog-info.yaml
spec: { type: service, lifecycle: production, owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger-worker
  annotations:
    backstage.io/source-location: url:https://git.example.org/team-a/money/tree/main/worker/
spec: { type: service, lifecycle: production, owner: team-a }
";

async fn run<F, Fut>(url: String, test: F)
where
    F: FnOnce(Platform, AnyPool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = Store::open(&url).await.expect("open the store");
    sqlx::any::install_default_drivers();
    let database = AnyPool::connect(&url.replace("sqlite://", "sqlite:"))
        .await
        .expect("a second pool");
    test(platform(store).await, database).await;
}

async fn platform(store: Store) -> Platform {
    delivery_bed::platform_with(store, CATALOG).await
}

async fn a_deployment_keeps_its_pipeline_run(platform: Platform, database: AnyPool) {
    let deployment = |id: &str, run: Option<&str>| {
        let mut event = json!({
            "kind": "deployment", "id": id, "service": "payments-api", "environment": "prod",
            "version": "1.0.0", "status": "succeeded", "startedAt": "2026-12-01T10:00:00Z",
            "finishedAt": "2026-12-01T10:05:00Z",
        });
        if let Some(run) = run {
            event["pipelineRun"] = json!(run);
        }
        event
    };
    let batch = json!([
        deployment("with-run", Some("payments-api-prod/delivery-x7k2p")),
        deployment("without-run", None),
        // The CloudEvents form carries it in `data`, as every other field.
        {"specversion": "1.0", "id": "cloud-run", "source": "ci",
         "type": "dev.causeway.deployment.finished", "time": "2026-12-01T10:05:00Z",
         "data": {"service": "payments-api", "environment": "prod", "version": "1.0.1",
                  "status": "succeeded", "startedAt": "2026-12-01T10:00:00Z",
                  "pipelineRun": "payments-api-prod/delivery-abcde"}},
    ]);
    let parsed = events::parse(&batch).expect("valid events");
    platform
        .delivery
        .ingest(&member_of("team-a"), &parsed, None)
        .await
        .expect("recorded");
    let rows = sqlx::query("SELECT id, pipeline_run FROM delivery_deployments ORDER BY id")
        .fetch_all(&database)
        .await
        .expect("read deployments");
    let stored: Vec<(String, Option<String>)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(
        stored,
        [
            (
                "cloud-run".to_owned(),
                Some("payments-api-prod/delivery-abcde".to_owned())
            ),
            (
                "with-run".to_owned(),
                Some("payments-api-prod/delivery-x7k2p".to_owned())
            ),
            ("without-run".to_owned(), None),
        ]
    );

    // A run that is not namespace/name is named in the error.
    let bad = json!([
        deployment("bad", Some("delivery-x7k2p")),
        deployment("bad2", Some("Ns/Run"))
    ]);
    match events::parse(&bad) {
        Err(causeway_platform::Error::Rejected(problems)) => {
            let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(fields, ["[0].pipelineRun", "[1].pipelineRun"]);
        }
        other => panic!("expected the pipelineRun refused, got {other:?}"),
    }
}

/// A notification with one alert of each kind Causeway must tell apart.
async fn alerts_are_attributed_through_their_namespace(platform: Platform, database: AnyPool) {
    let records = Records::new(platform.store.clone());
    let record = Record {
        namespace: "payments-api-prod".to_owned(),
        service: "component:default/payments-api".to_owned(),
        environment: "prod".to_owned(),
        target: "local".to_owned(),
        parameters: Default::default(),
        request_id: "r".to_owned(),
        requested_by: "user:default/ada".to_owned(),
        status: Status::Ready,
        message: None,
        task_id: None,
        created_at_millis: 0,
        updated_at_millis: 0,
        expires_at_millis: None,
        reminded_at_millis: None,
    };
    assert!(records.begin(&record, None).await.expect("record"));
    let alert = |name: &str, service: &str, namespace: &str, fingerprint: &str| {
        json!({
            "status": "firing", "fingerprint": fingerprint,
            "labels": { "alertname": name, "service": service, "severity": "ticket",
                        "namespace": namespace, "prometheus": "monitoring/k8s" },
            "annotations": {}, "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        })
    };
    let notification = json!({
        "version": "4", "status": "firing", "receiver": "causeway",
        "alerts": [
            alert("ErrorBudgetBurn1D2H", "payments-api", "payments-api-prod", "f1"),
            // Not Causeway's: another alert, a namespace Causeway has no record of, a namespace
            // recorded for another service than the label says.
            alert("KubePodCrashLooping", "payments-api", "payments-api-prod", "f2"),
            alert("ErrorBudgetBurn1D2H", "payments-api", "somebody-elses", "f3"),
            alert("ErrorBudgetBurn1D2H", "ledger", "payments-api-prod", "f4"),
        ],
    });
    let received = platform
        .delivery
        .alertmanager(&member_of("team-a"), &notification, None)
        .await
        .expect("recorded");
    assert_eq!(
        received,
        Received {
            accepted: 1,
            duplicates: 0,
            skipped: 3
        }
    );
    let rows = sqlx::query("SELECT service, id, severity FROM delivery_incidents")
        .fetch_all(&database)
        .await
        .expect("incidents");
    let incidents: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        incidents,
        [(
            "component:default/payments-api".to_owned(),
            "f1@2026-12-01T10:00:00Z".to_owned(),
            "ticket".to_owned()
        )]
    );
    // Only team-a's members (and platform admins) post for payments-api.
    let outsider = Principal {
        teams: Vec::new(),
        ..member_of("team-b")
    };
    assert!(matches!(
        platform
            .delivery
            .alertmanager(&outsider, &notification, None)
            .await,
        Err(causeway_platform::Error::Forbidden(_))
    ));
}

/// One push to a repository two components are built from (one registered from it, one naming
/// it as its source location).
async fn a_push_is_a_change_of_every_component_of_the_repository(store: Store) {
    let platform = platform(store).await;
    let push = json!({
        "ref": "refs/heads/main",
        "commits": [{ "id": "ABCDEF0123456789", "timestamp": "2026-12-01T10:00:00+02:00" }],
        "repository": { "full_name": "team-a/money", "html_url": "https://git.example.org/team-a/money",
                        "clone_url": "https://git.example.org/team-a/money.git" },
    });
    let received = platform
        .delivery
        .push(&member_of("team-a"), Forge::Gitea, &push, None)
        .await
        .expect("recorded");
    assert_eq!(received.accepted, 2, "{received:?}");
    let again = platform
        .delivery
        .push(&member_of("team-a"), Forge::Gitea, &push, None)
        .await
        .expect("recorded again");
    assert_eq!((again.accepted, again.duplicates), (0, 2));
    // The repository of no component: skipped.
    let mut elsewhere = push.clone();
    elsewhere["repository"]["html_url"] = json!("https://git.example.org/team-b/other");
    elsewhere["repository"]["clone_url"] = json!("https://git.example.org/team-b/other.git");
    elsewhere["repository"]["full_name"] = json!("team-b/other");
    let skipped = platform
        .delivery
        .push(&member_of("team-a"), Forge::Gitea, &elsewhere, None)
        .await
        .expect("skipped");
    assert_eq!(
        skipped,
        Received {
            accepted: 0,
            duplicates: 0,
            skipped: 1
        }
    );
}
