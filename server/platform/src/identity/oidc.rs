//! Who a person signed in through OpenID Connect is in Causeway: the matching rule between an
//! identity provider's verified claims and the catalog's users and groups.
//!
//! The rule, in full:
//!
//! - The person is the catalog `User` whose `spec.profile.email` equals the token's `email`
//!   (compared without regard to case) when the user claim is `email`, which is the default. With
//!   any other user claim, its value is read as a user's name (`user:default/<value>`, or a full
//!   reference). An email the provider says is not verified (`email_verified: false`) matches
//!   nobody, since anyone could have typed it.
//! - With allowed email domains configured, the token's email must be in one of them, whatever the
//!   user claim.
//! - The catalog's memberships stay the truth for teams. A token group adds a team only when a
//!   catalog `Group` maps it explicitly with the annotation `causeway.dev/oidc-group`; a group that
//!   merely has the same name as a token group is reported (for the audit record) but adds
//!   nothing, because a coincidence of names between two systems is not a decision anyone made.
//!   A mapped group that is an admin team makes the person a platform admin, as membership does.
//! - A person the catalog does not know is refused, or, when the platform team chose to admit
//!   them, signed in as a guest with no teams at all (groups are not consulted for guests).

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Directory, Principal, Role, Team};
use crate::catalog::Catalog;
use crate::entity_ref::EntityRef;
use crate::{Error, Result};

/// The annotation with which a catalog `Group` names the identity provider's group it stands for.
pub const OIDC_GROUP_ANNOTATION: &str = "causeway.dev/oidc-group";

/// The namespace of the references given to people admitted without a catalog `User`.
pub const GUEST_NAMESPACE: &str = "guest";

/// What the platform team decided for people the catalog does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownUsers {
    Refuse,
    Admit,
}

/// The configured matching rule.
#[derive(Debug, Clone)]
pub struct MatchRules {
    /// The claim that names the person: `email` (matched to `spec.profile.email`) or another
    /// claim whose value is a user's name.
    pub user_claim: String,
    /// Lowercase email domains that may sign in; empty for any.
    pub allowed_domains: Vec<String>,
    pub unknown_users: UnknownUsers,
}

/// The verified claims of an ID token that matching reads.
#[derive(Debug, Clone, Default)]
pub struct SignInClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// The value of the configured user claim, when it is not `email`.
    pub user_claim_value: Option<String>,
    /// The token's groups (the configured groups claim).
    pub groups: Vec<String>,
}

impl SignInClaims {
    /// How the person is named to them and in audit records: their email, else their subject.
    pub fn signed_in_as(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }
}

/// Why a signed-in person was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token lacks the claim that names the person.
    MissingClaim(String),
    /// The provider says the email is not verified.
    UnverifiedEmail,
    /// The email's domain is not among the allowed ones (or there is no email to check).
    DomainNotAllowed(String),
    /// Several catalog users have this email.
    Ambiguous(String),
    /// No catalog user matches, and unknown people are refused.
    Unknown,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingClaim(claim) => write!(f, "the identity provider sent no `{claim}` claim"),
            Self::UnverifiedEmail => {
                f.write_str("the identity provider says the email is not verified")
            }
            Self::DomainNotAllowed(domain) if domain.is_empty() => f.write_str(
                "the identity provider sent no email, and only some email domains may sign in",
            ),
            Self::DomainNotAllowed(domain) => {
                write!(f, "the email domain {domain:?} is not allowed to sign in")
            }
            Self::Ambiguous(value) => write!(f, "several catalog users have the email {value:?}"),
            Self::Unknown => f.write_str("no catalog User matches this person"),
        }
    }
}

/// The outcome of matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInMatch {
    /// A catalog user; `added_teams` are groups mapped by annotation, `named_groups` the catalog
    /// groups that only share a name with a token group.
    Known {
        user_ref: String,
        added_teams: Vec<Team>,
        named_groups: Vec<String>,
    },
    /// Admitted without a catalog user and without teams.
    Guest {
        user_ref: String,
        display_name: String,
    },
    Refused(Refusal),
}

impl Directory {
    /// Matches a signed-in person to the catalog by the rule in this module's documentation.
    pub async fn match_sign_in(
        &self,
        catalog: &Catalog,
        claims: &SignInClaims,
        rules: &MatchRules,
    ) -> Result<SignInMatch> {
        if let Some(refusal) = check_email(claims, rules) {
            return Ok(SignInMatch::Refused(refusal));
        }
        let user_ref = if rules.user_claim == "email" {
            let Some(email) = claims.email.as_deref() else {
                return Ok(SignInMatch::Refused(Refusal::MissingClaim("email".into())));
            };
            let rows = sqlx::query("SELECT entity_ref FROM users WHERE lower(email) = lower($1)")
                .bind(email)
                .fetch_all(self.store.pool())
                .await?;
            if rows.len() > 1 {
                return Ok(SignInMatch::Refused(Refusal::Ambiguous(email.to_owned())));
            }
            rows.first()
                .map(|r| r.try_get::<String, _>("entity_ref"))
                .transpose()?
        } else {
            let Some(value) = claims.user_claim_value.as_deref() else {
                return Ok(SignInMatch::Refused(Refusal::MissingClaim(
                    rules.user_claim.clone(),
                )));
            };
            match EntityRef::parse(value, Some("user"), &rules.user_claim) {
                Ok(r) if r.kind() == "user" => match self.principal(&r.to_string()).await {
                    Ok(p) => Some(p.entity_ref),
                    Err(Error::NotFound(_)) => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            }
        };
        match user_ref {
            Some(user_ref) => {
                let (added_teams, named_groups) = self.mapped_groups(catalog, &claims.groups);
                Ok(SignInMatch::Known {
                    user_ref,
                    added_teams,
                    named_groups,
                })
            }
            None if rules.unknown_users == UnknownUsers::Admit => Ok(SignInMatch::Guest {
                user_ref: guest_ref(claims),
                display_name: claims
                    .name
                    .clone()
                    .unwrap_or_else(|| claims.signed_in_as().to_owned()),
            }),
            None => Ok(SignInMatch::Refused(Refusal::Unknown)),
        }
    }

    /// The teams the provider's `groups` add for a session: the catalog groups that map them by
    /// annotation, as at sign-in.
    pub fn teams_for_groups(&self, catalog: &Catalog, groups: &[String]) -> Vec<Team> {
        self.mapped_groups(catalog, groups).0
    }

    /// The catalog groups that map the token's groups by annotation (teams to add), and those
    /// that only share a name with one (references, reported only).
    fn mapped_groups(&self, catalog: &Catalog, groups: &[String]) -> (Vec<Team>, Vec<String>) {
        let index = catalog.index();
        let kind = index.matching("kind", "group");
        let annotation_key = format!("metadata.annotations.{OIDC_GROUP_ANNOTATION}");
        let mut added = Vec::new();
        let mut named = Vec::new();
        for group in groups {
            let value = group.to_lowercase();
            for id in &(index.matching(&annotation_key, &value) & &kind) {
                if let Some(entity) = index.get(id) {
                    let body = index.body_value(entity);
                    let display_name = body
                        .pointer("/spec/profile/displayName")
                        .and_then(|v| v.as_str())
                        .unwrap_or(entity.name())
                        .to_owned();
                    added.push(Team {
                        entity_ref: entity.entity_ref().to_owned(),
                        display_name,
                    });
                }
            }
            for id in &(index.matching("metadata.name", &value) & &kind) {
                if let Some(entity) = index.get(id) {
                    named.push(entity.entity_ref().to_owned());
                }
            }
        }
        added.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
        added.dedup_by(|a, b| a.entity_ref == b.entity_ref);
        named.sort();
        named.dedup();
        (added, named)
    }

    /// `principal` with the teams a sign-in added (those it already has are not repeated), and
    /// the role those teams give.
    pub fn with_added_teams(&self, mut principal: Principal, added: &[Team]) -> Principal {
        for team in added {
            if !principal.is_member_of(&team.entity_ref) {
                principal.teams.push(team.clone());
            }
        }
        if principal
            .teams
            .iter()
            .any(|t| self.admin_teams.contains(&t.entity_ref))
        {
            principal.role = Role::PlatformAdmin;
        }
        principal
    }
}

/// The email checks that apply whatever the user claim: verification and allowed domains.
fn check_email(claims: &SignInClaims, rules: &MatchRules) -> Option<Refusal> {
    if claims.email.is_some() && claims.email_verified == Some(false) {
        return Some(Refusal::UnverifiedEmail);
    }
    if rules.allowed_domains.is_empty() {
        return None;
    }
    let domain = claims
        .email
        .as_deref()
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default();
    (!rules.allowed_domains.contains(&domain) || domain.is_empty())
        .then_some(Refusal::DomainNotAllowed(domain))
}

/// A stable reference for a guest: readable (from their email or subject) and unique per issuer
/// and subject (a short hash), in a namespace of its own. It is a valid entity reference, so
/// everything that reads principals' references can parse it.
fn guest_ref(claims: &SignInClaims) -> String {
    let readable: String = claims
        .signed_in_as()
        .split('@')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    let digest = Sha256::digest(format!("{}\n{}", claims.issuer, claims.subject).as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let name = if readable.is_empty() {
        hash
    } else {
        format!("{readable}-{hash}")
    };
    format!("user:{GUEST_NAMESPACE}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(domains: &[&str]) -> MatchRules {
        MatchRules {
            user_claim: "email".into(),
            allowed_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            unknown_users: UnknownUsers::Refuse,
        }
    }

    #[test]
    fn unverified_emails_and_other_domains_are_refused() {
        let mut claims = SignInClaims {
            email: Some("ada@Example.com".into()),
            email_verified: Some(true),
            ..SignInClaims::default()
        };
        assert_eq!(check_email(&claims, &rules(&[])), None);
        assert_eq!(check_email(&claims, &rules(&["example.com"])), None);
        assert_eq!(
            check_email(&claims, &rules(&["corp.example"])),
            Some(Refusal::DomainNotAllowed("example.com".into()))
        );
        claims.email_verified = Some(false);
        assert_eq!(
            check_email(&claims, &rules(&[])),
            Some(Refusal::UnverifiedEmail)
        );
        claims.email = None;
        assert_eq!(
            check_email(&claims, &rules(&["example.com"])),
            Some(Refusal::DomainNotAllowed(String::new()))
        );
    }

    #[test]
    fn guest_references_are_valid_and_differ_by_subject() {
        let claims = |sub: &str| SignInClaims {
            issuer: "https://idp.example".into(),
            subject: sub.into(),
            email: Some("Mal.Lory+x@example.com".into()),
            ..SignInClaims::default()
        };
        let a = guest_ref(&claims("1"));
        let b = guest_ref(&claims("2"));
        assert!(a.starts_with("user:guest/mal-lory-x-"), "{a}");
        assert_ne!(a, b);
        let parsed = EntityRef::parse(&a, None, "user").expect("valid reference");
        assert_eq!(parsed.to_string(), a);
    }
}
