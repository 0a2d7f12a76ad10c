//! `/create`: every `Template` in the catalog, searched and filtered by the address's `q`,
//! `type`, `tag` and `owner`; each one checked as the engine would load it, so a template that
//! cannot run here says why instead of offering a wizard that would fail.

use std::collections::BTreeSet;

use causeway_platform::catalog::refs;
use causeway_platform::{Error, Platform};
use serde_json::Value;

use crate::model::{TemplateCard, TemplatesView, encode_segment, ref_path};

/// The wizard's address of `template:namespace/name`.
pub fn wizard_href(entity_ref: &str) -> String {
    let (_, namespace, name) = refs::split(entity_ref);
    format!(
        "/create/templates/{}/{}",
        encode_segment(namespace),
        encode_segment(name)
    )
}

/// A domain error as lines a page lists.
pub fn problem_lines(error: Error) -> Vec<String> {
    match error {
        Error::Rejected(problems) => problems
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect(),
        other => vec![other.to_string()],
    }
}

fn card(entity_ref: &str, body: &Value) -> TemplateCard {
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    let name = text("/metadata/name").unwrap_or_default();
    let namespace = text("/metadata/namespace").unwrap_or("default");
    TemplateCard {
        entity_ref: entity_ref.to_owned(),
        title: text("/metadata/title").unwrap_or(name).to_owned(),
        description: text("/metadata/description").unwrap_or_default().to_owned(),
        kind: text("/spec/type").unwrap_or_default().to_owned(),
        tags: body
            .pointer("/metadata/tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        owner: text("/spec/owner")
            .map(|o| refs::parse(o, "group", namespace).unwrap_or(o.to_owned())),
        entity_href: ref_path(entity_ref),
        wizard_href: None,
        problems: Vec::new(),
    }
}

fn matches(card: &TemplateCard, needle: &str) -> bool {
    needle.is_empty()
        || [&card.title, &card.description, &card.kind, &card.entity_ref]
            .into_iter()
            .chain(&card.tags)
            .any(|field| field.to_lowercase().contains(needle))
}

fn sorted(values: impl Iterator<Item = String>) -> Vec<String> {
    values
        .filter(|v| !v.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The templates page for these filters.
pub fn templates(
    platform: &Platform,
    q: &str,
    kind: &str,
    tag: &str,
    owner: &str,
) -> TemplatesView {
    let mut cards: Vec<TemplateCard> = {
        let index = platform.catalog.index();
        index
            .matching("kind", "template")
            .into_iter()
            .filter_map(|id| index.get(id))
            .map(|stored| card(stored.entity_ref(), &index.body_value(stored)))
            .collect()
    };
    cards.sort_by_key(|a| a.title.to_lowercase());
    let total = cards.len();
    let kinds = sorted(cards.iter().map(|c| c.kind.clone()));
    let tags = sorted(cards.iter().flat_map(|c| c.tags.clone()));
    let owners = sorted(cards.iter().filter_map(|c| c.owner.clone()));
    let needle = q.trim().to_lowercase();
    cards.retain(|c| {
        matches(c, &needle)
            && (kind.is_empty() || c.kind.eq_ignore_ascii_case(kind))
            && (tag.is_empty() || c.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
            && (owner.is_empty()
                || c.owner
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(owner)))
    });
    // Loaded only after filtering: loading checks every expression of the template.
    for card in &mut cards {
        match platform.scaffolder.catalog_template(&card.entity_ref) {
            Ok(_) => card.wizard_href = Some(wizard_href(&card.entity_ref)),
            Err(error) => card.problems = problem_lines(error),
        }
    }
    TemplatesView {
        q: q.to_owned(),
        kind: kind.to_owned(),
        tag: tag.to_owned(),
        owner: owner.to_owned(),
        kinds,
        tags,
        owners,
        total,
        templates: cards,
        can_author: false,
    }
}
