//! A bar chart as SVG, drawn on the server so that it needs no JavaScript: one bar per period,
//! the value axis with its ticks and unit, the periods' labels, each bar's value written above it
//! and a `<title>` (the browser's tooltip, and what a screen reader announces) for every period.
//! A period with no value (nothing to measure) gets no bar and a dash. Every text is escaped.

use std::fmt::Write as _;

use super::chart_scale::Scale;

/// One period of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The period's short label under its bar (`W49`).
    pub label: String,
    /// The value drawn; `None` when there was nothing to measure.
    pub value: Option<f64>,
    /// The value as written above the bar (`3`, `4.5 h`, `20%`).
    pub text: String,
    /// The whole sentence of the period's `<title>` (`2026-W49: 3 production deployments`).
    pub title: String,
}

/// A chart: its heading, the unit of its axis and its periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Unique on the page; names the SVG's title and description.
    pub id: String,
    pub title: String,
    /// What the value axis counts (`deployments`, `hours`, `%`).
    pub unit: String,
    /// Whether the values are counts, so that the axis steps by whole numbers.
    pub integer: bool,
    pub points: Vec<Point>,
}

const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 20.0;
const PLOT_BOTTOM: f64 = 164.0;
/// Widest a period's slot gets; with many periods the chart stays as wide as [`MIN_WIDTH`] needs.
const SLOT: f64 = 32.0;
const MIN_WIDTH: f64 = 320.0;
/// More periods than this and the values above the bars would collide: they are left to the
/// titles and the table.
const MAX_VALUE_LABELS: usize = 26;
/// At most this many period labels are written under the axis; the rest are skipped evenly.
const MAX_PERIOD_LABELS: usize = 14;

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The chart's value axis.
pub fn scale(chart: &Chart) -> Scale {
    let max = chart
        .points
        .iter()
        .filter_map(|p| p.value)
        .fold(0.0, f64::max);
    Scale::for_max(max, chart.integer)
}

/// The SVG element for `chart`.
#[allow(clippy::cast_precision_loss)]
pub fn render(chart: &Chart) -> String {
    let scale = scale(chart);
    let n = chart.points.len().max(1);
    let width = (LEFT + RIGHT + SLOT * n as f64).max(MIN_WIDTH);
    let slot = (width - LEFT - RIGHT) / n as f64;
    let bar = (slot * 0.6).min(28.0);
    let plot = PLOT_BOTTOM - TOP;
    let id = escape(&chart.id);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {width:.0} {HEIGHT:.0}" width="{width:.0}" height="{HEIGHT:.0}" role="img" aria-labelledby="{id}-title {id}-desc" data-chart="{id}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(&chart.title),
        escape(&format!(
            "One bar per week, in {}; the table below the chart has the same values.",
            chart.unit
        )),
    );
    // The axis: a gridline and a label per tick, and the unit above the labels.
    svg.push_str(r#"<g class="chart__axis">"#);
    for tick in scale.ticks() {
        let y = PLOT_BOTTOM - scale.share(tick) * plot;
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            width - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&scale.label(tick)),
        );
    }
    let _ = write!(
        svg,
        r#"<text class="chart__unit" x="4" y="12">{}</text></g>"#,
        escape(&chart.unit)
    );
    let every = chart.points.len().div_ceil(MAX_PERIOD_LABELS).max(1);
    let show_values = chart.points.len() <= MAX_VALUE_LABELS;
    svg.push_str(r#"<g class="chart__bars">"#);
    for (i, point) in chart.points.iter().enumerate() {
        let center = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            svg,
            r#"<g class="chart__point" data-label="{}" data-value="{}"><title>{}</title>"#,
            escape(&point.label),
            point.value.map(|v| format!("{v}")).unwrap_or_default(),
            escape(&point.title),
        );
        // An invisible full-height target, so that the title shows over short and missing bars.
        let _ = write!(
            svg,
            r#"<rect class="chart__hit" x="{:.1}" y="{TOP}" width="{slot:.1}" height="{plot:.1}"/>"#,
            center - slot / 2.0
        );
        let top = match point.value {
            Some(value) => {
                let height = scale.share(value) * plot;
                let y = PLOT_BOTTOM - height;
                let _ = write!(
                    svg,
                    r#"<rect class="chart__bar" x="{:.1}" y="{y:.1}" width="{bar:.1}" height="{height:.1}"/>"#,
                    center - bar / 2.0
                );
                y
            }
            None => PLOT_BOTTOM,
        };
        if show_values {
            let text = if point.value.is_some() {
                &point.text
            } else {
                "–"
            };
            let _ = write!(
                svg,
                r#"<text class="chart__value" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                top - 4.0,
                escape(text)
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="chart__label" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                PLOT_BOTTOM + 18.0,
                escape(&point.label)
            );
        }
        svg.push_str("</g>");
    }
    let _ = write!(
        svg,
        r#"</g><line class="chart__baseline" x1="{LEFT}" x2="{:.1}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}"/></svg>"#,
        width - RIGHT
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[Option<f64>]) -> Chart {
        Chart {
            id: "frequency".to_owned(),
            title: "Deployments <per> week".to_owned(),
            unit: "deployments".to_owned(),
            integer: true,
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| Point {
                    label: format!("W{:02}", 49 + i),
                    value: *v,
                    text: v.map(|v| format!("{v}")).unwrap_or_default(),
                    title: format!("2026-W{:02}: {}", 49 + i, v.unwrap_or_default()),
                })
                .collect(),
        }
    }

    #[test]
    fn every_period_has_a_title_a_label_and_its_value() {
        let svg = render(&chart(&[Some(3.0), None, Some(7.0)]));
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.contains(r#"aria-labelledby="frequency-title frequency-desc""#));
        assert!(svg.contains("<title id=\"frequency-title\">Deployments &lt;per&gt; week</title>"));
        for title in ["2026-W49: 3", "2026-W50: 0", "2026-W51: 7"] {
            assert!(svg.contains(&format!("<title>{title}</title>")), "{title}");
        }
        for label in ["W49", "W50", "W51"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        // Values above the bars; a dash where nothing was measured, and no bar.
        assert!(
            svg.contains(">3</text>") && svg.contains(">7</text>") && svg.contains(">–</text>")
        );
        assert_eq!(svg.matches("class=\"chart__bar\"").count(), 2);
        // The axis: 0 to 8 in steps of 2, with its unit.
        for tick in ["0", "2", "4", "6", "8"] {
            assert!(
                svg.contains(&format!("text-anchor=\"end\">{tick}</text>")),
                "{tick}"
            );
        }
        assert!(svg.contains(">deployments</text>"));
    }

    #[test]
    fn bars_are_as_tall_as_their_share_of_the_axis() {
        let svg = render(&chart(&[Some(4.0), Some(8.0)]));
        let plot = PLOT_BOTTOM - TOP;
        // 8 is the top of the axis (0–8), 4 half of it.
        assert!(svg.contains(&format!(
            "height=\"{plot:.1}\"/><text class=\"chart__value\""
        )));
        assert!(svg.contains(&format!("height=\"{:.1}\"", plot / 2.0)));
        assert!(svg.contains(&format!("y=\"{TOP:.1}\"")));
    }

    #[test]
    fn long_ranges_thin_out_their_labels() {
        let values: Vec<Option<f64>> = (0..53).map(|i| Some(f64::from(i % 5))).collect();
        let svg = render(&chart(&values));
        assert_eq!(svg.matches("class=\"chart__label\"").count(), 14);
        assert_eq!(svg.matches("class=\"chart__value\"").count(), 0);
        assert_eq!(svg.matches("<title>").count(), 53);
    }
}
