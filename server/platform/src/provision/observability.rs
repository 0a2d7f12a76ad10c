//! What every service gets to be observed: a RED dashboard (rate, errors, duration), a
//! ServiceMonitor that scrapes it, and a PrometheusRule with RED recording rules and
//! multi-window, multi-burn-rate alerts on its availability objective.
//!
//! The metrics are the conventional `http_requests_total{code}` and
//! `http_request_duration_seconds_bucket`, scraped from the service's `http` port at `/metrics`.

use serde::Serialize;
use serde_json::{Value, json};

/// The windows error ratios are recorded over, for the burn-rate alerts below.
const WINDOWS: &[&str] = &["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// Burn-rate alerts as in Google's SRE workbook: (long window, short window, burn rate, severity).
const BURN_RATES: &[(&str, &str, f64, &str)] = &[
    ("1h", "5m", 14.4, "page"),
    ("6h", "30m", 6.0, "page"),
    ("1d", "2h", 3.0, "ticket"),
    ("3d", "6h", 1.0, "ticket"),
];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    pub selector: Selector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub port: String,
    pub path: String,
    pub interval: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaDashboardSpec {
    pub instance_selector: Selector,
    /// The dashboard model, as JSON text (the operator's format).
    pub json: String,
}

/// The selector of the service's pods (and of its Service, for scraping).
fn app_selector(service: &str) -> Selector {
    Selector {
        match_labels: [("app.kubernetes.io/name".to_owned(), service.to_owned())].into(),
    }
}

pub fn service_monitor(service: &str) -> ServiceMonitorSpec {
    ServiceMonitorSpec {
        selector: app_selector(service),
        endpoints: vec![Endpoint {
            port: "http".to_owned(),
            path: "/metrics".to_owned(),
            interval: "30s".to_owned(),
        }],
    }
}

fn requests(namespace: &str, extra: &str, window: &str) -> String {
    format!("sum(rate(http_requests_total{{namespace=\"{namespace}\"{extra}}}[{window}]))")
}

/// Recording rules for rate, error ratio (per window) and latency percentiles, and the burn-rate
/// alerts for an availability objective of `availability` percent.
pub fn rules(service: &str, namespace: &str, availability: f64) -> PrometheusRuleSpec {
    let record = |name: String, expr: String| Rule {
        record: Some(name),
        alert: None,
        expr,
        for_: None,
        labels: [("service".to_owned(), service.to_owned())].into(),
        annotations: Default::default(),
    };
    let mut recording = vec![record(
        "service:http_requests:rate5m".to_owned(),
        requests(namespace, "", "5m"),
    )];
    for window in WINDOWS {
        recording.push(record(
            format!("service:http_errors:ratio_rate{window}"),
            format!(
                "{} / {}",
                requests(namespace, ",code=~\"5..\"", window),
                requests(namespace, "", window)
            ),
        ));
    }
    for (name, quantile) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        recording.push(record(
            format!("service:http_request_duration_seconds:{name}"),
            format!(
                "histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket{{namespace=\"{namespace}\"}}[5m])))"
            ),
        ));
    }
    let budget = 1.0 - availability / 100.0;
    let ratio =
        |window: &str| format!("service:http_errors:ratio_rate{window}{{service=\"{service}\"}}");
    let alerts = BURN_RATES
        .iter()
        .map(|(long, short, rate, severity)| {
            // Rounded, so that the rule reads 0.0144 rather than 0.014400000000000013.
            let threshold = (rate * budget * 1e9).round() / 1e9;
            Rule {
                record: None,
                alert: Some(format!("ErrorBudgetBurn{}{}", long.to_uppercase(), short.to_uppercase())),
                expr: format!(
                    "{} > {threshold} and {} > {threshold}",
                    ratio(long),
                    ratio(short)
                ),
                for_: Some(if *severity == "page" { "2m" } else { "15m" }.to_owned()),
                labels: [
                    ("service".to_owned(), service.to_owned()),
                    ("severity".to_owned(), (*severity).to_owned()),
                ]
                .into(),
                annotations: [(
                    "summary".to_owned(),
                    format!(
                        "{service} is spending its {availability}% availability error budget {rate}× too fast ({long} and {short} windows)"
                    ),
                )]
                .into(),
            }
        })
        .collect();
    PrometheusRuleSpec {
        groups: vec![
            RuleGroup {
                name: format!("{service}.red"),
                rules: recording,
            },
            RuleGroup {
                name: format!("{service}.slo"),
                rules: alerts,
            },
        ],
    }
}

/// The RED dashboard, for Grafana instances labelled `dashboards: grafana`.
pub fn dashboard(service: &str, namespace: &str) -> GrafanaDashboardSpec {
    let panel = |id: u32, title: &str, unit: &str, targets: Vec<(&str, String)>, y: u32| {
        json!({
            "id": id,
            "type": "timeseries",
            "title": title,
            "gridPos": { "h": 8, "w": 24, "x": 0, "y": y },
            "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
            "targets": targets.into_iter().enumerate().map(|(i, (legend, expr))| json!({
                "refId": ((b'A' + i as u8) as char).to_string(),
                "expr": expr,
                "legendFormat": legend,
            })).collect::<Vec<Value>>(),
        })
    };
    let model = json!({
        "title": format!("{service} ({namespace})"),
        "uid": format!("causeway-{namespace}"),
        "tags": ["causeway", service],
        "schemaVersion": 39,
        "time": { "from": "now-6h", "to": "now" },
        "panels": [
            panel(1, "Request rate", "reqps", vec![("requests/s", format!("service:http_requests:rate5m{{service=\"{service}\"}}"))], 0),
            panel(2, "Error ratio", "percentunit", vec![("5xx", format!("service:http_errors:ratio_rate5m{{service=\"{service}\"}}"))], 8),
            panel(3, "Latency", "s", vec![
                ("p50", format!("service:http_request_duration_seconds:p50{{service=\"{service}\"}}")),
                ("p95", format!("service:http_request_duration_seconds:p95{{service=\"{service}\"}}")),
                ("p99", format!("service:http_request_duration_seconds:p99{{service=\"{service}\"}}")),
            ], 16),
        ],
    });
    GrafanaDashboardSpec {
        instance_selector: Selector {
            match_labels: [("dashboards".to_owned(), "grafana".to_owned())].into(),
        },
        json: model.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_rate_thresholds_follow_the_objective() {
        let spec = rules("payments-api", "payments-api-dev", 99.9);
        let alerts = &spec.groups[1].rules;
        assert_eq!(alerts.len(), 4);
        // 14.4 × 0.1% budget
        assert!(alerts[0].expr.contains("> 0.0144"), "{}", alerts[0].expr);
        assert!(alerts[0].expr.contains("ratio_rate1h") && alerts[0].expr.contains("ratio_rate5m"));
        assert_eq!(alerts[0].labels["severity"], "page");
        assert_eq!(alerts[3].labels["severity"], "ticket");
        let records: Vec<&str> = spec.groups[0]
            .rules
            .iter()
            .filter_map(|r| r.record.as_deref())
            .collect();
        for window in WINDOWS {
            assert!(records.contains(&format!("service:http_errors:ratio_rate{window}").as_str()));
        }
    }

    #[test]
    fn the_dashboard_is_valid_json_with_red_panels() {
        let spec = dashboard("payments-api", "payments-api-dev");
        let model: Value = serde_json::from_str(&spec.json).expect("JSON");
        let titles: Vec<&str> = model["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .filter_map(|p| p["title"].as_str())
            .collect();
        assert_eq!(titles, ["Request rate", "Error ratio", "Latency"]);
    }
}
