//! The relations graph of an entity page as SVG: the entity in the centre, every related entity
//! on an ellipse around it, each edge labelled with its relation types and each node a link to
//! its page. Drawn on the server so the picture needs no JavaScript; every text is escaped.

use std::f64::consts::PI;
use std::fmt::Write as _;

/// One box of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub label: String,
    pub kind: String,
    /// The entity's page; `None` for the centre and for entities that do not exist.
    pub href: Option<String>,
    /// The relation types from the centre to this node, comma-separated.
    pub relations: String,
}

const NODE_WIDTH: f64 = 168.0;
const NODE_HEIGHT: f64 = 46.0;
/// Labels longer than this are shortened in the box; the full text is in the node's tooltip.
const LABEL_CHARS: usize = 22;

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
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

fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_owned()
    } else {
        text.chars().take(LABEL_CHARS - 1).collect::<String>() + "…"
    }
}

fn node_class(kind: &str) -> String {
    let kind: String = kind
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("relation-graph__node relation-graph__node--{kind}")
}

fn draw_box(svg: &mut String, node: &Node, x: f64, y: f64, extra_class: &str) {
    let (left, top) = (x - NODE_WIDTH / 2.0, y - NODE_HEIGHT / 2.0);
    let _ = write!(
        svg,
        r#"<rect x="{left:.1}" y="{top:.1}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6"{extra_class}/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="relation-graph__name">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="relation-graph__kind">{}</text>"#,
        y - 3.0,
        escape(&shorten(&node.label)),
        y + 14.0,
        escape(&node.kind),
    );
}

/// The SVG document for `center` and its related `nodes`.
pub fn render(center: &Node, nodes: &[Node]) -> String {
    let n = nodes.len();
    // The ellipse grows with the number of nodes so that neighbouring boxes do not overlap.
    let extra = n.saturating_sub(8) as f64;
    let rx = 250.0 + 16.0 * extra;
    let ry = 150.0 + 12.0 * extra;
    let (half_w, half_h) = (rx + NODE_WIDTH / 2.0 + 8.0, ry + NODE_HEIGHT / 2.0 + 8.0);
    let positions: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let angle = -PI / 2.0 + 2.0 * PI * i as f64 / n.max(1) as f64;
            (rx * angle.cos(), ry * angle.sin())
        })
        .collect();

    let title = format!("Relations of {}", center.label);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="relation-graph" viewBox="{:.1} {:.1} {:.1} {:.1}" role="group" aria-label="{}">"#,
        -half_w,
        -half_h,
        2.0 * half_w,
        2.0 * half_h,
        escape(&title),
    );
    svg.push_str(r#"<g class="relation-graph__edges">"#);
    for (x, y) in &positions {
        let _ = write!(svg, r#"<line x1="0" y1="0" x2="{x:.1}" y2="{y:.1}"/>"#);
    }
    svg.push_str("</g>");

    svg.push_str(r#"<g class="relation-graph__nodes">"#);
    let _ = write!(
        svg,
        r#"<g class="{} relation-graph__node--center">"#,
        node_class(&center.kind)
    );
    draw_box(&mut svg, center, 0.0, 0.0, "");
    svg.push_str("</g>");
    for (node, (x, y)) in nodes.iter().zip(&positions) {
        let tooltip = format!("{} ({}): {}", node.label, node.kind, node.relations);
        match &node.href {
            Some(href) => {
                let _ = write!(
                    svg,
                    r#"<a href="{}" class="{}"><title>{}</title>"#,
                    escape(href),
                    node_class(&node.kind),
                    escape(&tooltip)
                );
                draw_box(&mut svg, node, *x, *y, "");
                svg.push_str("</a>");
            }
            None => {
                let _ = write!(
                    svg,
                    r#"<g class="{} relation-graph__node--missing"><title>{} — does not exist</title>"#,
                    node_class(&node.kind),
                    escape(&tooltip)
                );
                draw_box(&mut svg, node, *x, *y, r#" stroke-dasharray="5 4""#);
                svg.push_str("</g>");
            }
        }
    }
    svg.push_str("</g>");

    // Edge labels go last so that no box covers them; they sit halfway along each edge.
    svg.push_str(r#"<g class="relation-graph__labels">"#);
    for (node, (x, y)) in nodes.iter().zip(&positions) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x / 2.0,
            y / 2.0 + 4.0,
            escape(&node.relations)
        );
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, href: Option<&str>) -> Node {
        Node {
            label: label.to_owned(),
            kind: "Group".to_owned(),
            href: href.map(str::to_owned),
            relations: "ownedBy".to_owned(),
        }
    }

    #[test]
    fn draws_links_labels_and_missing_nodes() {
        let svg = render(
            &node("<centre>", None),
            &[
                node("Payments", Some("/catalog/default/group/payments")),
                node("ghost", None),
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(r#"<a href="/catalog/default/group/payments""#));
        assert!(svg.contains(">ownedBy</text>"));
        assert!(svg.contains("relation-graph__node--missing"));
        assert!(svg.contains("&lt;centre&gt;"));
        assert!(!svg.contains("<centre>"));
        assert_eq!(svg.matches("<rect").count(), 3);
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(
            shorten("a-very-long-component-name-indeed").chars().count(),
            LABEL_CHARS
        );
    }
}
