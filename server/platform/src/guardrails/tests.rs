//! The configuration reader and the starter policies, as tables: documents → problems (file,
//! line, field), and inputs → verdicts and messages.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::provision::config::ProvisionConfig;

fn embedded() -> ProvisionConfig {
    ProvisionConfig::embedded(None, PathBuf::from("var/gitops"))
}

fn file(name: &str, text: &str) -> File {
    File {
        name: name.to_owned(),
        text: text.to_owned(),
    }
}

#[test]
fn the_embedded_default_loads_and_exports_to_the_same_configuration() {
    let provision = embedded();
    let config = documents::load(&default_files(&provision)).expect("valid");
    assert_eq!(config.provision, provision);
    assert!(config.policies.len() >= 8, "{}", config.policies.len());
    let exported = export::export(&config);
    let again = documents::load(&[file("export.yaml", &exported)]).expect("export loads");
    assert_eq!(again.provision, provision);
    assert_eq!(
        again.policies.iter().map(|p| &p.policy).collect::<Vec<_>>(),
        config
            .policies
            .iter()
            .map(|p| &p.policy)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_clusters_group_prefix_is_read_exported_and_read_again() {
    let documents = "apiVersion: causeway.dev/v1alpha1
kind: Cluster
metadata:
  name: local
spec:
  context: causeway
  groupPrefix: \"oidc:\"
---
apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata:
  name: dev
spec:
  cluster: local
  quota: { cpu: 1, memory: 1Gi, pods: 5 }
  podSecurity: baseline
";
    let config = documents::load(&[file("platform.yaml", documents)]).expect("valid");
    assert_eq!(
        config.provision.clusters[0].group_prefix.as_deref(),
        Some("oidc:")
    );
    let exported = export::export(&config);
    assert!(exported.contains("groupPrefix: 'oidc:'"), "{exported}");
    let again = documents::load(&[file("export.yaml", &exported)]).expect("export loads");
    assert_eq!(again.provision, config.provision);
}

const CLUSTER: &str = "apiVersion: causeway.dev/v1alpha1
kind: Cluster
metadata:
  name: local
spec:
  context: causeway
";

#[test]
fn problems_name_the_file_the_line_and_the_field() {
    let environments = "apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata:
  name: dev
spec:
  cluster: local
  quota:
    cpu: lots
    memory: 4Gi
    pods: 20
  podSecurity: baseline
---
apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata:
  name: qa
spec:
  cluster: elsewhere
  quota: { cpu: 1, memory: 1Gi, pods: 5 }
  podSecurity: strict
";
    let policies = "apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata:
  name: broken
spec:
  appliesTo: [environment]
  field: set.cpu
  expression: request.cpuMillis <=
  message: \"'too much'\"
  fix: Ask for less.
";
    let problems = documents::load(&[
        file("clusters.yaml", CLUSTER),
        file("environments.yaml", environments),
        file("policies.yaml", policies),
    ])
    .expect_err("invalid");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let find = |needle: &str| {
        text.iter()
            .find(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no problem with {needle:?} in {text:#?}"))
            .clone()
    };
    assert!(
        find("spec.quota.cpu").starts_with("environments.yaml:8"),
        "{text:#?}"
    );
    assert!(find("\"lots\" is not a CPU quantity").contains("e.g. 2 or 1500m"));
    // serde names the value it could not read, with its line in the file.
    assert!(
        find("unknown variant `strict`").starts_with("environments.yaml:20"),
        "{text:#?}"
    );
    assert!(
        find("spec.expression").starts_with("policies.yaml:8"),
        "{text:#?}"
    );
    assert!(find("spec.expression").contains("is not valid CEL"));
}

#[test]
fn references_between_documents_are_checked() {
    let text = "apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata: { name: dev }
spec:
  cluster: nowhere
  quota: { cpu: 1, memory: 1Gi, pods: 5 }
  podSecurity: baseline
---
apiVersion: causeway.dev/v1alpha1
kind: Approval
metadata: { name: production }
spec:
  environments: [prod]
  approvers: [platform]
---
apiVersion: causeway.dev/v1alpha1
kind: Waiver
metadata: { name: legacy }
spec:
  policy: no-such-policy
  service: legacy-billing
  reason: Migrating by March.
  expires: next week
";
    let problems = documents::load(&[file("platform.yaml", text)]).expect_err("invalid");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for needle in [
        "platform.yaml:5: spec.cluster",
        "\"nowhere\" is not a Cluster",
        "\"prod\" is not an Environment",
        "\"no-such-policy\" is not a Policy",
        "\"next week\" is not an RFC 3339 time",
    ] {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "{needle:?} missing from {text:#?}"
        );
    }
}

#[test]
fn unknown_kinds_versions_and_duplicates_are_refused() {
    let text = "apiVersion: causeway.dev/v1
kind: Cluster
metadata: { name: a }
spec: {}
---
apiVersion: causeway.dev/v1alpha1
kind: Clutser
metadata: { name: a }
spec: {}
---
apiVersion: causeway.dev/v1alpha1
kind: Cluster
metadata: { name: Bad_Name }
spec: {}
";
    let problems = documents::load(&[file("p.yaml", text)]).expect_err("invalid");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("p.yaml:1") && t.contains("apiVersion")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("p.yaml:7") && t.contains("\"Clutser\" is not a platform kind")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("p.yaml:13") && t.contains("metadata.name")),
        "{text:#?}"
    );
}

/// An environment request as the provisioning engine describes it to policies.
fn request(environment: &str, cpu: u64, annotations: Value, lifecycle: &str) -> Value {
    json!({
        "subject": "environment",
        "service": {
            "ref": "component:default/payments-api",
            "metadata": { "name": "payments-api", "annotations": annotations },
            "spec": { "lifecycle": lifecycle, "owner": "payments" },
        },
        "owner": { "ref": "group:default/payments", "name": "payments" },
        "requester": { "ref": "user:default/ada", "teams": ["group:default/payments"], "role": "developer" },
        "environment": { "name": environment, "ephemeral": environment == "preview", "protected": environment == "prod" },
        "request": { "cpuMillis": cpu, "memoryMib": 1024, "pods": 4, "availability": 99.9 },
        "team": {
            "ref": "group:default/payments",
            "environments": [
                { "service": "component:default/ledger", "environment": "dev", "ephemeral": false, "cpuMillis": 60000 }
            ],
            "totals": { "cpuMillis": 60000, "memoryMib": 2048, "pods": 10 },
        },
    })
}

fn verdicts(input: &Value, environment: &str) -> Vec<(String, Outcome, String)> {
    let config = documents::load(&default_files(&embedded())).expect("valid");
    let decision = evaluate::evaluate(
        &config.policies,
        Subject::Environment,
        input,
        Lookup {
            environment: Some(environment),
            team: Some("group:default/payments"),
            service: Some("component:default/payments-api"),
            now_millis: 0,
        },
        &[],
    );
    decision
        .verdicts
        .into_iter()
        .filter(|v| v.outcome != Outcome::NotApplicable)
        .map(|v| (v.policy, v.outcome, v.message))
        .collect()
}

fn outcome_of(verdicts: &[(String, Outcome, String)], policy: &str) -> (Outcome, String) {
    verdicts
        .iter()
        .find(|(id, _, _)| id == policy)
        .map(|(_, o, m)| (*o, m.clone()))
        .unwrap_or_else(|| panic!("no verdict of {policy} in {verdicts:#?}"))
}

#[test]
fn starter_policies_decide_with_their_messages() {
    let on_call =
        json!({ "causeway.dev/on-call": "payments-primary", "causeway.dev/cost-centre": "cc-42" });
    // A small dev request passes everything.
    let all = verdicts(&request("dev", 1000, on_call.clone(), "production"), "dev");
    assert!(
        all.iter().all(|(_, o, _)| *o == Outcome::Allowed),
        "{all:#?}"
    );

    // Above the dev CPU ceiling (8 cores), with the numbers in the message.
    let all = verdicts(&request("dev", 9000, on_call.clone(), "production"), "dev");
    let (outcome, message) = outcome_of(&all, "ceiling-cpu");
    assert_eq!(outcome, Outcome::Denied);
    assert_eq!(
        message,
        "9000m of CPU is above the ceiling of 8000m for dev"
    );
    // The same request is within prod's ceiling.
    let all = verdicts(
        &request("prod", 9000, on_call.clone(), "production"),
        "prod",
    );
    assert_eq!(outcome_of(&all, "ceiling-cpu").0, Outcome::Allowed);

    // The team's budget counts its other environments.
    let (outcome, message) = outcome_of(
        &verdicts(&request("dev", 5000, on_call.clone(), "production"), "dev"),
        "team-cpu-budget",
    );
    assert_eq!(outcome, Outcome::Denied);
    assert!(
        message.contains(
            "payments's CPU across all its environments to 65000m, above its budget of 64000m"
        ),
        "{message}"
    );

    // prod needs lifecycle production and an on-call annotation.
    let (outcome, message) = outcome_of(
        &verdicts(&request("prod", 1000, json!({}), "experimental"), "prod"),
        "production-readiness",
    );
    assert_eq!(outcome, Outcome::Denied);
    assert!(
        message.ends_with("payments-api has lifecycle experimental and no on-call annotation"),
        "{message}"
    );

    // A missing cost centre warns from staging on, and only warns.
    let all = verdicts(
        &request("staging", 1000, json!({}), "production"),
        "staging",
    );
    assert_eq!(outcome_of(&all, "cost-centre").0, Outcome::Warned);
    assert_eq!(
        outcome_of(
            &verdicts(&request("dev", 1000, json!({}), "production"), "dev"),
            "cost-centre"
        )
        .0,
        Outcome::Allowed
    );
}

#[test]
fn a_waiver_sets_a_denial_aside_until_it_expires() {
    let config = documents::load(&default_files(&embedded())).expect("valid");
    let input = request("dev", 9000, json!({}), "production");
    let waiver = waivers::Waiver {
        id: "w1".to_owned(),
        policy: "ceiling-cpu".to_owned(),
        service: "component:default/payments-api".to_owned(),
        reason: "load test this week".to_owned(),
        expires_at_millis: 1_000,
        granted_by: "user:default/grace".to_owned(),
        granted_at_millis: 0,
    };
    let decide = |now| {
        evaluate::evaluate(
            &config.policies,
            Subject::Environment,
            &input,
            Lookup {
                environment: Some("dev"),
                team: Some("group:default/payments"),
                service: Some("component:default/payments-api"),
                now_millis: now,
            },
            std::slice::from_ref(&waiver),
        )
    };
    let before = decide(999);
    let ceiling = before
        .verdicts
        .iter()
        .find(|v| v.policy == "ceiling-cpu")
        .expect("verdict");
    assert_eq!(ceiling.outcome, Outcome::Waived);
    assert!(
        ceiling
            .waiver
            .as_deref()
            .unwrap_or_default()
            .contains("load test this week")
    );
    let after = decide(1_000);
    assert_eq!(
        after
            .verdicts
            .iter()
            .find(|v| v.policy == "ceiling-cpu")
            .map(|v| v.outcome),
        Some(Outcome::Denied)
    );
}

#[test]
fn parameters_per_team_override_the_environment() {
    let text = "apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata: { name: team-environments }
spec:
  appliesTo: [environment]
  field: environment
  expression: \"'*' in params.allowed || environment.name in params.allowed\"
  message: \"owner.name + ' may have ' + params.allowed.join(', ') + ' environments, not ' + environment.name\"
  fix: Choose one of the team's environments.
  parameters:
    default: { allowed: ['*'] }
    teams:
      group:default/payments: { allowed: [dev, staging] }
";
    let mut files = default_files(&embedded());
    files.retain(|f| !f.name.ends_with("policies.yaml"));
    files.push(file("team.yaml", text));
    let config = documents::load(&files).expect("valid");
    let input = request("prod", 1000, json!({}), "production");
    let decide = |team: &str| {
        evaluate::evaluate(
            &config.policies,
            Subject::Environment,
            &input,
            Lookup {
                environment: Some("prod"),
                team: Some(team),
                service: None,
                now_millis: 0,
            },
            &[],
        )
        .verdicts
        .remove(0)
    };
    let payments = decide("group:default/payments");
    assert_eq!(payments.outcome, Outcome::Denied);
    assert_eq!(
        payments.message,
        "payments may have dev, staging environments, not prod"
    );
    assert_eq!(decide("group:default/checkout").outcome, Outcome::Allowed);
}

#[test]
fn a_broken_expression_fails_closed_with_its_reason() {
    let text = "apiVersion: causeway.dev/v1alpha1
kind: Environment
metadata: { name: dev }
spec:
  gitops: { repository: var/gitops, cluster: local }
  quota: { cpu: 1, memory: 1Gi, pods: 5 }
  podSecurity: baseline
---
apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata: { name: typo }
spec:
  appliesTo: [environment]
  field: set.cpu
  expression: request.cpuMilis < 10
  message: \"'never shown'\"
  fix: Correct the policy.
";
    let config = documents::load(&[file("p.yaml", text)]).expect("valid");
    let decision = evaluate::evaluate(
        &config.policies,
        Subject::Environment,
        &request("dev", 1, json!({}), "production"),
        Lookup::default(),
        &[],
    );
    assert!(!decision.allowed());
    let verdict = decision.denials().next().expect("denied");
    assert!(
        verdict
            .message
            .starts_with("policy typo could not be evaluated"),
        "{}",
        verdict.message
    );
}
