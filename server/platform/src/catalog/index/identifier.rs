//! Uids and etags, held in 16 bytes when they are UUIDs.

use std::fmt;
use std::hash::{Hash, Hasher};

use uuid::Uuid;

/// An entity's uid or etag. Every entity has both, and a catalog of a million entities is held in
/// memory, so a UUID (the form Causeway writes both in) is kept as its 16 bytes and the form it
/// was written in, rather than as a 32- or 36-character string with its own allocation: about
/// 80 bytes less per entity (with the kind no longer copied, about 100 MiB less at a million
/// entities). Any other text, from a database written by other means, is kept as it is. An
/// identifier compares, hashes, renders and serializes as its text, which is exactly the text it
/// was made from.
#[derive(Clone, PartialEq, Eq)]
pub struct Identifier(Repr);

/// Each text has exactly one representation (a text is kept as text only when no UUID form
/// writes it back unchanged), so comparing representations compares texts.
#[derive(Clone, PartialEq, Eq)]
enum Repr {
    /// `67e55044-10b1-426f-9247-bb680e5fe0c8`: lowercase, hyphenated.
    Hyphenated(Uuid),
    /// `67e5504410b1426f9247bb680e5fe0c8`: lowercase, without hyphens.
    Simple(Uuid),
    Text(Box<str>),
}

impl Identifier {
    /// A new uid, in the hyphenated form: a version 7 UUID, which begins with the time it was
    /// made (then 74 random bits), so that the database's index of uids grows at its end. A
    /// random uid lands on a random page of that index, and once the index outgrows SQLite's
    /// page cache every new entity reads and rewrites a page of its own.
    pub fn new_uid() -> Self {
        Self(Repr::Hyphenated(Uuid::now_v7()))
    }

    /// A new random etag, in the form without hyphens.
    pub fn new_etag() -> Self {
        Self(Repr::Simple(Uuid::new_v4()))
    }

    /// Calls `f` with the identifier's text, written on the stack when it is a UUID.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let mut buffer = Uuid::encode_buffer();
        match &self.0 {
            Repr::Hyphenated(uuid) => f(uuid.hyphenated().encode_lower(&mut buffer)),
            Repr::Simple(uuid) => f(uuid.simple().encode_lower(&mut buffer)),
            Repr::Text(text) => f(text),
        }
    }
}

impl From<&str> for Identifier {
    fn from(text: &str) -> Self {
        let mut buffer = Uuid::encode_buffer();
        // `Uuid::try_parse` also accepts uppercase, braces and URNs; only a form that writes the
        // same text back is kept as a UUID.
        let repr = match Uuid::try_parse(text) {
            Ok(uuid) if uuid.hyphenated().encode_lower(&mut buffer) == text => {
                Repr::Hyphenated(uuid)
            }
            Ok(uuid) if uuid.simple().encode_lower(&mut buffer) == text => Repr::Simple(uuid),
            _ => Repr::Text(text.into()),
        };
        Self(repr)
    }
}

impl From<String> for Identifier {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl PartialEq<str> for Identifier {
    fn eq(&self, other: &str) -> bool {
        self.with_str(|text| text == other)
    }
}

impl Hash for Identifier {
    /// As its text, so that an identifier and the `&str` a caller looks it up by hash alike.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.with_str(|text| text.hash(state));
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|text| f.write_str(text))
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|text| fmt::Debug::fmt(text, f))
    }
}

impl serde::Serialize for Identifier {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_str(|text| serializer.serialize_str(text))
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn every_text_comes_back_unchanged() {
        let uuid = Uuid::new_v4();
        let texts = [
            uuid.hyphenated().to_string(),
            uuid.simple().to_string(),
            uuid.hyphenated().to_string().to_uppercase(),
            uuid.simple().to_string().to_uppercase(),
            format!("{{{}}}", uuid.hyphenated()),
            uuid.urn().to_string(),
            String::new(),
            "e\"1".to_owned(),
            "component:default/a".to_owned(),
            "67e55044-10b1-426f-9247-bb680e5fe0c".to_owned(),
        ];
        for text in texts {
            let id = Identifier::from(text.as_str());
            assert_eq!(id.to_string(), text);
            assert!(id == *text.as_str());
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
            assert_eq!(format!("{id:?}"), format!("{text:?}"));
            let hasher = hashbrown::DefaultHashBuilder::default();
            assert_eq!(hasher.hash_one(&id), hasher.hash_one(text.as_str()));
        }
    }

    #[test]
    fn uuids_take_no_allocation_and_compare_by_text() {
        let uuid = Uuid::new_v4();
        let hyphenated = Identifier::from(uuid.hyphenated().to_string());
        let simple = Identifier::from(uuid.simple().to_string());
        assert!(matches!(hyphenated.0, Repr::Hyphenated(_)));
        assert!(matches!(simple.0, Repr::Simple(_)));
        // The same UUID written two ways is two different texts.
        assert_ne!(hyphenated, simple);
        let upper = Identifier::from(uuid.hyphenated().to_string().to_uppercase());
        assert!(matches!(upper.0, Repr::Text(_)));
        assert_ne!(upper, hyphenated);
        assert!(Identifier::new_uid().to_string().len() == 36);
        assert!(Identifier::new_etag().to_string().len() == 32);
        assert!(size_of::<Identifier>() <= 24);
    }
}
