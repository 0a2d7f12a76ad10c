//! A finished template run's output as its task page shows it: `output.links` (an `entityRef`
//! becomes the entity's catalog page) and `output.text` (Markdown, sanitised).

use causeway_platform::catalog::refs;
use serde_json::Value;

use crate::model::{OutputLink, TaskOutputView, ref_path};

/// Only these addresses become links: a template's output is the template author's text, and a
/// `javascript:` address must not reach a page as a link. Others (the `file://` address of a
/// repository on the embedded host, say) are shown as text, to copy.
fn linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || (url.starts_with('/') && !url.starts_with("//"))
}

fn link(item: &Value) -> Option<OutputLink> {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
    let title = text("title");
    if let Some(entity) = text("entityRef") {
        let normalised = refs::parse(&entity, "component", "default").ok()?;
        return Some(OutputLink {
            title: title.unwrap_or_else(|| normalised.clone()),
            href: Some(ref_path(&normalised)),
            text: normalised,
        });
    }
    let url = text("url")?;
    Some(OutputLink {
        title: title.unwrap_or_else(|| url.clone()),
        href: linkable(&url).then(|| url.clone()),
        text: url,
    })
}

/// The view of a task's output.
pub fn task_output(output: &Value) -> TaskOutputView {
    let items = |key: &str| {
        output
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    TaskOutputView {
        links: items("links").iter().filter_map(link).collect(),
        text: items("text")
            .iter()
            .filter_map(|item| {
                let content = item.get("content")?;
                let content = content
                    .as_str()
                    .map_or_else(|| content.to_string(), str::to_owned);
                let title = item
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                Some((title, crate::server::catalog::markdown(&content)))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_refs_link_to_the_catalog_and_only_web_addresses_are_links() {
        let view = task_output(&json!({
            "links": [
                { "title": "Repository", "url": "file:///var/git/payments/payouts.git" },
                { "title": "Open in the catalog", "entityRef": "component:default/payouts" },
                { "title": "Docs", "url": "https://docs.example.com/payouts" },
                { "title": "Sneaky", "url": "javascript:alert(1)" },
                { "title": "No target" },
            ],
            "text": [{ "title": "Dev environment", "content": "Namespace `payouts-dev` is ready." }],
        }));
        let links: Vec<(&str, Option<&str>)> = view
            .links
            .iter()
            .map(|l| (l.title.as_str(), l.href.as_deref()))
            .collect();
        assert_eq!(
            links,
            [
                ("Repository", None),
                (
                    "Open in the catalog",
                    Some("/catalog/default/component/payouts")
                ),
                ("Docs", Some("https://docs.example.com/payouts")),
                ("Sneaky", None),
            ]
        );
        assert_eq!(view.links[0].text, "file:///var/git/payments/payouts.git");
        assert_eq!(view.text[0].0, "Dev environment");
        assert!(view.text[0].1.contains("<code>payouts-dev</code>"));
    }
}
