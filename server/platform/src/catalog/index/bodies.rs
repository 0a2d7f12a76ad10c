//! Entity bodies, kept compressed with dictionaries trained on the catalog's own entities, one
//! per kind.
//!
//! Bodies are most of the index's memory. They are small JSON documents that repeat the same
//! keys, annotation values and reference prefixes, so compressing each alone gains less than 2×
//! while a dictionary shared by bodies of one shape gains about 4×. Kinds differ in shape (a
//! User's profile, an API's definition, a Component's annotations), and a catalog is often
//! imported kind by kind, so a single dictionary trained on the first entities would only know
//! the first kind. Each kind therefore gets its own dictionary once it holds enough entities,
//! trained on a sample of them; its bodies stay plain until then. A dictionary is kept once
//! trained: later entities of another shape still round-trip exactly, only less compactly.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, RwLock};

use zstd::dict::DecoderDictionary;

use super::Index;

#[cfg(test)]
mod measure;

/// An entity body: as written, or packed by the index with dictionary number `codec`.
#[derive(Debug, Clone)]
pub enum Body {
    Plain(Arc<str>),
    Packed {
        codec: u8,
        len: u32,
        bytes: Box<[u8]>,
    },
}

impl Body {
    /// The text, when the body is not packed (bodies built outside the index never are).
    pub fn plain(&self) -> Option<&str> {
        match self {
            Self::Plain(text) => Some(text),
            Self::Packed { .. } => None,
        }
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::Plain(Arc::from(text))
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Self::Plain(Arc::from(text))
    }
}

/// Entities of a kind held before its dictionary is trained.
pub(super) const TRAIN_AFTER: usize = 1000;
/// Bodies sampled to train it.
pub(super) const SAMPLES: usize = 4000;
const DICTIONARY_BYTES: usize = 64 * 1024;
const LEVEL: i32 = 3;

thread_local! {
    /// Each thread's decompression context. Bodies are read with their codec's dictionary,
    /// prepared once when it was trained and only referenced by a read, so reading bodies of
    /// different kinds in turn costs nothing more; loading a dictionary into a context instead
    /// would digest it, which costs more than decompressing a page of entities.
    static UNPACKER: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> = const { RefCell::new(None) };
}

/// A trained dictionary: prepared once for reading, and the context that packs with it.
struct Codec {
    dictionary_bytes: usize,
    prepared: DecoderDictionary<'static>,
    packer: Mutex<Packer>,
}

/// The context that packs with a dictionary, and the buffer it packs into: the buffer is sized
/// for the worst case, so reusing it leaves one exact-size allocation per body instead of a large
/// one shrunk afterwards.
struct Packer {
    context: zstd::bulk::Compressor<'static>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("dictionary_bytes", &self.dictionary_bytes)
            .finish()
    }
}

impl Codec {
    /// Trains a dictionary on `samples`; `None` when zstd finds too little to learn from.
    fn train(samples: &[&[u8]]) -> Option<Self> {
        let dictionary = zstd::dict::from_samples(samples, DICTIONARY_BYTES).ok()?;
        let context = zstd::bulk::Compressor::with_dictionary(LEVEL, &dictionary).ok()?;
        Some(Self {
            dictionary_bytes: dictionary.len(),
            prepared: DecoderDictionary::copy(&dictionary),
            packer: Mutex::new(Packer {
                context,
                scratch: Vec::new(),
            }),
        })
    }

    /// `text` packed as codec number `number`, or `None` if packing fails or does not make it
    /// smaller.
    fn pack(&self, number: u8, text: &str) -> Option<Body> {
        let len = u32::try_from(text.len()).ok()?;
        let mut packer = self.packer.lock().ok()?;
        let Packer { context, scratch } = &mut *packer;
        scratch.clear();
        scratch.reserve(zstd::zstd_safe::compress_bound(text.len()));
        context.compress_to_buffer(text.as_bytes(), scratch).ok()?;
        (scratch.len() < text.len()).then(|| Body::Packed {
            codec: number,
            len,
            bytes: Box::from(scratch.as_slice()),
        })
    }

    /// The text of a packed body.
    fn unpack(&self, len: u32, bytes: &[u8]) -> Option<String> {
        UNPACKER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::zstd_safe::DCtx::try_create()?);
            }
            let unpacker = slot.as_mut()?;
            let mut out = Vec::with_capacity(len as usize);
            let written = unpacker
                .decompress_using_ddict(&mut out, bytes, self.prepared.as_ddict())
                .ok()?;
            (written == len as usize).then_some(())?;
            String::from_utf8(out).ok()
        })
    }
}

/// The index's dictionaries, numbered by their place in `list` (as [`Body::Packed`] names them),
/// and the kind each was trained for.
#[derive(Debug, Default)]
pub(super) struct Codecs {
    list: Vec<Arc<Codec>>,
    /// Kind (as stored in [`super::Stored::kind`]) → number of its dictionary.
    kinds: hashbrown::HashMap<Box<str>, u8>,
    /// The same dictionaries by kind, for [`BodyPacker`]s on other threads.
    published: Arc<RwLock<Published>>,
    /// Kind → its count when zstd last found too little to learn from it; training is tried
    /// again once the kind has doubled, rather than on each of its next entities.
    failed: hashbrown::HashMap<Box<str>, u64>,
}

/// Kind → the number of its dictionary and the dictionary.
type Published = hashbrown::HashMap<Box<str>, (u8, Arc<Codec>)>;

/// Packs bodies with an index's dictionaries away from the index, so that a loader can compress
/// on the thread that prepares entities rather than on the one that owns the index (at a million
/// entities, compressing was a tenth of that thread's time). A body it packs is read back with
/// the index's own dictionaries, which are the same ones.
#[derive(Debug, Clone)]
pub struct BodyPacker(Arc<RwLock<Published>>);

impl BodyPacker {
    /// `body` packed with the dictionary of `kind`, when that kind has one yet and the body is
    /// plain; the index packs later what this leaves plain.
    pub fn pack(&self, kind: &str, body: &Body) -> Option<Body> {
        let Body::Plain(text) = body else {
            return None;
        };
        let codec = self.0.read().ok()?.get(kind).cloned();
        let (number, codec) = codec?;
        codec.pack(number, text)
    }
}

impl Codecs {
    /// `body` packed with the dictionary of `kind`, when that kind has one and the body is plain.
    pub(super) fn pack(&self, kind: &str, body: &Body) -> Option<Body> {
        let (Body::Plain(text), Some(&number)) = (body, self.kinds.get(kind)) else {
            return None;
        };
        self.list.get(usize::from(number))?.pack(number, text)
    }

    /// A packer sharing these dictionaries, including those trained after it was made.
    pub(super) fn packer(&self) -> BodyPacker {
        BodyPacker(self.published.clone())
    }

    /// Adds the dictionary of `kind` as number `number`.
    fn add(&mut self, kind: &str, number: u8, codec: Codec) {
        let codec = Arc::new(codec);
        self.list.push(codec.clone());
        self.kinds.insert(kind.into(), number);
        if let Ok(mut published) = self.published.write() {
            published.insert(kind.into(), (number, codec));
        }
    }

    /// The text of a packed body.
    pub(super) fn unpack(&self, codec: u8, len: u32, bytes: &[u8]) -> Option<String> {
        self.list.get(usize::from(codec))?.unpack(len, bytes)
    }

    /// Whether `kind` still lacks a dictionary and one may be added (numbers fit in a byte).
    pub(super) fn untrained(&self, kind: &str) -> bool {
        !self.kinds.contains_key(kind) && self.list.len() <= usize::from(u8::MAX)
    }
}

/// What the bodies of one kind occupy, as text and as held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindBytes {
    pub kind: String,
    pub entities: usize,
    /// Entities whose body is packed.
    pub packed: usize,
    /// Bytes of the bodies as text.
    pub text_bytes: usize,
    /// Bytes the bodies take as held: packed bytes, or the text of a plain body.
    pub held_bytes: usize,
}

impl Index {
    /// Trains a dictionary for `kind` once it holds enough entities, and packs its bodies with it.
    pub(super) fn train_kind_if_due(&mut self, kind: &str) {
        if !self.codecs.untrained(kind) {
            return;
        }
        // The kind's count is its posting under `kind`, whose values are lowercase; until the
        // kind has a dictionary every body of it is plain.
        let count = self
            .keys
            .get("kind")
            .and_then(|entry| entry.values.get(kind.to_lowercase().as_str()))
            .map_or(0, |posting| posting.count_in(None));
        let failed_at = self.codecs.failed.get(kind).copied().unwrap_or(0);
        if count < TRAIN_AFTER as u64 || count < failed_at.saturating_mul(2) {
            return;
        }
        let bodies: Vec<&str> = self
            .slots
            .iter()
            .flatten()
            .filter(|e| e.kind() == kind)
            .filter_map(|e| e.body.plain())
            .collect();
        let stride = (bodies.len() / SAMPLES).max(1);
        let samples: Vec<&[u8]> = bodies
            .iter()
            .step_by(stride)
            .map(|b| b.as_bytes())
            .collect();
        let Some(codec) = Codec::train(&samples) else {
            self.codecs.failed.insert(kind.into(), count);
            return;
        };
        self.codecs.failed.remove(kind);
        let Ok(number) = u8::try_from(self.codecs.list.len()) else {
            return;
        };
        self.codecs.add(kind, number, codec);
        for slot in self.slots.iter_mut().flatten() {
            if slot.kind() != kind {
                continue;
            }
            if let Some(packed) = self.codecs.pack(kind, &slot.body) {
                let mut entity = (**slot).clone();
                entity.body = packed;
                *slot = Arc::new(entity);
            }
        }
    }

    /// Bytes of the bodies per kind, sorted by kind; one pass over the catalog.
    pub fn body_bytes(&self) -> Vec<KindBytes> {
        let mut kinds: std::collections::BTreeMap<&str, KindBytes> = Default::default();
        for entity in self.slots.iter().flatten() {
            let bytes = kinds.entry(entity.kind()).or_insert_with(|| KindBytes {
                kind: entity.kind().to_owned(),
                entities: 0,
                packed: 0,
                text_bytes: 0,
                held_bytes: 0,
            });
            bytes.entities += 1;
            match &entity.body {
                Body::Plain(text) => {
                    bytes.text_bytes += text.len();
                    bytes.held_bytes += text.len();
                }
                Body::Packed { len, bytes: b, .. } => {
                    bytes.packed += 1;
                    bytes.text_bytes += *len as usize;
                    bytes.held_bytes += b.len();
                }
            }
        }
        kinds.into_values().collect()
    }
}
