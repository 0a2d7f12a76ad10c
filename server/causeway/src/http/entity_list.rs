//! JSON arrays of entities as served, rendered at once when small and streamed when large.
//!
//! The legacy `GET /entities` answers every match when no `limit` is given, which is the whole
//! catalog for an unfiltered request: rendered into one buffer, a million entities would take
//! more than a gigabyte on top of the index. Above [`STREAM_ABOVE`] entities the array is
//! therefore rendered on a blocking thread in chunks that are sent as they are ready, through a
//! channel that holds at most [`CHUNKS_IN_FLIGHT`] of them, so the memory a response costs no
//! longer grows with its size.
//!
//! A streamed response is not one snapshot: each chunk takes the index's read lock on its own
//! so writes are not held up for the whole response, so an entity written meanwhile is served
//! in its newer version and one deleted meanwhile is left out. Entities are found again by
//! reference rather than by dense id, since ids are reused after a removal and a reload builds
//! a new index.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use causeway_platform::catalog::index::{Index, Stored};
use causeway_platform::catalog::query::select_fields;
use causeway_platform::catalog::{Catalog, render};

/// Most entities rendered into one buffer; larger arrays are streamed.
pub const STREAM_ABOVE: usize = 2_000;

/// Entities rendered per hold of the read lock while streaming.
const ENTITIES_PER_LOCK: usize = 500;

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 1 << 20;

/// Chunks waiting to be sent; with the one being rendered, this bounds a response's memory.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Appends one entity as served, keeping only `fields` when some are named.
pub fn render_one(index: &Index, entity: &Stored, fields: &[String], out: &mut Vec<u8>) {
    if fields.is_empty() {
        render::render_into(index, entity, out);
    } else {
        // Field selection needs the structure; only then is the entity parsed.
        let selected = select_fields(&render::render(index, entity), fields);
        let _ = serde_json::to_writer(&mut *out, &selected);
    }
}

/// Room to reserve for rendering `count` entities: a Component with its relations takes about
/// two kilobytes, and a buffer that grows part way copies what it holds.
pub fn room_for(count: usize) -> usize {
    count.min(STREAM_ABOVE) * 2048 + 2
}

/// The entities with `ids` as a JSON array, in one buffer.
pub fn render_all(catalog: &Catalog, ids: &[u32], fields: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(room_for(ids.len()));
    render_all_into(catalog, ids, fields, &mut out);
    out
}

/// [`render_all`] at the end of `out`, for a response that wraps the array: writing it in place
/// saves copying a page of entities from one buffer into another.
pub fn render_all_into(catalog: &Catalog, ids: &[u32], fields: &[String], out: &mut Vec<u8>) {
    let index = catalog.index();
    out.push(b'[');
    for (i, entity) in ids.iter().filter_map(|id| index.get(*id)).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        render_one(&index, entity, fields, out);
    }
    out.push(b']');
}

/// The entities with `ids` as a JSON array: one buffer up to [`STREAM_ABOVE`] entities, a stream
/// of chunks above.
pub fn body(catalog: &Catalog, ids: &[u32], fields: Vec<String>) -> Body {
    if ids.len() <= STREAM_ABOVE {
        return Body::from(render_all(catalog, ids, &fields));
    }
    let refs: Vec<Arc<str>> = {
        let index = catalog.index();
        ids.iter()
            .filter_map(|id| index.get(*id))
            .map(|entity| Arc::from(entity.entity_ref()))
            .collect()
    };
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let catalog = catalog.clone();
    tokio::task::spawn_blocking(move || stream_into(&catalog, &refs, &fields, &chunks));
    Body::from_stream(futures::stream::unfold(receiver, |mut receiver| async {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(chunk), receiver))
    }))
}

/// Renders the entities named by `refs` into `chunks`; stops early when the client has gone.
fn stream_into(
    catalog: &Catalog,
    refs: &[Arc<str>],
    fields: &[String],
    chunks: &tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut out = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    out.push(b'[');
    let mut first = true;
    for group in refs.chunks(ENTITIES_PER_LOCK) {
        {
            let index = catalog.index();
            for entity in group.iter().filter_map(|r| index.by_ref(r)) {
                if !first {
                    out.push(b',');
                }
                first = false;
                render_one(&index, entity, fields, &mut out);
            }
        }
        if out.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut out, Vec::with_capacity(CHUNK_BYTES + 64 * 1024));
            if chunks.blocking_send(Bytes::from(full)).is_err() {
                return;
            }
        }
    }
    out.push(b']');
    let _ = chunks.blocking_send(Bytes::from(out));
}
