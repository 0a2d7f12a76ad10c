//! Entity bodies, kept compressed with a dictionary trained on the catalog's own entities.
//!
//! Bodies are most of the index's memory. They are small JSON documents that repeat the same
//! keys, annotation values and reference prefixes, so compressing each alone gains less than 2×
//! while a dictionary shared by all of them gains about 4×. The dictionary is trained once the
//! catalog holds enough entities and then kept: later entities of another shape still round-trip
//! exactly, only less compactly.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An entity body: as written, or packed by the index's [`Codec`].
#[derive(Debug, Clone)]
pub enum Body {
    Plain(Arc<str>),
    Packed { len: u32, bytes: Box<[u8]> },
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

/// Bodies seen before a dictionary is trained.
pub(super) const TRAIN_AFTER: usize = 1000;
/// Bodies sampled to train it.
pub(super) const SAMPLES: usize = 4000;
const DICTIONARY_BYTES: usize = 64 * 1024;
const LEVEL: i32 = 3;

static NEXT_CODEC: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Each thread's decompression context for the codec it last used: creating one digests the
    /// dictionary, which costs more than decompressing a page of entities.
    static UNPACKER: RefCell<Option<(u64, zstd::bulk::Decompressor<'static>)>> = const { RefCell::new(None) };
}

/// A trained dictionary and the context that packs with it.
pub(super) struct Codec {
    id: u64,
    dictionary: Arc<[u8]>,
    packer: Mutex<zstd::bulk::Compressor<'static>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("id", &self.id)
            .field("dictionary_bytes", &self.dictionary.len())
            .finish()
    }
}

impl Codec {
    /// Trains a dictionary on `samples`; `None` when zstd finds too little to learn from.
    pub(super) fn train(samples: &[&[u8]]) -> Option<Self> {
        let dictionary = zstd::dict::from_samples(samples, DICTIONARY_BYTES).ok()?;
        let packer = zstd::bulk::Compressor::with_dictionary(LEVEL, &dictionary).ok()?;
        Some(Self {
            id: NEXT_CODEC.fetch_add(1, Ordering::Relaxed),
            dictionary: Arc::from(dictionary),
            packer: Mutex::new(packer),
        })
    }

    /// `text` packed, or kept plain if packing fails or does not make it smaller.
    pub(super) fn pack(&self, text: &Arc<str>) -> Body {
        let packed = self
            .packer
            .lock()
            .ok()
            .and_then(|mut packer| packer.compress(text.as_bytes()).ok());
        match (packed, u32::try_from(text.len())) {
            (Some(bytes), Ok(len)) if bytes.len() < text.len() => Body::Packed {
                len,
                bytes: bytes.into_boxed_slice(),
            },
            _ => Body::Plain(text.clone()),
        }
    }

    /// The text of a packed body.
    pub(super) fn unpack(&self, len: u32, bytes: &[u8]) -> Option<String> {
        UNPACKER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(id, _)| *id != self.id) {
                let unpacker = zstd::bulk::Decompressor::with_dictionary(&self.dictionary).ok()?;
                *slot = Some((self.id, unpacker));
            }
            let (_, unpacker) = slot.as_mut()?;
            let out = unpacker.decompress(bytes, len as usize).ok()?;
            String::from_utf8(out).ok()
        })
    }
}
