//! Entity references in Backstage's format, `[kind:][namespace/]name`, normalised to lowercase
//! `kind:namespace/name` so that comparisons are case-insensitive everywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The namespace used when a reference leaves it out.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A parsed, lowercase entity reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityRef {
    kind: String,
    namespace: String,
    name: String,
}

impl EntityRef {
    /// Parses `text`, filling in `default_kind` (when given) and the default namespace.
    ///
    /// `field` names the input in error messages, for example `user` or `spec.owner`.
    pub fn parse(text: &str, default_kind: Option<&str>, field: &str) -> Result<Self> {
        let text = text.trim();
        let expected = "expected [kind:][namespace/]name, for example user:default/ada";
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (Some(kind), rest),
            None => (None, text),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, rest),
        };
        let kind = match (kind, default_kind) {
            (Some(kind), _) => kind,
            (None, Some(default)) => default,
            (None, None) => {
                return Err(Error::invalid(
                    field,
                    format!("{text:?} has no kind and none is implied; {expected}"),
                ));
            }
        };
        let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
        for (part, value) in [("kind", kind), ("namespace", namespace), ("name", name)] {
            if value.is_empty()
                || value.contains([':', '/'])
                || value.chars().any(char::is_whitespace)
            {
                return Err(Error::invalid(
                    field,
                    format!("{text:?} is not a valid entity reference (bad {part}); {expected}"),
                ));
            }
        }
        Ok(Self {
            kind: kind.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        })
    }

    /// The kind, lowercase (`user`, `group`, `component`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The namespace, lowercase.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name, lowercase.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

impl TryFrom<String> for EntityRef {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value, None, "entityRef")
    }
}

impl From<EntityRef> for String {
    fn from(value: EntityRef) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, kind: Option<&str>) -> Result<String> {
        EntityRef::parse(text, kind, "ref").map(|r| r.to_string())
    }

    #[test]
    fn fills_in_defaults_and_lowercases() {
        assert_eq!(
            parse("ada", Some("User")).ok().as_deref(),
            Some("user:default/ada")
        );
        assert_eq!(
            parse("ops/Ada", Some("user")).ok().as_deref(),
            Some("user:ops/ada")
        );
        assert_eq!(
            parse("Group:Payments", Some("user")).ok().as_deref(),
            Some("group:default/payments")
        );
        assert_eq!(
            parse("user:default/ada", None).ok().as_deref(),
            Some("user:default/ada")
        );
    }

    #[test]
    fn rejects_malformed_references_naming_the_field() {
        for bad in [
            "",
            "user:",
            "user:default/",
            ":x",
            "a/b/c",
            "user:a:b",
            "ada okafor",
        ] {
            let err = parse(bad, Some("user"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("ref: "), "{bad:?} gave {err:?}");
        }
        let err = parse("ada", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("has no kind"), "{err}");
    }
}
