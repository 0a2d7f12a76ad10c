//! The platform team's template policies, asked before a run is stored (and before a dry run):
//! which templates a team may run, which answers it may give.

use serde_json::{Value, json};

use super::Scaffolder;
use super::template::Template;
use crate::Result;
use crate::guardrails::{Decision, Lookup, Subject, input};
use crate::identity::Principal;

impl Scaffolder {
    /// The policies' verdict on running `template` with `values` as `principal`: an error listing
    /// every denial, or the decision with its warnings. Without services (the command line's
    /// offline dry run) there are no policies to ask.
    pub async fn check_policies(
        &self,
        template: &Template,
        values: &Value,
        principal: &Principal,
    ) -> Result<Decision> {
        let Some(services) = self.services.as_ref() else {
            return Ok(Decision::default());
        };
        // Parameters per team follow the team the run is for: the `owner` answer when the
        // template asks for one, else the requester's first team.
        let team = values
            .get("owner")
            .and_then(Value::as_str)
            .and_then(|owner| crate::catalog::refs::parse(owner, "group", "default").ok())
            .or_else(|| principal.teams.first().map(|t| t.entity_ref.clone()));
        let input = json!({
            "subject": Subject::Template.as_str(),
            "now": input::now(),
            "requester": input::requester(principal),
            "template": {
                "ref": template.entity_ref,
                "name": template.name,
                "title": template.title,
                "owner": template.owner,
                "tags": template.tags,
                "entity": input::entity(template.entity.clone(), &template.entity_ref),
            },
            "answers": values,
            "team": { "ref": team },
        });
        services
            .guardrails
            .enforce(
                Subject::Template,
                &input,
                Lookup {
                    environment: None,
                    team: team.as_deref(),
                    // Waivers are granted per component; a template run has none yet.
                    service: None,
                    now_millis: crate::time::now_millis(),
                },
            )
            .await
    }
}
