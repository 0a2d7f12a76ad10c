//! The platform team's import policies, asked about every entity a person imports (an upload, a
//! registered location, a template run's registration). Refreshes of locations already
//! registered are not imports and are not held to them.
//!
//! An import is decided as one batch: one revision of the configuration, one time and one read of
//! the waivers in force serve all its entities, so that a location of a hundred thousand entities
//! costs one query rather than one per entity, and none at all when no policy is about imports.

use serde_json::json;

use super::entity::Processed;
use crate::guardrails::evaluate::evaluate;
use crate::guardrails::{Guardrails, Lookup, Subject, Verdict, input};
use crate::identity::Principal;
use crate::{Error, Result};

/// Every import policy's verdict on `processed`: an error listing every denial (each message
/// names its entity), or the warnings and waived denials, in entity order.
pub async fn check_import(
    guardrails: &Guardrails,
    principal: &Principal,
    processed: &[Processed],
) -> Result<Vec<Verdict>> {
    let revision = guardrails.current();
    let policies = &revision.config.policies;
    // Without a policy about imports every verdict would be "not applicable": nothing to deny
    // or show, so neither the waivers nor the bodies need reading.
    if !policies
        .iter()
        .any(|p| p.policy.applies_to.contains(&Subject::Import))
    {
        return Ok(Vec::new());
    }
    let waivers = guardrails.waivers_active_all(&revision).await?;
    let requester = input::requester(principal);
    let now_millis = crate::time::now_millis();
    let now = json!(crate::time::iso(now_millis));
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
            "now": now,
            "requester": requester,
            "entity": input::entity(body, &entity.entity_ref),
        });
        let lookup = Lookup {
            environment: None,
            team: owner.as_deref(),
            service: Some(&entity.entity_ref),
            now_millis,
        };
        let decision = evaluate(policies, Subject::Import, &input, lookup, &waivers);
        denials.extend(decision.denials().cloned());
        notices.extend(decision.notices().cloned());
    }
    if denials.is_empty() {
        Ok(notices)
    } else {
        Err(Error::PolicyDenied(denials))
    }
}
