//! The Delivery view built from the domain's answers: the range and its presets, the summary's
//! words, the charts' values and tables, the recent rows, and when the view is empty.

use causeway_platform::delivery::dora::{Dora, Durations, Keys, Scope, Week};
use causeway_platform::delivery::events::Status;
use causeway_platform::delivery::recent::{
    Cause, OpenIncident, Recent, RecentCommit, RecentDeployment,
};

use super::*;
use crate::server::delivery_charts::{duration_text, percent};

const HOUR: i64 = 3_600_000;
/// 2026-11-30, a Monday.
const START: i64 = 1_795_996_800_000;

fn keys(deployments: usize, failed: usize, lead_median: Option<i64>) -> Keys {
    #[allow(clippy::cast_precision_loss)]
    Keys {
        deployments,
        deployments_per_week: deployments as f64,
        failed_deployments: failed,
        change_fail_rate: (deployments > 0).then(|| failed as f64 / deployments as f64),
        lead_time: Durations {
            count: usize::from(lead_median.is_some()) * 2,
            median_millis: lead_median,
            p90_millis: lead_median.map(|m| m * 2),
        },
        recovery_time: Durations::default(),
        unrecovered: 0,
        rework_deployments: 0,
        rework_rate: (deployments > 0).then_some(0.0),
    }
}

fn dora() -> Dora {
    Dora {
        scope: Scope::Service("component:default/payments-api".to_owned()),
        services: vec!["component:default/payments-api".to_owned()],
        start: START,
        end: START + 14 * DAY,
        production: "prod",
        summary: keys(4, 1, Some(5 * HOUR)),
        weeks: vec![
            Week {
                week: "2026-W49".to_owned(),
                start: START,
                end: START + 7 * DAY,
                keys: keys(3, 1, Some(5 * HOUR)),
            },
            Week {
                week: "2026-W50".to_owned(),
                start: START + 7 * DAY,
                end: START + 14 * DAY,
                keys: keys(1, 0, None),
            },
        ],
    }
}

fn recent() -> Recent {
    Recent {
        deployments: vec![RecentDeployment {
            service: "component:default/payments-api".to_owned(),
            id: "run-42".to_owned(),
            environment: "prod".to_owned(),
            version: "1.4.0".to_owned(),
            status: Status::RolledBack,
            started_at: START + DAY,
            finished_at: START + DAY + 90_000,
            pipeline_run: Some("payments-api-prod/delivery-abc12".to_owned()),
            commits: vec![RecentCommit {
                sha: "0123456789abcdef".to_owned(),
                authored_at: None,
            }],
            commit_count: 3,
        }],
        incidents: vec![OpenIncident {
            service: "component:default/payments-api".to_owned(),
            id: "INC-9".to_owned(),
            severity: "critical".to_owned(),
            opened_at: START + 2 * DAY,
            caused_by: Some(Cause {
                deployment: "run-42".to_owned(),
                version: Some("1.4.0".to_owned()),
                environment: Some("prod".to_owned()),
            }),
        }],
        open_incidents: 1,
    }
}

fn subject() -> Subject {
    Subject::Service {
        entity_ref: "component:default/payments-api".to_owned(),
        name: "payments-api".to_owned(),
    }
}

#[test]
fn the_range_and_its_presets() {
    let view = build(
        subject(),
        "/c/delivery".to_owned(),
        "",
        &dora(),
        &recent(),
        None,
    );
    assert_eq!(view.range.from, "2026-11-30");
    assert_eq!(view.range.to, "2026-12-13");
    assert_eq!(view.range.days, 14);
    let presets: Vec<_> = view
        .range
        .presets
        .iter()
        .map(|p| (p.0, p.1.as_str(), p.2))
        .collect();
    assert_eq!(
        presets,
        [
            (30, "/c/delivery?days=30", false),
            (90, "/c/delivery?days=90", false),
            (180, "/c/delivery?days=180", false),
            (365, "/c/delivery?days=365", false),
        ]
    );
    let view = build(
        Subject::Organisation,
        "/platform".to_owned(),
        "#delivery",
        &dora(),
        &recent(),
        None,
    );
    assert_eq!(view.range.presets[0].1, "/platform?days=30#delivery");
}

#[test]
fn bad_ranges_are_named() {
    let mut params = BTreeMap::new();
    params.insert("days".to_owned(), "many".to_owned());
    let problem = asked(&params).expect_err("refused");
    assert!(problem.starts_with("days: \"many\""), "{problem}");
    params.insert("days".to_owned(), "7".to_owned());
    let (from, to) = asked(&params).expect("days");
    assert_eq!(from.map(|f| f.len()), Some(10));
    assert_eq!(to.map(|t| t.len()), Some(10));
    let params: BTreeMap<String, String> = [("from", "2026-01-01"), ("to", "")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        asked(&params).expect("range"),
        (Some("2026-01-01".to_owned()), None)
    );
}

#[test]
fn the_summary_says_what_each_key_counted() {
    let view = build(subject(), String::new(), "", &dora(), &recent(), None);
    let text: Vec<_> = view
        .summary
        .iter()
        .map(|s| format!("{}: {} ({})", s.name, s.value, s.detail))
        .collect();
    assert_eq!(
        text,
        [
            "Deployment frequency: 4 per week (4 production deployments in 14 days)",
            "Change lead time: 5 h median (90th percentile 10 h; 2 commits)",
            "Change fail rate: 25% (1 of 4 production deployments failed)",
            "Failed deployment recovery time: no data (no recovered failures in the range)",
            "Rework rate: 0% (0 of 4 production deployments made to fix a failure)",
        ]
    );
}

#[test]
fn each_key_is_charted_per_week_with_its_table() {
    let view = build(subject(), String::new(), "", &dora(), &recent(), None);
    let ids: Vec<_> = view.charts.iter().map(|c| c.chart.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "deployment-frequency",
            "change-lead-time",
            "change-fail-rate",
            "recovery-time",
            "rework-rate"
        ]
    );
    let frequency = &view.charts[0];
    let values: Vec<_> = frequency.chart.points.iter().map(|p| p.value).collect();
    assert_eq!(values, [Some(3.0), Some(1.0)]);
    assert_eq!(frequency.chart.points[0].label, "W49");
    assert_eq!(
        frequency.chart.points[0].title,
        "2026-W49: 3; 3 production deployments"
    );
    assert!(
        frequency
            .svg
            .contains("<title>2026-W50: 1; 1 production deployment</title>")
    );
    let lead = &view.charts[1];
    assert_eq!(lead.chart.unit, "hours");
    assert_eq!(lead.chart.points[0].text, "5 h");
    assert_eq!(lead.chart.points[1].value, None);
    assert_eq!(
        lead.rows[1],
        (
            "2026-W50".to_owned(),
            "no data".to_owned(),
            "no commits reached production".to_owned()
        )
    );
    let fail = &view.charts[2];
    assert_eq!(fail.chart.unit, "%");
    assert_eq!(fail.rows[0].1, "33%");
    assert_eq!(fail.rows[0].2, "1 of 3 production deployments failed");
    // No chart is coloured or labelled by a band: the figures stand alone.
    for chart in &view.charts {
        for word in ["elite", "Elite", "good", "bad"] {
            assert!(!chart.svg.contains(word), "{} says {word}", chart.chart.id);
        }
    }
}

#[test]
fn recent_rows_and_the_empty_state() {
    let view = build(subject(), String::new(), "", &dora(), &recent(), None);
    assert!(!view.empty);
    let row = &view.deployments[0];
    assert_eq!(row.status, "rolled back");
    assert_eq!(row.duration, "1.5 min");
    assert_eq!(row.finished, "2026-12-01 00:01:30 UTC");
    assert_eq!(row.commits[0].0, "0123456");
    assert_eq!(row.commits[0].2, "authored time not reported");
    assert_eq!(row.commit_count, 3);
    assert_eq!(row.service_href, "/catalog/default/component/payments-api");
    assert_eq!(
        view.incidents[0].caused_by.as_deref(),
        Some("run-42 (1.4.0 in prod)")
    );

    let mut nothing = dora();
    nothing.summary = Keys::default();
    let view = build(
        subject(),
        String::new(),
        "",
        &nothing,
        &Recent::default(),
        None,
    );
    assert!(view.empty, "nothing recorded: the view says what to send");
}

#[test]
fn durations_and_shares_read_plainly() {
    assert_eq!(duration_text(42_000), "42 s");
    assert_eq!(duration_text(90 * 60_000), "1.5 h");
    assert_eq!(duration_text(47 * HOUR), "47 h");
    assert_eq!(duration_text(60 * HOUR), "2.5 d");
    assert_eq!(percent(0.25), "25%");
    assert_eq!(percent(0.025), "2.5%");
    assert_eq!(percent(0.0), "0%");
}
