//! DORA's keys as people read them: the summary over a range, and one chart per key with a bar
//! per ISO week (the SVG is drawn by `components/chart.rs`), each with its values as a table.
//! Figures are written plainly; nothing here judges them good or bad.

use causeway_platform::delivery::dora::{Dora, Durations, Keys, Week};

use crate::components::chart::{self, Chart, Point};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A chart with its rendered SVG, caption and table rows (week, value, detail).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartView {
    pub chart: Chart,
    pub svg: String,
    pub caption: String,
    pub rows: Vec<(String, String, String)>,
}

/// `value` with at most one decimal, without a trailing `.0`.
pub fn number(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// A duration in the largest unit that keeps it readable: seconds, minutes, hours, days.
pub fn duration_text(millis: i64) -> String {
    let millis = millis.max(0);
    #[allow(clippy::cast_precision_loss)]
    let in_unit = |unit: i64| millis as f64 / unit as f64;
    if millis < MINUTE {
        format!("{} s", millis / 1000)
    } else if millis < HOUR {
        format!("{} min", number(in_unit(MINUTE)))
    } else if millis < 2 * DAY {
        format!("{} h", number(in_unit(HOUR)))
    } else {
        format!("{} d", number(in_unit(DAY)))
    }
}

/// A share as a whole percentage (`25%`), or one decimal below ten (`2.5%`).
pub fn percent(rate: f64) -> String {
    let value = rate * 100.0;
    if value > 0.0 && value < 10.0 {
        format!("{}%", number(value))
    } else {
        format!("{value:.0}%")
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The five keys over the range, each with what it was counted from.
pub fn summary(keys: &Keys, days: i64) -> Vec<super::delivery::SummaryItem> {
    use super::delivery::SummaryItem;
    let durations = |d: &Durations, what: &str| match (d.median_millis, d.p90_millis) {
        (Some(median), Some(p90)) => (
            format!("{} median", duration_text(median)),
            format!(
                "90th percentile {}; {}",
                duration_text(p90),
                plural(d.count, what, &format!("{what}s"))
            ),
        ),
        _ => ("no data".to_owned(), format!("no {what}s in the range")),
    };
    let (lead, lead_detail) = durations(&keys.lead_time, "commit");
    let (recovery, mut recovery_detail) = durations(&keys.recovery_time, "recovered failure");
    if keys.unrecovered > 0 {
        recovery_detail.push_str(&format!("; {} not recovered yet", keys.unrecovered));
    }
    let rate = |rate: Option<f64>| rate.map_or_else(|| "no data".to_owned(), percent);
    vec![
        SummaryItem {
            key: "deployment-frequency",
            name: "Deployment frequency",
            value: format!("{} per week", number(keys.deployments_per_week)),
            detail: format!(
                "{} in {days} days",
                plural(
                    keys.deployments,
                    "production deployment",
                    "production deployments"
                )
            ),
        },
        SummaryItem {
            key: "change-lead-time",
            name: "Change lead time",
            value: lead,
            detail: lead_detail,
        },
        SummaryItem {
            key: "change-fail-rate",
            name: "Change fail rate",
            value: rate(keys.change_fail_rate),
            detail: format!(
                "{} of {} failed",
                keys.failed_deployments,
                plural(
                    keys.deployments,
                    "production deployment",
                    "production deployments"
                )
            ),
        },
        SummaryItem {
            key: "recovery-time",
            name: "Failed deployment recovery time",
            value: recovery,
            detail: recovery_detail,
        },
        SummaryItem {
            key: "rework-rate",
            name: "Rework rate",
            value: rate(keys.rework_rate),
            detail: format!(
                "{} of {} made to fix a failure",
                keys.rework_deployments,
                plural(
                    keys.deployments,
                    "production deployment",
                    "production deployments"
                )
            ),
        },
    ]
}

/// `2026-W49` as `W49`.
fn short_week(week: &str) -> String {
    week.rsplit_once('-').map_or(week, |(_, w)| w).to_owned()
}

/// The week's name, with the days it covers when the range cuts it.
fn week_name(week: &Week) -> String {
    let days = (week.end - week.start) / DAY;
    if days < 7 {
        format!(
            "{} ({})",
            week.week,
            plural(usize::try_from(days).unwrap_or(0), "day", "days")
        )
    } else {
        week.week.clone()
    }
}

/// The unit a duration chart counts in: minutes, hours or days, whichever keeps its largest
/// value readable.
fn duration_unit(
    weeks: &[Week],
    pick: impl Fn(&Keys) -> &Durations,
) -> (&'static str, &'static str, i64) {
    let max = weeks
        .iter()
        .filter_map(|w| pick(&w.keys).median_millis)
        .max()
        .unwrap_or(0);
    if max < 2 * HOUR {
        ("minutes", "min", MINUTE)
    } else if max < 3 * DAY {
        ("hours", "h", HOUR)
    } else {
        ("days", "d", DAY)
    }
}

struct Spec {
    id: &'static str,
    title: &'static str,
    caption: &'static str,
}

/// A period's point, with the week's name and the detail its table row shows.
type Row = (Point, String, String);

fn finish(spec: &Spec, unit: &str, integer: bool, points: Vec<Row>) -> ChartView {
    let rows = points
        .iter()
        .map(|(p, week, detail)| {
            let value = if p.value.is_some() {
                p.text.clone()
            } else {
                "no data".to_owned()
            };
            (week.clone(), value, detail.clone())
        })
        .collect();
    let chart = Chart {
        id: spec.id.to_owned(),
        title: spec.title.to_owned(),
        unit: unit.to_owned(),
        integer,
        points: points.into_iter().map(|(p, _, _)| p).collect(),
    };
    ChartView {
        svg: chart::render(&chart),
        caption: spec.caption.to_owned(),
        rows,
        chart,
    }
}

fn point(week: &Week, value: Option<f64>, text: String, detail: &str) -> Row {
    let name = week_name(week);
    let title = if value.is_some() {
        format!("{name}: {text}; {detail}")
    } else {
        format!("{name}: {detail}")
    };
    (
        Point {
            label: short_week(&week.week),
            value,
            text,
            title,
        },
        name,
        detail.to_owned(),
    )
}

/// One chart per key, a bar per ISO week of the range.
#[allow(clippy::cast_precision_loss)]
pub fn charts(dora: &Dora) -> Vec<ChartView> {
    let weeks = &dora.weeks;
    let frequency = weeks
        .iter()
        .map(|w| {
            let k = &w.keys;
            let detail = plural(
                k.deployments,
                "production deployment",
                "production deployments",
            );
            point(
                w,
                Some(k.deployments as f64),
                k.deployments.to_string(),
                &detail,
            )
        })
        .collect();
    let durations = |pick: fn(&Keys) -> &Durations, what: &str, none: &str| {
        let (unit, short, size) = duration_unit(weeks, pick);
        let points = weeks
            .iter()
            .map(|w| {
                let d = pick(&w.keys);
                match (d.median_millis, d.p90_millis) {
                    (Some(median), Some(p90)) => {
                        let value = median as f64 / size as f64;
                        let detail = format!(
                            "median {}, 90th percentile {}, {}",
                            duration_text(median),
                            duration_text(p90),
                            plural(d.count, what, &format!("{what}s"))
                        );
                        point(
                            w,
                            Some(value),
                            format!("{} {short}", number(value)),
                            &detail,
                        )
                    }
                    _ => point(w, None, String::new(), none),
                }
            })
            .collect();
        (unit, points)
    };
    let rate = |part: fn(&Keys) -> usize, rate: fn(&Keys) -> Option<f64>, what: &str| {
        weeks
            .iter()
            .map(|w| match rate(&w.keys) {
                Some(r) => {
                    let detail = format!(
                        "{} of {} {what}",
                        part(&w.keys),
                        plural(
                            w.keys.deployments,
                            "production deployment",
                            "production deployments"
                        )
                    );
                    point(w, Some(r * 100.0), percent(r), &detail)
                }
                None => point(w, None, String::new(), "no production deployments"),
            })
            .collect()
    };
    let (lead_unit, lead) = durations(|k| &k.lead_time, "commit", "no commits reached production");
    let (recovery_unit, recovery) = durations(
        |k| &k.recovery_time,
        "recovered failure",
        "no failure recovered",
    );
    vec![
        finish(
            &Spec {
                id: "deployment-frequency",
                title: "Deployment frequency: production deployments per week",
                caption: "Deployment frequency: how many deployments reached production each week, whatever their outcome.",
            },
            "deployments",
            true,
            frequency,
        ),
        finish(
            &Spec {
                id: "change-lead-time",
                title: "Change lead time: median per week",
                caption: "Change lead time: from a commit's authored time to the first successful production deployment containing it; the median of the week's commits.",
            },
            lead_unit,
            false,
            lead,
        ),
        finish(
            &Spec {
                id: "change-fail-rate",
                title: "Change fail rate per week",
                caption: "Change fail rate: the share of the week's production deployments that failed, were rolled back or caused an incident.",
            },
            "%",
            false,
            rate(|k| k.failed_deployments, |k| k.change_fail_rate, "failed"),
        ),
        finish(
            &Spec {
                id: "recovery-time",
                title: "Failed deployment recovery time: median per week",
                caption: "Failed deployment recovery time: from a failure to the next successful production deployment or the incident's resolution; the median of the week's failures.",
            },
            recovery_unit,
            false,
            recovery,
        ),
        finish(
            &Spec {
                id: "rework-rate",
                title: "Rework rate per week",
                caption: "Rework rate: the share of the week's production deployments made to fix a failure in production.",
            },
            "%",
            false,
            rate(
                |k| k.rework_deployments,
                |k| k.rework_rate,
                "made to fix a failure",
            ),
        ),
    ]
}
