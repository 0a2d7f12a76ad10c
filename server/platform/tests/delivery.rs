//! Delivery events and the DORA measures, on SQLite and on PostgreSQL: every bad field named,
//! the same event twice recorded once, events only from the service's team or platform admins,
//! a commit in two deployments counted once, and the measures of a hand-worked history.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
#[path = "support/delivery_bed.rs"]
mod delivery_bed;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::delivery::dora::{Keys, Query, Scope};
use causeway_platform::delivery::{Ingested, events};
use causeway_platform::identity::Role;
use causeway_platform::{Error, Platform, Store};
use delivery_bed::member_of;
use serde_json::{Value, json};

on_both_engines!(
    invalid_events_name_every_field,
    the_same_event_twice_is_one_event,
    only_the_owning_team_posts_events,
    a_commit_in_two_deployments_counts_once,
    the_measures_of_a_hand_worked_history,
    the_organisation_pools_every_component,
    lead_times_do_not_depend_on_the_order_events_arrive,
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
kind: Component
metadata: { name: payments-api }
spec: { type: service, lifecycle: production, owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: ledger }
spec: { type: service, lifecycle: production, owner: team-a }
";

const HOUR: i64 = 3_600_000;

async fn platform(store: Store) -> Platform {
    delivery_bed::platform_with(store, CATALOG).await
}

async fn post(platform: &Platform, body: &Value) -> Result<Ingested, Error> {
    let events = events::parse(body)?;
    platform
        .delivery
        .ingest(&member_of("team-a"), &events, None)
        .await
}

/// A production deployment of payments-api in the plain form.
fn deployment(id: &str, status: &str, finished: &str, commits: Value) -> Value {
    json!({
        "kind": "deployment", "id": id, "service": "payments-api", "environment": "prod",
        "version": id, "status": status, "startedAt": "2026-11-01T00:00:00Z",
        "finishedAt": finished, "commits": commits,
    })
}

fn commit(sha: &str, authored: &str) -> Value {
    json!({ "sha": sha, "authoredAt": authored })
}

fn fields(error: Error) -> Vec<String> {
    match error {
        Error::Rejected(problems) => problems.into_iter().map(|p| p.field).collect(),
        other => panic!("expected every problem, got {other}"),
    }
}

async fn dora(
    platform: &Platform,
    service: Option<&str>,
    team: Option<&str>,
) -> causeway_platform::delivery::dora::Dora {
    platform
        .delivery
        .dora(&Query {
            service: service.map(str::to_owned),
            team: team.map(str::to_owned),
            from: Some("2026-11-30".to_owned()),
            to: Some("2026-12-13".to_owned()),
        })
        .await
        .expect("dora")
}

async fn invalid_events_name_every_field(store: Store) {
    let platform = platform(store).await;
    let refused = post(
        &platform,
        &json!([
            {"kind": "deploy", "id": "x", "service": "payments-api"},
            {"specversion": "1.0", "id": "c-1", "source": "git", "type": "dev.causeway.change.authored",
             "data": {"service": "payments-api", "sha": "not-a-sha", "authoredAt": "2026-12-01"}},
            {"kind": "incident", "id": "i-1", "service": "payments-api", "incident": "INC-1",
             "openedAt": "2026-12-01T10:00:00Z", "severity": 3},
        ]),
    )
    .await
    .expect_err("refused");
    assert_eq!(
        fields(refused),
        [
            "[0].kind",
            "[1].data.sha",
            "[1].data.authoredAt",
            "[2].severity"
        ]
    );

    // A service the catalog does not hold is named too, and nothing is stored.
    let unknown = post(
        &platform,
        &json!([
            deployment("d-1", "succeeded", "2026-12-01T10:00:00Z", json!([])),
            {"kind": "change", "id": "c-1", "service": "billing", "sha": "abcdef1",
             "authoredAt": "2026-12-01T09:00:00Z"},
        ]),
    )
    .await
    .expect_err("unknown service");
    assert_eq!(fields(unknown), ["[1].service"]);
    assert_eq!(
        dora(&platform, Some("payments-api"), None)
            .await
            .summary
            .deployments,
        0
    );
}

async fn the_same_event_twice_is_one_event(store: Store) {
    let platform = platform(store).await;
    let event = deployment(
        "d-1",
        "succeeded",
        "2026-12-01T10:00:00Z",
        json!([commit("aaaaaaa", "2026-12-01T08:00:00Z")]),
    );
    let first = post(&platform, &event).await.expect("first");
    assert_eq!(
        first,
        Ingested {
            accepted: 1,
            duplicates: 0
        }
    );
    let again = post(&platform, &json!([event.clone(), event]))
        .await
        .expect("again");
    assert_eq!(
        again,
        Ingested {
            accepted: 0,
            duplicates: 2
        }
    );
    let summary = dora(&platform, Some("payments-api"), None).await.summary;
    assert_eq!(summary.deployments, 1);
    assert_eq!(summary.lead_time.count, 1);
    assert_eq!(summary.lead_time.median_millis, Some(2 * HOUR));
}

async fn only_the_owning_team_posts_events(store: Store) {
    let platform = platform(store).await;
    let events = events::parse(&deployment(
        "d-1",
        "succeeded",
        "2026-12-01T10:00:00Z",
        json!([]),
    ))
    .expect("parse");
    let refused = platform
        .delivery
        .ingest(&member_of("team-b"), &events, None)
        .await
        .expect_err("another team");
    assert!(
        matches!(refused, Error::Forbidden(ref m) if m.contains("group:default/team-a")),
        "{refused}"
    );
    let mut admin = member_of("admins");
    admin.role = Role::PlatformAdmin;
    platform
        .delivery
        .ingest(&admin, &events, None)
        .await
        .expect("platform admin");
}

async fn a_commit_in_two_deployments_counts_once(store: Store) {
    let platform = platform(store).await;
    // c1 is authored at 08:00 and shipped by d-1 at 10:00; d-2 lists it again at 12:00 with c2
    // (authored 11:00). Lead times: c1 2 h (at d-1, never again at d-2), c2 1 h.
    post(
        &platform,
        &json!([
            deployment(
                "d-2",
                "succeeded",
                "2026-12-01T12:00:00Z",
                json!([
                    commit("c1c1c1c", "2026-12-01T08:00:00Z"),
                    commit("c2c2c2c", "2026-12-01T11:00:00Z")
                ])
            ),
            deployment(
                "d-1",
                "succeeded",
                "2026-12-01T10:00:00Z",
                json!(["c1c1c1c"])
            ),
        ]),
    )
    .await
    .expect("post");
    let lead = dora(&platform, Some("payments-api"), None)
        .await
        .summary
        .lead_time;
    assert_eq!(lead.count, 2);
    // Sorted [1 h, 2 h]: the median is the lower middle (rank ⌈0.5 × 2⌉ = 1), p90 rank 2.
    assert_eq!(lead.median_millis, Some(HOUR));
    assert_eq!(lead.p90_millis, Some(2 * HOUR));
}

/// Ingestion keeps each commit's first successful production deployment as events arrive, so the
/// same history sent in any order, one event per request, gives the same lead times: c9's change
/// names d-9 before d-9 is recorded (shipped 09:00, authored 06:00: 3 h); c1 is listed by d-2
/// (12:00) before d-1 (10:00), which shipped it first (authored 08:00: 2 h); c8's change names d-1
/// after d-1 is recorded (authored 07:00: 3 h). Sorted [2 h, 3 h, 3 h]: median and p90 3 h.
async fn lead_times_do_not_depend_on_the_order_events_arrive(store: Store) {
    let platform = platform(store).await;
    for event in [
        json!({"kind": "change", "id": "push-9", "service": "payments-api", "sha": "c9c9c9c",
               "authoredAt": "2026-12-01T06:00:00Z", "deployment": "d-9"}),
        deployment(
            "d-2",
            "succeeded",
            "2026-12-01T12:00:00Z",
            json!([commit("c1c1c1c", "2026-12-01T08:00:00Z")]),
        ),
        deployment(
            "d-1",
            "succeeded",
            "2026-12-01T10:00:00Z",
            json!(["c1c1c1c"]),
        ),
        deployment("d-9", "succeeded", "2026-12-01T09:00:00Z", json!([])),
        json!({"kind": "change", "id": "push-8", "service": "payments-api", "sha": "c8c8c8c",
               "authoredAt": "2026-12-01T07:00:00Z", "deployment": "d-1"}),
    ] {
        post(&platform, &event).await.expect("post");
    }
    let lead = dora(&platform, Some("payments-api"), None)
        .await
        .summary
        .lead_time;
    assert_eq!(
        (lead.count, lead.median_millis, lead.p90_millis),
        (3, Some(3 * HOUR), Some(3 * HOUR))
    );
}

/// The history worked by hand (all times UTC; the range is 2026-11-30 to 2026-12-13, ISO weeks
/// 49 and 50, two whole weeks):
///
/// | deployment | env     | status      | finished     | commits (authored)                     |
/// |------------|---------|-------------|--------------|----------------------------------------|
/// | s-1        | staging | succeeded   | 11-30 08:00  | a3 (11-30 06:00)                        |
/// | d-1        | prod    | succeeded   | 11-30 11:00  | a1 (11-29 11:00), a2 (11-30 09:00)      |
/// | d-2        | prod    | failed      | 12-01 12:00  | a3                                      |
/// | d-3        | prod    | succeeded   | 12-01 14:00  | a3, a1 (again)                          |
/// | d-4        | prod    | succeeded   | 12-02 16:00  | a4 (12-02 12:00), a7 (12-01 16:00, by a change event) |
/// | d-5        | prod    | rolled_back | 12-08 10:00  | a5 (12-07 10:00)                        |
/// | d-6        | prod    | succeeded   | 12-08 11:00  | a5                                      |
/// | d-7        | prod    | failed      | 12-13 20:00  |                                         |
///
/// Incident INC-1, caused by d-3, opened 12-02 10:00 and resolved 12-02 13:00 (two events).
/// ledger, also team-a's: l-1 prod succeeded 12-09 09:00 with b1 (12-09 08:00).
///
/// payments-api, week 49: deployments d-1..d-4 = 4. Failed: d-2 (status), d-3 (INC-1) = 2, rate
/// 0.5. Lead times: a1 24 h (d-1 only), a2 2 h, a3 32 h (d-3: d-2 failed, s-1 is staging), a4 4 h,
/// a7 24 h; sorted [2, 4, 24, 24, 32]: median rank 3 = 24 h, p90 rank ⌈4.5⌉ = 5 = 32 h.
/// Recoveries: d-2 12-01 12:00 → d-3 14:00 = 2 h (d-3 is rework); d-3 from INC-1's opening
/// 12-02 10:00 → its resolution 13:00 = 3 h, before d-4 finished, so d-4 is not rework; median
/// rank 1 = 2 h. Rework 1 of 4 = 0.25.
///
/// Week 50: deployments d-5..d-7 = 3. Failed d-5 (rolled back), d-7 = 2, rate 2/3. Lead a5
/// 25 h (d-6). Recoveries: d-5 10:00 → d-6 11:00 = 1 h (d-6 rework); d-7 unrecovered. Rework 1/3.
///
/// The range: 7 deployments, 3.5 a week, 4 failed (4/7), rework 2 (2/7); lead [2, 4, 24, 24, 25,
/// 32]: median rank 3 = 24 h, p90 rank ⌈5.4⌉ = 6 = 32 h; recovery [1, 2, 3]: median rank 2 =
/// 2 h, p90 rank ⌈2.7⌉ = 3 = 3 h; 1 unrecovered.
///
/// team-a adds ledger: 8 deployments, 4 a week, 4 failed (0.5), rework 2 (0.25); lead [1, 2, 4,
/// 24, 24, 25, 32]: median rank 4 = 24 h, p90 rank ⌈6.3⌉ = 7 = 32 h.
async fn the_measures_of_a_hand_worked_history(store: Store) {
    let platform = platform(store).await;
    let mut staging = deployment(
        "s-1",
        "succeeded",
        "2026-11-30T08:00:00Z",
        json!([commit("a3a3a3a", "2026-11-30T06:00:00Z")]),
    );
    staging["environment"] = json!("staging");
    post(
        &platform,
        &json!([
            staging,
            deployment("d-1", "succeeded", "2026-11-30T11:00:00Z",
                json!([commit("a1a1a1a", "2026-11-29T11:00:00Z"), commit("a2a2a2a", "2026-11-30T09:00:00Z")])),
            deployment("d-2", "failed", "2026-12-01T12:00:00Z", json!(["a3a3a3a"])),
            deployment("d-3", "succeeded", "2026-12-01T14:00:00Z", json!(["a3a3a3a", "a1a1a1a"])),
            deployment("d-4", "succeeded", "2026-12-02T16:00:00Z",
                json!([commit("a4a4a4a", "2026-12-02T12:00:00Z")])),
            {"specversion": "1.0", "id": "push-7", "source": "gitea", "type": "dev.causeway.change.authored",
             "data": {"service": "payments-api", "sha": "a7a7a7a", "authoredAt": "2026-12-01T16:00:00Z",
                      "deployment": "d-4"}},
            {"specversion": "1.0", "id": "alert-1", "source": "alertmanager",
             "type": "dev.causeway.incident.opened", "time": "2026-12-02T10:00:00Z",
             "data": {"service": "payments-api", "incident": "INC-1", "openedAt": "2026-12-02T10:00:00Z",
                      "severity": "critical", "causedBy": "d-3"}},
            {"specversion": "1.0", "id": "alert-2", "source": "alertmanager",
             "type": "dev.causeway.incident.resolved",
             "data": {"service": "payments-api", "incident": "INC-1", "openedAt": "2026-12-02T10:00:00Z",
                      "resolvedAt": "2026-12-02T13:00:00Z", "severity": "critical"}},
            deployment("d-5", "rolled_back", "2026-12-08T10:00:00Z",
                json!([commit("a5a5a5a", "2026-12-07T10:00:00Z")])),
            {"specversion": "1.0", "id": "d-6", "source": "tekton",
             "type": "dev.cdevents.service.deployed.0.2.0", "time": "2026-12-08T11:00:00Z",
             "data": {"service": "payments-api", "environment": "prod", "version": "1.6.0",
                      "status": "succeeded", "startedAt": "2026-12-08T10:30:00Z", "commits": ["a5a5a5a"]}},
            deployment("d-7", "failed", "2026-12-13T20:00:00Z", json!([])),
            {"kind": "deployment", "id": "l-1", "service": "ledger", "environment": "prod",
             "version": "0.1.0", "status": "succeeded", "startedAt": "2026-12-09T08:30:00Z",
             "finishedAt": "2026-12-09T09:00:00Z", "commits": [commit("b1b1b1b", "2026-12-09T08:00:00Z")]},
        ]),
    )
    .await
    .expect("post");

    let service = dora(&platform, Some("payments-api"), None).await;
    assert_eq!(
        service.scope,
        Scope::Service("component:default/payments-api".to_owned())
    );
    let weeks: Vec<&str> = service.weeks.iter().map(|w| w.week.as_str()).collect();
    assert_eq!(weeks, ["2026-W49", "2026-W50"]);
    check(
        &service.weeks[0].keys,
        Expected {
            deployments: 4,
            per_week: 4.0,
            failed: 2,
            lead: (5, 24, 32),
            recovery: (2, 2, 3),
            unrecovered: 0,
            rework: 1,
        },
    );
    check(
        &service.weeks[1].keys,
        Expected {
            deployments: 3,
            per_week: 3.0,
            failed: 2,
            lead: (1, 25, 25),
            recovery: (1, 1, 1),
            unrecovered: 1,
            rework: 1,
        },
    );
    check(
        &service.summary,
        Expected {
            deployments: 7,
            per_week: 3.5,
            failed: 4,
            lead: (6, 24, 32),
            recovery: (3, 2, 3),
            unrecovered: 1,
            rework: 2,
        },
    );

    let team = dora(&platform, None, Some("team-a")).await;
    assert_eq!(
        team.services,
        ["component:default/ledger", "component:default/payments-api"]
    );
    check(
        &team.summary,
        Expected {
            deployments: 8,
            per_week: 4.0,
            failed: 4,
            lead: (7, 24, 32),
            recovery: (3, 2, 3),
            unrecovered: 1,
            rework: 2,
        },
    );
}

/// Neither service nor team: every component in the catalog, pooled. team-b gets 201 more
/// components, so that the organisation (and team-b) are read through every service's rows rather
/// than a list of names (`dora::SELECTED_SERVICES`), and team-a through its list; both must agree.
///
/// payments-api: p-1 prod succeeded 12-01 10:00 with c1 (authored 08:00, lead 2 h).
/// extra-000 (team-b): x-1 prod failed 12-02 10:00, x-2 prod succeeded 12-02 11:00 with c2
/// (authored 12-02 07:00, lead 4 h); x-1 recovered by x-2 after 1 h, x-2 is rework. A staging
/// deployment of extra-001 counts nowhere.
/// The organisation: 3 deployments, 1 failed, 1 rework; lead [2 h, 4 h]: median 2 h, p90 4 h;
/// recovery [1 h].
async fn the_organisation_pools_every_component(store: Store) {
    let platform = platform(store).await;
    let extra: String = (0..201)
        .map(|i| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: extra-{i:03} }}\n\
                 spec: {{ type: service, lifecycle: production, owner: team-b }}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    platform
        .catalog
        .ingest(
            "extra",
            yaml::parse("extra", &extra).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
    post(
        &platform,
        &json!([deployment(
            "p-1",
            "succeeded",
            "2026-12-01T10:00:00Z",
            json!([commit("c1c1c1c", "2026-12-01T08:00:00Z")])
        )]),
    )
    .await
    .expect("post");
    let extra_deployment =
        |id: &str, env: &str, service: &str, status: &str, finished: &str, commits: Value| {
            json!({
                "kind": "deployment", "id": id, "service": service, "environment": env,
                "version": id, "status": status, "startedAt": "2026-12-02T00:00:00Z",
                "finishedAt": finished, "commits": commits,
            })
        };
    let events = events::parse(&json!([
        extra_deployment(
            "x-1",
            "prod",
            "extra-000",
            "failed",
            "2026-12-02T10:00:00Z",
            json!([])
        ),
        extra_deployment(
            "x-2",
            "prod",
            "extra-000",
            "succeeded",
            "2026-12-02T11:00:00Z",
            json!([commit("c2c2c2c", "2026-12-02T07:00:00Z")])
        ),
        extra_deployment(
            "y-1",
            "staging",
            "extra-001",
            "succeeded",
            "2026-12-02T11:00:00Z",
            json!([commit("c3c3c3c", "2026-12-02T07:00:00Z")])
        ),
    ]))
    .expect("events");
    platform
        .delivery
        .ingest(&member_of("team-b"), &events, None)
        .await
        .expect("post as team-b");

    let organisation = dora(&platform, None, None).await;
    assert_eq!(organisation.scope, Scope::Organisation);
    assert_eq!(organisation.services.len(), 203);
    assert!(
        organisation
            .services
            .contains(&"component:default/ledger".to_owned())
    );
    let keys = &organisation.summary;
    assert_eq!(
        (
            keys.deployments,
            keys.failed_deployments,
            keys.rework_deployments
        ),
        (3, 1, 1)
    );
    assert_eq!(
        (
            keys.lead_time.count,
            keys.lead_time.median_millis,
            keys.lead_time.p90_millis
        ),
        (2, Some(2 * HOUR), Some(4 * HOUR))
    );
    assert_eq!(
        (keys.recovery_time.count, keys.recovery_time.median_millis),
        (1, Some(HOUR))
    );
    let team_a = dora(&platform, None, Some("team-a")).await.summary;
    let team_b = dora(&platform, None, Some("team-b")).await.summary;
    assert_eq!((team_a.deployments, team_b.deployments), (1, 2));
    assert_eq!(
        team_a.lead_time.count + team_b.lead_time.count,
        keys.lead_time.count
    );
    assert_eq!(team_b.recovery_time, keys.recovery_time);
}

struct Expected {
    deployments: usize,
    per_week: f64,
    failed: usize,
    /// (count, median hours, p90 hours)
    lead: (usize, i64, i64),
    recovery: (usize, i64, i64),
    unrecovered: usize,
    rework: usize,
}

#[allow(clippy::cast_precision_loss)]
fn check(keys: &Keys, expected: Expected) {
    assert_eq!(keys.deployments, expected.deployments, "deployments");
    assert!(
        (keys.deployments_per_week - expected.per_week).abs() < 1e-9,
        "per week {}",
        keys.deployments_per_week
    );
    assert_eq!(keys.failed_deployments, expected.failed, "failed");
    let rate = |n: usize| n as f64 / expected.deployments as f64;
    assert!((keys.change_fail_rate.expect("rate") - rate(expected.failed)).abs() < 1e-9);
    assert_eq!(
        (
            keys.lead_time.count,
            keys.lead_time.median_millis,
            keys.lead_time.p90_millis
        ),
        (
            expected.lead.0,
            Some(expected.lead.1 * HOUR),
            Some(expected.lead.2 * HOUR)
        ),
        "lead time"
    );
    assert_eq!(
        (
            keys.recovery_time.count,
            keys.recovery_time.median_millis,
            keys.recovery_time.p90_millis
        ),
        (
            expected.recovery.0,
            Some(expected.recovery.1 * HOUR),
            Some(expected.recovery.2 * HOUR)
        ),
        "recovery time"
    );
    assert_eq!(keys.unrecovered, expected.unrecovered, "unrecovered");
    assert_eq!(keys.rework_deployments, expected.rework, "rework");
    assert!((keys.rework_rate.expect("rework rate") - rate(expected.rework)).abs() < 1e-9);
}
