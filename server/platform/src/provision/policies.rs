//! The platform team's policies asked about an environment request: the documented input built
//! from the catalog, the requester, the environment, the request's numbers and the team's other
//! environments, then evaluated by `crate::guardrails`.

use serde_json::{Value, json};

use super::config::Environment;
use super::guardrails::parameters;
use super::{Prepared, Provisioner, Request};
use crate::Result;
use crate::guardrails::{Decision, Lookup, Subject, input};

impl Provisioner {
    /// The policies' verdict on `request`: an error listing every denial, or the decision with
    /// its warnings and waived denials for the plan to show.
    pub async fn check_policies(&self, request: &Request, prepared: &Prepared) -> Result<Decision> {
        let decision = self.decide_policies(request, prepared).await?.0;
        if decision.allowed() {
            Ok(decision)
        } else {
            Err(crate::Error::PolicyDenied(
                decision.denials().cloned().collect(),
            ))
        }
    }

    /// Every policy's verdict on `request`, and the input they saw: each policy's expression over
    /// the input, and its Kubernetes rule (if any) over the objects about to be applied, with the
    /// message the API server would give.
    async fn decide_policies(
        &self,
        request: &Request,
        prepared: &Prepared,
    ) -> Result<(Decision, Value)> {
        let input = self.policy_input(request, prepared).await?;
        let lookup = Lookup {
            environment: Some(&prepared.environment.name),
            team: Some(&prepared.owner),
            service: Some(&prepared.instance.service_ref),
            now_millis: crate::time::now_millis(),
        };
        let mut decision = self
            .guardrails
            .decide(Subject::Environment, &input, lookup)
            .await?;
        let revision = self.guardrails.current();
        let policies: Vec<_> = revision
            .config
            .policies
            .iter()
            .filter(|p| p.policy.kubernetes.is_some())
            .map(|p| p.policy.clone())
            .collect();
        if !policies.is_empty() {
            let violations = super::admission::check_bundle(
                &policies,
                &prepared.bundle,
                &prepared.environment.name,
                &prepared.owner,
            );
            if !violations.is_empty() {
                let waivers = self.guardrails.waivers_for(lookup.service).await?;
                for violation in violations {
                    decision.fail(&violation.policy, &violation.message, lookup, &waivers);
                }
            }
        }
        Ok((decision, input))
    }

    /// The policy test bench: every policy's verdict on `request` (none refuses it here) and the
    /// input they saw. Platform admins only, since it shows any team's figures.
    pub async fn test_policies(
        &self,
        principal: &crate::identity::Principal,
        request: &Request,
    ) -> Result<(Decision, Value)> {
        crate::guardrails::require_admin(principal, "use the policy test bench")?;
        let prepared = self.prepare(request)?;
        self.decide_policies(request, &prepared).await
    }

    /// The input policies see for an environment request (the README's "Guardrails" documents
    /// every key).
    pub async fn policy_input(&self, request: &Request, prepared: &Prepared) -> Result<Value> {
        let instance = &prepared.instance;
        let (service, owner) = {
            let index = self.catalog.index();
            let body = |reference: &str| {
                index
                    .by_ref(reference)
                    .map(|entity| index.body_value(entity))
                    .unwrap_or_else(|| json!({}))
            };
            (body(&instance.service_ref), body(&prepared.owner))
        };
        let requester = self.requester_input(&request.requester.entity_ref).await;
        let team = self.team_input(prepared).await?;
        let scorecards = self.scorecards.policy_input(&instance.service_ref).await?;
        Ok(json!({
            "subject": Subject::Environment.as_str(),
            "now": input::now(),
            "service": input::entity(service, &instance.service_ref),
            "owner": {
                "ref": prepared.owner,
                "name": crate::catalog::refs::split(&prepared.owner).2,
                "entity": owner,
            },
            "requester": requester,
            "environment": environment_input(&prepared.environment),
            "request": {
                "cpuMillis": instance.quota.cpu_millis,
                "memoryMib": instance.quota.memory_mib,
                "pods": instance.quota.pods,
                "availability": instance.availability,
                "set": request.set,
                "namespace": instance.namespace,
            },
            "team": team,
            "scorecards": scorecards,
        }))
    }

    /// The requester as policies see them: reference, name, role and teams.
    async fn requester_input(&self, entity_ref: &str) -> Value {
        match self.directory.principal(entity_ref).await {
            Ok(principal) => input::requester(&principal),
            // A tool or the system (`cli:…`, `system`) is not a catalog user.
            Err(_) => input::system_requester(entity_ref),
        }
    }

    /// The owning team's other environments and their totals: what sums across a team need.
    /// The environment being requested is left out, since applying it replaces its record.
    async fn team_input(&self, prepared: &Prepared) -> Result<Value> {
        let records = self.records.list().await?;
        let config = self.config();
        let index = self.catalog.index();
        let mut environments = Vec::new();
        let (mut cpu, mut memory, mut pods) = (0u64, 0u64, 0u64);
        for record in records {
            if record.namespace == prepared.instance.namespace {
                continue;
            }
            let owned = index
                .by_ref(&record.service)
                .is_some_and(|entity| index.owners(entity).iter().any(|o| o == &prepared.owner));
            if !owned {
                continue;
            }
            let Some(environment) = config.environment(&record.environment) else {
                continue;
            };
            let Ok(asked) = parameters(&environment.quota, &record.parameters) else {
                continue;
            };
            cpu += asked.quota.cpu_millis;
            memory += asked.quota.memory_mib;
            pods += asked.quota.pods;
            environments.push(json!({
                "service": record.service,
                "environment": record.environment,
                "namespace": record.namespace,
                "status": record.status.as_str(),
                "ephemeral": environment.expiry.is_some(),
                "cpuMillis": asked.quota.cpu_millis,
                "memoryMib": asked.quota.memory_mib,
                "pods": asked.quota.pods,
            }));
        }
        Ok(json!({
            "ref": prepared.owner,
            "environments": environments,
            "totals": { "cpuMillis": cpu, "memoryMib": memory, "pods": pods },
        }))
    }
}

/// An environment as policies see it.
pub fn environment_input(environment: &Environment) -> Value {
    json!({
        "name": environment.name,
        "protected": environment.protected,
        "ephemeral": environment.expiry.is_some(),
        "ttlSeconds": environment.expiry.map(|e| e.ttl_seconds),
        "podSecurity": environment.pod_security.as_str(),
        "quota": {
            "cpuMillis": environment.quota.cpu_millis,
            "memoryMib": environment.quota.memory_mib,
            "pods": environment.quota.pods,
        },
    })
}
