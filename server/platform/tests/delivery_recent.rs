//! The recent deployments and open incidents the portal lists, on SQLite and on PostgreSQL: a
//! service's, a team's and the organisation's deployments newest first, each with its commits
//! and PipelineRun, bounded; the incidents still open with the deployment that caused them.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
#[path = "support/delivery_bed.rs"]
mod delivery_bed;

use causeway_platform::delivery::events::{self, Status};
use causeway_platform::delivery::recent::{Recent, RecentQuery};
use causeway_platform::{Error, Platform, Store};
use delivery_bed::admin;
use serde_json::{Value, json};

on_both_engines!(
    a_services_deployments_newest_first_with_commits_and_runs,
    a_team_and_the_organisation_pool_their_services,
    open_incidents_name_their_cause,
    the_scope_and_limit_are_checked,
);

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-b }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-c }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: payments-api }
spec: { type: service, lifecycle: production, owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: ledger }
spec: { type: service, lifecycle: production, owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: checkout }
spec: { type: service, lifecycle: production, owner: team-b }
";

async fn platform(store: Store) -> Platform {
    delivery_bed::platform_with(store, CATALOG).await
}

async fn post(platform: &Platform, body: Value) {
    let events = events::parse(&body).expect("events");
    platform
        .delivery
        .ingest(&admin(), &events, None)
        .await
        .expect("ingest");
}

/// A deployment finished on 2026-12-`day` at noon.
fn deployment(service: &str, id: &str, environment: &str, status: &str, day: u32) -> Value {
    json!({
        "kind": "deployment", "id": id, "service": service, "environment": environment,
        "version": format!("v-{id}"), "status": status,
        "startedAt": format!("2026-12-{day:02}T11:50:00Z"),
        "finishedAt": format!("2026-12-{day:02}T12:00:00Z"),
    })
}

async fn recent(platform: &Platform, service: Option<&str>, team: Option<&str>) -> Recent {
    platform
        .delivery
        .recent(&RecentQuery {
            service: service.map(str::to_owned),
            team: team.map(str::to_owned),
            limit: None,
        })
        .await
        .expect("recent")
}

const MILLIS_2026_12_01: i64 = 1_796_083_200_000;
const DAY: i64 = 86_400_000;

async fn a_services_deployments_newest_first_with_commits_and_runs(store: Store) {
    let platform = platform(store).await;
    let mut first = deployment("payments-api", "d1", "staging", "succeeded", 1);
    first["commits"] = json!([
        {"sha": "aaaaaaa", "authoredAt": "2026-11-30T09:00:00Z"},
        {"sha": "bbbbbbb", "authoredAt": "2026-11-30T10:00:00Z"},
        {"sha": "ccccccc"},
    ]);
    first["pipelineRun"] = json!("payments-api-staging/delivery-x7k2p");
    let mut second = deployment("payments-api", "d2", "prod", "failed", 3);
    second["commits"] = json!([{"sha": "aaaaaaa"}]);
    post(
        &platform,
        json!([
            first,
            second,
            deployment("ledger", "d9", "prod", "succeeded", 5)
        ]),
    )
    .await;

    let answer = recent(&platform, Some("payments-api"), None).await;
    let ids: Vec<_> = answer.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["d2", "d1"], "newest first, this service's only");
    let newest = &answer.deployments[0];
    assert_eq!(newest.environment, "prod");
    assert_eq!(newest.status, Status::Failed);
    assert_eq!(
        newest.finished_at,
        MILLIS_2026_12_01 + 2 * DAY + 12 * 3_600_000
    );
    assert_eq!(newest.pipeline_run, None);
    // The commit's authored time was reported with the earlier deployment; it is the commit's.
    assert_eq!(newest.commits.len(), 1);
    assert_eq!(
        newest.commits[0].authored_at,
        Some(MILLIS_2026_12_01 - DAY + 9 * 3_600_000)
    );
    let older = &answer.deployments[1];
    assert_eq!(older.version, "v-d1");
    assert_eq!(
        older.pipeline_run.as_deref(),
        Some("payments-api-staging/delivery-x7k2p")
    );
    assert_eq!(older.started_at, older.finished_at - 600_000);
    let shas: Vec<_> = older.commits.iter().map(|c| c.sha.as_str()).collect();
    assert_eq!(
        shas,
        ["bbbbbbb", "aaaaaaa", "ccccccc"],
        "newest authored first, undated last"
    );
    assert_eq!(older.commit_count, 3);
    assert!(answer.incidents.is_empty());

    // Bounded: the newest `limit` only.
    let many: Vec<Value> = (1..=25)
        .map(|n| deployment("ledger", &format!("m{n:02}"), "dev", "succeeded", n))
        .collect();
    post(&platform, Value::Array(many)).await;
    let ledger = recent(&platform, Some("component:default/ledger"), None).await;
    assert_eq!(ledger.deployments.len(), 20);
    assert_eq!(ledger.deployments[0].id, "m25");
    assert_eq!(ledger.deployments[19].id, "m06");
    let three = platform
        .delivery
        .recent(&RecentQuery {
            service: Some("ledger".to_owned()),
            team: None,
            limit: Some(3),
        })
        .await
        .expect("recent");
    let ids: Vec<_> = three.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["m25", "m24", "m23"]);
}

async fn a_team_and_the_organisation_pool_their_services(store: Store) {
    let platform = platform(store).await;
    post(
        &platform,
        json!([
            deployment("payments-api", "p1", "prod", "succeeded", 2),
            deployment("ledger", "l1", "prod", "rolled_back", 4),
            deployment("checkout", "c1", "prod", "succeeded", 3),
        ]),
    )
    .await;
    let team = recent(&platform, None, Some("team-a")).await;
    let seen: Vec<_> = team
        .deployments
        .iter()
        .map(|d| (d.service.as_str(), d.id.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("component:default/ledger", "l1"),
            ("component:default/payments-api", "p1")
        ]
    );
    let organisation = recent(&platform, None, None).await;
    let ids: Vec<_> = organisation
        .deployments
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids, ["l1", "c1", "p1"]);

    // A component removed from the catalog leaves the organisation's view.
    // Newer deployments of ledger than any other, so that the organisation's newest pages are
    // all of a component about to leave the catalog.
    let newer: Vec<Value> = (1..=9)
        .map(|n| deployment("ledger", &format!("l-new-{n}"), "dev", "succeeded", 10 + n))
        .collect();
    post(&platform, Value::Array(newer)).await;
    let uid = platform
        .catalog
        .index()
        .by_ref("component:default/ledger")
        .expect("ledger")
        .uid
        .to_string();
    platform.catalog.delete_by_uid(&uid).await.expect("delete");
    let organisation = recent(&platform, None, None).await;
    let ids: Vec<_> = organisation
        .deployments
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids, ["c1", "p1"]);
    // Read a page of four at a time, the skipped component's ten take three pages.
    let two = platform
        .delivery
        .recent(&RecentQuery {
            limit: Some(2),
            ..RecentQuery::default()
        })
        .await
        .expect("recent");
    let ids: Vec<_> = two.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["c1", "p1"]);

    // Another team lists its own services; a team that owns no components, nothing.
    let other = recent(&platform, None, Some("group:default/team-b")).await;
    let ids: Vec<_> = other.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["c1"]);
    assert_eq!(
        recent(&platform, None, Some("team-c")).await,
        Recent::default()
    );
}

async fn open_incidents_name_their_cause(store: Store) {
    let platform = platform(store).await;
    post(
        &platform,
        json!([
            deployment("payments-api", "p1", "prod", "succeeded", 2),
            {"kind": "incident", "id": "i-1", "service": "payments-api", "incident": "INC-1",
             "openedAt": "2026-12-02T13:00:00Z", "severity": "critical", "causedBy": "p1"},
            {"kind": "incident", "id": "i-2", "service": "payments-api", "incident": "INC-2",
             "openedAt": "2026-12-03T13:00:00Z", "severity": "warning"},
            {"kind": "incident", "id": "i-3", "service": "payments-api", "incident": "INC-3",
             "openedAt": "2026-12-01T13:00:00Z", "resolvedAt": "2026-12-01T14:00:00Z",
             "severity": "critical"},
            {"kind": "incident", "id": "i-4", "service": "checkout", "incident": "INC-4",
             "openedAt": "2026-12-04T13:00:00Z", "severity": "page"},
        ]),
    )
    .await;
    let answer = recent(&platform, Some("payments-api"), None).await;
    let ids: Vec<_> = answer.incidents.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["INC-2", "INC-1"], "open ones only, newest first");
    assert_eq!(answer.open_incidents, 2);
    let cause = answer.incidents[1].caused_by.as_ref().expect("cause");
    assert_eq!(cause.deployment, "p1");
    assert_eq!(cause.version.as_deref(), Some("v-p1"));
    assert_eq!(cause.environment.as_deref(), Some("prod"));
    assert_eq!(answer.incidents[1].severity, "critical");
    assert_eq!(answer.incidents[0].caused_by, None);

    // Resolving one takes it off the list.
    post(
        &platform,
        json!({"kind": "incident", "id": "i-2-resolved", "service": "payments-api",
               "incident": "INC-2", "openedAt": "2026-12-03T13:00:00Z",
               "resolvedAt": "2026-12-03T15:00:00Z", "severity": "warning"}),
    )
    .await;
    let answer = recent(&platform, Some("payments-api"), None).await;
    assert_eq!(answer.open_incidents, 1);
    let organisation = recent(&platform, None, None).await;
    let ids: Vec<_> = organisation
        .incidents
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(ids, ["INC-4", "INC-1"]);
}

async fn the_scope_and_limit_are_checked(store: Store) {
    let platform = platform(store).await;
    let ask = |service: Option<&str>, team: Option<&str>, limit: Option<usize>| RecentQuery {
        service: service.map(str::to_owned),
        team: team.map(str::to_owned),
        limit,
    };
    for (query, field) in [
        (ask(Some("payments-api"), Some("team-a"), None), "team"),
        (ask(Some("nowhere"), None, None), "service"),
        (ask(None, Some("no-team"), None), "team"),
        (ask(Some("payments-api"), None, Some(0)), "limit"),
        (ask(None, None, Some(101)), "limit"),
    ] {
        match platform.delivery.recent(&query).await {
            Err(Error::InvalidInput { field: got, .. }) => assert_eq!(got, field, "{query:?}"),
            other => panic!("{query:?} was not refused: {other:?}"),
        }
    }
    // A service with no events has nothing to list, which is not an error.
    let answer = recent(&platform, Some("checkout"), None).await;
    assert_eq!(answer, Recent::default());
}
