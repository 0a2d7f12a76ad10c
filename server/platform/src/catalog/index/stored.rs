//! An entity as the index keeps it.
//!
//! A million of these are resident at once, so every field is as small as the catalog allows:
//! the reference, namespace and name share one allocation ([`Names`]), the kind is a pointer into
//! the kind table, and the relations are a boxed slice. The record then fits mimalloc's 160-byte
//! size class (with the `Arc`'s counts) instead of its 224-byte one.

use std::fmt;
use std::sync::Arc;

use super::super::entity::Edge;
use super::super::kinds::Kind;
use super::{Body, Identifier};

/// An entity as stored: the authored body plus the output-only metadata.
#[derive(Debug, Clone)]
pub struct Stored {
    pub uid: Identifier,
    pub etag: Identifier,
    pub generation: i64,
    /// Its reference, namespace and name.
    pub names: Names,
    /// The kind, an entry of the kind table; [`Self::kind`] is its name as the model spells it.
    pub kind: &'static Kind,
    /// The authored body, compact JSON with `metadata` first (see
    /// [`super::super::render::body_text`]); read it through [`super::Index::body`], since the
    /// index packs it.
    pub body: Body,
    /// Relations declared by the entity's own fields.
    pub edges: Box<[Edge]>,
    /// Where the entity came from (`url:…`, `file:…`, `upload:…`); shared by every entity of
    /// one location.
    pub location_key: Arc<str>,
}

impl Stored {
    /// Lowercase `kind:namespace/name`, the identity used for uniqueness.
    pub fn entity_ref(&self) -> &str {
        self.names.entity_ref()
    }

    /// The kind as the model spells it (`Component`).
    pub fn kind(&self) -> &'static str {
        self.kind.name
    }

    /// The namespace as authored.
    pub fn namespace(&self) -> &str {
        self.names.namespace()
    }

    /// The name as authored.
    pub fn name(&self) -> &str {
        self.names.name()
    }
}

/// An entity's normalised reference and its authored namespace and name, in one allocation.
///
/// Most entities are authored in lowercase, so their namespace and name are the reference's own
/// bytes; only a namespace or name written in another case is appended after the reference.
/// Separate strings cost two more allocations and 48 bytes of headers per entity. The offsets are
/// two bytes wide: a valid reference is at most a few hundred bytes (names and namespaces are
/// limited to 63 and 253 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct Names {
    /// The reference, then the authored namespace and name where they differ from its own.
    text: Box<str>,
    /// Where the reference ends in `text`.
    ref_end: u16,
    /// Where the namespace starts and ends in `text`.
    namespace: (u16, u16),
    /// Where the name starts in `text`. A name that is part of the reference starts before the
    /// reference's end and ends there; any other name was appended last and ends with `text`.
    name_start: u16,
}

impl Names {
    /// Names for `entity_ref`, which ends in `namespace/name` lowercased, as every processed
    /// entity's does; a namespace or name it does not end in is appended instead.
    ///
    /// # Panics
    ///
    /// When the reference and the namespace together exceed 64 KiB, which no valid entity's do.
    pub fn new(entity_ref: &str, namespace: &str, name: &str) -> Self {
        let mut text = String::with_capacity(entity_ref.len());
        text.push_str(entity_ref);
        let ref_end = entity_ref.len();
        // Where the name and the namespace would start if the reference ends in `:namespace/name`.
        let name_at = ref_end.checked_sub(name.len());
        let namespace_at = name_at
            .and_then(|at| at.checked_sub(namespace.len() + 1))
            .filter(|&at| {
                at > 0
                    && entity_ref.as_bytes()[at - 1] == b':'
                    && entity_ref.as_bytes()[at + namespace.len()] == b'/'
            });
        let namespace_range = match namespace_at {
            Some(at) if entity_ref.get(at..at + namespace.len()) == Some(namespace) => {
                (at, at + namespace.len())
            }
            _ => {
                let start = text.len();
                text.push_str(namespace);
                (start, text.len())
            }
        };
        let name_start = match (namespace_at, name_at) {
            (Some(_), Some(at)) if !name.is_empty() && entity_ref.get(at..) == Some(name) => at,
            // Appended last, so that it ends with the text (an empty name too: it then starts
            // there, after whatever was appended).
            _ => {
                let start = text.len();
                text.push_str(name);
                start
            }
        };
        let offset = |at: usize| u16::try_from(at).expect("an entity's names fit in 64 KiB");
        Self {
            ref_end: offset(ref_end),
            namespace: (offset(namespace_range.0), offset(namespace_range.1)),
            name_start: offset(name_start),
            text: text.into_boxed_str(),
        }
    }

    pub fn entity_ref(&self) -> &str {
        &self.text[..usize::from(self.ref_end)]
    }

    pub fn namespace(&self) -> &str {
        &self.text[usize::from(self.namespace.0)..usize::from(self.namespace.1)]
    }

    pub fn name(&self) -> &str {
        let end = if self.name_start < self.ref_end {
            usize::from(self.ref_end)
        } else {
            self.text.len()
        };
        &self.text[usize::from(self.name_start)..end]
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names")
            .field("entity_ref", &self.entity_ref())
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_names_are_the_references_own_bytes() {
        let names = Names::new("component:default/payments", "default", "payments");
        assert_eq!(names.entity_ref(), "component:default/payments");
        assert_eq!(names.namespace(), "default");
        assert_eq!(names.name(), "payments");
        assert_eq!(names.text.len(), "component:default/payments".len());
    }

    #[test]
    fn names_in_another_case_are_kept_as_authored() {
        for (namespace, name) in [
            ("Default", "payments"),
            ("default", "Payments"),
            ("Team-A", "Pay.Ments_2"),
        ] {
            let entity_ref = format!(
                "component:{}/{}",
                namespace.to_lowercase(),
                name.to_lowercase()
            );
            let names = Names::new(&entity_ref, namespace, name);
            assert_eq!(names.entity_ref(), entity_ref);
            assert_eq!(names.namespace(), namespace);
            assert_eq!(names.name(), name);
        }
    }

    #[test]
    fn a_reference_that_does_not_end_in_the_names_keeps_all_three() {
        // A name that is a suffix of the reference's name, and a namespace that is not where the
        // reference has one, must not be taken from the reference.
        for (entity_ref, namespace, name) in [
            ("component:default/payments", "default", "ments"),
            ("component:default/payments", "fault", "payments"),
            ("component:default/payments", "other", "payments"),
            ("x", "default", "payments"),
            ("", "", ""),
            ("component:/", "", ""),
            ("component:Ä/", "ä", ""),
            ("component:default/", "Default", ""),
        ] {
            let names = Names::new(entity_ref, namespace, name);
            assert_eq!(names.entity_ref(), entity_ref);
            assert_eq!(names.namespace(), namespace);
            assert_eq!(names.name(), name);
        }
    }

    #[test]
    fn the_record_fits_its_size_class() {
        // 144 bytes and the Arc's two counts fill mimalloc's 160-byte class exactly.
        assert!(std::mem::size_of::<Stored>() <= 144);
    }
}
