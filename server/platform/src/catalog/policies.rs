//! The platform team's import policies, asked about every entity a person imports (an upload, a
//! registered location, a template run's registration). Refreshes of locations already
//! registered are not imports and are not held to them.

use serde_json::json;

use super::entity::Processed;
use crate::guardrails::{Guardrails, Lookup, Subject, Verdict, input};
use crate::identity::Principal;
use crate::{Error, Result};

/// Every import policy's verdict on `processed`: an error listing every denial (each message
/// names its entity), or the warnings and waived denials.
pub async fn check_import(
    guardrails: &Guardrails,
    principal: &Principal,
    processed: &[Processed],
) -> Result<Vec<Verdict>> {
    let requester = input::requester(principal);
    let now = crate::time::now_millis();
    let mut denials = Vec::new();
    let mut notices = Vec::new();
    for entity in processed {
        let body: serde_json::Value = serde_json::from_str(&entity.body).unwrap_or_default();
        let owner = body
            .pointer("/spec/owner")
            .and_then(|o| o.as_str())
            .and_then(|o| super::refs::parse(o, "group", &entity.namespace).ok());
        let input = json!({
            "subject": Subject::Import.as_str(),
            "now": input::now(),
            "requester": requester,
            "entity": input::entity(body, &entity.entity_ref),
        });
        let decision = guardrails
            .decide(
                Subject::Import,
                &input,
                Lookup {
                    environment: None,
                    team: owner.as_deref(),
                    service: Some(&entity.entity_ref),
                    now_millis: now,
                },
            )
            .await?;
        denials.extend(decision.denials().cloned());
        notices.extend(decision.notices().cloned());
    }
    if denials.is_empty() {
        Ok(notices)
    } else {
        Err(Error::PolicyDenied(denials))
    }
}
