//! What the delivery adapters record, on SQLite and on PostgreSQL: the PipelineRun a deployment
//! names is stored with it.

#[path = "support/engines.rs"]
#[macro_use]
#[allow(unused_macros)]
mod engines;

use std::time::Duration;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::delivery::events;
use causeway_platform::identity::{Principal, Role, Team};
use causeway_platform::{Platform, Store};
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

with_database!(a_deployment_keeps_its_pipeline_run);

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: payments-api }
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
    let platform = Platform::new(
        store,
        &causeway_platform::Settings {
            admin_teams: vec!["group:default/admins".to_owned()],
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
    platform
}

fn member_of(team: &str) -> Principal {
    Principal {
        entity_ref: "user:default/ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: None,
        teams: vec![Team {
            entity_ref: format!("group:default/{team}"),
            display_name: team.to_owned(),
        }],
        role: Role::Developer,
    }
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
