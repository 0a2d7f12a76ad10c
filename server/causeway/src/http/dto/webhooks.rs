//! The delivery adapters' webhooks on the wire: Alertmanager's notification and Gitea's and
//! GitHub's push payloads, documented for the OpenAPI document with the fields Causeway reads
//! (the bodies are read by the domain, `delivery::adapters`, which names every bad field), and
//! what each answer counts.

use std::collections::BTreeMap;

use causeway_platform::delivery::adapters::Received;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Alertmanager's webhook notification, payload version 4 (`webhook_configs` with
/// `http_config.authorization` carrying an API token with scope write).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerNotification {
    /// `4`.
    pub version: String,
    /// `firing` or `resolved`: the group's status.
    pub status: Option<String>,
    pub receiver: Option<String>,
    pub group_key: Option<String>,
    pub group_labels: Option<BTreeMap<String, String>>,
    pub common_labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "externalURL")]
    pub external_url: Option<String>,
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert of a notification.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// `firing` opens the incident, `resolved` closes it at `endsAt`.
    pub status: String,
    /// Causeway's burn-rate alerts have `alertname` `ErrorBudgetBurn…`, `service`, `severity`
    /// and `namespace` (the environment's).
    pub labels: BTreeMap<String, String>,
    pub annotations: Option<BTreeMap<String, String>>,
    /// RFC 3339; with the fingerprint, the incident's id.
    pub starts_at: String,
    /// RFC 3339; the resolution time of a resolved alert.
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    pub generator_url: Option<String>,
    pub fingerprint: String,
}

/// A push webhook's payload, as Gitea and GitHub send it (the fields read).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushPayload {
    /// The ref pushed, `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The commits pushed; each is a change of the components built from the repository.
    pub commits: Option<Vec<PushCommit>>,
    pub repository: PushRepository,
}

/// A commit of a push.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushCommit {
    /// The commit id.
    pub id: String,
    pub message: Option<String>,
    /// RFC 3339 with an offset: when it was authored, where its lead time starts.
    pub timestamp: String,
    pub author: Option<PushAuthor>,
    pub url: Option<String>,
}

/// A commit's author.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushAuthor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
}

/// The repository pushed to, matched to the components whose annotations name it.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushRepository {
    /// `owner/name`.
    pub full_name: Option<String>,
    pub html_url: String,
    pub clone_url: Option<String>,
    pub ssh_url: Option<String>,
}

/// What a webhook recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookReceived {
    /// Events recorded now.
    pub accepted: usize,
    /// Events recorded before (the same source and id), which changed nothing.
    pub duplicates: usize,
    /// Alerts that are not Causeway's, or commits of a repository no component is built from.
    pub skipped: usize,
}

impl From<&Received> for WebhookReceived {
    fn from(received: &Received) -> Self {
        Self {
            accepted: received.accepted,
            duplicates: received.duplicates,
            skipped: received.skipped,
        }
    }
}
