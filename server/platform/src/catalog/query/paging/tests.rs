//! The walk over a ranking against the selection it replaces, over random catalogs, match sets,
//! sort fields, directions, offsets and limits.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{select_page, walk_page};
use crate::catalog::index::{Body, Index, Names, Stored};
use crate::catalog::kinds;
use crate::catalog::query::{Filter, Order, Page, Query};
use crate::catalog::testing::Random;

/// An entity whose sortable fields come from small pools, so that ties, missing fields and
/// several values per entity (tags: the smallest one sorts) are common.
fn entity(random: &mut Random, serial: u64) -> Stored {
    let kind = *random.pick(&["Component", "API", "Resource"]);
    let name = format!("e{:03}", random.below(1000));
    let mut metadata = serde_json::json!({ "name": name });
    if random.below(3) > 0 {
        metadata["title"] = (*random.pick(&["Alpha", "beta", "Gamma", "delta", "Zeta"])).into();
    }
    let tags: Vec<&str> = (0..random.below(3))
        .map(|_| *random.pick(&["java", "go", "rust", "python"]))
        .collect();
    metadata["tags"] = tags.into();
    let mut spec = serde_json::json!({ "type": *random.pick(&["service", "library", "website"]) });
    if random.below(4) > 0 {
        spec["lifecycle"] = (*random.pick(&["production", "experimental", "deprecated"])).into();
    }
    let body = serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    });
    // The serial keeps references unique while names repeat, as titles do.
    let name = format!("{name}-{serial}");
    Stored {
        uid: format!("uid-{serial}").into(),
        etag: "e".into(),
        generation: 1,
        names: Names::new(
            &format!("{}:default/{name}", kind.to_lowercase()),
            "default",
            &name,
        ),
        kind: kinds::find(kind).expect("a kind"),
        body: Body::from(body.to_string()),
        edges: Box::default(),
        location_key: Arc::from("upload:test"),
    }
}

/// A catalog with holes: some entities removed and their ids reused.
fn catalog(random: &mut Random, size: u64) -> Index {
    let mut index = Index::default();
    for serial in 0..size {
        index.upsert(entity(random, serial));
    }
    let refs: Vec<String> = index
        .all()
        .iter()
        .filter_map(|id| index.get(id).map(|e| e.entity_ref().to_owned()))
        .collect();
    for reference in refs.iter().filter(|_| random.below(8) == 0) {
        index.remove(reference);
    }
    for serial in size..size + size / 10 {
        index.upsert(entity(random, serial));
    }
    index
}

const FIELDS: [&str; 7] = [
    "",
    "metadata.title",
    "metadata.name",
    "metadata.tags",
    "spec.lifecycle",
    "kind",
    "no.such.field",
];

#[test]
fn walking_the_ranking_pages_exactly_as_selecting() {
    let mut random = Random(0x5eed_cafe_f00d_0042);
    let mut walked = 0;
    for round in 0..6 {
        let index = catalog(&mut random, 150 + 100 * round);
        let all = index.all().clone();
        for _ in 0..120 {
            // Match sets from every share of the catalog, including none and all of it.
            let share = *random.pick(&[0, 1, 2, 8, 16, 32, 64]);
            let ids: RoaringBitmap = all.iter().filter(|_| random.below(64) < share).collect();
            let field = *random.pick(&FIELDS);
            let ascending = random.below(2) == 0;
            let total = ids.len();
            let offset = *random.pick(&[
                0,
                1,
                3,
                total / 2,
                total.saturating_sub(1),
                total,
                total + 7,
            ]);
            let limit = *random.pick(&[0, 1, 2, 5, 20, total, total + 3, u64::MAX]);
            let (start, end) = (offset as usize, offset.saturating_add(limit) as usize);
            let ranking = index.ranks(field);
            let expected = select_page(&ranking, ascending, &ids, start, end);
            match walk_page(&ranking, ascending, &ids, start, end, usize::MAX) {
                Some(page) => {
                    assert_eq!(
                        page, expected,
                        "{field} {ascending} {offset}+{limit} of {total}"
                    );
                    walked += 1;
                }
                // A walk gives up only when the page cannot be filled.
                None => assert!(end > usize::try_from(total).unwrap_or(usize::MAX)),
            }
            let query = Query {
                order: (!field.is_empty())
                    .then(|| Order {
                        field: field.to_owned(),
                        ascending,
                    })
                    .into_iter()
                    .collect(),
                ..Query::default()
            };
            let expected = Page {
                ids: if field.is_empty() && !ascending {
                    // Without a sort field the order is by reference, ascending.
                    select_page(&ranking, true, &ids, start, end)
                } else {
                    expected
                },
                total,
            };
            assert_eq!(query.page_of(&index, ids, offset, limit), expected);
        }
    }
    assert!(walked > 100, "the walk was taken only {walked} times");
}

#[test]
fn filtered_pages_keep_the_order_through_both_paths() {
    let mut random = Random(7);
    let index = catalog(&mut random, 600);
    for filter in [
        "",
        "kind=component",
        "kind=api,spec.lifecycle=production",
        "metadata.title",
        "metadata.tags=java",
        "kind=group",
    ] {
        for field in FIELDS {
            for ascending in [true, false] {
                let query = Query {
                    filter: Filter::parse(&[filter.to_owned()], "filter").expect("filter"),
                    order: vec![Order {
                        field: field.to_owned(),
                        ascending,
                    }],
                    full_text: None,
                };
                let ids = query.matching(&index);
                let total = ids.len();
                let ranking = index.ranks(field);
                // Every page of 7 and the whole list must agree with one full sort.
                let mut sorted: Vec<u32> = ids.iter().collect();
                sorted.sort_by_key(|id| ranking.key(*id, ascending));
                let mut paged = Vec::new();
                for offset in (0..total).step_by(7) {
                    let page = query.page(&index, offset, 7);
                    assert_eq!(page.total, total);
                    paged.extend(page.ids);
                }
                assert_eq!(paged, sorted, "{filter} by {field} {ascending}");
                assert_eq!(query.page(&index, 0, u64::MAX).ids, sorted);
                assert_eq!(
                    query.page(&index, total, 5),
                    Page {
                        ids: Vec::new(),
                        total
                    }
                );
            }
        }
    }
}
