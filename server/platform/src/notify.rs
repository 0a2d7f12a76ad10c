//! Notifications to the webhooks the platform team configured: approvals requested and decided,
//! environments about to expire. A receiver that is down never fails the action it reports on;
//! the failure is logged with the receiver's address.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// One notification, as its JSON body: `{"type": …, "time": …, "subject": …, "data": {…}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// What happened, e.g. `approval.requested`, `environment.expiring`.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339.
    pub time: String,
    /// What it is about: a namespace, an approval's id.
    pub subject: String,
    pub data: Value,
}

impl Notification {
    pub fn new(kind: &str, subject: &str, data: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            time: crate::time::iso(crate::time::now_millis()),
            subject: subject.to_owned(),
            data,
        }
    }
}

/// Sends notifications to a set of webhooks; cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// Posts `notification` to every URL in `webhooks`, one after the other; returns how many
    /// accepted it (a 2xx answer).
    pub async fn send(&self, webhooks: &[String], notification: &Notification) -> usize {
        let mut delivered = 0;
        for url in webhooks {
            let body = serde_json::to_vec(notification).unwrap_or_default();
            let request = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
            match request.send().await {
                Ok(answer) if answer.status().is_success() => delivered += 1,
                Ok(answer) => tracing::warn!(
                    webhook = %url,
                    status = %answer.status(),
                    kind = %notification.kind,
                    "webhook refused a notification"
                ),
                Err(error) => tracing::warn!(
                    webhook = %url,
                    error = %error,
                    kind = %notification.kind,
                    "webhook could not be reached"
                ),
            }
        }
        delivered
    }
}
