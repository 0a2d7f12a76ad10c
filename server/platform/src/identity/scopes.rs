//! What an API token may do: its scopes, and the rules that hold a token to them and to its
//! user's current rights. They live here, in the domain, so that every door resolving a token
//! (the REST API's authentication, and any later one) applies the same rules.

use serde::Serialize;

use super::{Principal, Role};
use crate::{Error, Result};

/// One scope of a token. Scopes are cumulative: `write` includes `read`, and `admin` includes
/// `write`; a token's rights are those of its broadest scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reads only: the REST API's `GET` and `HEAD`.
    Read,
    /// Everything its user may do, except what needs a platform admin.
    Write,
    /// Platform-admin actions too; only platform admins may hold it, and it acts with its user's
    /// current rights, so it is `write` once they are no longer a platform admin.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Parses one scope; an unknown one is an error on `field` listing the known ones.
    pub fn parse(text: &str, field: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("{text:?} is not a scope; expected read, write or admin"),
                )
            })
    }

    /// The broadest scope `principal` may hold: `admin` for a platform admin, else `write`.
    pub fn broadest_for(principal: &Principal) -> Self {
        if principal.role == Role::PlatformAdmin {
            Scope::Admin
        } else {
            Scope::Write
        }
    }
}

/// A token's scopes, deduplicated and in order (`read`, `write`, `admin`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// The scopes given; an empty list is an error on `field`, since a token without a scope
    /// could do nothing.
    pub fn new(scopes: impl IntoIterator<Item = Scope>, field: &str) -> Result<Self> {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(Error::invalid(
                field,
                "must name at least one scope: read, write or admin",
            ));
        }
        Ok(Self(scopes))
    }

    /// One scope.
    pub fn only(scope: Scope) -> Self {
        Self(vec![scope])
    }

    /// Reads the stored form, `read,write`; unknown words (from a newer version) are ignored,
    /// which can only narrow a token.
    pub fn from_stored(text: &str) -> Self {
        Self(
            Scope::ALL
                .into_iter()
                .filter(|s| text.split(',').any(|w| w.trim() == s.as_str()))
                .collect(),
        )
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The broadest scope, which decides what the token may do; `None` for a stored row whose
    /// scopes were all unknown (such a token may do nothing).
    pub fn broadest(&self) -> Option<Scope> {
        self.0.last().copied()
    }

    /// Whether the token may change anything (`write` or `admin`), rather than only read.
    pub fn allows_changes(&self) -> bool {
        self.broadest().is_some_and(|s| s >= Scope::Write)
    }

    /// `principal` as a token with these scopes may act: a platform admin's rights only with
    /// `admin` (and only while they are one, since `principal` is read afresh for each request).
    pub fn restrict(&self, mut principal: Principal) -> Principal {
        if self.broadest() != Some(Scope::Admin) {
            principal.role = Role::Developer;
        }
        principal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role) -> Principal {
        Principal {
            entity_ref: "user:default/ada".to_owned(),
            display_name: "Ada".to_owned(),
            email: None,
            teams: Vec::new(),
            role,
        }
    }

    #[test]
    fn scopes_are_ordered_deduplicated_and_stored_as_words() {
        let scopes = Scopes::new([Scope::Admin, Scope::Read, Scope::Read], "scopes").expect("ok");
        assert_eq!(scopes.to_stored(), "read,admin");
        assert_eq!(Scopes::from_stored("read,admin"), scopes);
        assert_eq!(Scopes::from_stored("future,read").to_stored(), "read");
        assert_eq!(
            Scopes::new([], "scopes").expect_err("empty").to_string(),
            "scopes: must name at least one scope: read, write or admin"
        );
        assert_eq!(
            Scope::parse("owner", "scopes[0]")
                .expect_err("unknown")
                .to_string(),
            "scopes[0]: \"owner\" is not a scope; expected read, write or admin"
        );
    }

    #[test]
    fn only_write_and_admin_change_and_only_admin_keeps_admin_rights() {
        assert!(!Scopes::only(Scope::Read).allows_changes());
        assert!(Scopes::only(Scope::Write).allows_changes());
        assert!(Scopes::only(Scope::Admin).allows_changes());
        assert!(!Scopes::from_stored("").allows_changes());
        let admin = person(Role::PlatformAdmin);
        assert_eq!(
            Scopes::only(Scope::Write).restrict(admin.clone()).role,
            Role::Developer
        );
        assert_eq!(
            Scopes::only(Scope::Admin).restrict(admin).role,
            Role::PlatformAdmin
        );
        // An admin token of someone who is no longer an admin acts as a developer.
        assert_eq!(
            Scopes::only(Scope::Admin)
                .restrict(person(Role::Developer))
                .role,
            Role::Developer
        );
    }
}
