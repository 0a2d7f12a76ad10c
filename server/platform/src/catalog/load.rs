//! Loading the index from the database: at start-up, and when another replica changed the
//! catalog.
//!
//! At a million entities the rows alone are several hundred megabytes, and parsing, validating
//! and indexing them takes tens of seconds on one thread. So the rows are read as a stream in
//! batches and go through a pipeline of three stages that overlap: the database read (this
//! task), the preparation of each row into an entity (one blocking thread: parse, validate,
//! derive relations, then whatever [`Preparer::indexable`] can do without the index) and the
//! index insertion (another blocking thread, the only one that touches the index, which is left
//! with as little else as possible). Bounded channels between the stages keep at most a few
//! batches in memory, and the runtime's worker threads stay free to answer requests while a
//! replica reloads.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt as _;
use serde_json::Value;
use tokio::sync::mpsc;

use super::index::{Index, Indexable, Preparer};
use super::persist::{self, Row_};
use super::{entity, stored, validate};
use crate::{Result, Store};

/// Rows per batch handed from one stage to the next.
const BATCH: usize = 2048;

/// Batches waiting between two stages; with the one each stage works on, this bounds the rows
/// held at once.
const IN_FLIGHT: usize = 2;

/// Builds an index from every stored entity. Entities that no longer parse or validate are
/// skipped with a warning, as a newer release may have tightened a rule.
pub(super) async fn load(store: &Store) -> Result<Index> {
    let (rows_tx, rows_rx) = mpsc::channel::<Vec<Row_>>(IN_FLIGHT);
    let (prepared_tx, prepared_rx) = mpsc::channel::<Vec<Indexable>>(IN_FLIGHT);
    let index = Index::default();
    let preparer = index.preparer();
    let preparer =
        tokio::task::spawn_blocking(move || prepare_all(rows_rx, &prepared_tx, &preparer));
    let applier = tokio::task::spawn_blocking(move || apply_all(index, prepared_rx));

    let read = read_all(store, &rows_tx).await;
    // Closing the first channel lets the later stages finish with what they were given.
    drop(rows_tx);
    preparer.await.unwrap_or_else(rethrow);
    let index = applier.await.unwrap_or_else(rethrow);
    read?;
    Ok(index)
}

/// A blocking task cannot be cancelled once started, so a failed join is a panic in a stage; it
/// is raised again on the caller, as it would have been had the stage run there.
fn rethrow<T>(error: tokio::task::JoinError) -> T {
    std::panic::resume_unwind(error.into_panic())
}

/// Streams every row into `rows` in batches.
async fn read_all(store: &Store, rows: &mpsc::Sender<Vec<Row_>>) -> Result<()> {
    let mut stream = persist::stream_all(store);
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = stream.try_next().await? {
        batch.push(row);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if rows.send(full).await.is_err() {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = rows.send(batch).await;
    }
    Ok(())
}

fn prepare_all(
    mut rows: mpsc::Receiver<Vec<Row_>>,
    prepared: &mpsc::Sender<Vec<Indexable>>,
    preparer: &Preparer,
) {
    // Entities of one location share its key.
    let mut locations: HashMap<String, Arc<str>> = HashMap::new();
    while let Some(batch) = rows.blocking_recv() {
        let ready = batch
            .into_iter()
            .filter_map(|row| prepare(row, &mut locations, preparer))
            .collect();
        if prepared.blocking_send(ready).is_err() {
            return;
        }
    }
}

fn prepare(
    row: Row_,
    locations: &mut HashMap<String, Arc<str>>,
    preparer: &Preparer,
) -> Option<Indexable> {
    let mut body: Value = match serde_json::from_str(&row.body) {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(entity = %row.entity_ref, %error, "stored entity is not JSON; skipped");
            return None;
        }
    };
    let Ok(Ok(processed)) =
        validate::validate(&body).map(|kind| entity::process_in_place(&mut body, kind))
    else {
        tracing::warn!(entity = %row.entity_ref, "stored entity no longer validates; skipped");
        return None;
    };
    let location_key = locations
        .entry(row.location_key)
        .or_insert_with_key(|key| Arc::from(key.as_str()))
        .clone();
    // The index reads the pairs from the body as it is stored, which processing rewrote in place
    // (the same document as `processed.body`, so that text is not parsed again).
    let entity = stored(
        processed,
        row.uid.into(),
        row.etag.into(),
        row.generation,
        location_key,
    );
    Some(preparer.indexable(entity, &body))
}

fn apply_all(mut index: Index, mut prepared: mpsc::Receiver<Vec<Indexable>>) -> Index {
    while let Some(batch) = prepared.blocking_recv() {
        for entity in batch {
            index.upsert_indexable(entity);
        }
    }
    log_body_bytes(&index);
    index
}

/// Logs what the bodies of each kind take, as text and as held, so that operators can see what
/// packing with one dictionary per kind gains on their catalog (kinds with few entities stay
/// plain).
fn log_body_bytes(index: &Index) {
    for bytes in index.body_bytes() {
        tracing::info!(
            kind = %bytes.kind,
            entities = bytes.entities,
            packed = bytes.packed,
            text_bytes = bytes.text_bytes,
            held_bytes = bytes.held_bytes,
            "catalog bodies loaded"
        );
    }
}
