//! Preparing an entity for the index away from the index.
//!
//! At start-up one thread owns the index and inserts every entity, and it is the one the load
//! waits for. Whatever can be done without the index is therefore done beforehand, on the
//! thread that parses the rows: flattening the body into search pairs, compressing the body
//! with its kind's dictionary, and hashing every string the index will look up (the reference,
//! the uid, each relation's target and each pair's value) with the index's own hasher.

use std::hash::BuildHasher as _;

use hashbrown::DefaultHashBuilder;
use serde_json::Value;

use super::bodies::BodyPacker;
use super::pairs::{Pair, search_pairs};
use super::{Index, Stored};

/// An entity with its search pairs and hashes computed (see the module's documentation).
pub struct Indexable {
    pub(super) entity: Stored,
    pub(super) pairs: Vec<Pair>,
    pub(super) hashes: Hashes,
}

/// The index's hashes of an entity's strings, in the order the entity holds them.
pub(super) struct Hashes {
    pub(super) entity_ref: u64,
    pub(super) uid: u64,
    /// One per edge, in the order of `entity.edges`.
    pub(super) targets: Vec<u64>,
    /// One per pair, in the order of the pairs.
    pub(super) values: Vec<u64>,
}

/// Prepares entities for one index on any thread: [`Index::preparer`] makes one.
#[derive(Debug, Clone)]
pub struct Preparer {
    hasher: DefaultHashBuilder,
    packer: BodyPacker,
}

impl Preparer {
    /// `entity` ready for [`Index::upsert_indexable`]; `body` must be `entity.body` parsed, since
    /// the entity is indexed under its pairs. Its body is packed when its kind has a dictionary
    /// already; the index packs later what this leaves plain.
    pub fn indexable(&self, mut entity: Stored, body: &Value) -> Indexable {
        if let Some(packed) = self.packer.pack(entity.kind(), &entity.body) {
            entity.body = packed;
        }
        self.hashed(entity, body)
    }

    /// [`Self::indexable`] without packing, for the index's own writes.
    pub(super) fn hashed(&self, entity: Stored, body: &Value) -> Indexable {
        let pairs = search_pairs(body, &entity.edges, &[]);
        let hasher = &self.hasher;
        let hashes = Hashes {
            entity_ref: hasher.hash_one(entity.entity_ref()),
            uid: hasher.hash_one(&entity.uid),
            targets: entity
                .edges
                .iter()
                .map(|e| hasher.hash_one(&*e.target))
                .collect(),
            values: pairs
                .iter()
                .map(|p| hasher.hash_one(p.value.as_str()))
                .collect(),
        };
        Indexable {
            entity,
            pairs,
            hashes,
        }
    }
}

impl Index {
    /// A preparer for this index, which may run on another thread; it packs with the
    /// dictionaries this index trains, including those trained after it was made.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            hasher: self.hasher.clone(),
            packer: self.codecs.packer(),
        }
    }
}
