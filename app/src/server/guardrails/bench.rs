//! The policy test bench: a platform admin chooses a service, an environment, the parameters and
//! optionally who asks, and sees every policy's verdict with the input the policies saw. It is a
//! GET form to its own address, so a result is a link that can be shared.

use std::collections::BTreeMap;

use causeway_platform::Error;
use causeway_platform::Platform;
use causeway_platform::identity::Principal;
use causeway_platform::provision::Provisioner;

use crate::model::{BenchResult, PolicyBenchView};
use crate::server::environments::{fields, request};

/// More components than this make the service list unusable; any other can still be typed.
const SERVICES: usize = 500;

/// The parameters a request may set, as the bench's address names them.
const PARAMETERS: [&str; 4] = ["cpu", "memory", "pods", "availability"];

/// The components of the catalog, by reference.
fn services(platform: &Platform) -> Vec<String> {
    let index = platform.catalog.index();
    let mut refs: Vec<String> = index
        .matching("kind", "component")
        .iter()
        .filter_map(|id| index.get(id))
        .map(|stored| stored.entity_ref().to_owned())
        .take(SERVICES)
        .collect();
    refs.sort();
    refs
}

/// The bench for `params` (`service`, `environment`, `requester`, the parameters): the form, and
/// once a service is chosen every policy's verdict. Problems with the request itself (an unknown
/// service or user, a malformed value) are listed by their field; a caller who is not a platform
/// admin gets the domain's refusal.
pub async fn bench(
    platform: &Platform,
    provisioner: &Provisioner,
    principal: &Principal,
    params: &BTreeMap<String, String>,
) -> Result<PolicyBenchView, Error> {
    causeway_platform::guardrails::require_admin(principal, "use the policy test bench")?;
    let value = |name: &str| {
        params
            .get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let config = provisioner.config();
    let environments: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let environment = match value("environment") {
        chosen if !chosen.is_empty() => chosen,
        _ => environments.first().cloned().unwrap_or_default(),
    };
    let values: BTreeMap<String, String> = PARAMETERS
        .iter()
        .map(|name| ((*name).to_owned(), value(name)))
        .collect();
    let mut view = PolicyBenchView {
        service: value("service"),
        requester: value("requester"),
        fields: config
            .environment(&environment)
            .map(|env| fields(env, &values))
            .unwrap_or_default(),
        environment,
        services: services(platform),
        environments,
        ..PolicyBenchView::default()
    };
    if view.service.is_empty() {
        return Ok(view);
    }
    // The requester is whoever the admin names, so that a policy about who asks can be tried
    // for another person; the admin themselves otherwise.
    let requester = if view.requester.is_empty() {
        principal.clone()
    } else {
        match platform
            .directory
            .find_user(&view.requester, "requester")
            .await
        {
            Ok(user) => user,
            Err(Error::NotFound(what)) => {
                view.errors = vec![("requester".to_owned(), format!("{what} was not found"))];
                return Ok(view);
            }
            Err(error) => return refused(view, error),
        }
    };
    let asked = request(&requester, &view.service, &view.environment, &values);
    match provisioner.test_policies(principal, &asked).await {
        Ok((decision, input)) => {
            view.result = Some(BenchResult {
                allowed: decision.allowed(),
                verdicts: decision.verdicts.iter().map(super::verdict).collect(),
                input: serde_json::to_string_pretty(&input).unwrap_or_default(),
            });
            Ok(view)
        }
        Err(error) => refused(view, error),
    }
}

/// The bench with the request's problems by field; errors that are not about the request (the
/// caller may not, the store failed) stay errors.
fn refused(mut view: PolicyBenchView, error: Error) -> Result<PolicyBenchView, Error> {
    match error {
        Error::Rejected(problems) => {
            view.errors = problems.into_iter().map(|p| (p.field, p.message)).collect();
        }
        Error::InvalidInput { field, rule } => view.errors = vec![(field, rule)],
        Error::NotFound(what) => {
            view.errors = vec![(String::new(), format!("{what} was not found"))]
        }
        other => return Err(other),
    }
    Ok(view)
}
