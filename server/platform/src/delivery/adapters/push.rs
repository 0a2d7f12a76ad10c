//! Gitea's and GitHub's push webhooks: every commit a push brings (`commits[]`: `id`,
//! `timestamp`) is a change of each component built from the pushed repository, authored at its
//! timestamp, which is where its lead time starts.
//!
//! A component is built from a repository when one of its annotations names it: the location the
//! catalog read it from (`backstage.io/managed-by-origin-location`, `git:<repository>#…` as
//! `catalog:register` leaves it, or `url:…`), `backstage.io/source-location` (`url:…`, as the
//! catalog reader or its author set it) or `github.com/project-slug`. Addresses are compared
//! without their scheme, credentials, case, `.git` suffix and browse path (`/tree/main/…`), so
//! the clone URL and the web address of one repository meet. A push to a repository no component
//! is built from is skipped, not refused.
//!
//! Pushes that prove themselves with the webhook secret (see [`verify_signature`]) are recorded
//! by the platform itself; pushes sent with an API token are recorded as its owner, who must be
//! allowed for every component of the repository.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::Received;
use crate::catalog::Problem;
use crate::delivery::events::{Change, Event, Payload};
use crate::delivery::{Delivery, Ingested};
use crate::identity::Principal;
use crate::{Error, Result};

/// The git servers whose push payloads are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    Gitea,
    GitHub,
}

impl Forge {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gitea => "gitea",
            Self::GitHub => "github",
        }
    }
}

/// The most commits one push may carry (GitHub sends at most 2,048; Gitea at most its
/// `webhook.DELIVER_TIMEOUT`-bound list, 20 by default per page).
const MAX_COMMITS: usize = 5000;

/// Annotations that name the repository a component is built from.
const ORIGIN: &str = "backstage.io/managed-by-origin-location";
const SOURCE_LOCATION: &str = "backstage.io/source-location";
const PROJECT_SLUG: &str = "github.com/project-slug";

/// Checks a webhook's HMAC-SHA256 signature of `body` with `secret`: GitHub's
/// `X-Hub-Signature-256` (`sha256=<hex>`) or Gitea's `X-Gitea-Signature` (`<hex>`). Compared in
/// constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let hex = signature.trim();
    let hex = hex.strip_prefix("sha256=").unwrap_or(hex);
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// GitHub's signature of `body` with `secret`: `sha256=` and the HMAC-SHA256 in hexadecimal
/// (Gitea sends the same digest without the prefix).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A repository address reduced to `host/owner/repo` in lowercase, so that the forms one
/// repository is written in compare equal.
pub fn repository_key(address: &str) -> Option<String> {
    let mut text = address.trim();
    for prefix in ["url:", "git:"] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    // `git:<repository>#<branch>:<path>` names the branch and path after the repository.
    let text = text.split('#').next().unwrap_or(text);
    let rest = match text.split_once("://") {
        Some((_, rest)) => rest.to_owned(),
        // scp-like `git@host:owner/repo.git`.
        None => match text.split_once(':') {
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => return None,
        },
    };
    let rest = rest.rsplit_once('@').map_or(rest.as_str(), |(_, r)| r);
    let mut parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    // Browse paths of GitHub (`/tree/…`, `/blob/…`) and Gitea (`/src/…`) follow owner and repo.
    if parts.len() > 3 && matches!(parts[3], "tree" | "blob" | "src") {
        parts.truncate(3);
    }
    if parts.len() < 3 {
        return None;
    }
    let mut key = parts.join("/").to_lowercase();
    if let Some(host_port) = key.split('/').next()
        && let Some((host, _port)) = host_port.split_once(':')
    {
        key = format!("{host}{}", &key[host_port.len()..]);
    }
    Some(key.trim_end_matches(".git").to_owned())
}

/// What a push payload says, read and checked.
struct Push {
    /// Addresses of the repository, as keys.
    repository: Vec<String>,
    /// The repository's web address, the events' source.
    html_url: String,
    commits: Vec<(String, i64)>,
}

fn problem(field: &str, rule: impl Into<String>) -> Problem {
    Problem::new("push", None, field, rule.into())
}

fn read_push(body: &Value) -> Result<Push> {
    let mut problems = Vec::new();
    let empty = Map::new();
    let object = body.as_object().unwrap_or(&empty);
    if body.as_object().is_none() {
        problems.push(problem("(body)", "is not a JSON object"));
    }
    if !object.get("ref").is_some_and(Value::is_string) {
        problems.push(problem(
            "ref",
            "is missing; a push payload names the ref it pushed",
        ));
    }
    let repository = match object.get("repository") {
        Some(Value::Object(repository)) => repository,
        _ => {
            problems.push(problem("repository", "is missing or not an object"));
            &empty
        }
    };
    let address = |field: &str| repository.get(field).and_then(Value::as_str);
    let mut keys: Vec<String> = ["clone_url", "html_url", "ssh_url", "git_url", "url"]
        .iter()
        .filter_map(|field| address(field).and_then(repository_key))
        .collect();
    if let (Some(full_name), Some(host)) = (
        address("full_name"),
        address("html_url").and_then(repository_key),
    ) {
        let host = host.split('/').next().unwrap_or_default().to_owned();
        keys.push(format!("{host}/{}", full_name.to_lowercase()));
    }
    keys.sort();
    keys.dedup();
    let html_url = address("html_url")
        .filter(|url| url.len() <= 400 && !url.chars().any(char::is_control))
        .unwrap_or_default()
        .to_owned();
    if !repository.is_empty() && (keys.is_empty() || html_url.is_empty()) {
        problems.push(problem(
            "repository.html_url",
            "is missing or not a repository's address; the repository is matched to components by it and its clone_url",
        ));
    }
    let items = match object.get("commits") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_COMMITS => items,
        Some(Value::Array(_)) => {
            problems.push(problem(
                "commits",
                format!("lists more than {MAX_COMMITS} commits"),
            ));
            &Vec::new()
        }
        Some(_) => {
            problems.push(problem("commits", "is not an array"));
            &Vec::new()
        }
    };
    let mut commits = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str).map(str::trim);
        let sha = id
            .filter(|id| (7..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()));
        if sha.is_none() {
            problems.push(problem(
                &format!("commits[{i}].id"),
                "is missing or not a commit id",
            ));
        }
        let time = item.get("timestamp").and_then(Value::as_str);
        let authored = time.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
        if authored.is_none() {
            problems.push(problem(
                &format!("commits[{i}].timestamp"),
                match time {
                    Some(t) => {
                        format!("{t:?} is not an RFC 3339 time such as 2026-12-01T10:00:00+01:00")
                    }
                    None => "is missing; it is the commit's authored time".to_owned(),
                },
            ));
        }
        if let (Some(sha), Some(authored)) = (sha, authored) {
            commits.push((sha.to_ascii_lowercase(), authored.as_millisecond()));
        }
    }
    if problems.is_empty() {
        Ok(Push {
            repository: keys,
            html_url,
            commits,
        })
    } else {
        Err(Error::Rejected(problems))
    }
}

impl Delivery {
    /// Records the commits of a push from `forge` as changes of every component built from the
    /// pushed repository, as `principal` (a token's owner, or the platform for a signed push).
    pub async fn push(
        &self,
        principal: &Principal,
        forge: Forge,
        body: &Value,
        request_id: Option<&str>,
    ) -> Result<Received> {
        let push = read_push(body)?;
        let services = self.built_from(&push.repository);
        if services.is_empty() || push.commits.is_empty() {
            return Ok(Received {
                skipped: push.commits.len(),
                ..Received::default()
            });
        }
        let source = format!("{}:{}", forge.name(), push.html_url);
        let events: Vec<Event> = services
            .iter()
            .flat_map(|service| {
                let source = &source;
                push.commits.iter().map(move |(sha, authored_at)| Event {
                    source: source.clone(),
                    // A commit of a repository that builds several components is a change of
                    // each of them.
                    id: format!("{sha}/{service}"),
                    service: service.clone(),
                    payload: Payload::Change(Change {
                        sha: sha.clone(),
                        authored_at: *authored_at,
                        deployment: None,
                    }),
                })
            })
            .collect();
        let Ingested {
            accepted,
            duplicates,
        } = self.ingest(principal, &events, request_id).await?;
        Ok(Received {
            accepted,
            duplicates,
            skipped: 0,
        })
    }

    /// The components whose annotations name one of the repository `keys`.
    fn built_from(&self, keys: &[String]) -> Vec<String> {
        let index = self.catalog.index();
        let mut candidates = roaring::RoaringBitmap::new();
        for annotation in [ORIGIN, SOURCE_LOCATION, PROJECT_SLUG] {
            candidates |= index.having(&format!("metadata.annotations.{annotation}"));
        }
        candidates &= index.matching("kind", "component");
        let mut services = Vec::new();
        for id in &candidates {
            let Some(entity) = index.get(id) else {
                continue;
            };
            let body = index.body_value(entity);
            let Some(annotations) = body
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
            else {
                continue;
            };
            let named = |name: &str| annotations.get(name).and_then(Value::as_str);
            let mut own = Vec::new();
            for name in [ORIGIN, SOURCE_LOCATION] {
                if let Some(key) = named(name).and_then(repository_key) {
                    own.push(key);
                }
            }
            if let Some(slug) = named(PROJECT_SLUG) {
                own.push(format!("github.com/{}", slug.to_lowercase()));
            }
            if own.iter().any(|key| keys.contains(key)) {
                services.push(entity.entity_ref().to_owned());
            }
        }
        services.sort();
        services
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_repository_written_several_ways_has_one_key() {
        let key = Some("git.example.org/payments/payments-api".to_owned());
        for address in [
            "https://git.example.org/payments/payments-api.git",
            "https://git.example.org/payments/payments-api",
            "url:https://git.example.org/payments/payments-api/tree/main/",
            "url:https://git.example.org/Payments/payments-api/src/branch/main/catalog-info.yaml",
            "git:https://git.example.org/payments/payments-api.git#main:catalog-info.yaml",
            "http://ci:secret@git.example.org:3000/payments/payments-api.git",
            "git@git.example.org:payments/payments-api.git",
            "ssh://git@git.example.org/payments/payments-api.git",
        ] {
            assert_eq!(repository_key(address), key, "{address}");
        }
        assert_eq!(repository_key("payments-api"), None);
        assert_eq!(repository_key("https://git.example.org/payments"), None);
    }

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload
        // "Hello, World!".
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            signature
        ));
        assert!(verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            signature.trim_start_matches("sha256=")
        ));
        assert!(!verify_signature(
            b"another secret",
            b"Hello, World!",
            signature
        ));
        assert!(!verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            signature
        ));
        assert!(!verify_signature(
            b"It's a Secret to Everybody",
            b"",
            "sha256=zz"
        ));
        assert_eq!(
            super::signature(b"It's a Secret to Everybody", b"Hello, World!"),
            signature
        );
    }
}
